package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// ErrNoSocket is returned by Conn.InetLookup when no socket has the 4-tuple.
var ErrNoSocket = errors.New("no such socket")

// inetDiagNoCookie matches any socket cookie in an exact request
// (INET_DIAG_NOCOOKIE, inet_diag.h).
const inetDiagNoCookie = ^uint32(0)

// InetLookupRequest returns the request for one TCP or UDP socket by its
// 4-tuple (an exact inet_diag request, not a dump): the socket whose local
// end is local and whose remote end is remote, as that socket sees them.
// Both must be of one family (IPv4-mapped IPv6 addresses find IPv4
// sockets). The kernel answers with the socket's inet_diag_msg (its owner's
// uid, inode, state) and an acknowledgement, or with ENOENT.
func InetLookupRequest(protocol uint8, local, remote netip.AddrPort) Request {
	family := uint8(afInet)
	what := "inet " + InetProtocolName(protocol) + " lookup"
	if local.Addr().Is6() {
		family = afInet6
		what = "inet6 " + InetProtocolName(protocol) + " lookup"
	}
	if !local.IsValid() || !remote.IsValid() || local.Addr().Is6() != remote.Addr().Is6() {
		return Request{what: what, err: fmt.Errorf("sockdiag: %s: addresses %v and %v are not of one family", what, local, remote)}
	}
	b := make([]byte, sizeofInetDiagReqV2)
	b[0] = family
	b[1] = protocol
	ne.PutUint32(b[4:], ^uint32(0)) // idiag_states
	// struct inet_diag_sockid at b[8:56]: ports and addresses in network
	// byte order, then the interface and the cookie.
	binary.BigEndian.PutUint16(b[8:], local.Port())
	binary.BigEndian.PutUint16(b[10:], remote.Port())
	putAddr(b[12:28], local.Addr())
	putAddr(b[28:44], remote.Addr())
	ne.PutUint32(b[48:], inetDiagNoCookie)
	ne.PutUint32(b[52:], inetDiagNoCookie)
	return Request{what: what, body: b, flags: netlink.Request | netlink.Acknowledge}
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		a4 := a.As4()
		copy(b, a4[:])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}

// InetLookup finds one TCP or UDP socket of the namespace by its 4-tuple
// (see InetLookupRequest): a lookup in the kernel's hash tables, however
// many sockets there are. It returns an error wrapping ErrNoSocket when
// there is none.
func (c *Conn) InetLookup(protocol uint8, local, remote netip.AddrPort) (InetSocket, error) {
	req := InetLookupRequest(protocol, local, remote)
	var s InetSocket
	found := false
	err := c.Each(req, func(m netlink.Message) error {
		if m.Header.Type != TypeByFamily || found {
			return nil
		}
		var err error
		s, err = parseInetMessage(m.Data, protocol)
		found = err == nil
		return err
	})
	switch {
	case errors.Is(err, ErrNotSupported):
		// An exact request answers ENOENT for a missing socket; Each
		// reads that as a family the kernel cannot dump.
		return s, fmt.Errorf("sockdiag: %s %v→%v: %w", req.what, local, remote, ErrNoSocket)
	case err != nil:
		return s, err
	case !found:
		return s, fmt.Errorf("sockdiag: %s %v→%v: %w", req.what, local, remote, ErrNoSocket)
	}
	return s, nil
}
