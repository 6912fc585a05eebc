//go:build linux

package bpfiter

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Iterator is the loaded programs and their iterator links. Close it to
// unload. An Iterator is safe for concurrent use: each dump reads its own
// instance of the iterators.
type Iterator struct {
	files     taskFileObjects
	filesLink *link.Iter
	tasks     taskObjects
	tasksLink *link.Iter
}

// Open loads the two programs and attaches them as iterators. It fails where
// the kernel has no BTF or BPF iterators, or the caller may not load
// tracing programs; the error says which.
func Open() (*Iterator, error) {
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Not being
	// allowed to raise it (EPERM) is left to the load to report.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("bpfiter: raise RLIMIT_MEMLOCK: %w", err)
	}
	// Both programs are relocated against the kernel's BTF, and attached to
	// iterators it describes: decode it once for both.
	opts := &ebpf.CollectionOptions{Cache: btf.NewCache()}
	var err error
	it := &Iterator{}
	if err := load(loadTaskFileObjects, &it.files, opts); err != nil {
		return nil, err
	}
	if err := load(loadTaskObjects, &it.tasks, opts); err != nil {
		it.files.Close()
		return nil, err
	}
	if it.filesLink, err = link.AttachIter(link.IterOptions{Program: it.files.DumpTaskFile}); err != nil {
		it.files.Close()
		it.tasks.Close()
		return nil, fmt.Errorf("bpfiter: attach iter/task_file: %w", err)
	}
	if it.tasksLink, err = link.AttachIter(link.IterOptions{Program: it.tasks.DumpTask}); err != nil {
		it.filesLink.Close()
		it.files.Close()
		it.tasks.Close()
		return nil, fmt.Errorf("bpfiter: attach iter/task: %w", err)
	}
	return it, nil
}

// load loads one of the generated objects, saying what a refusal means.
func load[O any](loadObjects func(any, *ebpf.CollectionOptions) error, objs *O, opts *ebpf.CollectionOptions) error {
	if err := loadObjects(objs, opts); err != nil {
		if errors.Is(err, unix.EPERM) {
			// The library's message suggests raising RLIMIT_MEMLOCK,
			// which was tried: what is missing is the privilege.
			return fmt.Errorf("bpfiter: load: %w: a BPF iterator needs root, or CAP_BPF and CAP_PERFMON", unix.EPERM)
		}
		return fmt.Errorf("bpfiter: load: %w", err)
	}
	return nil
}

// Close detaches and unloads the programs.
func (it *Iterator) Close() error {
	return errors.Join(it.filesLink.Close(), it.tasksLink.Close(), it.files.Close(), it.tasks.Close())
}

// Files dumps every open fd of every process of the caller's pid
// namespace, ordered by pid and then fd number, and the fds of the
// threads that have a table of their own (TID not PID), each table where
// its thread's id falls in that order. The fds the dumps of this Iterator
// read from at that moment are left out.
func (it *Iterator) Files() ([]File, error) {
	var readers readerFDs
	recs, err := dumpRecords[taskFileRecord](it.filesLink, "iter/task_file", &readers)
	if err != nil {
		return nil, err
	}
	return files(recs, &readers), nil
}

// Tasks dumps every process of the caller's pid namespace, ordered by pid.
func (it *Iterator) Tasks() ([]Task, error) {
	recs, err := dumpRecords[taskTaskRecord](it.tasksLink, "iter/task", nil)
	if err != nil {
		return nil, err
	}
	return tasksOf(recs), nil
}

// Dump reads both iterators at once, each on its own goroutine.
func (it *Iterator) Dump() (Dump, error) {
	var readers readerFDs
	var tasks []taskTaskRecord
	var tasksErr error
	var wg sync.WaitGroup
	wg.Go(func() { tasks, tasksErr = dumpRecords[taskTaskRecord](it.tasksLink, "iter/task", &readers) })
	recs, err := dumpRecords[taskFileRecord](it.filesLink, "iter/task_file", &readers)
	wg.Wait()
	if err = errors.Join(err, tasksErr); err != nil {
		return Dump{}, err
	}
	return Dump{Files: files(recs, &readers), Tasks: tasksOf(tasks)}, nil
}

// readerFDs are the fds the dumps read from, in the reading process: the
// task_file dump sees them open, and leaves them out.
type readerFDs struct {
	mu  sync.Mutex
	fds []int
}

