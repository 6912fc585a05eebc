package main

import (
	"context"
	"errors"
	"io"
)

// runBench runs the benchmark.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("bench: not built yet")
}
