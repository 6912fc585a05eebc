//go:build !linux

package activity

import (
	"context"
	"net/netip"
	"time"
)

type dumper struct{}

func newDumper(string, netip.AddrPort) *dumper { return &dumper{} }

func (d *dumper) dump(context.Context, map[uint64]int, bool, func(observation)) (map[uint64]bool, error) {
	return nil, ErrNotSupported
}

func threadCPU() time.Duration { return 0 }

func (d *dumper) close() {}

type pipeDumper struct{}

func openPipes() (*pipeDumper, error) { return nil, ErrNotSupported }

func (p *pipeDumper) dump(func(observation)) error { return ErrNotSupported }

func (p *pipeDumper) close() {}
