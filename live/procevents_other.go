//go:build !linux

package live

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// ListenProcEvents fails: the proc connector is Linux's. The error wraps
// errors.ErrUnsupported.
func ListenProcEvents(ctx context.Context) (<-chan struct{}, error) {
	return nil, fmt.Errorf("proc connector: fdscope needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// ListenProcEventsTo fails as ListenProcEvents does.
func ListenProcEventsTo(ctx context.Context, sink func(ProcEvent)) (<-chan struct{}, error) {
	return ListenProcEvents(ctx)
}
