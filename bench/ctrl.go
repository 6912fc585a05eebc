//go:build linux

package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// The init and each worker talk over a SOCK_SEQPACKET socket pair: one JSON
// message per packet, fds attached by SCM_RIGHTS.

// Control message operations.
const (
	opSetup     = "setup"     // init → worker: the spec to build
	opListening = "listening" // worker → init: listeners are up
	opFDs       = "fds"       // init → worker: fds attached, to keep
	opConnect   = "connect"   // init → worker: every listener is up, dial
	opReady     = "ready"     // worker → init: built; FDs holds the count
	opError     = "error"     // either way: Err says what failed
)

// maxFDsPerMessage stays below the kernel's SCM_MAX_FD (253).
const maxFDsPerMessage = 200

// message is one control packet.
type message struct {
	Op   string      `json:"op"`
	Spec *workerSpec `json:"spec,omitempty"`
	FDs  int         `json:"fds,omitempty"`
	Err  string      `json:"err,omitempty"`
}

// ctrl is one end of a control socket pair. It never closes the fd.
type ctrl struct{ fd int }

func (c ctrl) send(m message, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("control: encode %s: %w", m.Op, err)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err = unix.Sendmsg(c.fd, b, oob, nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("control: send %s: %w", m.Op, err)
	}
	return nil
}

// recv returns the next message and the fds attached to it, io.EOF when the
// other end closed, and the other end's failure as an error.
func (c ctrl) recv() (message, []int, error) {
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4*maxFDsPerMessage))
	var (
		n, oobn, flags int
		err            error
	)
	for {
		// Received fds are not close-on-exec: a worker keeps them across
		// its exec into the holder.
		n, oobn, flags, _, err = unix.Recvmsg(c.fd, buf, oob, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return message{}, nil, fmt.Errorf("control: receive: %w", err)
	}
	if n == 0 && oobn == 0 {
		return message{}, nil, io.EOF
	}
	var fds []int
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return message{}, nil, fmt.Errorf("control: parse control message: %w", err)
		}
		for _, cm := range cmsgs {
			got, err := unix.ParseUnixRights(&cm)
			if err != nil {
				return message{}, nil, fmt.Errorf("control: parse SCM_RIGHTS: %w", err)
			}
			fds = append(fds, got...)
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return message{}, fds, errors.New("control: message truncated")
	}
	var m message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return message{}, fds, fmt.Errorf("control: decode: %w", err)
	}
	if m.Op == opError {
		return m, fds, errors.New(m.Err)
	}
	return m, fds, nil
}

// expect receives the next message and checks its operation.
func (c ctrl) expect(op string) (message, []int, error) {
	m, fds, err := c.recv()
	if err == io.EOF {
		return m, fds, fmt.Errorf("control: closed while waiting for %q", op)
	}
	if err != nil {
		return m, fds, err
	}
	if m.Op != op {
		return m, fds, fmt.Errorf("control: got %q, want %q", m.Op, op)
	}
	return m, fds, nil
}
