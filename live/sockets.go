package live

import (
	"context"
	"encoding/binary"
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
	last     map[uint64]uint64 // the previous result, to size the next
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
func (p *SockDiagProber) ProbeSockets(ctx context.Context, netns map[uint64]int) (map[uint64]uint64, error) {
	out := make(map[uint64]uint64, len(p.last))
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
	p.last = out
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
func dumpSignatures(c *sockdiag.Conn, out map[uint64]uint64) error {
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
		out[s.Inode] = signature('u', uint64(s.State), s.Peer, uint64(s.RQueue), uint64(s.WQueue), uint64(len(s.Pending)))
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
				a := s.Remote.Addr().As16()
				out[s.Inode] = signature('i', uint64(s.State), uint64(s.Remote.Port()),
					binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(a[8:]), uint64(s.RQueue), uint64(s.WQueue))
			}
		}
	}
	return nil
}

// signature hashes a socket's facts (FNV-1a over their bytes): 16 bytes a
// socket where a string would take several times that, on hosts with tens
// of thousands of sockets.
func signature(kind byte, facts ...uint64) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(kind)) * prime
	for _, f := range facts {
		for range 8 {
			h = (h ^ (f & 0xff)) * prime
			f >>= 8
		}
	}
	return h
}
