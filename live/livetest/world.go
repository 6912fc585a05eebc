// Package livetest provides a fake machine for tests of the live path: a
// World of processes with fds, unix socket pairs, pipes and shared open file
// descriptions, which changes when told to and builds snapshots in the shape
// the scanner does (node IDs from package graph). A World is a live.Scanner,
// a live.Rescanner and a live.Prober.
package livetest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

// World is a fake machine. All methods are safe for concurrent use.
type World struct {
	mu      sync.Mutex
	procs   map[int]*proc
	objs    map[string]*graph.Node
	peers   map[string]string // socket ID → its peer's
	nextPID int
	nextIno uint64
	clock   uint64

	// Rescans records the pids of every Rescan call; Scans counts Scan calls.
	Rescans [][]int
	Scans   int

	// ProbeSockets makes Probe report every socket (all with the same
	// signature) and the Hidden ones, sockets of processes no scan sees.
	ProbeSockets bool
	Hidden       []uint64
}

type proc struct {
	pid, ppid int
	tgid      int // a thread with an fd table of its own: its process
	start     uint64
	comm      string
	fds       map[int]*ofd
}

type ofd struct {
	id   string
	obj  string
	mode string
	pos  int64
}

// NewWorld returns a World with one process, init (pid 1).
func NewWorld() *World {
	w := &World{procs: map[int]*proc{}, objs: map[string]*graph.Node{}, peers: map[string]string{}, nextPID: 1, nextIno: 1000}
	null := graph.InodeID(graph.KindChr, "0:5", 4)
	w.objs[null] = &graph.Node{ID: null, Kind: graph.KindChr, Object: &graph.Object{Inode: 4, Dev: "0:5", RDev: "1:3", Name: "/dev/null", Path: "/dev/null"}}
	w.Start(0, "init")
	return w
}

// Start starts a process with fds 0, 1 and 2 on /dev/null and returns its pid.
func (w *World) Start(ppid int, comm string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.start(ppid, comm)
}

// StartThread starts a thread of process pid with an fd table of its own,
// a copy of the process's (unshare(CLONE_FILES)), and returns its id.
func (w *World) StartThread(pid int, comm string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.procs[pid]
	w.clock++
	t := &proc{pid: w.nextPID, ppid: p.ppid, tgid: pid, start: 100 + w.clock, comm: comm, fds: maps.Clone(p.fds)}
	w.nextPID++
	w.procs[t.pid] = t
	return t.pid
}

func (w *World) start(ppid int, comm string) int {
	w.clock++
	p := &proc{pid: w.nextPID, ppid: ppid, start: 100 + w.clock, comm: comm, fds: map[int]*ofd{}}
	w.nextPID++
	w.procs[p.pid] = p
	for n := range 3 {
		w.open(p, n, graph.InodeID(graph.KindChr, "0:5", 4), "rw")
	}
	return p.pid
}

func (w *World) open(p *proc, n int, obj, mode string) *ofd {
	o := &ofd{id: graph.OFDID(p.pid, p.start, n), obj: obj, mode: mode}
	p.fds[n] = o
	return o
}

func lowestFree(p *proc) int {
	for n := 0; ; n++ {
		if p.fds[n] == nil {
			return n
		}
	}
}

// Fork starts a child of pid holding the same open file descriptions
// under the same fd numbers, and returns its pid (0 if pid does not exist).
func (w *World) Fork(pid int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.procs[pid]
	if p == nil {
		return 0
	}
	w.clock++
	c := &proc{pid: w.nextPID, ppid: pid, start: 100 + w.clock, comm: p.comm, fds: map[int]*ofd{}}
	w.nextPID++
	maps := make(map[int]*ofd, len(p.fds))
	for n, o := range p.fds {
		maps[n] = o
	}
	c.fds = maps
	w.procs[c.pid] = c
	return c.pid
}

// Stop ends a process.
func (w *World) Stop(pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.procs, pid)
	w.gc()
}

