package sockdiag

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Views: the fixed part of one reply message read in place, for callers of
// Conn.Each that want a few facts of every socket without decoding (and
// allocating) the rest. A view is valid as long as the bytes it was made
// from; inside an Each callback, only until the callback returns. The full
// decoders (Conn.Unix, Conn.Inet) are built on the same views.

// Attribute types of unix_diag replies (UNIX_DIAG_*, unix_diag.h), for
// UnixReply.Attrs. Each is sent only when asked for with the UnixShow flag of
// the same name.
const (
	UnixAttrName  = unixDiagName  // sun_path, as long as the bound address
	UnixAttrVFS   = unixDiagVFS   // u32 inode, u32 dev of the socket file
	UnixAttrPeer  = unixDiagPeer  // u32 inode of the peer
	UnixAttrIcons = unixDiagIcons // u32 inodes of the connections waiting in accept
	UnixAttrRQLen = unixDiagRQLen // u32 read queue, u32 write queue
	UnixAttrUID   = unixDiagUID   // u32 owner
)

// Attribute types of inet_diag replies (INET_DIAG_*, inet_diag.h), for
// InetReply.Attrs.
const (
	InetAttrInfo     = inetDiagInfo     // struct tcp_info for tcp, when asked for with InetExtInfo
	InetAttrProtocol = inetDiagProtocol // u8: the socket's own protocol, raw sockets only
)

// UnixReply is one unix_diag reply read in place: struct unix_diag_msg
// followed by the attributes the request asked for.
type UnixReply struct{ b []byte }

// ParseUnixReply checks that b, the payload of a SOCK_DIAG_BY_FAMILY reply
// message, holds a struct unix_diag_msg of family AF_UNIX, and returns a view
// of it. It does not copy b.
func ParseUnixReply(b []byte) (UnixReply, error) {
	if len(b) < sizeofUnixDiagMsg || b[0] != afUnix {
		return UnixReply{}, badUnixReply(b)
	}
	return UnixReply{b}, nil
}

// badUnixReply is the error of ParseUnixReply, kept out of it so that it
// can be inlined.
func badUnixReply(b []byte) error {
	if len(b) < sizeofUnixDiagMsg {
		return fmt.Errorf("unix_diag_msg: %d bytes, want at least %d", len(b), sizeofUnixDiagMsg)
	}
	return fmt.Errorf("unix_diag_msg: family %d, want AF_UNIX", b[0])
}

// Type is the socket type (udiag_type): SOCK_STREAM, SOCK_DGRAM or
// SOCK_SEQPACKET.
func (r UnixReply) Type() uint8 { return r.b[1] }

// State is the socket state (udiag_state) in the TCP numbering; see
// StateName.
func (r UnixReply) State() uint8 { return r.b[2] }

// Inode is the socket's inode (udiag_ino).
func (r UnixReply) Inode() uint64 { return uint64(ne.Uint32(r.b[4:])) }

// Attrs returns an iterator over the reply's attributes (UnixAttr*).
func (r UnixReply) Attrs() Attrs {
	return attrsAt(r.b, sizeofUnixDiagMsg)
}

// InetReply is one inet_diag reply read in place: struct inet_diag_msg
// followed by the attributes the request asked for.
type InetReply struct{ b []byte }

// ParseInetReply checks that b, the payload of a SOCK_DIAG_BY_FAMILY reply
// message, holds a struct inet_diag_msg of family AF_INET or AF_INET6, and
// returns a view of it. It does not copy b.
func ParseInetReply(b []byte) (InetReply, error) {
	// b[0]|8 is AF_INET6 (10) for AF_INET (2) and AF_INET6 only: one
	// comparison keeps ParseInetReply small enough to be inlined.
	if len(b) < sizeofInetDiagMsg || b[0]|8 != afInet6 {
		return InetReply{}, badInetReply(b)
	}
	return InetReply{b}, nil
}

// badInetReply is the error of ParseInetReply, kept out of it so that it
// can be inlined.
func badInetReply(b []byte) error {
	if len(b) < sizeofInetDiagMsg {
		return fmt.Errorf("inet_diag_msg: %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	return fmt.Errorf("inet_diag_msg: family %d, want AF_INET or AF_INET6", b[0])
}

// Family is unix.AF_INET or unix.AF_INET6 (idiag_family).
func (r InetReply) Family() uint8 { return r.b[0] }

// State is the socket state (idiag_state); see StateName.
func (r InetReply) State() uint8 { return r.b[1] }

// Local is the local address and port (id.idiag_src, id.idiag_sport).
func (r InetReply) Local() netip.AddrPort { return r.addrPort(8, 4) }

// Remote is the remote address and port (id.idiag_dst, id.idiag_dport).
func (r InetReply) Remote() netip.AddrPort { return r.addrPort(24, 6) }

// addrPort reads the address at off and the port (in network byte order) at
// port of struct inet_diag_sockid.
func (r InetReply) addrPort(off, port int) netip.AddrPort {
	p := binary.BigEndian.Uint16(r.b[port:])
	if r.b[0] == afInet {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.b[off:off+4])), p)
	}
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(r.b[off:off+16])), p)
}

