package sockdiag

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/mdlayher/netlink"
)

// Kernel constants, from the uapi headers named beside each group. They are
// spelled out here because golang.org/x/sys/unix has only a few of them.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY, sock_diag.h

	afUnix    = 1
	afInet    = 2
	afNetlink = 16
	afPacket  = 17
	afInet6   = 10
	afVsock   = 40

	// unix_diag.h
	sizeofUnixDiagReq = 24
	sizeofUnixDiagMsg = 16
	udiagShowName     = 0x01
	udiagShowVFS      = 0x02
	udiagShowPeer     = 0x04
	udiagShowIcons    = 0x08
	udiagShowRQLen    = 0x10
	udiagShowUID      = 0x40
	unixDiagName      = 0
	unixDiagVFS       = 1
	unixDiagPeer      = 2
	unixDiagIcons     = 3
	unixDiagRQLen     = 4
	unixDiagUID       = 7

	// inet_diag.h
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	inetDiagInfo        = 2  // INET_DIAG_INFO: struct tcp_info
	inetDiagProtocol    = 10 // INET_DIAG_PROTOCOL: u8, raw sockets only
	inetDiagSKV6Only    = 11 // INET_DIAG_SKV6ONLY: u8, AF_INET6 sockets only
	inetDiagReqProtocol = 3  // INET_DIAG_REQ_PROTOCOL: u32 request attribute
	ipprotoTCP          = 6

	// Offsets in struct tcp_info (include/uapi/linux/tcp.h), checked
	// against golang.org/x/sys/unix.TCPInfo by the tests.
	tcpInfoRTT           = 68  // __u32 tcpi_rtt
	tcpInfoBytesAcked    = 120 // __u64 tcpi_bytes_acked
	tcpInfoBytesReceived = 128 // __u64 tcpi_bytes_received

	// netlink_diag.h
	sizeofNetlinkDiagReq = 20
	sizeofNetlinkDiagMsg = 28
	ndiagProtoAll        = 0xff
	ndiagShowGroups      = 0x02
	netlinkDiagGroups    = 1

	// packet_diag.h
	sizeofPacketDiagReq  = 20
	sizeofPacketDiagMsg  = 16
	sizeofPacketDiagInfo = 24
	packetShowInfo       = 0x01
	packetDiagInfo       = 0
	packetDiagUID        = 5

	// vm_sockets_diag.h
	sizeofVsockDiagReq = 24
	sizeofVsockDiagMsg = 32

	nlaTypeMask = 0x3fff // ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
)

var ne = binary.NativeEndian

// decoder decodes the SOCK_DIAG_BY_FAMILY messages of one dump with parse,
// one message at a time, as Conn.Each or decodeAll hands them over.
// Malformed messages are skipped and counted: out holds the others, and err
// (wrapping ErrMalformed) names the first bad message and how many there
// were.
type decoder[T any] struct {
	parse    func([]byte) (T, error)
	out      []T
	n        int // messages seen
	offset   int // byte offset of the next message in the dump
	bad      int
	firstErr error
}

// reset empties d for another attempt of the dump, keeping out's memory.
func (d *decoder[T]) reset() {
	clear(d.out)
	d.out, d.n, d.offset, d.bad, d.firstErr = d.out[:0], 0, 0, 0, nil
}

// add decodes one message; it never fails, so that Each reads the whole
// dump.
func (d *decoder[T]) add(m netlink.Message) error {
	i, off := d.n, d.offset
	d.n++
	d.offset += Align(HeaderLen + len(m.Data))
	if m.Header.Type == sockDiagByFamily {
		s, err := d.parse(m.Data)
		if err == nil {
			d.out = append(d.out, s)
			return nil
		}
		d.fail(i, off, err)
		return nil
	}
	if m.Header.Type != netlink.Noop && m.Header.Type != netlink.Done {
		d.fail(i, off, fmt.Errorf("unexpected message type %d", m.Header.Type))
	}
	return nil
}

// fail counts message i at byte off as bad.
func (d *decoder[T]) fail(i, off int, err error) {
	d.bad++
	if d.firstErr == nil {
		d.firstErr = fmt.Errorf("message %d at byte %d: %w", i, off, err)
	}
}

// err is the error of the messages added so far, nil if all were good.
func (d *decoder[T]) err(what string) error {
	if d.firstErr == nil {
		return nil
	}
	return fmt.Errorf("sockdiag: %s dump: %w: %d of %d messages bad, first: %w", what, ErrMalformed, d.bad, d.n, d.firstErr)
}

// decodeAll decodes every SOCK_DIAG_BY_FAMILY message in msgs with parse, as
// a dump through Conn.Each would.
func decodeAll[T any](what string, msgs []netlink.Message, parse func([]byte) (T, error)) ([]T, error) {
	d := decoder[T]{parse: parse, out: make([]T, 0, len(msgs))}
	for _, m := range msgs {
		d.add(m)
	}
	return d.out, d.err(what)
}

// decodeUnix decodes a unix_diag dump.
func decodeUnix(msgs []netlink.Message) ([]UnixSocket, error) {
	return decodeAll("unix", msgs, parseUnixMessage)
}

