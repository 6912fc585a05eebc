//go:build !linux

package scan

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/fdscope/fdscope/graph"
)

// Scanner scans the machine; outside Linux every scan fails.
type Scanner struct{}

// New returns a Scanner; the options make no difference outside Linux.
func New(opts Options) *Scanner { return &Scanner{} }

// Scan fails: the scanner reads /proc and the kernel's sock_diag, which only
// Linux has. The error wraps errors.ErrUnsupported.
func (s *Scanner) Scan(ctx context.Context) (*graph.Snapshot, error) {
	return nil, fmt.Errorf("scan: fdscope needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Rescan fails as Scan does.
func (s *Scanner) Rescan(ctx context.Context, prev *graph.Snapshot, pids []int) (*graph.Snapshot, error) {
	return s.Scan(ctx)
}

// Close does nothing outside Linux.
func (s *Scanner) Close() error { return nil }
