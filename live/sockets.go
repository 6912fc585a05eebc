package live

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// SockDiagProber is the SocketProber of the live kernel: one
// NETLINK_SOCK_DIAG dump of unix, TCP and UDP sockets per network namespace,
// asking only for what a signature needs (state, peer, queues, pending
// connections) and hashing each reply in place, so that a tick that finds
// nothing allocates next to nothing. (The full decoder, package
// graph/sockdiag, serves the scanner; this is its lean cousin for the probe,
// run every second on hosts with tens of thousands of sockets.)
//
// It keeps one netlink socket per namespace between probes. A socket in
// another namespace is created there with setns(2) on a locked OS thread,
// which needs CAP_SYS_ADMIN; a namespace that cannot be entered is skipped
// (its sockets change only at full scans). Not safe for concurrent use;
// Close it when done.
type SockDiagProber struct {
	procRoot string
	self     uint64 // the netns of this process
	conns    map[uint64]*diagConn
	failed   map[uint64]bool
	last     int // sockets in the previous result, to size the next
}

// NewSockDiagProber returns a prober that finds namespaces through procRoot
// ("/proc" if empty).
func NewSockDiagProber(procRoot string) *SockDiagProber {
	if procRoot == "" {
		procRoot = "/proc"
	}
	p := &SockDiagProber{procRoot: procRoot, conns: map[uint64]*diagConn{}, failed: map[uint64]bool{}}
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) == nil {
		p.self = st.Ino
	}
	return p
}

// ProbeSockets implements SocketProber. A namespace whose dump fails is left
// out of the result and reported in the error; the result is nil only when
// ctx is done.
func (p *SockDiagProber) ProbeSockets(ctx context.Context, netns map[uint64]int) (map[uint64]uint64, error) {
	out := make(map[uint64]uint64, p.last+p.last/8)
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
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
			continue
		}
		if err := c.signatures(out); err != nil {
			c.close()
			delete(p.conns, ns)
			errs = append(errs, fmt.Errorf("netns %d: %w", ns, err))
		}
	}
	for ns, c := range p.conns {
		if _, ok := netns[ns]; !ok {
			c.close()
			delete(p.conns, ns)
		}
	}
	for ns := range p.failed {
		if _, ok := netns[ns]; !ok {
			delete(p.failed, ns)
		}
	}
	p.last = len(out)
	return out, errors.Join(errs...)
}

func (p *SockDiagProber) conn(ns uint64, pid int) (*diagConn, error) {
	if c := p.conns[ns]; c != nil {
		return c, nil
	}
	nsFD := -1
	if ns != p.self {
		f, err := os.Open(p.procRoot + "/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		nsFD = int(f.Fd())
	}
	c, err := dialDiag(nsFD)
	if err != nil {
		return nil, err
	}
	p.conns[ns] = c
	return c, nil
}

// Close closes the netlink sockets.
func (p *SockDiagProber) Close() error {
	for ns, c := range p.conns {
		c.close()
		delete(p.conns, ns)
	}
	return nil
}

// Kernel constants (include/uapi/linux/sock_diag.h, unix_diag.h, inet_diag.h).
const (
	sockDiagByFamily = 20
	udiagShowPeer    = 0x04
	udiagShowIcons   = 0x08
	udiagShowRQLen   = 0x10
	unixDiagPeer     = 2
	unixDiagIcons    = 3
	unixDiagRQLen    = 4
	nlmFDumpIntr     = 0x10
	sizeofUnixMsg    = 16 // struct unix_diag_msg
	sizeofInetMsg    = 72 // struct inet_diag_msg
)

// diagConn is a NETLINK_SOCK_DIAG socket with a reused receive buffer.
type diagConn struct {
	fd  int
	buf []byte
	req []byte
	seq uint32
}

var diagSeq atomic.Uint32

// dialDiag opens a sock_diag socket in the network namespace of nsFD, or in
// the caller's own when nsFD < 0.
func dialDiag(nsFD int) (*diagConn, error) {
	open := func() (int, error) {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	}
	var fd int
	var err error
	if nsFD < 0 {
		fd, err = open()
	} else {
		fd, err = inNetNS(nsFD, open)
	}
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sock_diag bind: %w", err)
	}
	return &diagConn{fd: fd, buf: make([]byte, 64<<10), req: make([]byte, 0, 16+56), seq: diagSeq.Add(1) << 16}, nil
}

