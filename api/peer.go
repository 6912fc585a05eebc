package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/fdscope/fdscope/graph/sockdiag"
)

// Who is asking. On loopback the kernel knows which user owns the client's
// end of every TCP connection (sock_diag reports it, as `ss -e` shows): the
// server looks it up once per connection, on its first request, and trusts
// the server's own user and root without a token. Anyone else needs the
// token (and is refused when the server has none). A client that is not on
// loopback cannot be identified and always needs the token.

// peerKey is the context key of a connection's *peer (Server.ConnContext).
type peerKey struct{}

// peer is who is at the other end of one TCP connection, looked up once.
type peer struct {
	local, remote netip.AddrPort // the server's end and the client's end

	once  sync.Once
	uid   uint32
	known bool // uid is the kernel's word: a loopback client whose socket was found
}

// IdentifyFunc returns the uid owning the TCP socket whose local end is
// client and whose remote end is server: the client's end of a connection
// to this server.
type IdentifyFunc func(client, server netip.AddrPort) (uint32, error)

// ConnContext is the http.Server's ConnContext: it gives every TCP
// connection the place where the first request's look-up of its owner is
// kept, so that a connection costs one look-up however many requests it
// carries. Without it, each request looks its client up again.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, newPeer(c.LocalAddr(), c.RemoteAddr()))
}

func newPeer(local, remote net.Addr) *peer {
	p := &peer{}
	if a, ok := local.(*net.TCPAddr); ok {
		p.local = unmap(a.AddrPort())
	}
	if a, ok := remote.(*net.TCPAddr); ok {
		p.remote = unmap(a.AddrPort())
	}
	return p
}

// unmap turns an IPv4-mapped IPv6 address (a dual-stack listener's view of
// an IPv4 client) into the IPv4 address the client's socket has; the
// look-up tries the mapped form too.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// peerOf returns the peer of r's connection, looked up with identify on
// first use.
func peerOf(r *http.Request, identify IdentifyFunc) *peer {
	p, _ := r.Context().Value(peerKey{}).(*peer)
	if p == nil {
		// Not served with ConnContext: look up for this request alone.
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		p = &peer{}
		if a, ok := la.(*net.TCPAddr); ok {
			p.local = unmap(a.AddrPort())
		}
		ra, _ := netip.ParseAddrPort(r.RemoteAddr)
		p.remote = unmap(ra)
	}
	p.once.Do(func() {
		if !p.remote.IsValid() || !p.local.IsValid() || !p.remote.Addr().IsLoopback() || identify == nil {
			return
		}
		uid, err := identify(p.remote, p.local)
		p.uid, p.known = uid, err == nil
	})
	return p
}

// socketOwners finds the owners of loopback TCP sockets with sock_diag,
// through one netlink socket dialled on first use, and reads
// /proc/net/tcp and tcp6 when sock_diag cannot answer (a kernel without
// inet_diag). Safe for concurrent use.
type socketOwners struct {
	procRoot string

	mu   sync.Mutex
	conn *sockdiag.Conn
}

// owner returns the uid owning the TCP socket from client to server.
func (o *socketOwners) owner(client, server netip.AddrPort) (uint32, error) {
	uid, err := o.sockdiag(client, server)
	if err == nil || errors.Is(err, sockdiag.ErrNoSocket) {
		return uid, err
	}
	if u, perr := procNetTCPOwner(o.procRoot, client, server); perr == nil {
		return u, nil
	}
	return 0, err
}

func (o *socketOwners) sockdiag(client, server netip.AddrPort) (uint32, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn == nil {
		c, err := sockdiag.Dial(-1)
		if err != nil {
			return 0, err
		}
		o.conn = c
	}
	const tcp = 6
	s, err := o.conn.InetLookup(tcp, client, server)
	if errors.Is(err, sockdiag.ErrNoSocket) && client.Addr().Is4() {
		// An AF_INET6 client socket talking to an IPv4 address.
		s, err = o.conn.InetLookup(tcp, mapped(client), mapped(server))
	}
	if err != nil && !errors.Is(err, sockdiag.ErrNoSocket) {
		o.conn.Close() // dial afresh next time
		o.conn = nil
	}
	return s.UID, err
}

func (o *socketOwners) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != nil {
		o.conn.Close()
		o.conn = nil
	}
}

func mapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
}

// procNetTCPOwner finds the owner of the TCP socket from client to server
// in /proc/net/tcp or tcp6 (the uid column).
func procNetTCPOwner(procRoot string, client, server netip.AddrPort) (uint32, error) {
	name, want := "tcp", procNetAddr(client)+" "+procNetAddr(server)
	if client.Addr().Is6() {
		name = "tcp6"
	}
	f, err := os.Open(procRoot + "/net/" + name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "sl local rem st tx:rx tr:when retrnsmt uid ..."
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !strings.EqualFold(fields[1]+" "+fields[2], want) {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: bad uid %q", f.Name(), fields[7])
		}
		return uint32(uid), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no socket %v→%v: %w", f.Name(), client, server, sockdiag.ErrNoSocket)
}

// procNetAddr formats an address as /proc/net/tcp does: the address as
// 32-bit words in host byte order, in hex, then ":" and the port.
func procNetAddr(a netip.AddrPort) string {
	var b []byte
	if a.Addr().Is4() {
		b4 := a.Addr().As4()
		b = b4[:]
	} else {
		b16 := a.Addr().As16()
		b = b16[:]
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(b[i:]))
	}
	fmt.Fprintf(&sb, ":%04X", a.Port())
	return sb.String()
}
