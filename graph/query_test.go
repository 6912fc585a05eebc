package graph

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// machine builds snapshots by hand for the query tests.
type machine struct {
	nodes []*Node
	edges []Edge
}

func (m *machine) proc(pid, ppid int, comm string) string {
	id := ProcessID(pid, 1000+uint64(pid))
	m.nodes = append(m.nodes, &Node{ID: id, Kind: KindProcess, PID: pid,
		Process: &Process{PPID: ppid, Comm: comm, User: "root", StartTime: 1000 + uint64(pid)}})
	return id
}

func (m *machine) obj(id string, kind Kind, sock *Socket) string {
	m.nodes = append(m.nodes, &Node{ID: id, Kind: kind, Object: &Object{Name: id, Socket: sock}})
	return id
}

// fd opens fd number n of proc pid on a new description of obj (read and
// write) and returns the description's ID.
func (m *machine) fd(pid, n int, obj string) string { return m.fdMode(pid, n, obj, "rw") }

// fdMode opens fd number n of proc pid on a new description of obj with the
// given mode ("r", "w", "rw") and returns the description's ID.
func (m *machine) fdMode(pid, n int, obj, mode string) string {
	st := 1000 + uint64(pid)
	ofd := OFDID(pid, st, n)
	flag := map[string]string{"r": "O_RDONLY", "w": "O_WRONLY", "rw": "O_RDWR"}[mode]
	m.nodes = append(m.nodes, &Node{ID: ofd, Kind: KindOFD, OFD: &OFD{Mode: mode, Flags: []string{flag}, Sharers: 1}})
	m.edges = append(m.edges, Edge{From: ofd, To: obj, Kind: EdgeObject})
	m.share(pid, n, ofd)
	return ofd
}

// share makes fd number n of proc pid point at an existing description.
func (m *machine) share(pid, n int, ofd string) {
	st := 1000 + uint64(pid)
	fd := FDID(pid, st, n)
	m.nodes = append(m.nodes, &Node{ID: fd, Kind: KindFD, PID: pid, FD: &FD{Num: n}})
	m.edges = append(m.edges, Edge{From: ProcessID(pid, st), To: fd, Kind: EdgeFD}, Edge{From: fd, To: ofd, Kind: EdgeOFD})
}

func (m *machine) peer(a, b string) {
	if b < a {
		a, b = b, a
	}
	m.edges = append(m.edges, Edge{From: a, To: b, Kind: EdgePeer})
}

func (m *machine) snapshot() *Snapshot { return New(m.nodes, m.edges, Stats{Processes: 1}) }

// testMachine is a server (pid 100) with a worker it forked (600), a unix
// client (200), a pipe reader (300), a process reading the same log file
// (400), a TCP client (500), and /dev/null open in two processes.
func testMachine() *machine {
	m := &machine{}
	server := m.proc(100, 1, "server")
	m.proc(200, 1, "client")
	m.proc(300, 100, "reader")
	m.proc(400, 1, "tail")
	m.proc(500, 1, "curl")
	worker := m.proc(600, 100, "worker")
	m.edges = append(m.edges, Edge{From: server, To: worker, Kind: EdgeChild})

	tty := m.fd(100, 0, m.obj("chr:0:25:3", KindChr, nil))
	m.share(600, 0, tty)
	lis := m.obj("socket:[10]", KindSocket, &Socket{Family: "unix", Type: "stream", State: "listen", Local: "/tmp/server.sock"})
	m.fd(100, 3, lis)
	acc := m.obj("socket:[11]", KindSocket, &Socket{Family: "unix", Type: "stream", State: "established", Local: "/tmp/server.sock"})
	m.fd(100, 4, acc)
	m.edges = append(m.edges, Edge{From: lis, To: acc, Kind: EdgeAccepted})
	cli := m.obj("socket:[12]", KindSocket, &Socket{Family: "unix", Type: "stream", State: "established"})
	m.fd(200, 3, cli)
	m.peer(acc, cli)
	pipe := m.obj("pipe:[20]", KindPipe, nil)
	m.fdMode(100, 5, pipe, "w")
	m.fdMode(300, 0, pipe, "r")
	log := m.obj("file:8:1:77", KindFile, nil)
	m.fd(100, 6, log)
	m.fd(400, 3, log)
	t1 := m.obj("socket:[30]", KindSocket, &Socket{Family: "inet", Type: "stream", Protocol: "tcp", Local: "127.0.0.1:8080", Remote: "127.0.0.1:40000"})
	t2 := m.obj("socket:[31]", KindSocket, &Socket{Family: "inet", Type: "stream", Protocol: "tcp", Local: "127.0.0.1:40000", Remote: "127.0.0.1:8080"})
	m.fd(100, 7, t1)
	m.fd(500, 5, t2)
	m.peer(t1, t2)
	null := m.obj("chr:0:5:4", KindChr, nil)
	m.fd(100, 8, null)
	m.fd(200, 0, null)
	return m
}

