//go:build linux

package bpfiter

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Iterator is the loaded program and its iterator link. Close it to
// unload. An Iterator is safe for concurrent use: each dump reads its own
// instance of the iterator.
type Iterator struct {
	objs taskFileObjects
	link *link.Iter
}

// Open loads the program and attaches it as an iterator. It fails where
// the kernel has no BTF or BPF iterators, or the caller may not load
// tracing programs; the error says which.
func Open() (*Iterator, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Not being
	// allowed to raise it (EPERM) is left to the load to report.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("bpfiter: raise RLIMIT_MEMLOCK: %w", err)
	}
	it := &Iterator{}
	if err := loadTaskFileObjects(&it.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) {
			// The library's message suggests raising RLIMIT_MEMLOCK,
			// which was tried: what is missing is the privilege.
			return nil, fmt.Errorf("bpfiter: load: %w: a BPF iterator needs root, or CAP_BPF and CAP_PERFMON", unix.EPERM)
		}
		return nil, fmt.Errorf("bpfiter: load: %w", err)
	}
	l, err := link.AttachIter(link.IterOptions{Program: it.objs.DumpTaskFile})
	if err != nil {
		it.objs.Close()
		return nil, fmt.Errorf("bpfiter: attach iter/task_file: %w", err)
	}
	it.link = l
	return it, nil
}

// Close detaches and unloads the program.
func (it *Iterator) Close() error {
	return errors.Join(it.link.Close(), it.objs.Close())
}

// recordSize is the size of one record as the program writes it.
const recordSize = int(unsafe.Sizeof(taskFileRecord{}))

// Files dumps every open fd of every process of the caller's pid
// namespace, ordered by pid and then fd number.
func (it *Iterator) Files() ([]File, error) {
	r, err := it.link.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open iterator: %w", err)
	}
	defer r.Close()
	recs, err := readRecords(r)
	if err != nil {
		return nil, fmt.Errorf("bpfiter: read iterator: %w", err)
	}
	return files(recs), nil
}

// readRecords reads records until the end of r, straight into their array.
func readRecords(r io.Reader) ([]taskFileRecord, error) {
	recs := make([]taskFileRecord, 4096)
	n := 0 // bytes read
	for {
		if n == len(recs)*recordSize {
			recs = append(recs, make([]taskFileRecord, len(recs))...)
		}
		buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(recs))), len(recs)*recordSize)
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF || (err == nil && m == 0) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if n%recordSize != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %d-byte records", n, recordSize)
	}
	return recs[:n/recordSize], nil
}

// files turns records into Files, numbering kernel addresses in the order
// met.
func files(recs []taskFileRecord) []File {
	descs := make(map[uint64]uint64, len(recs))
	socks := map[uint64]uint64{}
	number := func(m map[uint64]uint64, addr uint64) uint64 {
		if addr == 0 {
			return 0
		}
		n, ok := m[addr]
		if !ok {
			n = uint64(len(m) + 1)
			m[addr] = n
		}
		return n
	}
	out := make([]File, len(recs))
	for i := range recs {
		r := &recs[i]
		out[i] = File{
			PID: int(r.Pid), StartTime: r.Start / (1e9 / userHZ), FD: int(r.Fd), Desc: number(descs, r.File),
			Flags: r.Flags, FMode: r.Mode, Pos: r.Pos, MntID: int(r.MntId),
			Inode: r.Ino, Dev: userDev(r.Dev), RDev: userDev(r.Rdev),
			IMode: uint32(r.I_mode), FSMagic: r.Magic,
			Family: int(r.Family), SockType: int(r.SockType),
			Sock: number(socks, r.Sock), Peer: number(socks, r.Peer),
			PeerInode: r.PeerIno, InFlight: int(r.InFlight),
		}
	}
	return out
}

// userHZ is the kernel's USER_HZ, the unit of /proc/PID/stat's times: 100
// on every architecture Go runs on.
const userHZ = 100

// userDev turns a kernel dev_t (major<<20 | minor) into a user-space one.
func userDev(dev uint32) uint64 {
	return unix.Mkdev(dev>>20, dev&(1<<20-1))
}
