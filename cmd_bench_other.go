//go:build !linux

package main

import (
	"context"
	"io"
)

// runBench fails: the benchmark builds its workload in Linux namespaces.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errNeedsLinux
}