// parseUnixMessage decodes one unix_diag reply: struct unix_diag_msg and its
// attributes.
func parseUnixMessage(b []byte) (UnixSocket, error) {
	var s UnixSocket
	r, err := ParseUnixReply(b)
	if err != nil {
		return s, err
	}
	s.Type = r.Type()
	s.State = r.State()
	s.Inode = r.Inode()
	it := r.Attrs()
	for it.Next() {
		d := it.Data()
		switch it.typ {
		case unixDiagName:
			s.Name = unixName(d)
		case unixDiagVFS:
			if len(d) != 8 {
				return s, it.wrongSize("UNIX_DIAG_VFS", "8")
			}
			s.VFSInode = uint64(ne.Uint32(d))
			s.VFSDev = ne.Uint32(d[4:])
		case unixDiagPeer:
			if len(d) != 4 {
				return s, it.wrongSize("UNIX_DIAG_PEER", "4")
			}
			s.Peer = uint64(ne.Uint32(d))
		case unixDiagIcons:
			if len(d)%4 != 0 {
				return s, it.wrongSize("UNIX_DIAG_ICONS", "a multiple of 4")
			}
			if len(d) > 0 {
				s.Pending = make([]uint64, len(d)/4)
				for i := range s.Pending {
					s.Pending[i] = uint64(ne.Uint32(d[4*i:]))
				}
			}
		case unixDiagRQLen:
			if len(d) != 8 {
				return s, it.wrongSize("UNIX_DIAG_RQLEN", "8")
			}
			s.RQueue = ne.Uint32(d)
			s.WQueue = ne.Uint32(d[4:])
		case unixDiagUID:
			if len(d) != 4 {
				return s, it.wrongSize("UNIX_DIAG_UID", "4")
			}
			s.UID = ne.Uint32(d)
			s.HasUID = true
		}
	}
	if err := it.Err(); err != nil {
		return s, fmt.Errorf("unix_diag_msg inode %d: %w", s.Inode, err)
	}
	return s, nil
}

// unixName turns a UNIX_DIAG_NAME payload (sun_path, as long as the bound
// address) into a name: "@" plus the bytes of an abstract name, or the path
// of a path-bound socket, which the kernel stores with its terminating NUL.
func unixName(d []byte) string {
	if len(d) == 0 {
		return ""
	}
	if d[0] == 0 {
		return "@" + string(d[1:])
	}
	for i, c := range d {
		if c == 0 {
			return string(d[:i])
		}
	}
	return string(d)
}

// decodeInet decodes an inet_diag dump of the given protocol.
func decodeInet(msgs []netlink.Message, protocol uint8) ([]InetSocket, error) {
	return decodeAll("inet "+InetProtocolName(protocol), msgs, func(b []byte) (InetSocket, error) {
		return parseInetMessage(b, protocol)
	})
}

// parseInetMessage decodes one inet_diag reply: struct inet_diag_msg and its
// attributes.
func parseInetMessage(b []byte, protocol uint8) (InetSocket, error) {
	var s InetSocket
	r, err := ParseInetReply(b)
	if err != nil {
		return s, err
	}
	s.Family = r.Family()
	s.State = r.State()
	s.Protocol = protocol
	s.Local = r.Local()
	s.Remote = r.Remote()
	s.Interface = r.Interface()
	// cookie and expires are not decoded.
	s.RQueue = r.RQueue()
	s.WQueue = r.WQueue()
	s.UID = r.UID()
	s.Inode = r.Inode()
	it := r.Attrs()
	for it.Next() {
		d := it.Data()
		switch it.typ {
		case inetDiagInfo:
			if protocol != ipprotoTCP {
				continue // only tcp_info is decoded
			}
			ti, err := ParseTCPInfo(d)
			if err != nil {
				return s, it.wrongSize("INET_DIAG_INFO", fmt.Sprintf("at least %d", MinTCPInfoLen))
			}
			s.HasTCPInfo = true
			s.RTTMicros, s.BytesAcked, s.BytesReceived = ti.RTTMicros, ti.BytesAcked, ti.BytesReceived
		case inetDiagProtocol:
			if len(d) != 1 {
				return s, it.wrongSize("INET_DIAG_PROTOCOL", "1")
			}
			s.Protocol = d[0]
		case inetDiagSKV6Only:
			if len(d) != 1 {
				return s, it.wrongSize("INET_DIAG_SKV6ONLY", "1")
			}
			s.V6Only = d[0] != 0
		}
	}
	if err := it.Err(); err != nil {
		return s, fmt.Errorf("inet_diag_msg inode %d: %w", s.Inode, err)
	}
	// INET_DIAG_INFO's layout is the dumping handler's (tcp_info for tcp),
	// and the kernel sends INET_DIAG_PROTOCOL for raw sockets only: a tcp
	// dump naming another protocol contradicts itself.
	if protocol == ipprotoTCP && s.Protocol != ipprotoTCP {
		return s, fmt.Errorf("inet_diag_msg inode %d: INET_DIAG_PROTOCOL %d in a tcp dump", s.Inode, s.Protocol)
	}
	return s, nil
}

