package sockdiag

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
)

// maxAttempts is how many times a dump is sent before an interrupted
// (NLM_F_DUMP_INTR) result is returned as it is.
const maxAttempts = 4

// Conn is a sock_diag connection bound to one network namespace. Not safe for
// concurrent use: use one Conn per goroutine (or serialise the calls). Close
// it when done.
type Conn struct {
	nl *netlink.Conn
}

// newConn wraps an open NETLINK_SOCK_DIAG connection (tests pass an
// nltest connection).
func newConn(nl *netlink.Conn) *Conn { return &Conn{nl: nl} }

// Close closes the connection.
func (c *Conn) Close() error {
	if err := c.nl.Close(); err != nil {
		return fmt.Errorf("sockdiag: close: %w", err)
	}
	return nil
}

// Unix dumps every AF_UNIX socket of the namespace with
// UDIAG_SHOW_NAME|VFS|PEER|ICONS|RQLEN|UID.
//
// On a malformed reply it returns the sockets it could decode and an error
// wrapping ErrMalformed; on an interrupted dump, the last attempt's sockets
// and an error wrapping ErrDumpInterrupted.
func (c *Conn) Unix() ([]UnixSocket, error) {
	msgs, err := c.dump("unix", unixRequest())
	if msgs == nil {
		return nil, err
	}
	socks, derr := decodeUnix(msgs)
	return socks, errors.Join(err, derr)
}

// Inet dumps every socket, in all states, of family (unix.AF_INET or
// unix.AF_INET6) and protocol: unix.IPPROTO_TCP (with tcp_info),
// IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_RAW (every raw socket of the family,
// whatever its own protocol, reported in InetSocket.Protocol), or any other
// protocol the kernel has an inet_diag handler for. The protocol is sent both
// in the request header and as INET_DIAG_REQ_PROTOCOL.
//
// Errors are as for Unix; a protocol the kernel cannot dump (no raw_diag,
// say) gives an error wrapping ErrNotSupported.
func (c *Conn) Inet(family uint8, protocol uint8) ([]InetSocket, error) {
	if family != afInet && family != afInet6 {
		return nil, fmt.Errorf("sockdiag: inet dump: family %d is neither AF_INET nor AF_INET6", family)
	}
	what := "inet " + InetProtocolName(protocol)
	if family == afInet6 {
		what = "inet6 " + InetProtocolName(protocol)
	}
	msgs, err := c.dump(what, inetRequest(family, protocol))
	if msgs == nil {
		return nil, err
	}
	socks, derr := decodeInet(msgs, protocol)
	return socks, errors.Join(err, derr)
}

// Netlink dumps the AF_NETLINK sockets of every protocol (netlink_diag),
// with their multicast groups.
func (c *Conn) Netlink() ([]NetlinkSocket, error) {
	msgs, err := c.dump("netlink", netlinkRequest())
	if msgs == nil {
		return nil, err
	}
	socks, derr := decodeNetlink(msgs)
	return socks, errors.Join(err, derr)
}

// Packet dumps the AF_PACKET sockets (packet_diag).
func (c *Conn) Packet() ([]PacketSocket, error) {
	msgs, err := c.dump("packet", packetRequest())
	if msgs == nil {
		return nil, err
	}
	socks, derr := decodePacket(msgs)
	return socks, errors.Join(err, derr)
}

// Vsock dumps the AF_VSOCK sockets (vsock_diag). Kernels without vsock_diag
// give an error wrapping ErrNotSupported.
func (c *Conn) Vsock() ([]VsockSocket, error) {
	msgs, err := c.dump("vsock", vsockRequest())
	if msgs == nil {
		return nil, err
	}
	socks, derr := decodeVsock(msgs)
	return socks, errors.Join(err, derr)
}

// dump sends one dump request and reads every part of the reply, again up
// to maxAttempts times while the kernel flags the reply as interrupted. It
// returns nil messages only with an error; non-nil messages come with nil or
// an error wrapping ErrDumpInterrupted.
func (c *Conn) dump(what string, req netlink.Message) ([]netlink.Message, error) {
	for attempt := 1; ; attempt++ {
		msgs, err := c.nl.Execute(req)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return nil, fmt.Errorf("sockdiag: %s dump: %w (%w)", what, ErrNotSupported, err)
			}
			return nil, fmt.Errorf("sockdiag: %s dump: %w", what, err)
		}
		if msgs == nil {
			msgs = []netlink.Message{} // an empty dump is not an error
		}
		if !interrupted(msgs) {
			return msgs, nil
		}
		if attempt == maxAttempts {
			return msgs, fmt.Errorf("sockdiag: %s dump: %w in all %d attempts; result may be inconsistent", what, ErrDumpInterrupted, attempt)
		}
	}
}

// interrupted reports whether any message carries NLM_F_DUMP_INTR. The
// kernel sets it on every message built after it noticed the change, but
// github.com/mdlayher/netlink drops the final NLMSG_DONE, so a flag carried
// by NLMSG_DONE alone goes unseen.
func interrupted(msgs []netlink.Message) bool {
	for _, m := range msgs {
		if m.Header.Flags&netlink.DumpInterrupted != 0 {
			return true
		}
	}
	return false
}

// Requests. Every one asks for a dump of all states.

var dumpHeader = netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump}

// unixRequest builds struct unix_diag_req.
func unixRequest() netlink.Message {
	b := make([]byte, sizeofUnixDiagReq)
	b[0] = afUnix
	ne.PutUint32(b[4:], ^uint32(0)) // udiag_states
	// b[8:12] udiag_ino = 0
	ne.PutUint32(b[12:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen|udiagShowUID)
	return netlink.Message{Header: dumpHeader, Data: b}
}

// inetRequest builds struct inet_diag_req_v2 followed by an
// INET_DIAG_REQ_PROTOCOL attribute.
func inetRequest(family, protocol uint8) netlink.Message {
	b := make([]byte, sizeofInetDiagReqV2+8)
	b[0] = family
	b[1] = protocol
	b[2] = 1 << (inetDiagInfo - 1) // idiag_ext
	// b[3]: pad, sdiag_raw_protocol for raw sockets; only exact lookups use it.
	ne.PutUint32(b[4:], ^uint32(0)) // idiag_states
	// b[8:56]: struct inet_diag_sockid, all zero: no filter
	a := b[sizeofInetDiagReqV2:]
	ne.PutUint16(a, 8)
	ne.PutUint16(a[2:], inetDiagReqProtocol)
	ne.PutUint32(a[4:], uint32(protocol))
	return netlink.Message{Header: dumpHeader, Data: b}
}

// netlinkRequest builds struct netlink_diag_req.
func netlinkRequest() netlink.Message {
	b := make([]byte, sizeofNetlinkDiagReq)
	b[0] = afNetlink
	b[1] = ndiagProtoAll
	ne.PutUint32(b[8:], ndiagShowGroups) // ndiag_show
	return netlink.Message{Header: dumpHeader, Data: b}
}

// packetRequest builds struct packet_diag_req.
func packetRequest() netlink.Message {
	b := make([]byte, sizeofPacketDiagReq)
	b[0] = afPacket
	ne.PutUint32(b[8:], packetShowInfo) // pdiag_show
	return netlink.Message{Header: dumpHeader, Data: b}
}

// vsockRequest builds struct vsock_diag_req.
func vsockRequest() netlink.Message {
	b := make([]byte, sizeofVsockDiagReq)
	b[0] = afVsock
	ne.PutUint32(b[4:], ^uint32(0)) // vdiag_states
	return netlink.Message{Header: dumpHeader, Data: b}
}
