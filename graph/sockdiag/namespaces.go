package sockdiag

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/internal/procdir"
)

// Namespaces keeps one Conn per network namespace between dumps, for a
// caller that dumps the sockets of every namespace again and again (the
// live loop's probe, the activity sampler). A connection in another
// namespace is made there through a pid inside it (Dial with the
// namespace's fd, which needs CAP_SYS_ADMIN); a namespace that cannot be
// entered is not tried again while it is asked for. Not safe for
// concurrent use; Close it when done.
type Namespaces struct {
	procRoot string
	self     uint64 // the namespace of the calling thread; 0 if unknown
	conns    map[uint64]*Conn
	failed   map[uint64]bool
}

// NewNamespaces returns connections that find namespaces through procRoot
// ("/proc" if empty).
func NewNamespaces(procRoot string) *Namespaces {
	if procRoot == "" {
		procRoot = "/proc"
	}
	self, _ := procdir.ThreadNetNS() // 0 if unknown: every namespace is then entered
	return &Namespaces{procRoot: procRoot, self: self, conns: map[uint64]*Conn{}, failed: map[uint64]bool{}}
}

// Each calls dump with the connection of every namespace of netns (each
// namespace's inode mapped to a pid in it) and returns the namespaces
// whose dump succeeded. A namespace that cannot be entered, or whose dump
// fails, is left out and reported in the error; a failed dump's connection
// is closed and made again next time. Connections of namespaces no longer
// asked for are closed.
func (n *Namespaces) Each(ctx context.Context, netns map[uint64]int, dump func(ns uint64, c *Conn) error) (map[uint64]bool, error) {
	ok := make(map[uint64]bool, len(netns))
	var errs []error
	for ns, pid := range netns {
		if err := ctx.Err(); err != nil {
			return ok, err
		}
		if n.failed[ns] {
			continue
		}
		c, err := n.conn(ns, pid)
		if err != nil {
			n.failed[ns] = true
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
			continue
		}
		if err := dump(ns, c); err != nil {
			c.Close()
			delete(n.conns, ns)
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
			continue
		}
		ok[ns] = true
	}
	for ns, c := range n.conns {
		if _, in := netns[ns]; !in {
			c.Close()
			delete(n.conns, ns)
		}
	}
	for ns := range n.failed {
		if _, in := netns[ns]; !in {
			delete(n.failed, ns)
		}
	}
	return ok, errors.Join(errs...)
}

// conn returns the connection of namespace ns, made through pid when new.
func (n *Namespaces) conn(ns uint64, pid int) (*Conn, error) {
	if c := n.conns[ns]; c != nil {
		return c, nil
	}
	nsFD := -1
	if ns != 0 && ns != n.self {
		fd, _, err := procdir.OpenNetNS(n.procRoot, pid)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		nsFD = fd
	}
	c, err := Dial(nsFD)
	if err != nil {
		return nil, err
	}
	n.conns[ns] = c
	return c, nil
}

// Close closes every connection.
func (n *Namespaces) Close() error {
	for ns, c := range n.conns {
		c.Close()
		delete(n.conns, ns)
	}
	return nil
}

// Self is the network namespace of the thread that made n (0 if unknown),
// whose connection needs no pid inside it.
func (n *Namespaces) Self() uint64 { return n.self }

// Len is the number of connections kept.
func (n *Namespaces) Len() int { return len(n.conns) }