func (rf *readerFDs) add(r io.Reader) {
	c, ok := r.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		rf.mu.Lock()
		rf.fds = append(rf.fds, int(fd))
		rf.mu.Unlock()
	})
}

// leaveOut removes the readers' fds from files, which are the reading
// process's when their pid is its own.
func (rf *readerFDs) leaveOut(files []File) []File {
	self := os.Getpid()
	return slices.DeleteFunc(files, func(f File) bool {
		return f.PID == self && f.AnonName == "bpf_iter" && slices.Contains(rf.fds, f.FD)
	})
}

// dumpRecords reads one instance of the iterator l to its end, adding its
// fd to readers (if not nil) while it is open.
func dumpRecords[R any](l *link.Iter, what string, readers *readerFDs) ([]R, error) {
	r, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open %s: %w", what, err)
	}
	defer r.Close()
	if readers != nil {
		readers.add(r)
	}
	recs, err := readRecords[R](r)
	if err != nil {
		return nil, fmt.Errorf("bpfiter: read %s: %w", what, err)
	}
	return recs, nil
}

// readRecords reads records until the end of r, straight into their array.
func readRecords[R any](r io.Reader) ([]R, error) {
	recordSize := int(unsafe.Sizeof(*new(R)))
	recs := make([]R, 1024)
	n := 0 // bytes read
	for {
		if n == len(recs)*recordSize {
			recs = append(recs, make([]R, len(recs))...)
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
func files(recs []taskFileRecord, readers *readerFDs) []File {
	nsocks := 0
	for i := range recs {
		if recs[i].Sock != 0 {
			nsocks++
		}
	}
	descs := make(map[uint64]uint64, len(recs))
	socks := make(map[uint64]uint64, nsocks) // grown one at a time, ~20 ms of rehashing for 22,000
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
			PID: int(r.Pid), TID: int(r.Tid), StartTime: r.Start / (1e9 / userHZ), FD: int(r.Fd), Desc: number(descs, r.File),
			Flags: r.Flags, FMode: r.Mode, Pos: r.Pos, MntID: int(r.MntId),
			Inode: r.Ino, Dev: userDev(r.Dev), RDev: userDev(r.Rdev),
			IMode: uint32(r.I_mode), FSMagic: r.Magic,
			Family: int(r.Family), SockType: int(r.SockType),
			Sock: number(socks, r.Sock), Peer: number(socks, r.Peer),
			PeerInode: r.PeerIno, InFlight: int(r.InFlight),
		}
		if r.AnonName[0] != 0 {
			out[i].AnonName = cString(r.AnonName[:])
		}
	}
	return readers.leaveOut(out)
}

// tasksOf turns records into Tasks; the records of threads with a table of
// their own (visited in tid order, among other processes) go to their
// process's.
func tasksOf(recs []taskTaskRecord) []Task {
	out := make([]Task, 0, len(recs))
	var own []*taskTaskRecord
	for i := range recs {
		r := &recs[i]
		if r.Flags&taskOwnFiles != 0 {
			own = append(own, r)
			continue
		}
		out = append(out, Task{
			PID: int(r.Pid), PPID: int(r.Ppid), StartTime: r.Start / (1e9 / userHZ),
			Comm: cString(r.Comm[:]), UID: int(r.Uid), EUID: int(r.Euid), GID: int(r.Gid),
			Threads: int(r.Threads), NetNS: uint64(r.Netns), MntNS: uint64(r.Mntns), PidNS: uint64(r.Pidns),
			KernelThread: r.Flags&taskKthread != 0,
		})
	}
	for _, r := range own {
		i, ok := slices.BinarySearchFunc(out, int(r.Pid), func(t Task, pid int) int { return cmp.Compare(t.PID, pid) })
		if ok && out[i].StartTime == r.Start/(1e9/userHZ) {
			out[i].OwnFDTables = append(out[i].OwnFDTables, int(r.Tid))
		}
	}
	return out
}

// The flags of a task record (task.c): a thread with its own fd table, a
// kernel thread.
const (
	taskOwnFiles = 1
	taskKthread  = 2
)

// cString returns the NUL-terminated string in b, all of b when it has no NUL.
func cString(b []int8) string {
	s := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// userHZ is the kernel's USER_HZ, the unit of /proc/PID/stat's times: 100
// on every architecture Go runs on.
const userHZ = 100

// userDev turns a kernel dev_t (major<<20 | minor) into a user-space one.
func userDev(dev uint32) uint64 {
	return unix.Mkdev(dev>>20, dev&(1<<20-1))
}
