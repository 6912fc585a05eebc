package live

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/fdscope/fdscope/graph/sockdiag"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// SockDiagProber is the SocketProber of the live kernel: one
// NETLINK_SOCK_DIAG dump of unix, TCP and UDP sockets per network namespace,
// asking only for what a signature needs (state, peer, queues, pending
// connections) and hashing each reply in place through the streaming layer
// of package graph/sockdiag (Conn.Each and its views), so that a tick that
// finds nothing changed allocates next to nothing: the signature map. (The
// same package's dump methods, which decode every socket into structs,
// serve the scanner.)
//
// It keeps one sock_diag connection per namespace between probes. A
// connection in another namespace is made there with setns(2) on a locked
// OS thread, which needs CAP_SYS_ADMIN; a namespace that cannot be entered
// is skipped (its sockets change only at full scans). Not safe for
// concurrent use; Close it when done.
type SockDiagProber struct {
	netns *sockdiag.Namespaces
	last  int // sockets in the previous result, to size the next
	// ignore is the local end whose sockets are left out (IgnoreLocal).
	ignore    netip.AddrPort
	ignoreAny bool // ignore's address is unspecified: every address of its port

	unixReq  sockdiag.Request   // built once: a probe allocates no requests
	inetReqs []sockdiag.Request // TCP and UDP, IPv4 and IPv6
	// out is the map the dump being read adds to; unixFn and inetFn, the
	// callbacks of Each, are bound once to p and write to it.
	out            map[uint64]uint64
	unixFn, inetFn func(netlink.Message) error
}

// NewSockDiagProber returns a prober that finds namespaces through procRoot
// ("/proc" if empty).
func NewSockDiagProber(procRoot string) *SockDiagProber {
	p := &SockDiagProber{
		netns:   sockdiag.NewNamespaces(procRoot),
		unixReq: sockdiag.UnixRequest(sockdiag.UnixShowPeer | sockdiag.UnixShowIcons | sockdiag.UnixShowRQLen),
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			p.inetReqs = append(p.inetReqs, sockdiag.InetRequest(fam, proto, 0))
		}
	}
	p.unixFn, p.inetFn = p.addUnix, p.addInet
	return p
}

// ProbeSockets implements SocketProber. A namespace whose dump fails is left
// out of the result and reported in the error; the result is nil only when
// ctx is done.
func (p *SockDiagProber) ProbeSockets(ctx context.Context, netns map[uint64]int) (map[uint64]uint64, error) {
	out := make(map[uint64]uint64, p.last+p.last/8)
	_, err := p.netns.Each(ctx, netns, func(_ uint64, c *sockdiag.Conn) error { return p.signatures(c, out) })
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p.last = len(out)
	return out, err
}

// IgnoreLocal leaves out of every probe the TCP and UDP sockets whose local
// end is addr: a server's own listener and the connections accepted from
// it (an unspecified address, 0.0.0.0 or ::, stands for every address of
// the port). The server's sockets change with every client it has; left
// out, its clients cost its scans nothing. Call it before the first probe.
func (p *SockDiagProber) IgnoreLocal(addr netip.AddrPort) {
	p.ignore = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	p.ignoreAny = addr.Addr().IsUnspecified()
}

// Close closes the sock_diag connections.
func (p *SockDiagProber) Close() error { return p.netns.Close() }

// signatures adds the signature of every unix, TCP and UDP socket of the
// namespace of c to out. An interrupted dump is used as it is: what it
// missed is seen at the next probe. A kernel without tcp_diag or udp_diag
// has its TCP or UDP sockets left out.
func (p *SockDiagProber) signatures(c *sockdiag.Conn, out map[uint64]uint64) error {
	p.out = out
	defer func() { p.out = nil }()
	if err := c.Each(p.unixReq, p.unixFn); err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) {
		return err
	}
	for _, req := range p.inetReqs {
		err := c.Each(req, p.inetFn)
		if err != nil && !errors.Is(err, sockdiag.ErrDumpInterrupted) && !errors.Is(err, sockdiag.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// addUnix adds the signature of one unix_diag reply to p.out: state, peer,
// queues and the number of connections waiting to be accepted. A reply that
// cannot be read is left out, and one with a malformed attribute keeps what
// was read before it.
func (p *SockDiagProber) addUnix(m netlink.Message) error {
	if m.Header.Type != sockdiag.TypeByFamily {
		return nil
	}
	r, err := sockdiag.ParseUnixReply(m.Data)
	if err != nil {
		return nil
	}
	var peer, rq, wq, icons uint64
	a := r.Attrs()
	for a.Next() {
		switch data := a.Data(); a.Type() {
		case sockdiag.UnixAttrPeer:
			if len(data) >= 4 {
				peer = uint64(binary.NativeEndian.Uint32(data))
			}
		case sockdiag.UnixAttrIcons:
			icons = uint64(len(data) / 4)
		case sockdiag.UnixAttrRQLen:
			if len(data) >= 8 {
				rq, wq = uint64(binary.NativeEndian.Uint32(data)), uint64(binary.NativeEndian.Uint32(data[4:]))
			}
		}
	}
	p.out[r.Inode()] = signature('u', uint64(r.State()), peer, rq, wq, icons)
	return nil
}

// addInet adds the signature of one inet_diag reply to p.out: state, remote
// address and port, and queues. Time-wait and request sockets (inode 0)
// have no fd and are left out.
func (p *SockDiagProber) addInet(m netlink.Message) error {
	if m.Header.Type != sockdiag.TypeByFamily {
		return nil
	}
	r, err := sockdiag.ParseInetReply(m.Data)
	if err != nil || r.Inode() == 0 {
		return nil
	}
	if p.ignore.IsValid() {
		if l := r.Local(); l.Port() == p.ignore.Port() && (p.ignoreAny || l.Addr().Unmap() == p.ignore.Addr()) {
			return nil
		}
	}
	remote := r.Remote()
	addr := remote.Addr().As16()
	p.out[r.Inode()] = signature('i', uint64(r.State()), uint64(remote.Port()),
		binary.NativeEndian.Uint64(addr[:8]), binary.NativeEndian.Uint64(addr[8:]),
		uint64(r.RQueue()), uint64(r.WQueue()))
	return nil
}

// signature hashes a socket's facts (FNV-1a over their bytes): 16 bytes a
// socket where a string would take several times that, on hosts with tens
// of thousands of sockets.
func signature(kind byte, facts ...uint64) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(kind)) * prime
	for _, f := range facts {
		for range 8 {
			h = (h ^ (f & 0xff)) * prime
			f >>= 8
		}
	}
	return h
}
