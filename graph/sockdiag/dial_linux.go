//go:build linux

package sockdiag

import (
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a sock_diag connection in the network namespace of the given open
// netns fd (e.g. of /proc/PID/ns/net); netnsFD < 0 means the caller's own
// namespace (that of the calling thread). Dial does not take ownership of
// netnsFD: the caller may close it as soon as Dial returns. Entering another
// namespace needs CAP_SYS_ADMIN (see the package documentation).
func Dial(netnsFD int) (*Conn, error) {
	// Replies are read into the Conn's own buffer (see Conn.Each), not
	// through netlink.Conn.Receive: no netlink.Config.MessageBufferSize.
	cfg := &netlink.Config{}
	if netnsFD >= 0 {
		fd := netnsFD
		if fd == 0 {
			// netlink.Config.NetNS == 0 means "no namespace": use a copy.
			d, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				return nil, fmt.Errorf("sockdiag: dial: dup netns fd 0: %w", err)
			}
			defer unix.Close(d)
			fd = d
		}
		cfg.NetNS = fd
	}
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, cfg)
	if err != nil {
		if netnsFD >= 0 {
			return nil, fmt.Errorf("sockdiag: dial in netns of fd %d: %w", netnsFD, err)
		}
		return nil, fmt.Errorf("sockdiag: dial: %w", err)
	}
	return newConn(nl), nil
}

// recvBufferSize holds the largest datagram a sock_diag dump sends: the
// kernel caps dump datagrams at 32 KiB unless a single message needs more
// (Conn.Each grows its buffer then).
const recvBufferSize = 64 << 10
