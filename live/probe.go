package live

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/internal/procdir"
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
	pids, err := procdir.PIDs(p.root)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	pr := &Probe{Procs: make(map[int]ProcState, len(pids))}
	seen := make(map[procKey]bool, len(pids))
	netns := map[uint64]int{}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start, err := procdir.StartTime(p.root, pid, p.buf)
		if err != nil {
			continue // gone
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
			ns, _ = procdir.NetNS(p.root, pid) // 0 if unknown
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