func TestPeers(t *testing.T) {
	x := NewIndex(testMachine().snapshot())
	got := x.Peers(100)
	type row struct {
		FD      int
		PeerPID int
		PeerFD  int
		Via     Via
		Rel     Relation
		Kind    Kind
	}
	var rows []row
	for _, p := range got {
		rows = append(rows, row{p.FD, p.PeerPID, p.PeerFD, p.Via, p.Relation, p.Kind})
	}
	want := []row{
		{0, 600, 0, ViaSharedOFD, RelShared, KindChr},
		{4, 200, 3, ViaUnix, RelConnection, KindSocket},
		{5, 300, 0, ViaPipe, RelConnection, KindPipe},
		{6, 400, 3, ViaFile, RelSameObject, KindFile},
		{7, 500, 5, ViaTCP, RelConnection, KindSocket},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("Peers(100) (-want +got):\n%s", d)
	}
	if got[1].PeerComm != "client" || got[1].Object != "socket:[11]" || got[1].PeerObject != "socket:[12]" ||
		got[1].PeerProcess != ProcessID(200, 1200) {
		t.Errorf("unix peer row = %+v", got[1])
	}

	// The relation is symmetric.
	back := x.Peers(200)
	if len(back) != 1 || back[0].PeerPID != 100 || back[0].PeerFD != 4 || back[0].Via != ViaUnix {
		t.Errorf("Peers(200) = %+v, want the server's fd 4 only", back)
	}
	if p := x.Peers(999); p != nil {
		t.Errorf("Peers(999) = %v, want nil", p)
	}
	if p := NewIndex(nil).Peers(1); p != nil {
		t.Errorf("Peers on an empty snapshot = %v", p)
	}
}

func TestFocus(t *testing.T) {
	s := testMachine().snapshot()
	f := NewIndex(s).Focus(100)
	if f == nil {
		t.Fatal("Focus(100) = nil")
	}
	var ids []string
	for _, n := range f.Nodes {
		ids = append(ids, n.ID)
	}
	want := []string{
		"chr:0:25:3", "chr:0:5:4",
		"fd:100:1100:0", "fd:100:1100:3", "fd:100:1100:4", "fd:100:1100:5", "fd:100:1100:6", "fd:100:1100:7", "fd:100:1100:8",
		"fd:200:1200:3", "fd:300:1300:0", "fd:400:1400:3", "fd:500:1500:5", "fd:600:1600:0",
		"file:8:1:77",
		"ofd:100:1100:0", "ofd:100:1100:3", "ofd:100:1100:4", "ofd:100:1100:5", "ofd:100:1100:6", "ofd:100:1100:7", "ofd:100:1100:8",
		"ofd:200:1200:3", "ofd:300:1300:0", "ofd:400:1400:3", "ofd:500:1500:5",
		"pipe:[20]",
		"proc:100:1100", "proc:200:1200", "proc:300:1300", "proc:400:1400", "proc:500:1500", "proc:600:1600",
		"socket:[10]", "socket:[11]", "socket:[12]", "socket:[30]", "socket:[31]",
	}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("Focus(100) nodes (-want +got):\n%s", d)
	}
	// Every edge of the snapshot between two focus nodes is kept: the
	// child edge, the accepted edge, both peer edges; and no other.
	in := map[string]bool{}
	for _, id := range ids {
		in[id] = true
	}
	var wantEdges []Edge
	for _, e := range s.Edges {
		if in[e.From] && in[e.To] {
			wantEdges = append(wantEdges, e)
		}
	}
	if d := cmp.Diff(wantEdges, f.Edges); d != "" {
		t.Errorf("Focus(100) edges (-want +got):\n%s", d)
	}
	for _, k := range []EdgeKind{EdgeChild, EdgeAccepted, EdgePeer} {
		if !slices.ContainsFunc(f.Edges, func(e Edge) bool { return e.Kind == k }) {
			t.Errorf("Focus(100) lacks a %s edge", k)
		}
	}
	// /dev/null held by the client is not a connection: its fd 0 stays out.
	if f.Node("fd:200:1200:0") != nil {
		t.Error("Focus(100) holds the client's /dev/null fd")
	}
	if NewIndex(s).Focus(12345) != nil {
		t.Error("Focus of an unknown pid is not nil")
	}
	if f.Stats.Processes != 1 {
		t.Errorf("Focus stats = %+v, want the snapshot's", f.Stats)
	}
}