// Interface is the index of the bound device (id.idiag_if), 0 if none.
func (r InetReply) Interface() uint32 { return ne.Uint32(r.b[40:]) }

// RQueue is idiag_rqueue: for tcp, the bytes received and not read (a
// listener's accept queue length).
func (r InetReply) RQueue() uint32 { return ne.Uint32(r.b[56:]) }

// WQueue is idiag_wqueue: for tcp, the bytes sent and not acknowledged (a
// listener's backlog limit).
func (r InetReply) WQueue() uint32 { return ne.Uint32(r.b[60:]) }

// UID is the socket's owner (idiag_uid).
func (r InetReply) UID() uint32 { return ne.Uint32(r.b[64:]) }

// Inode is the socket's inode (idiag_inode); 0 for time-wait and request
// sockets, which have no file.
func (r InetReply) Inode() uint64 { return uint64(ne.Uint32(r.b[68:])) }

// Attrs returns an iterator over the reply's attributes (InetAttr*).
func (r InetReply) Attrs() Attrs {
	return attrsAt(r.b, sizeofInetDiagMsg)
}

// Attrs iterates over the netlink attributes (struct nlattr) of a reply in
// place, without allocating:
//
//	a := reply.Attrs()
//	for a.Next() {
//		switch a.Type() { ... a.Data() ... }
//	}
//	if err := a.Err(); err != nil { ... }
//
// Iteration stops at the first attribute whose header is malformed (a
// length shorter than the header or past the end), and Err then says where.
type Attrs struct {
	b   []byte // the reply payload
	off int    // offset of the next attribute in b; stays at a malformed one
	at  int    // offset of the current attribute in b
	typ uint16 // of the current attribute
	n   uint16 // length of the current attribute, header included
}

// attrsAt returns an iterator over the attributes of payload b from off,
// the end of the fixed part.
func attrsAt(b []byte, off int) Attrs { return Attrs{b: b, off: off} }

// Next advances to the next attribute; false at the end or on a malformed
// attribute (then for good: Next leaves off there, and Err describes it).
// It runs for every attribute of every socket, and is small enough to be
// inlined.
func (it *Attrs) Next() bool {
	if it.off+4 > len(it.b) {
		return false
	}
	n := ne.Uint16(it.b[it.off:])
	if n < 4 || int(n) > len(it.b)-it.off {
		return false
	}
	it.at, it.n = it.off, n
	it.typ = ne.Uint16(it.b[it.off+2:]) & nlaTypeMask
	it.off += (int(n) + 3) &^ 3 // past the end if the last attribute's padding is missing
	return true
}

// Type is the current attribute's type, with the NLA_F_NESTED and
// NLA_F_NET_BYTEORDER flags masked off.
func (it *Attrs) Type() uint16 { return it.typ }

// Data is the current attribute's payload, a view of the reply.
func (it *Attrs) Data() []byte {
	end := it.at + int(it.n)
	return it.b[it.at+4 : end : end]
}

// Err is the error that stopped the iteration, nil at a clean end (or
// before it). Offsets in it count from the start of the reply payload.
func (it *Attrs) Err() error {
	if it.off >= len(it.b) {
		return nil
	}
	rest := it.b[it.off:]
	if len(rest) < 4 {
		return fmt.Errorf("%d trailing bytes at offset %d, too short for an attribute header", len(rest), it.off)
	}
	if n := int(ne.Uint16(rest)); n >= 4 && n <= len(rest) {
		return nil // not at the end yet
	}
	return fmt.Errorf("attribute type %d at offset %d: length %d, %d bytes left", ne.Uint16(rest[2:])&nlaTypeMask, it.off, ne.Uint16(rest), len(rest))
}

// wrongSize is the error for an attribute whose payload has the wrong size.
func (it *Attrs) wrongSize(name string, want string) error {
	return fmt.Errorf("attribute %s (type %d) at offset %d: %d bytes, want %s", name, it.typ, it.at, int(it.n)-4, want)
}
