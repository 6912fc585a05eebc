package main

import (
	"context"
	"errors"
	"io"
)

// runServe runs the dashboard server. (Issue 3.)
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("serve: the dashboard server is not built yet; use 'fdscope snapshot'")
}
