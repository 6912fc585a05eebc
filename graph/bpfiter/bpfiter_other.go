//go:build !linux

package bpfiter

import (
	"errors"
	"fmt"
	"runtime"
)

// Iterator is the loaded program; outside Linux there is none.
type Iterator struct{}

// Open fails: BPF iterators are Linux's. The error wraps errors.ErrUnsupported.
func Open() (*Iterator, error) {
	return nil, fmt.Errorf("bpfiter: BPF iterators need Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Close does nothing.
func (it *Iterator) Close() error { return nil }

// Files fails as Open does.
func (it *Iterator) Files() ([]File, error) { return nil, errors.ErrUnsupported }

// Tasks fails as Open does.
func (it *Iterator) Tasks() ([]Task, error) { return nil, errors.ErrUnsupported }

// Dump fails as Open does.
func (it *Iterator) Dump() (Dump, error) { return Dump{}, errors.ErrUnsupported }
