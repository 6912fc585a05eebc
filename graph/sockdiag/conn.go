package sockdiag

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
)

// Conn is a sock_diag connection bound to one network namespace. Not safe for
// concurrent use: use one Conn per goroutine (or serialise the calls). Close
// it when done.
type Conn struct {
	nl *netlink.Conn
	// raw sends requests and reads the kernel's replies in place, in buf;
	// nil when nl is not a kernel socket (an nltest fake), and messages
	// then go through nl.
	raw    syscall.RawConn
	buf    []byte                // receive buffer
	req    []byte                // the request being sent
	seq    uint32                // of the last request sent on raw
	recvFn func(fd uintptr) bool // c.recvOnce, bound once
	sendFn func(fd uintptr) bool // c.sendOnce, bound once
	sysN   int                   // recvOnce's and sendOnce's result
	sysErr error
	reply  replyReader // the reply being read, kept here so it does not escape
	// sizes holds the number of sockets of each dump method's last dump
	// (by Request name), to size the next one's result.
	sizes map[string]int
}

// newConn wraps an open NETLINK_SOCK_DIAG connection (tests pass an
// nltest connection).
func newConn(nl *netlink.Conn) *Conn {
	c := &Conn{nl: nl}
	if rc, err := nl.SyscallConn(); err == nil && rawSupported {
		c.raw = rc
		c.recvFn, c.sendFn = c.recvOnce, c.sendOnce
	}
	return c
}

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
	return collect(c, unixRequest(), parseUnixMessage)
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
	req := inetRequest(family, protocol)
	if req.err != nil {
		return nil, req.err
	}
	return collect(c, req, func(b []byte) (InetSocket, error) {
		return parseInetMessage(b, protocol)
	})
}

// Netlink dumps the AF_NETLINK sockets of every protocol (netlink_diag),
// with their multicast groups.
func (c *Conn) Netlink() ([]NetlinkSocket, error) {
	return collect(c, netlinkRequest(), parseNetlinkMessage)
}

// Packet dumps the AF_PACKET sockets (packet_diag).
func (c *Conn) Packet() ([]PacketSocket, error) {
	return collect(c, packetRequest(), parsePacketMessage)
}

// Vsock dumps the AF_VSOCK sockets (vsock_diag). Kernels without vsock_diag
// give an error wrapping ErrNotSupported.
func (c *Conn) Vsock() ([]VsockSocket, error) {
	return collect(c, vsockRequest(), parseVsockMessage)
}

// collect runs the dump of req through Each and decodes every reply with
// parse, again up to maxAttempts times while the kernel flags the dump as
// interrupted. It returns nil sockets only with an error; non-nil sockets
// come with nil, an error wrapping ErrMalformed, or one wrapping
// ErrDumpInterrupted (the last attempt's sockets).
func collect[T any](c *Conn, req Request, parse func([]byte) (T, error)) ([]T, error) {
	if c.sizes == nil {
		c.sizes = map[string]int{}
	}
	n := c.sizes[req.what]
	d := decoder[T]{parse: parse, out: make([]T, 0, n+n/8)} // an empty dump is not an error
	defer func() { c.sizes[req.what] = len(d.out) }()
	for attempt := 1; ; attempt++ {
		d.reset()
		err := c.Each(req, d.add)
		if err == nil {
			return d.out, d.err(req.what)
		}
		if !errors.Is(err, ErrDumpInterrupted) {
			return nil, err
		}
		if attempt == maxAttempts {
			err = fmt.Errorf("sockdiag: %s dump: %w in all %d attempts; result may be inconsistent", req.what, ErrDumpInterrupted, attempt)
			return d.out, errors.Join(err, d.err(req.what))
		}
	}
}
