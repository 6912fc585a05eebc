package sockdiag

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
)

// The streaming layer: a Request names one dump, and Conn.Each sends it and
// hands over every reply message as it is received, as a view of the
// receive buffer. The dump methods (Conn.Unix, ...) decode on top of it;
// callers that need only a few facts of every socket (the live probe, every
// second) read them in place through the views (ParseUnixReply, ...) and
// allocate nothing per socket.

// TypeByFamily is the netlink message type of sock_diag requests and of
// their replies (SOCK_DIAG_BY_FAMILY, sock_diag.h).
const TypeByFamily netlink.HeaderType = sockDiagByFamily

// What a unix dump reports besides struct unix_diag_msg (UDIAG_SHOW_*,
// unix_diag.h): the show argument of UnixRequest. The attributes sent are
// the UnixAttr* of the same name.
const (
	UnixShowName  uint32 = udiagShowName
	UnixShowVFS   uint32 = udiagShowVFS
	UnixShowPeer  uint32 = udiagShowPeer
	UnixShowIcons uint32 = udiagShowIcons
	UnixShowRQLen uint32 = udiagShowRQLen
	UnixShowUID   uint32 = udiagShowUID
)

// InetExtInfo asks an inet dump for struct tcp_info (INET_DIAG_INFO, sent
// for tcp sockets only): the ext argument of InetRequest.
const InetExtInfo uint8 = 1 << (inetDiagInfo - 1)

// Request is one sock_diag dump request: the payload of a
// SOCK_DIAG_BY_FAMILY message (one of the *_diag_req structs and any request
// attributes) and the dump's name for errors. Build it with UnixRequest or
// InetRequest; it is immutable, and may be reused and shared between
// goroutines. The zero Request is invalid.
type Request struct {
	what string // names the dump in errors: "unix", "inet6 tcp", ...
	body []byte
	// flags are the request's header flags; 0 means a dump
	// (NLM_F_REQUEST|NLM_F_DUMP).
	flags netlink.HeaderFlags
	err   error // a request that cannot be sent, reported by Each
}

// String names the dump ("unix", "inet tcp", "inet6 udp", ...).
func (r Request) String() string { return r.what }

// UnixRequest returns the request for a dump of every AF_UNIX socket, in all
// states, with the attributes that show (UnixShow* flags) asks for.
func UnixRequest(show uint32) Request {
	b := make([]byte, sizeofUnixDiagReq)
	b[0] = afUnix
	ne.PutUint32(b[4:], ^uint32(0)) // udiag_states
	// b[8:12] udiag_ino = 0
	ne.PutUint32(b[12:], show)
	return Request{what: "unix", body: b}
}

// InetRequest returns the request for a dump of every socket, in all states,
// of family (unix.AF_INET or unix.AF_INET6) and protocol (as for Conn.Inet),
// with the extensions ext (InetExtInfo or 0) asks for. The protocol is sent
// both in the request header and as INET_DIAG_REQ_PROTOCOL. For any other
// family, Each fails without sending anything.
func InetRequest(family, protocol, ext uint8) Request {
	what := "inet " + InetProtocolName(protocol)
	if family == afInet6 {
		what = "inet6 " + InetProtocolName(protocol)
	}
	if family != afInet && family != afInet6 {
		return Request{what: what, err: fmt.Errorf("sockdiag: %s dump: family %d is neither AF_INET nor AF_INET6", what, family)}
	}
	b := make([]byte, sizeofInetDiagReqV2+8)
	b[0] = family
	b[1] = protocol
	b[2] = ext
	// b[3]: pad, sdiag_raw_protocol for raw sockets; only exact lookups use it.
	ne.PutUint32(b[4:], ^uint32(0)) // idiag_states
	// b[8:56]: struct inet_diag_sockid, all zero: no filter
	a := b[sizeofInetDiagReqV2:]
	ne.PutUint16(a, 8)
	ne.PutUint16(a[2:], inetDiagReqProtocol)
	ne.PutUint32(a[4:], uint32(protocol))
	return Request{what: what, body: b}
}

// The requests of the dump methods.

// unixRequest asks for everything UnixSocket holds.
func unixRequest() Request {
	return UnixRequest(UnixShowName | UnixShowVFS | UnixShowPeer | UnixShowIcons | UnixShowRQLen | UnixShowUID)
}

// inetRequest asks for everything InetSocket holds.
func inetRequest(family, protocol uint8) Request {
	return InetRequest(family, protocol, InetExtInfo)
}

// netlinkRequest builds struct netlink_diag_req.
func netlinkRequest() Request {
	b := make([]byte, sizeofNetlinkDiagReq)
	b[0] = afNetlink
	b[1] = ndiagProtoAll
	ne.PutUint32(b[8:], ndiagShowGroups) // ndiag_show
	return Request{what: "netlink", body: b}
}

// packetRequest builds struct packet_diag_req.
func packetRequest() Request {
	b := make([]byte, sizeofPacketDiagReq)
	b[0] = afPacket
	ne.PutUint32(b[8:], packetShowInfo) // pdiag_show
	return Request{what: "packet", body: b}
}

