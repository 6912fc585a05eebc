package live

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/sockdiag"
)

// SockDiagProber is the SocketProber of the live kernel: one sock_diag dump
// of unix, TCP and UDP sockets per network namespace. It keeps one netlink
// connection per namespace between probes. Entering another namespace needs
// CAP_SYS_ADMIN; a namespace that cannot be entered is skipped (its sockets
// change only at full scans). Not safe for concurrent use; Close it when done.
type SockDiagProber struct {
	procRoot string
	self     uint64 // the netns of this process
	conns    map[uint64]*sockdiag.Conn
	failed   map[uint64]bool
}

// NewSockDiagProber returns a prober that finds namespaces through procRoot
// ("/proc" if empty).
func NewSockDiagProber(procRoot string) *SockDiagProber {
	if procRoot == "" {
		procRoot = "/proc"
	}
	p := &SockDiagProber{procRoot: procRoot, conns: map[uint64]*sockdiag.Conn{}, failed: map[uint64]bool{}}
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) == nil {
		p.self = st.Ino
	}
	return p
}

// ProbeSockets implements SocketProber. The signature of a socket holds its
// state, its queues, its peer (unix) or remote address (inet) and, for a
// listener, how many connections wait to be accepted.
func (p *SockDiagProber) ProbeSockets(ctx context.Context, netns map[uint64]int) (map[uint64]string, error) {
	out := make(map[uint64]string, 1024)
	var errs []error
	for ns, pid := range netns {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.failed[ns] {
			continue
		}
		c, err := p.conn(ns, pid)
		if err != nil {
			p.failed[ns] = true
			continue
		}
		if err := dumpSignatures(c, out); err != nil {
			c.Close()
			delete(p.conns, ns)
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
		}
	}
	for ns, c := range p.conns {
		if _, ok := netns[ns]; !ok {
			c.Close()
			delete(p.conns, ns)
		}
	}
	for ns := range p.failed {
		if _, ok := netns[ns]; !ok {
			delete(p.failed, ns)
		}
	}
	return out, errors.Join(errs...)
}

func (p *SockDiagProber) conn(ns uint64, pid int) (*sockdiag.Conn, error) {
	if c := p.conns[ns]; c != nil {
		return c, nil
	}
	var c *sockdiag.Conn
	var err error
	if ns == p.self {
		c, err = sockdiag.Dial(-1)
	} else {
		var f *os.File
		f, err = os.Open(p.procRoot + "/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			return nil, err
		}
		c, err = sockdiag.Dial(int(f.Fd()))
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	p.conns[ns] = c
	return c, nil
}

// Close closes the netlink connections.
func (p *SockDiagProber) Close() error {
	var errs []error
	for ns, c := range p.conns {
		errs = append(errs, c.Close())
		delete(p.conns, ns)
	}
	return errors.Join(errs...)
}

// dumpSignatures adds the signature of every unix, TCP and UDP socket of
// c's namespace to out. An interrupted dump is used as it is: a socket it
// missed is probed again at the next tick.
func dumpSignatures(c *sockdiag.Conn, out map[uint64]string) error {
	ignore := func(err error) error {
		if errors.Is(err, sockdiag.ErrDumpInterrupted) || errors.Is(err, sockdiag.ErrNotSupported) {
			return nil
		}
		return err
	}
	us, err := c.Unix()
	if err = ignore(err); err != nil {
		return err
	}
	for _, s := range us {
		out[s.Inode] = "u" + strconv.Itoa(int(s.State)) + " " + strconv.FormatUint(s.Peer, 10) + " " +
			strconv.Itoa(int(s.RQueue)) + " " + strconv.Itoa(int(s.WQueue)) + " " + strconv.Itoa(len(s.Pending))
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			is, err := c.Inet(fam, proto)
			if err = ignore(err); err != nil {
				return err
			}
			for _, s := range is {
				if s.Inode == 0 {
					continue // time-wait and request sockets have no fd
				}
				out[s.Inode] = "i" + strconv.Itoa(int(s.State)) + " " + s.Remote.String() + " " +
					strconv.Itoa(int(s.RQueue)) + " " + strconv.Itoa(int(s.WQueue))
			}
		}
	}
	return nil
}
