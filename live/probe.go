package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// SocketProber returns a signature of every socket in the given network
// namespaces: socket inode → a hash of what a snapshot shows of the socket
// that can change while the socket lives (state, queues, peer). netns maps
// each namespace inode to a pid inside it. SockDiagProber is one.
type SocketProber interface {
	ProbeSockets(ctx context.Context, netns map[uint64]int) (map[uint64]uint64, error)
}

// ProcProber probes a proc filesystem: per process, its start time (one
// read of /proc/PID/stat) and its fd count (one stat of /proc/PID/fd, whose
// size is the number of open fds since Linux 6.2); then, when Sockets is
// set, one socket dump per network namespace. It is not safe for concurrent
// use (the Loop calls it from one goroutine).
type ProcProber struct {
	root    string
	sockets SocketProber
	netns   map[procKey]uint64 // cache: the netns of each process seen
	buf     []byte
}

type procKey struct {
	pid   int
	start uint64
}

// NewProcProber returns a prober of the proc filesystem at root ("/proc"
// if empty); sockets may be nil, and then sockets are not probed.
func NewProcProber(root string, sockets SocketProber) *ProcProber {
	if root == "" {
		root = "/proc"
	}
	return &ProcProber{root: root, sockets: sockets, netns: map[procKey]uint64{}, buf: make([]byte, 1024)}
}

// Probe implements Prober. Processes that vanish while being probed are
// left out; an error is returned only when the proc root cannot be listed
// or the socket prober returns nothing at all.
func (p *ProcProber) Probe(ctx context.Context) (*Probe, error) {
	d, err := os.Open(p.root)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("probe: list %s: %w", p.root, err)
	}
	pr := &Probe{Procs: make(map[int]ProcState, len(names))}
	seen := make(map[procKey]bool, len(names))
	netns := map[uint64]int{}
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start, ok := p.startTime(pid)
		if !ok {
			continue
		}
		fds := -1
		var st unix.Stat_t
		if unix.Stat(p.path(pid, "fd"), &st) == nil {
			fds = int(st.Size)
		}
		pr.Procs[pid] = ProcState{Start: start, FDs: fds}
		if p.sockets == nil {
			continue
		}
		k := procKey{pid, start}
		seen[k] = true
		ns, ok := p.netns[k]
		if !ok {
			ns = p.readNetNS(pid)
			p.netns[k] = ns
		}
		if _, ok := netns[ns]; !ok && ns != 0 {
			netns[ns] = pid
		}
	}
	for k := range p.netns {
		if !seen[k] {
			delete(p.netns, k)
		}
	}
	if p.sockets != nil {
		// A namespace whose dump failed is left out of the map: its sockets
		// are then not compared, and the full sweep catches their changes.
		socks, err := p.sockets.ProbeSockets(ctx, netns)
		if socks == nil {
			return nil, fmt.Errorf("probe sockets: %w", err)
		}
		pr.Sockets = socks
	}
	return pr, nil
}

func (p *ProcProber) path(pid int, name string) string {
	return filepath.Join(p.root, strconv.Itoa(pid), name)
}

// startTime reads field 22 of /proc/PID/stat; false if the process is gone.
func (p *ProcProber) startTime(pid int) (uint64, bool) {
	fd, err := unix.Open(p.path(pid, "stat"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, p.buf)
	if err != nil || n <= 0 {
		return 0, false
	}
	v, err := parseStartTime(p.buf[:n])
	return v, err == nil
}

// errStat is returned for a /proc/PID/stat line that cannot be parsed.
var errStat = errors.New("malformed stat line")

// parseStartTime returns field 22 (starttime) of a /proc/PID/stat line. The
// comm field (2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseStartTime(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no ')'", errStat)
	}
	// After ") " come fields 3 (state) onwards; starttime is field 22, the
	// 20th of them. Count them in place: this runs for every process every tick.
	rest := b[i+1:]
	for n := 0; ; n++ {
		rest = bytes.TrimLeft(rest, " \n")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return 0, fmt.Errorf("%w: %d fields after comm", errStat, n)
		}
		if n == 19 {
			v, err := strconv.ParseUint(string(rest[:end]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: starttime: %w", errStat, err)
			}
			return v, nil
		}
		rest = rest[end:]
	}
}

// readNetNS returns the inode of the network namespace of pid, 0 if unknown.
func (p *ProcProber) readNetNS(pid int) uint64 {
	var st unix.Stat_t
	if unix.Stat(p.path(pid, "ns/net"), &st) != nil {
		return 0
	}
	return st.Ino
}