// Connect gives a and b a connected unix stream socket each, and returns
// their fd numbers.
func (w *World) Connect(a, b int) (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pa, pb := w.procs[a], w.procs[b]
	if pa == nil || pb == nil {
		return -1, -1
	}
	s1, s2 := w.socket(), w.socket()
	w.peers[s1], w.peers[s2] = s2, s1
	fa, fb := lowestFree(pa), 0
	w.open(pa, fa, s1, "rw")
	fb = lowestFree(pb)
	w.open(pb, fb, s2, "rw")
	return fa, fb
}

func (w *World) socket() string {
	w.nextIno++
	id := graph.SocketID(w.nextIno)
	w.objs[id] = &graph.Node{ID: id, Kind: graph.KindSocket, NetNS: 4026531840, Object: &graph.Object{
		Inode: w.nextIno, Name: fmt.Sprintf("socket:[%d]", w.nextIno),
		Socket: &graph.Socket{Family: "unix", Type: "stream", State: "established"}}}
	return id
}

// Pipe makes a pipe with its write end in a and its read end in b.
func (w *World) Pipe(a, b int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pa, pb := w.procs[a], w.procs[b]
	if pa == nil || pb == nil {
		return
	}
	w.nextIno++
	id := graph.PipeID(w.nextIno)
	w.objs[id] = &graph.Node{ID: id, Kind: graph.KindPipe, Object: &graph.Object{Inode: w.nextIno, Name: fmt.Sprintf("pipe:[%d]", w.nextIno)}}
	w.open(pa, lowestFree(pa), id, "w")
	w.open(pb, lowestFree(pb), id, "r")
}

// ReplaceWithSocket puts a new socket, connected to nothing, in place of fd
// n of pid, as closing a file and opening a socket that takes its number
// does: the fd count stays the same. It returns the socket's inode.
func (w *World) ReplaceWithSocket(pid, n int) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.procs[pid]
	if p == nil {
		return 0
	}
	id := w.socket()
	w.open(p, n, id, "rw")
	w.gc()
	return w.nextIno
}

// Close closes fd n of pid.
func (w *World) Close(pid, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.procs[pid]; p != nil {
		delete(p.fds, n)
	}
	w.gc()
}

// Seek moves the position of fd n of pid: a change only a full scan sees
// (the fd count stays the same).
func (w *World) Seek(pid, n int, pos int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.procs[pid]; p != nil && p.fds[n] != nil {
		p.fds[n].pos = pos
	}
}

// gc forgets objects no fd leads to.
func (w *World) gc() {
	used := map[string]bool{}
	for _, p := range w.procs {
		for _, o := range p.fds {
			used[o.obj] = true
		}
	}
	for id, n := range w.objs {
		if !used[id] && n.Kind != graph.KindChr {
			delete(w.objs, id)
			delete(w.peers, id)
		}
	}
}

// Step makes one random change: start, fork or stop a process, connect two,
// make a pipe, or close an fd. Init (pid 1) never stops.
func (w *World) Step(r *rand.Rand) {
	pids := w.PIDs()
	pick := func() int { return pids[r.IntN(len(pids))] }
	switch op := r.IntN(10); {
	case op < 2 || len(pids) < 3:
		w.Start(pick(), fmt.Sprintf("cmd%d", r.IntN(100)))
	case op < 3:
		w.Fork(pick())
	case op < 5:
		if pid := pick(); pid != 1 {
			w.Stop(pid)
		}
	case op < 7:
		w.Connect(pick(), pick())
	case op < 8:
		w.Pipe(pick(), pick())
	default:
		pid := pick()
		w.mu.Lock()
		var fds []int
		if p := w.procs[pid]; p != nil {
			for n := range p.fds {
				fds = append(fds, n)
			}
		}
		w.mu.Unlock()
		if len(fds) > 0 {
			slices.Sort(fds)
			w.Close(pid, fds[r.IntN(len(fds))])
		}
	}
}

