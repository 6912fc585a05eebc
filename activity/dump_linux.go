//go:build linux

package activity

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/fdscope/fdscope/graph/sockdiag"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumper reads the sockets of each network namespace through sock_diag,
// keeping one connection per namespace between ticks, and reads every
// reply in place (sockdiag's views): a tick allocates nothing per socket.
type dumper struct {
	netns     *sockdiag.Namespaces
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
	d := &dumper{netns: sockdiag.NewNamespaces(procRoot),
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
	return d
}

// dump calls fn with every TCP socket and, withUnix, every unix socket of
// the namespaces, and returns the namespaces it dumped.
// Namespace 0 is the caller's own.
func (d *dumper) dump(ctx context.Context, netns map[uint64]int, withUnix bool, fn func(observation)) (map[uint64]bool, error) {
	d.fn = fn
	defer func() { d.fn = nil }()
	return d.netns.Each(ctx, netns, func(ns uint64, c *sockdiag.Conn) error {
		d.ns = ns
		return d.dumpNS(c, withUnix)
	})
}

// dumpNS dumps the TCP sockets of c's namespace and, withUnix, its unix
// sockets. An interrupted dump is used as it is; a kernel without tcp_diag
// has no TCP sockets.
func (d *dumper) dumpNS(c *sockdiag.Conn, withUnix bool) error {
	if withUnix {
		if err := c.Each(d.unixReq, d.unixFn); err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) {
			return err
		}
	}
	for _, req := range d.tcpReqs {
		err := c.Each(req, d.tcpFn)
		if err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) && !errors.Is(err, sockdiag.ErrNotSupported) {
			return err
		}
	}
	return nil
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

func (d *dumper) close() { d.netns.Close() }

// threadCPU is the CPU time of the calling thread (locked to it).
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
