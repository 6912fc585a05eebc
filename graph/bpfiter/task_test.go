//go:build linux

package bpfiter_test

import (
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/bpfiter"
	"github.com/fdscope/fdscope/internal/procdir"
)

// procTask reads what /proc says of pid in the shape of a Task; false when
// the process went away meanwhile.
func procTask(fs procfs.FS, pid int) (bpfiter.Task, bool) {
	p, err := fs.Proc(pid)
	if err != nil {
		return bpfiter.Task{}, false
	}
	st, err := p.Stat()
	if err != nil {
		return bpfiter.Task{}, false
	}
	status, err := p.NewStatus()
	if err != nil {
		return bpfiter.Task{}, false
	}
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return bpfiter.Task{}, false
	}
	defer unix.Close(dir)
	ns := func(name string) uint64 {
		ino, _ := procdir.NamespaceAt(dir, name) // 0 when unknown, as in the dump
		return ino
	}
	return bpfiter.Task{
		PID: pid, PPID: st.PPID, StartTime: st.Starttime, Comm: st.Comm,
		UID: int(status.UIDs[0]), EUID: int(status.UIDs[1]), GID: int(status.GIDs[0]),
		Threads: st.NumThreads, NetNS: ns("net"), MntNS: ns("mnt"), PidNS: ns("pid"),
	}, true
}

// Every process of the dump is one /proc shows, with the same facts; a
// process whose facts changed between the two readings (a thread started,
// a comm set) is read again.
func TestTasksAgreeWithProc(t *testing.T) {
	it := open(t)
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := it.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(tasks, func(a, b bpfiter.Task) int { return a.PID - b.PID }) {
		t.Error("tasks not ordered by pid")
	}
	self := false
	for _, task := range tasks {
		self = self || task.PID == os.Getpid()
		for try := 0; ; try++ {
			want, ok := procTask(fs, task.PID)
			if !ok || want.StartTime != task.StartTime {
				break // gone, or its pid reused
			}
			task.OwnFDTables = nil
			if task.KernelThread {
				task.KernelThread = false
				task.Comm = want.Comm
			}
			if reflect.DeepEqual(task, want) {
				break
			}
			if try == 5 {
				t.Errorf("pid %d: dump %+v, /proc %+v", task.PID, task, want)
				break
			}
			again, err := it.Tasks()
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(again, func(a bpfiter.Task) bool { return a.PID == task.PID })
			if i < 0 {
				break
			}
			task = again[i]
		}
	}
	if !self {
		t.Errorf("the dump lacks the reading process %d", os.Getpid())
	}
}

// A thread that unshared its fd table is named in its process's Task, and
// the fd only its table holds is dumped with its TID, not the process's.
func TestOwnFDTable(t *testing.T) {
	it := open(t)
	type thread struct {
		tid, fd int
		err     error
	}
	ready, done := make(chan thread), make(chan struct{})
	var unshare func()
	unshare = func() {
		runtime.LockOSThread() // the thread ends with the goroutine
		if unix.Gettid() == unix.Getpid() {
			// The process's own thread: keep it, and unshare another.
			go unshare()
			<-done
			return
		}
		if err := unix.Unshare(unix.CLONE_FILES); err != nil {
			ready <- thread{err: err}
			return
		}
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ready <- thread{tid: unix.Gettid(), fd: fd, err: err}
		<-done
	}
	go unshare()
	th := <-ready
	defer close(done)
	if th.err != nil {
		t.Fatal(th.err)
	}
	d, err := it.Dump()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(d.Tasks, func(a bpfiter.Task) bool { return a.PID == os.Getpid() })
	if i < 0 || !slices.Contains(d.Tasks[i].OwnFDTables, th.tid) {
		t.Fatalf("no process %d with own-table thread %d in the dump", os.Getpid(), th.tid)
	}
	var seen bool
	for _, f := range d.Files {
		if f.PID != os.Getpid() || f.TID != th.tid {
			continue
		}
		seen = seen || f.FD == th.fd
		if f.FD == th.fd {
			link, err := os.Readlink("/proc/" + strconv.Itoa(os.Getpid()) + "/task/" + strconv.Itoa(th.tid) + "/fd/" + strconv.Itoa(th.fd))
			if err != nil || link != os.DevNull {
				t.Errorf("thread's fd %d: readlink %q, %v", th.fd, link, err)
			}
		}
	}
	if !seen {
		t.Errorf("the thread's fd %d is not dumped with tid %d", th.fd, th.tid)
	}
}

// An anon inode's name is dumped as readlink shows it.
func TestAnonName(t *testing.T) {
	it := open(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	m := dump(t, it)
	for _, fd := range []int{efd, ep} {
		link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, m, os.Getpid(), fd).AnonName; "anon_inode:"+got != link || !strings.HasPrefix(got, "[") {
			t.Errorf("fd %d: anon name %q, readlink %q", fd, got, link)
		}
	}
}

// The fds the dumps read from are open while they run, and left out.
func TestDumpLeavesOutItsReaders(t *testing.T) {
	it := open(t)
	d, err := it.Dump()
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, f := range d.Files {
		if f.PID != os.Getpid() {
			continue
		}
		own++
		if f.AnonName == "bpf_iter" {
			t.Errorf("fd %d: the dump shows its own reader", f.FD)
		}
	}
	if own == 0 {
		t.Error("the dump holds no fd of the reading process")
	}
}