// vsockRequest builds struct vsock_diag_req.
func vsockRequest() Request {
	b := make([]byte, sizeofVsockDiagReq)
	b[0] = afVsock
	ne.PutUint32(b[4:], ^uint32(0)) // vdiag_states
	return Request{what: "vsock", body: b}
}

// maxAttempts is how many times a dump method sends its request before an
// interrupted (NLM_F_DUMP_INTR) result is returned as it is.
const maxAttempts = 4

var dumpHeader = netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump}

// Each sends req and calls fn with every message of the reply, in order, as
// it is received: the SOCK_DIAG_BY_FAMILY messages (Header.Type
// TypeByFamily), whose Data is a *_diag_msg struct and its attributes (read
// them with ParseUnixReply or ParseInetReply), and any other message the
// kernel puts in the reply but the final NLMSG_DONE. m.Data is a view of the
// connection's receive buffer, valid only until fn returns: copy what must
// outlive it. On a kernel socket Each allocates nothing per message.
//
// If fn returns an error, Each stops calling it, reads the rest of the reply
// (so that the Conn stays usable), and returns that error as it is.
//
// When the kernel flags the reply as interrupted (NLM_F_DUMP_INTR: the
// socket tables changed during the dump, so sockets may be missing or
// repeated), Each still hands over every message and then returns an error
// wrapping ErrDumpInterrupted; send req again for a consistent dump. A
// kernel that cannot dump the family or protocol gives an error wrapping
// ErrNotSupported. Every other error is wrapped with the dump's name.
func (c *Conn) Each(req Request, fn func(m netlink.Message) error) error {
	if req.err != nil {
		return req.err
	}
	if req.body == nil {
		return errors.New("sockdiag: dump: zero Request")
	}
	r := &c.reply
	*r = replyReader{fn: fn}
	defer func() { *r = replyReader{} }() // let go of fn
	var err error
	h := dumpHeader
	if req.flags != 0 {
		h.Flags = req.flags
	}
	if c.raw != nil {
		if r.seq, err = c.sendRaw(req.body, h.Flags); err == nil {
			err = c.receiveRaw(r)
		}
	} else {
		var sent netlink.Message
		if sent, err = c.nl.Send(netlink.Message{Header: h, Data: req.body}); err == nil {
			r.seq = sent.Header.Sequence
			err = c.receiveMessages(r)
		}
	}
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("sockdiag: %s dump: %w (%w)", req.what, ErrNotSupported, err)
	case err != nil:
		return fmt.Errorf("sockdiag: %s dump: %w", req.what, err)
	case r.fnErr != nil:
		return r.fnErr
	case r.interrupted:
		return fmt.Errorf("sockdiag: %s dump: %w", req.what, ErrDumpInterrupted)
	}
	return nil
}

// replyReader follows one dump's reply, message by message.
type replyReader struct {
	seq         uint32 // of the request: other messages are left from an earlier dump
	fn          func(netlink.Message) error
	fnErr       error
	interrupted bool
}

// handle takes one message of the reply; done at its end, with the error the
// kernel ended it with.
func (r *replyReader) handle(m netlink.Message) (done bool, err error) {
	if m.Header.Sequence != r.seq {
		return false, nil // the rest of a dump that was cut short
	}
	// The kernel sets NLM_F_DUMP_INTR on every message built after it
	// noticed the change, NLMSG_DONE included.
	if m.Header.Flags&netlink.DumpInterrupted != 0 {
		r.interrupted = true
	}
	if m.Header.Type == netlink.Done || m.Header.Type == netlink.Error {
		return true, endError(m)
	}
	if r.fnErr == nil {
		r.fnErr = r.fn(m)
	}
	return false, nil
}

// endError is the error an NLMSG_DONE or NLMSG_ERROR message ends a dump
// with: NLMSG_DONE carries an errno when the dump failed part way, and
// NLMSG_ERROR always does (0 for an acknowledgement). Kept out of handle,
// which runs for every message.
//
//go:noinline
func endError(m netlink.Message) error {
	if len(m.Data) >= 4 {
		if e := int32(ne.Uint32(m.Data)); e < 0 {
			return &netlink.OpError{Op: "receive", Err: syscall.Errno(-e)}
		}
	} else if m.Header.Type == netlink.Error {
		return &netlink.OpError{Op: "receive", Err: errors.New("short NLMSG_ERROR")}
	}
	return nil
}

// receiveMessages reads the reply through the netlink.Conn, which copies
// each datagram: the path of connections that are not kernel sockets (and
// whose requests go through netlink.Conn.Send).
// netlink.Conn ends the iteration at NLMSG_DONE and turns NLMSG_ERROR into
// an error.
func (c *Conn) receiveMessages(r *replyReader) error {
	for m, err := range c.nl.ReceiveIter() {
		if err != nil {
			return err
		}
		if done, err := r.handle(m); done {
			return err
		}
	}
	return nil
}