// inNetNS runs fn on a locked OS thread moved into the namespace of nsFD,
// and moves the thread back. A thread that cannot be moved back is never
// unlocked, so the runtime ends it with the goroutine.
func inNetNS(nsFD int, fn func() (int, error)) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("setns: %w", err)}
			return
		}
		fd, err := fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func (c *diagConn) close() { unix.Close(c.fd) }

// signatures adds the signature of every unix, TCP and UDP socket of the
// namespace to out.
func (c *diagConn) signatures(out map[uint64]uint64) error {
	// struct unix_diag_req: family, protocol, pad, states, ino, show, cookie.
	var ureq [24]byte
	ureq[0] = unix.AF_UNIX
	binary.NativeEndian.PutUint32(ureq[4:], ^uint32(0))
	binary.NativeEndian.PutUint32(ureq[12:], udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	err := c.dump(ureq[:], func(m []byte) {
		if len(m) < sizeofUnixMsg {
			return
		}
		state := uint64(m[2])
		ino := uint64(binary.NativeEndian.Uint32(m[4:]))
		var peer, rq, wq, icons uint64
		for a := m[sizeofUnixMsg:]; len(a) >= 4; {
			l := int(binary.NativeEndian.Uint16(a))
			if l < 4 || l > len(a) {
				break
			}
			data := a[4:l]
			switch binary.NativeEndian.Uint16(a[2:]) {
			case unixDiagPeer:
				if len(data) >= 4 {
					peer = uint64(binary.NativeEndian.Uint32(data))
				}
			case unixDiagIcons:
				icons = uint64(len(data) / 4)
			case unixDiagRQLen:
				if len(data) >= 8 {
					rq, wq = uint64(binary.NativeEndian.Uint32(data)), uint64(binary.NativeEndian.Uint32(data[4:]))
				}
			}
			a = a[min((l+3)&^3, len(a)):]
		}
		out[ino] = signature('u', state, peer, rq, wq, icons)
	})
	if err != nil {
		return fmt.Errorf("unix dump: %w", err)
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			// struct inet_diag_req_v2: family, protocol, ext, pad, states, id.
			var ireq [56]byte
			ireq[0], ireq[1] = fam, proto
			binary.NativeEndian.PutUint32(ireq[4:], ^uint32(0))
			err := c.dump(ireq[:], func(m []byte) {
				if len(m) < sizeofInetMsg {
					return
				}
				ino := uint64(binary.NativeEndian.Uint32(m[68:]))
				if ino == 0 {
					return // time-wait and request sockets have no fd
				}
				// id: sport, dport (big endian) at 4, src at 8, dst at 24.
				out[ino] = signature('i', uint64(m[1]), uint64(binary.BigEndian.Uint16(m[6:])),
					binary.NativeEndian.Uint64(m[24:]), binary.NativeEndian.Uint64(m[32:]),
					uint64(binary.NativeEndian.Uint32(m[56:])), uint64(binary.NativeEndian.Uint32(m[60:])))
			})
			if err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("inet dump (family %d, protocol %d): %w", fam, proto, err)
			}
		}
	}
	return nil
}

// dump sends one SOCK_DIAG_BY_FAMILY dump request with body and calls each
// with the payload of every reply message, until the dump is done. An
// interrupted dump (NLM_F_DUMP_INTR) is used as it is: what it missed is
// seen at the next probe.
func (c *diagConn) dump(body []byte, each func([]byte)) error {
	c.seq++
	req := c.req[:16]
	binary.NativeEndian.PutUint32(req[0:], uint32(16+len(body)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], c.seq)
	binary.NativeEndian.PutUint32(req[12:], 0)
	req = append(req, body...)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		for b := c.buf[:n]; len(b) >= 16; {
			l := int(binary.NativeEndian.Uint32(b))
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if l < 16 || l > len(b) {
				return errors.New("malformed netlink message")
			}
			if seq == c.seq {
				switch typ {
				case unix.NLMSG_DONE:
					return nil
				case unix.NLMSG_ERROR:
					if l >= 20 {
						if e := int32(binary.NativeEndian.Uint32(b[16:])); e != 0 {
							return unix.Errno(-e)
						}
					}
					return nil
				case sockDiagByFamily:
					each(b[16:l])
				}
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
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