// decodeNetlink decodes a netlink_diag dump.
func decodeNetlink(msgs []netlink.Message) ([]NetlinkSocket, error) {
	return decodeAll("netlink", msgs, parseNetlinkMessage)
}

// parseNetlinkMessage decodes one netlink_diag reply: struct
// netlink_diag_msg and its attributes.
func parseNetlinkMessage(b []byte) (NetlinkSocket, error) {
	var s NetlinkSocket
	if len(b) < sizeofNetlinkDiagMsg {
		return s, fmt.Errorf("netlink_diag_msg: %d bytes, want at least %d", len(b), sizeofNetlinkDiagMsg)
	}
	if b[0] != afNetlink {
		return s, fmt.Errorf("netlink_diag_msg: family %d, want AF_NETLINK", b[0])
	}
	s.Type = b[1]
	s.Protocol = b[2]
	s.State = b[3]
	s.PortID = ne.Uint32(b[4:])
	s.DstPortID = ne.Uint32(b[8:])
	s.DstGroup = ne.Uint32(b[12:])
	s.Inode = uint64(ne.Uint32(b[16:]))
	it := attrsAt(b, sizeofNetlinkDiagMsg)
	for it.Next() {
		if it.typ != netlinkDiagGroups {
			continue
		}
		// An array of unsigned long: the kernel's word size, assumed to be
		// this program's.
		const word = int(unsafe.Sizeof(uintptr(0)))
		d := it.Data()
		if len(d)%word != 0 {
			return s, it.wrongSize("NETLINK_DIAG_GROUPS", fmt.Sprintf("a multiple of %d", word))
		}
		for w := 0; w < len(d); w += word {
			var bits uint64
			if word == 8 {
				bits = ne.Uint64(d[w:])
			} else {
				bits = uint64(ne.Uint32(d[w:]))
			}
			for bit := 0; bits != 0; bit++ {
				if bits&1 != 0 {
					s.Groups = append(s.Groups, uint32(w*8+bit+1))
				}
				bits >>= 1
			}
		}
	}
	if err := it.Err(); err != nil {
		return s, fmt.Errorf("netlink_diag_msg inode %d: %w", s.Inode, err)
	}
	return s, nil
}

// decodePacket decodes a packet_diag dump.
func decodePacket(msgs []netlink.Message) ([]PacketSocket, error) {
	return decodeAll("packet", msgs, parsePacketMessage)
}

// parsePacketMessage decodes one packet_diag reply: struct packet_diag_msg
// and its attributes.
func parsePacketMessage(b []byte) (PacketSocket, error) {
	var s PacketSocket
	if len(b) < sizeofPacketDiagMsg {
		return s, fmt.Errorf("packet_diag_msg: %d bytes, want at least %d", len(b), sizeofPacketDiagMsg)
	}
	if b[0] != afPacket {
		return s, fmt.Errorf("packet_diag_msg: family %d, want AF_PACKET", b[0])
	}
	s.Type = b[1]
	s.Protocol = ne.Uint16(b[2:]) // the kernel converts it to host order
	s.Inode = uint64(ne.Uint32(b[4:]))
	it := attrsAt(b, sizeofPacketDiagMsg)
	for it.Next() {
		d := it.Data()
		switch it.typ {
		case packetDiagInfo:
			if len(d) < sizeofPacketDiagInfo {
				return s, it.wrongSize("PACKET_DIAG_INFO", fmt.Sprintf("at least %d", sizeofPacketDiagInfo))
			}
			s.Interface = ne.Uint32(d) // pdi_index
		case packetDiagUID:
			if len(d) != 4 {
				return s, it.wrongSize("PACKET_DIAG_UID", "4")
			}
			s.UID = ne.Uint32(d)
			s.HasUID = true
		}
	}
	if err := it.Err(); err != nil {
		return s, fmt.Errorf("packet_diag_msg inode %d: %w", s.Inode, err)
	}
	return s, nil
}

// decodeVsock decodes a vsock_diag dump.
func decodeVsock(msgs []netlink.Message) ([]VsockSocket, error) {
	return decodeAll("vsock", msgs, parseVsockMessage)
}

// parseVsockMessage decodes one vsock_diag reply: struct vsock_diag_msg
// (vsock_diag sends no attributes).
func parseVsockMessage(b []byte) (VsockSocket, error) {
	var s VsockSocket
	if len(b) < sizeofVsockDiagMsg {
		return s, fmt.Errorf("vsock_diag_msg: %d bytes, want at least %d", len(b), sizeofVsockDiagMsg)
	}
	if b[0] != afVsock {
		return s, fmt.Errorf("vsock_diag_msg: family %d, want AF_VSOCK", b[0])
	}
	s.Type = b[1]
	s.State = b[2]
	// b[3] shutdown
	s.LocalCID = ne.Uint32(b[4:])
	s.LocalPort = ne.Uint32(b[8:])
	s.RemoteCID = ne.Uint32(b[12:])
	s.RemotePort = ne.Uint32(b[16:])
	s.Inode = uint64(ne.Uint32(b[20:]))
	return s, nil
}
