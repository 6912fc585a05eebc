//go:build linux

package activity

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// pipeDumper reads how full every pipe of the pid namespace is, with a BPF
// iterator (bpf/pipes.c) over every fd: one pass in the kernel, no fd of
// the pipes needed.
type pipeDumper struct {
	objs pipesObjects
	link *link.Iter
	recs []pipesPipeRecord // the last dump's, reused
	seen map[uint64]bool
}

// openPipes loads the iterator; it fails without the privileges to load
// tracing programs (root, or CAP_BPF and CAP_PERFMON) or without BTF.
func openPipes() (*pipeDumper, error) {
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("activity: raise RLIMIT_MEMLOCK: %w", err)
	}
	p := &pipeDumper{seen: map[uint64]bool{}}
	if err := loadPipesObjects(&p.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("activity: load the pipe iterator: %w: it needs root, or CAP_BPF and CAP_PERFMON", unix.EPERM)
		}
		return nil, fmt.Errorf("activity: load the pipe iterator: %w", err)
	}
	l, err := link.AttachIter(link.IterOptions{Program: p.objs.DumpPipes})
	if err != nil {
		p.objs.Close()
		return nil, fmt.Errorf("activity: attach the pipe iterator: %w", err)
	}
	p.link = l
	return p, nil
}

// pipeRecordSize is the size of one record as the program writes it.
const pipeRecordSize = int(unsafe.Sizeof(pipesPipeRecord{}))

// dump calls fn once for every pipe with bytes waiting in it (a pipe held
// by many fds is reported once).
func (p *pipeDumper) dump(fn func(observation)) error {
	r, err := p.link.Open()
	if err != nil {
		return fmt.Errorf("activity: open the pipe iterator: %w", err)
	}
	defer r.Close()
	if p.recs == nil {
		p.recs = make([]pipesPipeRecord, 1024)
	}
	n := 0 // bytes read
	for {
		if n == len(p.recs)*pipeRecordSize {
			p.recs = append(p.recs, make([]pipesPipeRecord, len(p.recs))...)
		}
		buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p.recs))), len(p.recs)*pipeRecordSize)
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF || (err == nil && m == 0) {
			break
		}
		if err != nil {
			return fmt.Errorf("activity: read the pipe iterator: %w", err)
		}
	}
	if n%pipeRecordSize != 0 {
		return fmt.Errorf("activity: the pipe iterator wrote %d bytes, not whole %d-byte records", n, pipeRecordSize)
	}
	clear(p.seen)
	for _, rec := range p.recs[:n/pipeRecordSize] {
		if p.seen[rec.Ino] {
			continue
		}
		p.seen[rec.Ino] = true
		fn(observation{ns: pipeNS, inode: rec.Ino, via: 'p', rq: rec.Bytes})
	}
	return nil
}

func (p *pipeDumper) close() {
	p.link.Close()
	p.objs.Close()
}
