//go:build linux && (amd64 || arm64)

package kevents

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Watcher is the loaded programs, attached. Take drains what they marked;
// Close detaches and unloads them. A Watcher is not safe for concurrent
// use: one goroutine (the live loop) takes from it.
type Watcher struct {
	objs   keventsObjects
	links  []link.Link
	last   keventsCounters
	keys   []uint32 // buffers of Take's batches
	values []keventsMarks
}

// hooks are the BTF tracepoints the programs attach to.
var hooks = []string{"sys_exit", "sched_process_fork", "sched_process_exec", "sched_process_exit", "inet_sock_set_state"}

// Open loads the programs and attaches them. It fails where the kernel
// has no BTF or the caller may not load tracing programs; the error says
// which.
func Open() (*Watcher, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return nil, fmt.Errorf("kevents: the pid namespace: %w", err)
	}
	spec, err := loadKevents()
	if err != nil {
		return nil, fmt.Errorf("kevents: %w", err)
	}
	if err := spec.Variables["ns_inum"].Set(uint32(st.Ino)); err != nil {
		return nil, fmt.Errorf("kevents: set ns_inum: %w", err)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Not being
	// allowed to raise it (EPERM) is left to the load to report.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("kevents: raise RLIMIT_MEMLOCK: %w", err)
	}
	w := &Watcher{}
	if err := spec.LoadAndAssign(&w.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) {
			// The library's message suggests raising RLIMIT_MEMLOCK,
			// which was tried: what is missing is the privilege.
			return nil, fmt.Errorf("kevents: load: %w: tracing programs need root, or CAP_BPF and CAP_PERFMON", unix.EPERM)
		}
		return nil, fmt.Errorf("kevents: load: %w", err)
	}
	for nr, why := range watchedSyscalls() {
		if err := w.objs.Syscalls.Put(uint32(nr), why); err != nil {
			w.Close()
			return nil, fmt.Errorf("kevents: watch system call %d: %w", nr, err)
		}
	}
	progs := []*ebpf.Program{w.objs.OnSysExit, w.objs.OnSchedProcessFork, w.objs.OnSchedProcessExec, w.objs.OnSchedProcessExit, w.objs.OnInetSockSetState}
	for i, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("kevents: attach to tracepoint %s: %w", hooks[i], err)
		}
		w.links = append(w.links, l)
	}
	return w, nil
}

// Hooks names the tracepoints the programs are attached to.
func (w *Watcher) Hooks() []string { return slices.Clone(hooks) }

// Close detaches and unloads the programs.
func (w *Watcher) Close() error {
	var errs []error
	for _, l := range w.links {
		errs = append(errs, l.Close())
	}
	w.links = nil
	errs = append(errs, w.objs.Close())
	return errors.Join(errs...)
}

// Take returns what was marked since the last Take (since Open, the
// first time) and clears it.
func (w *Watcher) Take() (Batch, error) {
	var b Batch
	var now keventsCounters
	if err := w.objs.Totals.Lookup(uint32(0), &now); err != nil {
		return b, fmt.Errorf("kevents: read totals: %w", err)
	}
	b.Sockets = now.Sockets != w.last.Sockets
	b.Lost = now.Lost != w.last.Lost
	w.last = now
	if w.keys == nil {
		w.keys, w.values = make([]uint32, 1024), make([]keventsMarks, 1024)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := w.objs.Changed.BatchLookupAndDelete(&cursor, w.keys, w.values, nil)
		for i, pid := range w.keys[:n] {
			if w.values[i].Other != 0 {
				b.PIDs = append(b.PIDs, int(pid))
			} else {
				b.FDsOnly = append(b.FDsOnly, int(pid))
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return b, fmt.Errorf("kevents: drain: %w", err)
		}
	}
	slices.Sort(b.PIDs)
	slices.Sort(b.FDsOnly)
	return b, nil
}

// WatchNetNS makes TCP state changes count (Batch.Sockets) only in these
// network namespaces (by inode); none: in every one, as after Open.
func (w *Watcher) WatchNetNS(inums []uint64) error {
	on := uint32(1)
	want := make(map[uint32]bool, len(inums))
	for _, ino := range inums {
		if ino != 0 && ino <= math.MaxUint32 {
			want[uint32(ino)] = true
			if err := w.objs.Netns.Put(uint32(ino), on); err != nil {
				return fmt.Errorf("kevents: watch netns %d: %w", ino, err)
			}
		}
	}
	// The filter goes on once the namespaces are in, and off before any
	// goes: a change is never lost to a half-made set.
	if len(want) > 0 {
		if err := w.objs.Netns.Put(uint32(0), on); err != nil {
			return fmt.Errorf("kevents: netns filter: %w", err)
		}
	} else if err := w.objs.Netns.Delete(uint32(0)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("kevents: netns filter: %w", err)
	}
	var key, val uint32
	var stale []uint32
	it := w.objs.Netns.Iterate()
	for it.Next(&key, &val) {
		if key != 0 && !want[key] {
			stale = append(stale, key)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("kevents: netns: %w", err)
	}
	for _, k := range stale {
		if err := w.objs.Netns.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("kevents: unwatch netns %d: %w", k, err)
		}
	}
	return nil
}

// Totals reads the counts since Open.
func (w *Watcher) Totals() (Totals, error) {
	var now keventsCounters
	if err := w.objs.Totals.Lookup(uint32(0), &now); err != nil {
		return Totals{}, fmt.Errorf("kevents: read totals: %w", err)
	}
	return Totals{Marks: now.Marks, Lost: now.Lost, Sockets: now.Sockets}, nil
}
