//go:build linux

package sockdiag

import (
	"fmt"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rawSupported says that Conns on kernel sockets read replies in place.
const rawSupported = true

// sendRaw sends a SOCK_DIAG_BY_FAMILY request with body and flags on the
// socket (to the kernel: the socket is not connected) and returns its
// sequence number.
func (c *Conn) sendRaw(body []byte, flags netlink.HeaderFlags) (uint32, error) {
	c.seq++
	h := dumpHeader
	h.Flags = flags
	h.Sequence = c.seq // and PID 0: the kernel fills in the port ID
	c.req = AppendMessage(c.req[:0], h, body)
	c.sysN, c.sysErr = 0, nil
	if err := c.raw.Write(c.sendFn); err != nil {
		return 0, &netlink.OpError{Op: "send", Err: err}
	}
	if c.sysErr != nil {
		return 0, &netlink.OpError{Op: "send", Err: c.sysErr}
	}
	return c.seq, nil
}

// sendOnce is the syscall.RawConn write function of sendRaw: one send(2)
// of c.req. false asks the poller to wait.
func (c *Conn) sendOnce(fd uintptr) bool {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&c.req[0])), uintptr(len(c.req)), 0, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			c.sysErr = errno
		}
		return true
	}
}

// receiveRaw reads the reply from the socket into c.buf, datagram by
// datagram, and hands each message to r in place.
func (c *Conn) receiveRaw(r *replyReader) error {
	if c.buf == nil {
		c.buf = make([]byte, recvBufferSize)
	}
	for {
		n, err := c.recv()
		if err != nil {
			return err
		}
		for b := c.buf[:n]; len(b) >= HeaderLen; {
			m, rest, ok := SplitMessage(b)
			if !ok {
				return fmt.Errorf("netlink receive: message of length %d with %d bytes left in the datagram", ne.Uint32(b), len(b))
			}
			if done, err := r.handle(m); done {
				return err
			}
			b = rest
		}
	}
}

// recv reads one datagram into c.buf, waiting for it in the runtime's
// poller (and so honouring the deadlines set on the netlink.Conn).
func (c *Conn) recv() (int, error) {
	c.sysN, c.sysErr = 0, nil
	if err := c.raw.Read(c.recvFn); err != nil {
		return 0, &netlink.OpError{Op: "receive", Err: err}
	}
	if c.sysErr != nil {
		return 0, &netlink.OpError{Op: "receive", Err: c.sysErr}
	}
	if c.sysN > len(c.buf) {
		// MSG_TRUNC: the datagram was longer than the buffer, and its end
		// is lost. Take a buffer that holds it for the next dump.
		n := len(c.buf)
		c.buf = make([]byte, c.sysN)
		return 0, fmt.Errorf("netlink receive: a datagram of %d bytes did not fit the %d-byte buffer", c.sysN, n)
	}
	return c.sysN, nil
}

// recvOnce is the syscall.RawConn read function of recv: one recvfrom(2)
// without a source address (which the unix package would allocate), and
// MSG_TRUNC for the datagram's real length. false asks the poller to wait.
func (c *Conn) recvOnce(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.buf[0])), uintptr(len(c.buf)),
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		switch errno {
		case 0:
			c.sysN = int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			c.sysErr = errno
		}
		return true
	}
}
