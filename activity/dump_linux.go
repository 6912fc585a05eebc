//go:build linux

package activity

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/fdscope/fdscope/graph/sockdiag"
	"github.com/fdscope/fdscope/internal/procdir"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumper reads the sockets of each network namespace through sock_diag,
// keeping one connection per namespace between ticks, and reads every
// reply in place (sockdiag's views): a tick allocates nothing per socket.
type dumper struct {
	procRoot  string
	self      uint64
	conns     map[uint64]*sockdiag.Conn
	failed    map[uint64]bool
	unixReq   sockdiag.Request
	tcpReqs   []sockdiag.Request
	ignore    netip.AddrPort // a local end left out (Sampler.IgnoreLocal)
	ignoreAny bool           // ignore's address is unspecified: its port on every address
	// per dump: the namespace and the callback, read by unixFn and tcpFn
	ns            uint64
	fn            func(observation)
	unixFn, tcpFn func(netlink.Message) error
}

func newDumper(procRoot string, ignore netip.AddrPort) *dumper {
	if procRoot == "" {
		procRoot = "/proc"
	}
	d := &dumper{procRoot: procRoot, conns: map[uint64]*sockdiag.Conn{}, failed: map[uint64]bool{},
		unixReq: sockdiag.UnixRequest(sockdiag.UnixShowRQLen),
		tcpReqs: []sockdiag.Request{
			sockdiag.InetRequest(unix.AF_INET, unix.IPPROTO_TCP, sockdiag.InetExtInfo),
			sockdiag.InetRequest(unix.AF_INET6, unix.IPPROTO_TCP, sockdiag.InetExtInfo),
		}}
	d.unixFn, d.tcpFn = d.addUnix, d.addTCP
	if ignore.IsValid() {
		d.ignore = netip.AddrPortFrom(ignore.Addr().Unmap(), ignore.Port())
		d.ignoreAny = ignore.Addr().IsUnspecified()
	}
	d.self, _ = procdir.ThreadNetNS()
	return d
}

// dump calls fn with every TCP socket and every unix socket of the
// namespaces, and returns the namespaces it dumped.
// Namespace 0 is the caller's own.
func (d *dumper) dump(ctx context.Context, netns map[uint64]int, fn func(observation)) (map[uint64]bool, error) {
	d.fn = fn
	defer func() { d.fn = nil }()
	ok := map[uint64]bool{}
	var errs []error
	for ns, pid := range netns {
		if ctx.Err() != nil {
			return ok, ctx.Err()
		}
		if d.failed[ns] {
			continue
		}
		c, err := d.conn(ns, pid)
		if err != nil {
			d.failed[ns] = true
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
			continue
		}
		d.ns = ns
		if err := d.dumpNS(c); err != nil {
			c.Close()
			delete(d.conns, ns)
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
			continue
		}
		ok[ns] = true
	}
	for ns, c := range d.conns {
		if _, in := netns[ns]; !in {
			c.Close()
			delete(d.conns, ns)
		}
	}
	for ns := range d.failed {
		if _, in := netns[ns]; !in {
			delete(d.failed, ns)
		}
	}
	return ok, errors.Join(errs...)
}

// dumpNS dumps the unix and TCP sockets of c's namespace. An interrupted
// dump is used as it is; a kernel without tcp_diag has no TCP sockets.
func (d *dumper) dumpNS(c *sockdiag.Conn) error {
	if err := c.Each(d.unixReq, d.unixFn); err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) {
		return err
	}
	for _, req := range d.tcpReqs {
		err := c.Each(req, d.tcpFn)
		if err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) && !errors.Is(err, sockdiag.ErrNotSupported) {
			return err
		}
	}
	return nil
}

func (d *dumper) conn(ns uint64, pid int) (*sockdiag.Conn, error) {
	if c := d.conns[ns]; c != nil {
		return c, nil
	}
	nsFD := -1
	if ns != 0 && ns != d.self {
		fd, _, err := procdir.OpenNetNS(d.procRoot, pid)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		nsFD = fd
	}
	c, err := sockdiag.Dial(nsFD)
	if err != nil {
		return nil, err
	}
	d.conns[ns] = c
	return c, nil
}

// addUnix reports a unix socket's queues; listeners (whose queues are the
// accept queue and the backlog) are left out.
func (d *dumper) addUnix(m netlink.Message) error {
	if m.Header.Type != sockdiag.TypeByFamily {
		return nil
	}
	r, err := sockdiag.ParseUnixReply(m.Data)
	if err != nil || r.State() == uint8(sockdiag.StateListen) {
		return nil
	}
	a := r.Attrs()
	for a.Next() {
		if data := a.Data(); a.Type() == sockdiag.UnixAttrRQLen && len(data) >= 8 {
			d.fn(observation{ns: d.ns, inode: r.Inode(), via: 'u',
				rq: binary.NativeEndian.Uint32(data),
				wq: binary.NativeEndian.Uint32(data[4:])})
		}
	}
	return nil
}

// addTCP reports a TCP socket's byte counters and queues; listeners and
// sockets without a file (time-wait, request) are left out.
func (d *dumper) addTCP(m netlink.Message) error {
	if m.Header.Type != sockdiag.TypeByFamily {
		return nil
	}
	r, err := sockdiag.ParseInetReply(m.Data)
	if err != nil || r.Inode() == 0 || r.State() == uint8(sockdiag.StateListen) {
		return nil
	}
	if d.ignore.IsValid() {
		if l := r.Local(); l.Port() == d.ignore.Port() && (d.ignoreAny || l.Addr().Unmap() == d.ignore.Addr()) {
			return nil
		}
	}
	o := observation{ns: d.ns, inode: r.Inode(), via: 't', rq: r.RQueue(), wq: r.WQueue()}
	a := r.Attrs()
	for a.Next() {
		if a.Type() == sockdiag.InetAttrInfo {
			if ti, err := sockdiag.ParseTCPInfo(a.Data()); err == nil && ti.HasBytes {
				o.counters, o.sent, o.recv = true, ti.BytesAcked, ti.BytesReceived
			}
		}
	}
	d.fn(o)
	return nil
}

func (d *dumper) close() {
	for ns, c := range d.conns {
		c.Close()
		delete(d.conns, ns)
	}
}

// threadCPU is the CPU time of the calling thread (locked to it).
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