// PIDs returns the pids of the World's processes, sorted.
func (w *World) PIDs() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int, 0, len(w.procs))
	for pid := range w.procs {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// Snapshot builds the graph of the World as it is now.
func (w *World) Snapshot() *graph.Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	var nodes []*graph.Node
	var edges []graph.Edge
	sharers := map[string]int{}
	for _, p := range w.procs {
		for _, o := range p.fds {
			sharers[o.id]++
		}
	}
	seenOFD := map[string]bool{}
	used := map[string]bool{}
	for _, p := range w.procs {
		pid := graph.ProcessID(p.pid, p.start)
		nodes = append(nodes, &graph.Node{ID: pid, Kind: graph.KindProcess, PID: p.pid, NetNS: 4026531840,
			Process: &graph.Process{PPID: p.ppid, Comm: p.comm, Cmdline: p.comm, User: "root", StartTime: p.start, FDCount: len(p.fds), TGID: p.tgid}})
		if l := w.procs[p.tgid]; l != nil {
			edges = append(edges, graph.Edge{From: graph.ProcessID(l.pid, l.start), To: pid, Kind: graph.EdgeThread})
		} else if pp := w.procs[p.ppid]; pp != nil {
			edges = append(edges, graph.Edge{From: graph.ProcessID(pp.pid, pp.start), To: pid, Kind: graph.EdgeChild})
		}
		for n, o := range p.fds {
			fd := graph.FDID(p.pid, p.start, n)
			nodes = append(nodes, &graph.Node{ID: fd, Kind: graph.KindFD, PID: p.pid, FD: &graph.FD{Num: n}})
			edges = append(edges, graph.Edge{From: pid, To: fd, Kind: graph.EdgeFD}, graph.Edge{From: fd, To: o.id, Kind: graph.EdgeOFD})
			if !seenOFD[o.id] {
				seenOFD[o.id] = true
				nodes = append(nodes, &graph.Node{ID: o.id, Kind: graph.KindOFD,
					OFD: &graph.OFD{Mode: o.mode, Flags: []string{flag(o.mode)}, Pos: o.pos, Sharers: sharers[o.id]}})
				edges = append(edges, graph.Edge{From: o.id, To: o.obj, Kind: graph.EdgeObject})
			}
			used[o.obj] = true
		}
	}
	for id := range used {
		nodes = append(nodes, w.objs[id])
		if p := w.peers[id]; p != "" && id < p && used[p] {
			edges = append(edges, graph.Edge{From: id, To: p, Kind: graph.EdgePeer})
		}
	}
	return graph.New(nodes, edges, graph.Stats{Processes: len(w.procs)})
}

func flag(mode string) string {
	switch mode {
	case "r":
		return "O_RDONLY"
	case "w":
		return "O_WRONLY"
	}
	return "O_RDWR"
}

// Scan implements live.Scanner.
func (w *World) Scan(ctx context.Context) (*graph.Snapshot, error) {
	w.mu.Lock()
	w.Scans++
	w.mu.Unlock()
	return w.Snapshot(), ctx.Err()
}

// Rescan implements live.Rescanner: it records pids and returns the World
// as it is (a fake need not merge).
func (w *World) Rescan(ctx context.Context, prev *graph.Snapshot, pids []int) (*graph.Snapshot, error) {
	w.mu.Lock()
	w.Rescans = append(w.Rescans, slices.Clone(pids))
	w.mu.Unlock()
	return w.Snapshot(), ctx.Err()
}

// Probe implements live.Prober: start times and fd counts, and sockets
// with ProbeSockets.
func (w *World) Probe(ctx context.Context) (*live.Probe, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := &live.Probe{Procs: make(map[int]live.ProcState, len(w.procs))}
	for pid, pr := range w.procs {
		p.Procs[pid] = live.ProcState{Start: pr.start, FDs: len(pr.fds)}
	}
	if w.ProbeSockets {
		p.Sockets = map[uint64]uint64{}
		for _, n := range w.objs {
			if n.Kind == graph.KindSocket {
				p.Sockets[n.Object.Inode] = 1
			}
		}
		for _, ino := range w.Hidden {
			p.Sockets[ino] = 1
		}
	}
	return p, ctx.Err()
}

var (
	_ live.Rescanner = (*World)(nil)
	_ live.Prober    = (*World)(nil)
)
