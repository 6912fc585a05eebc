//go:build linux && (amd64 || arm64)

package conntrace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Tracer is the loaded programs, attached, and the reader of their
// records. Run reads; Close detaches and unloads. Run and Close may be
// called from different goroutines; Run only once.
type Tracer struct {
	objs  conntraceObjects
	links []link.Link
	rd    *ringbuf.Reader
	// seen, when set (tests), receives every kernel address read, before
	// it is numbered.
	seen func(uint64)
}

// hooks are the BTF tracepoints the programs attach to.
var hooks = []string{"inet_sock_set_state", "sys_exit", "kmem_cache_free"}

// Grace is how long a closed connection waits before it is handed over:
// for the records of its other end, and a late accept's.
const Grace = 100 * time.Millisecond

// Open loads the programs and attaches them. It fails where the kernel
// has no BTF or the caller may not load tracing programs; the error says
// which.
func Open() (*Tracer, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return nil, fmt.Errorf("conntrace: the pid namespace: %w", err)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, fmt.Errorf("conntrace: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF): %w", err)
	}
	spec, err := loadConntrace()
	if err != nil {
		return nil, fmt.Errorf("conntrace: %w", err)
	}
	for name, v := range map[string]uint32{"ns_inum": uint32(st.Ino), "nr_connect": unix.SYS_CONNECT,
		"nr_accept": unix.SYS_ACCEPT, "nr_accept4": unix.SYS_ACCEPT4} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("conntrace: set %s: %w", name, err)
		}
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. Not being
	// allowed to raise it (EPERM) is left to the load to report.
	if err := rlimit.RemoveMemlock(); err != nil && !errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("conntrace: raise RLIMIT_MEMLOCK: %w", err)
	}
	t := &Tracer{}
	if err := spec.LoadAndAssign(&t.objs, nil); err != nil {
		if errors.Is(err, unix.EPERM) {
			// The library's message suggests raising RLIMIT_MEMLOCK,
			// which was tried: what is missing is the privilege.
			return nil, fmt.Errorf("conntrace: load: %w: tracing programs need root, or CAP_BPF and CAP_PERFMON", unix.EPERM)
		}
		return nil, fmt.Errorf("conntrace: load: %w", err)
	}
	for i, p := range []*ebpf.Program{t.objs.OnInetSockSetState, t.objs.OnSysExit, t.objs.OnKmemCacheFree} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("conntrace: attach to tracepoint %s: %w", hooks[i], err)
		}
		t.links = append(t.links, l)
	}
	if t.rd, err = ringbuf.NewReader(t.objs.Events); err != nil {
		t.Close()
		return nil, fmt.Errorf("conntrace: read the ring buffer: %w", err)
	}
	return t, nil
}

// Hooks names the tracepoints the programs are attached to.
func (t *Tracer) Hooks() []string { return append([]string(nil), hooks...) }

// Close detaches and unloads the programs; Run then returns.
func (t *Tracer) Close() error {
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	t.links = nil
	if t.rd != nil {
		errs = append(errs, t.rd.Close())
	}
	errs = append(errs, t.objs.Close())
	return errors.Join(errs...)
}

// Totals are the programs' counts since Open.
type Totals struct {
	Records uint64 // records written to the ring buffer
	Lost    uint64 // records dropped: the ring buffer was full (the reader fell behind)
	// Untracked counts unix sockets whose end could not be followed (too
	// many open at once): their connections never close.
	Untracked uint64
}

// Totals reads the counts since Open.
func (t *Tracer) Totals() (Totals, error) {
	var c conntraceCounters
	if err := t.objs.Totals.Lookup(uint32(0), &c); err != nil {
		return Totals{}, fmt.Errorf("conntrace: read totals: %w", err)
	}
	return Totals{Records: c.Events, Lost: c.Lost, Untracked: c.Untracked}, nil
}

// tick is how often Run hands over what has finished when no record
// comes.
const tick = 50 * time.Millisecond

// Run reads the records and calls emit with each connection once both its
// ends have closed (and Grace has passed), until ctx is done or the Tracer
// is closed. emit runs on Run's goroutine.
func (t *Tracer) Run(ctx context.Context, emit func(Conn)) error {
	j := newJoiner(Grace)
	clock := newBootClock()
	var (
		rec       ringbuf.Record
		ev        conntraceEvent
		r         record
		lastFlush time.Time
	)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&ev)), unsafe.Sizeof(ev))
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		now := time.Now()
		if now.Sub(lastFlush) >= tick {
			clock.sync()
			j.flush(now, emit)
			lastFlush = now
		}
		t.rd.SetDeadline(now.Add(tick))
		err := t.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			return nil
		case err != nil:
			return fmt.Errorf("conntrace: read: %w", err)
		}
		if len(rec.RawSample) < len(raw) {
			continue
		}
		copy(raw, rec.RawSample)
		if t.seen != nil {
			t.seen(ev.Sock)
			t.seen(ev.Peer)
		}
		decode(&ev, j, clock, &r)
		j.handle(&r)
	}
}

// decode turns ev into r, its kernel addresses into ordinals.
func decode(ev *conntraceEvent, j *joiner, clock *bootClock, r *record) {
	create := ev.Kind != kindClose && ev.Kind != kindFree
	*r = record{kind: ev.Kind, time: clock.wall(ev.Time), sock: j.ordinal(ev.Sock, create), peer: j.ordinal(ev.Peer, create),
		inode: ev.Inode, start: time.Duration(ev.Start), pid: int(ev.Pid), fd: int(ev.Fd), netns: ev.Netns,
		family: ev.Family, state: ev.State}
	ev.Sock, ev.Peer = 0, 0
	if ev.Kind == kindConnect || ev.Kind == kindAccept {
		r.comm = cString(ev.Comm[:])
	}
	switch ev.Family {
	case afInet:
		r.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ev.Saddr[:4])), ev.Sport)
		r.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ev.Daddr[:4])), ev.Dport)
	case afInet6:
		r.local = netip.AddrPortFrom(netip.AddrFrom16(ev.Saddr).Unmap(), ev.Sport)
		r.remote = netip.AddrPortFrom(netip.AddrFrom16(ev.Daddr).Unmap(), ev.Dport)
	case afUnix:
		if n := int(ev.PathLen); n > 0 && n <= len(ev.Path) {
			r.path = unixName(ev.Path[:n])
		}
	}
}

// cString is a NUL-terminated C string.
func cString(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// unixName is a unix socket's sun_path: a path up to its NUL, or an
// abstract name (a leading NUL) as @name.
func unixName(b []int8) string {
	raw := make([]byte, len(b))
	for i, c := range b {
		raw[i] = byte(c)
	}
	if len(raw) > 0 && raw[0] == 0 {
		return "@" + string(bytes.TrimRight(raw[1:], "\x00"))
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	return string(raw)
}

// bootClock turns CLOCK_BOOTTIME, which the records carry, into wall
// time.
type bootClock struct{ base time.Time }

func newBootClock() *bootClock {
	c := &bootClock{}
	c.sync()
	return c
}

// sync sets the wall time of boot again (the wall clock may be set).
func (c *bootClock) sync() {
	var ts unix.Timespec
	now := time.Now()
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		c.base = now.Add(-time.Duration(ts.Nano()))
	}
}

func (c *bootClock) wall(ns uint64) time.Time { return c.base.Add(time.Duration(ns)) }
