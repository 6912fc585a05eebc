//go:build !linux

package sockdiag

import (
	"errors"

	"github.com/mdlayher/netlink"
)

// rawSupported says that Conns on kernel sockets read replies in place;
// there are none outside Linux.
const rawSupported = false

func (c *Conn) receiveRaw(r *replyReader) error { return errors.New("netlink receive: not supported") }

func (c *Conn) sendRaw(body []byte, flags netlink.HeaderFlags) (uint32, error) {
	return 0, errors.New("netlink send: not supported")
}

func (c *Conn) recvOnce(fd uintptr) bool { return true }

func (c *Conn) sendOnce(fd uintptr) bool { return true }
