//go:build !linux || !(amd64 || arm64)

package conntrace

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Tracer is the loaded programs; outside Linux there are none.
type Tracer struct{}

// Totals are the programs' counts; outside Linux there are none.
type Totals struct{ Records, Lost, Untracked uint64 }

// Grace is how long a closed connection waits before it is handed over.
const Grace = 100 * time.Millisecond

// Open fails: the programs are Linux's. The error wraps errors.ErrUnsupported.
func Open() (*Tracer, error) {
	return nil, fmt.Errorf("conntrace: kernel connection events need Linux on amd64 or arm64, not %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// Hooks returns nothing.
func (t *Tracer) Hooks() []string { return nil }

// Close does nothing.
func (t *Tracer) Close() error { return nil }

// Totals fails as Open does.
func (t *Tracer) Totals() (Totals, error) { return Totals{}, errors.ErrUnsupported }

// Run fails as Open does.
func (t *Tracer) Run(ctx context.Context, emit func(Conn)) error { return errors.ErrUnsupported }
