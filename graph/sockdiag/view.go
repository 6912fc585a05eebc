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
	if len(b) < sizeofUnixDiagMsg {
		return UnixReply{}, fmt.Errorf("unix_diag_msg: %d bytes, want at least %d", len(b), sizeofUnixDiagMsg)
	}
	if b[0] != afUnix {
		return UnixReply{}, fmt.Errorf("unix_diag_msg: family %d, want AF_UNIX", b[0])
	}
	return UnixReply{b}, nil
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
	return Attrs{b: r.b[sizeofUnixDiagMsg:], base: sizeofUnixDiagMsg}
}

// InetReply is one inet_diag reply read in place: struct inet_diag_msg
// followed by the attributes the request asked for.
type InetReply struct{ b []byte }

// ParseInetReply checks that b, the payload of a SOCK_DIAG_BY_FAMILY reply
// message, holds a struct inet_diag_msg of family AF_INET or AF_INET6, and
// returns a view of it. It does not copy b.
func ParseInetReply(b []byte) (InetReply, error) {
	if len(b) < sizeofInetDiagMsg {
		return InetReply{}, fmt.Errorf("inet_diag_msg: %d bytes, want at least %d", len(b), sizeofInetDiagMsg)
	}
	if b[0] != afInet && b[0] != afInet6 {
		return InetReply{}, fmt.Errorf("inet_diag_msg: family %d, want AF_INET or AF_INET6", b[0])
	}
	return InetReply{b}, nil
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
	return Attrs{b: r.b[sizeofInetDiagMsg:], base: sizeofInetDiagMsg}
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
	b    []byte
	base int // offset of b in the message payload
	off  int // offset of the next attribute in b
	at   int // offset of the current attribute in b
	typ  uint16
	data []byte
	err  error
}

// Next advances to the next attribute; false at the end or on a malformed
// attribute.
func (it *Attrs) Next() bool { return it.next() }

// Type is the current attribute's type, with the NLA_F_NESTED and
// NLA_F_NET_BYTEORDER flags masked off.
func (it *Attrs) Type() uint16 { return it.typ }

// Data is the current attribute's payload, a view of the reply.
func (it *Attrs) Data() []byte { return it.data }

// Err is the error that stopped the iteration, nil at a clean end. Offsets
// in it count from the start of the reply payload.
func (it *Attrs) Err() error { return it.err }

func (it *Attrs) next() bool {
	if it.err != nil || it.off >= len(it.b) {
		return false
	}
	rest := it.b[it.off:]
	if len(rest) < 4 {
		it.err = fmt.Errorf("%d trailing bytes at offset %d, too short for an attribute header", len(rest), it.base+it.off)
		return false
	}
	n := int(ne.Uint16(rest))
	if n < 4 || n > len(rest) {
		it.err = fmt.Errorf("attribute type %d at offset %d: length %d, %d bytes left", ne.Uint16(rest[2:])&nlaTypeMask, it.base+it.off, n, len(rest))
		return false
	}
	it.at = it.off
	it.typ = ne.Uint16(rest[2:]) & nlaTypeMask
	it.data = rest[4:n:n]
	it.off += min((n+3)&^3, len(rest)) // the last attribute's padding may be missing
	return true
}

// wrongSize is the error for an attribute whose payload has the wrong size.
func (it *Attrs) wrongSize(name string, want string) error {
	return fmt.Errorf("attribute %s (type %d) at offset %d: %d bytes, want %s", name, it.typ, it.base+it.at, len(it.data), want)
}