func TestProcesses(t *testing.T) {
	x := NewIndex(testMachine().snapshot())
	rows := x.Processes()
	var pids []int
	for _, r := range rows {
		pids = append(pids, r.PID)
	}
	if d := cmp.Diff([]int{100, 200, 300, 400, 500, 600}, pids); d != "" {
		t.Fatalf("pids (-want +got):\n%s", d)
	}
	want := ProcessRow{ID: "proc:100:1100", PID: 100, PPID: 1, Comm: "server", User: "root", Sockets: 3, Pipes: 1, Peers: 5,
		Connections: 3, SharedWith: 2}
	if d := cmp.Diff(want, rows[0]); d != "" {
		t.Errorf("server row (-want +got):\n%s", d)
	}
	if rows[1].Peers != 1 || rows[1].Sockets != 1 {
		t.Errorf("client row = %+v, want 1 socket, 1 peer", rows[1])
	}
	if r, ok := x.Row(600); !ok || r.Peers != 1 {
		t.Errorf("Row(600) = %+v, %v", r, ok)
	}
	if _, ok := x.Row(7); ok {
		t.Error("Row(7) found a process")
	}
	b, err := json.Marshal(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"id":"proc:100:1100","pid":100,"ppid":1,"comm":"server","user":"root","uid":0,"fd_count":0,"sockets":3,"pipes":1,"peers":5,"connections":3,"shared_with":2}`
	if string(b) != wantJSON {
		t.Errorf("row JSON = %s\nwant %s", b, wantJSON)
	}
}

func TestDiffRows(t *testing.T) {
	a := NewIndex(testMachine().snapshot()).Processes()
	m := testMachine()
	m.proc(700, 1, "new")
	// The reader goes away: drop its nodes.
	m.nodes = slices.DeleteFunc(m.nodes, func(n *Node) bool { return n.PID == 300 })
	b := NewIndex(m.snapshot()).Processes()
	c := DiffRows(a, b)
	var changed []int
	for _, r := range c.Changed {
		changed = append(changed, r.PID)
	}
	// The server lost a peer; 700 is new; 300 is gone.
	if d := cmp.Diff([]int{100, 700}, changed); d != "" {
		t.Errorf("changed (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"proc:300:1300"}, c.Removed); d != "" {
		t.Errorf("removed (-want +got):\n%s", d)
	}
	if d := cmp.Diff(b, ApplyRows(a, c)); d != "" {
		t.Errorf("ApplyRows (-want +got):\n%s", d)
	}
	if !DiffRows(b, b).Empty() {
		t.Error("DiffRows of a list with itself is not empty")
	}
}

func TestEdgesTo(t *testing.T) {
	x := NewIndex(testMachine().snapshot())
	var from []string
	for e := range x.EdgesTo("pipe:[20]", EdgeObject) {
		from = append(from, e.From)
	}
	if d := cmp.Diff([]string{"ofd:100:1100:5", "ofd:300:1300:0"}, from); d != "" {
		t.Errorf("EdgesTo(pipe) (-want +got):\n%s", d)
	}
	for range x.EdgesTo("pipe:[20]", EdgePeer) {
		t.Error("a peer edge into the pipe")
	}
}

func TestHolderAndPeerPIDs(t *testing.T) {
	x := NewIndex(testMachine().snapshot())
	if d := cmp.Diff([]int{100, 300}, x.HolderPIDs("pipe:[20]")); d != "" {
		t.Errorf("HolderPIDs(pipe) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{100, 600}, x.HolderPIDs("chr:0:25:3")); d != "" {
		t.Errorf("HolderPIDs(tty) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{100}, x.HolderPIDs("socket:[11]")); d != "" {
		t.Errorf("HolderPIDs(socket) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{200, 500}, x.SocketPeerPIDs(100)); d != "" {
		t.Errorf("SocketPeerPIDs(100) (-want +got):\n%s", d)
	}
	if NewIndex(nil).SocketPeerPIDs(1) != nil || x.SocketPeerPIDs(99999) != nil {
		t.Error("SocketPeerPIDs of an empty snapshot or an unknown pid")
	}
	if got := x.HolderPIDs("socket:[999]"); got != nil {
		t.Errorf("HolderPIDs(unknown) = %v", got)
	}
	if d := cmp.Diff([]int{200, 300, 400, 500, 600}, x.PeerPIDs(100)); d != "" {
		t.Errorf("PeerPIDs(100) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{200, 500}, x.SocketPeerPIDs(100)); d != "" {
		t.Errorf("SocketPeerPIDs(100) (-want +got):\n%s", d)
	}
	if got := x.SocketPeerPIDs(300); len(got) != 0 {
		t.Errorf("SocketPeerPIDs(300) = %v, want none (a pipe reader)", got)
	}
	// Processes and PeerPIDs agree on the counts.
	for _, r := range x.Processes() {
		if r.Peers != len(x.PeerPIDs(r.PID)) {
			t.Errorf("pid %d: row says %d peers, PeerPIDs %v", r.PID, r.Peers, x.PeerPIDs(r.PID))
		}
		distinct := map[int]bool{}
		for _, p := range x.Peers(r.PID) {
			distinct[p.PeerPID] = true
		}
		if len(distinct) != r.Peers {
			t.Errorf("pid %d: row says %d peers, Peers lists %d", r.PID, r.Peers, len(distinct))
		}
	}
}

// randomMachine builds a machine of n processes whose fds lead, at random,
// to shared descriptions, shared pipes, files and devices, and to sockets
// joined by peer edges.
func randomMachine(r *rand.Rand, n int) *machine {
	m := &machine{}
	for pid := 1; pid <= n; pid++ {
		m.proc(pid, 1, "p"+strconv.Itoa(pid))
	}
	var ofds []string
	objs := []string{
		m.obj("pipe:[1]", KindPipe, nil), m.obj("pipe:[2]", KindPipe, nil), m.obj("fifo:0:1:3", KindFIFO, nil),
		m.obj("file:8:1:4", KindFile, nil), m.obj("chr:0:5:5", KindChr, nil), m.obj("dir:8:1:6", KindDir, nil),
	}
	var socks []string
	for i := range 2 * n {
		id := SocketID(uint64(100 + i))
		socks = append(socks, m.obj(id, KindSocket, &Socket{Family: []Family{FamilyUnix, FamilyInet}[i/2%2], Protocol: "tcp"}))
	}
	for i := 0; i+1 < len(socks); i += 2 {
		if r.IntN(3) > 0 {
			m.peer(socks[i], socks[i+1])
		}
	}
	used := map[string]bool{}
	for pid := 1; pid <= n; pid++ {
		for fd := range r.IntN(8) {
			switch k := r.IntN(4); {
			case k == 0 && len(ofds) > 0:
				m.share(pid, fd, ofds[r.IntN(len(ofds))])
			case k == 1:
				s := socks[r.IntN(len(socks))]
				if !used[s] { // a socket has one description
					used[s] = true
					ofds = append(ofds, m.fd(pid, fd, s))
				}
			default:
				ofds = append(ofds, m.fd(pid, fd, objs[r.IntN(len(objs))]))
			}
		}
	}
	return m
}

// TestPeersProperties checks, on random machines, that the peer relation is
// symmetric, that the process rows, PeerPIDs and Peers agree, and that the
// focus subgraph holds every peer with its fd, description and object.
func TestPeersProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		s := randomMachine(r, 2+r.IntN(12)).snapshot()
		x := NewIndex(s)
		rows := x.Processes()
		for _, row := range rows {
			peers := x.Peers(row.PID)
			distinct := map[int]bool{}
			for _, p := range peers {
				distinct[p.PeerPID] = true
				back := slices.ContainsFunc(x.Peers(p.PeerPID), func(q Peer) bool {
					return q.PeerPID == row.PID && q.FD == p.PeerFD && q.PeerFD == p.FD && q.Via == p.Via
				})
				if !back {
					t.Fatalf("round %d: %d→%d %+v has no way back", round, row.PID, p.PeerPID, p)
				}
			}
			if row.Peers != len(distinct) || row.Peers != len(x.PeerPIDs(row.PID)) {
				t.Fatalf("round %d pid %d: row %d peers, Peers %d, PeerPIDs %d", round, row.PID, row.Peers, len(distinct), len(x.PeerPIDs(row.PID)))
			}
			if d := cmp.Diff(x.socketPeerPIDsByTables(row.PID), x.SocketPeerPIDs(row.PID)); d != "" {
				t.Fatalf("round %d pid %d: SocketPeerPIDs (-tables +walk):\n%s", round, row.PID, d)
			}
			f := x.Focus(row.PID)
			for _, p := range peers {
				for _, id := range []string{p.PeerProcess, p.PeerObject, p.Object, FDID(p.PeerPID, 1000+uint64(p.PeerPID), p.PeerFD)} {
					if f.Node(id) == nil {
						t.Fatalf("round %d: focus of %d lacks %s (peer %+v)", round, row.PID, id, p)
					}
				}
			}
			for _, e := range f.Edges {
				if f.Node(e.From) == nil || f.Node(e.To) == nil {
					t.Fatalf("dangling edge %v", e)
				}
			}
		}
	}
}

// TestIndexDanglingEdges indexes a snapshot not built by New (as a decoded
// one may be), whose edges name nodes it does not hold: they are ignored.
func TestIndexDanglingEdges(t *testing.T) {
	s := testMachine().snapshot()
	bad := &Snapshot{Nodes: s.Nodes, Stats: s.Stats}
	bad.Edges = append(bad.Edges, Edge{From: "aaa", To: "proc:100:1100", Kind: EdgeChild})
	bad.Edges = append(bad.Edges, s.Edges...)
	bad.Edges = append(bad.Edges, Edge{From: "proc:100:1100", To: "zzz", Kind: EdgeFD}, Edge{From: "zzz", To: "proc:100:1100", Kind: EdgeChild})
	slices.SortFunc(bad.Edges, compareEdges)
	x := NewIndex(bad)
	want := NewIndex(s)
	if d := cmp.Diff(want.Processes(), x.Processes()); d != "" {
		t.Errorf("Processes (-clean +dangling):\n%s", d)
	}
	if d := cmp.Diff(want.Peers(100), x.Peers(100)); d != "" {
		t.Errorf("Peers (-clean +dangling):\n%s", d)
	}
	if !Equal(want.Focus(100), x.Focus(100)) {
		t.Error("Focus differs")
	}
}

// pipelineMachine is a shell (pid 10) that ran `a | b` (11, 12) with
// their other stdio its tty, a FIFO with two readers that opened it
// separately (20, 21) and a writer (22), and one reader and writer of a
// FIFO opened read-write (30, 31).
func pipelineMachine() *machine {
	m := &machine{}
	for _, p := range []struct {
		pid, ppid int
		comm      string
	}{{10, 1, "sh"}, {11, 10, "a"}, {12, 10, "b"}, {20, 1, "r1"}, {21, 1, "r2"}, {22, 1, "w"}, {30, 1, "rw1"}, {31, 1, "rw2"}} {
		m.proc(p.pid, p.ppid, p.comm)
	}
	tty := m.fd(10, 0, m.obj("chr:0:136:0", KindChr, nil))
	m.share(11, 0, tty)
	m.share(11, 2, tty)
	m.share(12, 1, tty)
	m.share(12, 2, tty)
	pipe := m.obj("pipe:[40]", KindPipe, nil)
	m.fdMode(11, 1, pipe, "w")
	m.fdMode(12, 0, pipe, "r")
	fifo := m.obj("fifo:8:1:50", KindFIFO, nil)
	m.fdMode(20, 3, fifo, "r")
	m.fdMode(21, 3, fifo, "r")
	m.fdMode(22, 3, fifo, "w")
	both := m.obj("fifo:8:1:51", KindFIFO, nil)
	m.fdMode(30, 3, both, "rw")
	m.fdMode(31, 3, both, "r")
	return m
}

func TestRelations(t *testing.T) {
	x := NewIndex(pipelineMachine().snapshot())
	type row struct {
		FD, PeerPID, PeerFD int
		Rel                 Relation
	}
	rowsOf := func(pid int) []row {
		var out []row
		for _, p := range x.Peers(pid) {
			out = append(out, row{p.FD, p.PeerPID, p.PeerFD, p.Relation})
		}
		return out
	}
	for _, tc := range []struct {
		pid  int
		want []row
	}{
		// a writes into the pipe b reads: a connection; the tty its
		// parent gave both is only shared.
		{11, []row{{0, 10, 0, RelShared}, {0, 12, 1, RelShared}, {0, 12, 2, RelShared}, {1, 12, 0, RelConnection},
			{2, 10, 0, RelShared}, {2, 12, 1, RelShared}, {2, 12, 2, RelShared}}},
		{12, []row{{0, 11, 1, RelConnection}, {1, 10, 0, RelShared}, {1, 11, 0, RelShared}, {1, 11, 2, RelShared},
			{2, 10, 0, RelShared}, {2, 11, 0, RelShared}, {2, 11, 2, RelShared}}},
		// Two readers of one FIFO hold the same object; the writer is their connection.
		{20, []row{{3, 21, 3, RelSameObject}, {3, 22, 3, RelConnection}}},
		{22, []row{{3, 20, 3, RelConnection}, {3, 21, 3, RelConnection}}},
		// A read-write description writes what a reader reads.
		{31, []row{{3, 30, 3, RelConnection}}},
		{30, []row{{3, 31, 3, RelConnection}}},
	} {
		if d := cmp.Diff(tc.want, rowsOf(tc.pid)); d != "" {
			t.Errorf("Peers(%d) (-want +got):\n%s", tc.pid, d)
		}
	}
	// The process rows count what the peer rows say, on both machines.
	for _, m := range []*machine{testMachine(), pipelineMachine()} {
		x := NewIndex(m.snapshot())
		for _, r := range x.Processes() {
			conn, shared, all := map[int]bool{}, map[int]bool{}, map[int]bool{}
			for _, p := range x.Peers(r.PID) {
				all[p.PeerPID] = true
				if p.Relation == RelConnection {
					conn[p.PeerPID] = true
				} else {
					shared[p.PeerPID] = true
				}
			}
			if r.Connections != len(conn) || r.SharedWith != len(shared) || r.Peers != len(all) {
				t.Errorf("pid %d: row says %d connections, shared with %d, %d peers; rows say %d, %d, %d",
					r.PID, r.Connections, r.SharedWith, r.Peers, len(conn), len(shared), len(all))
			}
			if d := cmp.Diff(sortedKeysInt(conn), x.ConnectionPIDs(r.PID)); d != "" {
				t.Errorf("ConnectionPIDs(%d) (-rows +got):\n%s", r.PID, d)
			}
		}
	}
}

func sortedKeysInt(m map[int]bool) []int {
	out := []int{}
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// The focus subgraph holds what its inotify instance watches, though no
// process holds it open, with the watch edge.
func TestFocusWatches(t *testing.T) {
	m := testMachine()
	ino := m.obj("anon:inotify:"+OFDID(400, 1400, 9), KindAnon, nil)
	m.fd(400, 9, ino)
	dir := m.obj("dir:8:1:500", KindDir, nil)
	m.edges = append(m.edges, Edge{From: ino, To: dir, Kind: EdgeWatch})
	f := NewIndex(m.snapshot()).Focus(400)
	if f.Node(dir) == nil || !slices.Contains(f.Edges, Edge{From: ino, To: dir, Kind: EdgeWatch}) {
		t.Errorf("Focus(400) lacks the watched directory or its watch edge: %v", f.Edges)
	}
	if NewIndex(m.snapshot()).Focus(100).Node(dir) != nil {
		t.Error("Focus(100) holds a directory only pid 400 watches")
	}
}

// TestProcessOn: in a merged graph whose hosts share a pid, ProcessOn,
// FocusOn and PeersOn name the host's process; Process and host "" the
// one that started last.
func TestProcessOn(t *testing.T) {
	proc := func(host string, start uint64) *Node {
		return &Node{ID: host + "/" + ProcessID(7, start), Kind: KindProcess, PID: 7, Process: &Process{Comm: host, StartTime: start, Host: host}}
	}
	x := NewIndex(New([]*Node{proc("a", 5), proc("b", 9)}, nil, Stats{}))
	for host, want := range map[string]string{"": "b/proc:7:9", "a": "a/proc:7:5", "b": "b/proc:7:9"} {
		if n := x.ProcessOn(host, 7); n == nil || n.ID != want {
			t.Errorf("ProcessOn(%q, 7) = %v, want %s", host, n, want)
		}
		if f := x.FocusOn(host, 7); f == nil || len(f.Nodes) != 1 || f.Nodes[0].ID != want {
			t.Errorf("FocusOn(%q, 7) = %v, want %s alone", host, f, want)
		}
		if p := x.PeersOn(host, 7); p == nil || len(p) != 0 {
			t.Errorf("PeersOn(%q, 7) = %v, want none", host, p)
		}
	}
	if x.Process(7).ID != "b/proc:7:9" {
		t.Errorf("Process(7) = %s", x.Process(7).ID)
	}
	if x.ProcessOn("c", 7) != nil || x.FocusOn("c", 7) != nil || x.PeersOn("c", 7) != nil || x.ProcessOn("a", 8) != nil {
		t.Error("a host without the pid has a process")
	}
}

// TestFocusThreads: the focus of a process holds its threads with an fd
// table of their own, and the focus of such a thread its process.
func TestFocusThreads(t *testing.T) {
	m := testMachine()
	leader := m.proc(700, 1, "daemon")
	thread := m.proc(701, 1, "worker-thread")
	m.nodes[len(m.nodes)-1].Process.TGID = 700
	m.edges = append(m.edges, Edge{From: leader, To: thread, Kind: EdgeThread})
	x := NewIndex(m.snapshot())
	if f := x.Focus(700); f.Node(thread) == nil || !slices.Contains(f.Edges, Edge{From: leader, To: thread, Kind: EdgeThread}) {
		t.Errorf("Focus(700) lacks its thread: %v", f.Nodes)
	}
	if f := x.Focus(701); f.Node(leader) == nil {
		t.Errorf("Focus(701) lacks its process: %v", f.Nodes)
	}
	rows := x.Processes()
	if i := slices.IndexFunc(rows, func(r ProcessRow) bool { return r.PID == 701 }); i < 0 || rows[i].TGID != 700 {
		t.Errorf("the thread's row: want tgid 700 in %+v", rows)
	}
}

// TestSnapshotIndexShared checks that a snapshot's index is built once and
// shared by concurrent callers (run with -race).
func TestSnapshotIndexShared(t *testing.T) {
	s := testMachine().snapshot()
	got := make([]*Index, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = s.Index() })
	}
	wg.Wait()
	for _, x := range got {
		if x != got[0] || x == nil {
			t.Fatalf("Index() returned %p and %p", got[0], x)
		}
	}
	if d := cmp.Diff([]int{200, 500}, s.Index().SocketPeerPIDs(100)); d != "" {
		t.Errorf("SocketPeerPIDs(100) of the shared index (-want +got):\n%s", d)
	}
	var none *Snapshot
	if none.Index() == nil || none.Index().Process(1) != nil {
		t.Error("the index of a nil snapshot is not an empty one")
	}
}
