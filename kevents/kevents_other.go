//go:build !linux || !(amd64 || arm64)

package kevents

import (
	"errors"
	"fmt"
	"runtime"
)

// Watcher is the loaded programs; outside Linux there are none.
type Watcher struct{}

// Open fails: the programs are Linux's. The error wraps errors.ErrUnsupported.
func Open() (*Watcher, error) {
	return nil, fmt.Errorf("kevents: kernel events need Linux on amd64 or arm64, not %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// Hooks returns nothing.
func (w *Watcher) Hooks() []string { return nil }

// Close does nothing.
func (w *Watcher) Close() error { return nil }

// Take fails as Open does.
func (w *Watcher) Take() (Batch, error) { return Batch{}, errors.ErrUnsupported }

// Totals fails as Open does.
func (w *Watcher) Totals() (Totals, error) { return Totals{}, errors.ErrUnsupported }

// WatchNetNS fails as Open does.
func (w *Watcher) WatchNetNS([]uint64) error { return errors.ErrUnsupported }
