package hostmap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fdscope/fdscope/graph"
)

// machine builds snapshots by hand.
type machine struct {
	nodes []*graph.Node
	edges []graph.Edge
	objs  int
}

func st(pid int) uint64 { return 1000 + uint64(pid) }

func (m *machine) proc(pid, ppid int, comm, cgroup string, netns uint64) {
	m.nodes = append(m.nodes, &graph.Node{ID: graph.ProcessID(pid, st(pid)), Kind: graph.KindProcess, PID: pid, NetNS: netns,
		Process: &graph.Process{PPID: ppid, Comm: comm, StartTime: st(pid), Cgroup: cgroup}})
	if ppid > 0 {
		m.edges = append(m.edges, graph.Edge{From: graph.ProcessID(ppid, st(ppid)), To: graph.ProcessID(pid, st(pid)), Kind: graph.EdgeChild})
	}
}

func (m *machine) obj(kind graph.Kind, sock *graph.Socket) string {
	m.objs++
	id := string(kind) + ":[" + strconv.Itoa(m.objs) + "]"
	m.nodes = append(m.nodes, &graph.Node{ID: id, Kind: kind, Object: &graph.Object{Name: id, Socket: sock}})
	return id
}

// fd opens fd n of pid on a new description of obj with mode.
func (m *machine) fd(pid, n int, obj, mode string) string {
	ofd := graph.OFDID(pid, st(pid), n)
	m.nodes = append(m.nodes, &graph.Node{ID: ofd, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: mode, Sharers: 1}})
	m.edges = append(m.edges, graph.Edge{From: ofd, To: obj, Kind: graph.EdgeObject})
	m.share(pid, n, ofd)
	return ofd
}

func (m *machine) share(pid, n int, ofd string) {
	fd := graph.FDID(pid, st(pid), n)
	m.nodes = append(m.nodes, &graph.Node{ID: fd, Kind: graph.KindFD, PID: pid, FD: &graph.FD{Num: n}})
	m.edges = append(m.edges, graph.Edge{From: graph.ProcessID(pid, st(pid)), To: fd, Kind: graph.EdgeFD}, graph.Edge{From: fd, To: ofd, Kind: graph.EdgeOFD})
}

// pair connects fd n of a and fd k of b by a socket pair of the given family and protocol.
func (m *machine) pair(a, n, b, k int, sa, sb *graph.Socket) {
	x, y := m.obj(graph.KindSocket, sa), m.obj(graph.KindSocket, sb)
	m.fd(a, n, x, "rw")
	m.fd(b, k, y, "rw")
	m.edges = append(m.edges, graph.Edge{From: min(x, y), To: max(x, y), Kind: graph.EdgePeer})
}

func unix() *graph.Socket { return &graph.Socket{Family: "unix", Type: "stream", State: "established"} }
func tcp(local, remote, state string) *graph.Socket {
	return &graph.Socket{Family: "inet", Type: "stream", Protocol: "tcp", State: state, Local: local, Remote: remote}
}

func (m *machine) build() *Map {
	return Build(graph.NewIndex(graph.New(m.nodes, m.edges, graph.Stats{})))
}

// host is a machine with systemd (nginx.service: a master and two
// workers; postgres.service), a login session with a shell running a
// pipeline and a curl, a docker container, and a process in a network
// namespace of its own.
func host() *machine {
	m := &machine{}
	const ns, other = 4026531840, 4026532999
	m.proc(1, 0, "systemd", "/init.scope", ns)
	m.proc(10, 1, "nginx", "/system.slice/nginx.service", ns)
	m.proc(11, 10, "nginx", "/system.slice/nginx.service", ns)
	m.proc(12, 10, "nginx", "/system.slice/nginx.service", ns)
	m.proc(20, 1, "postgres", "/system.slice/postgresql.service", ns)
	m.proc(21, 20, "postgres", "/system.slice/postgresql.service", ns)
	m.proc(30, 1, "bash", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(31, 30, "cat", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(32, 30, "grep", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(33, 30, "curl", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(40, 1, "containerd-shim", "/system.slice/containerd.service", ns)
	m.proc(41, 40, "redis-server", "/system.slice/docker-0123456789abcdef0123.scope", other+1)
	m.proc(50, 30, "unshare", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(51, 50, "sleep", "/user.slice/user-1000.slice/session-2.scope", other)
	// bash's background jobs: two workers of one name are one group.
	m.proc(60, 30, "worker", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(61, 30, "worker", "/user.slice/user-1000.slice/session-2.scope", ns)
	m.proc(2, 0, "kthreadd", "/", ns) // kernel threads are no group
	m.proc(3, 2, "kworker/0:1", "/", ns)

	// nginx listens on :80 (the socket shared by master and workers).
	lis := m.fd(10, 6, m.obj(graph.KindSocket, tcp("0.0.0.0:80", "", "listen")), "rw")
	m.share(11, 6, lis)
	m.share(12, 6, lis)
	// Worker 11 talks to postgres 21 over unix, twice; worker 12 once.
	m.pair(11, 7, 21, 5, unix(), unix())
	m.pair(11, 8, 21, 6, unix(), unix())
	m.pair(12, 7, 21, 7, unix(), unix())
	// curl → nginx over loopback TCP.
	m.pair(33, 3, 12, 9, tcp("127.0.0.1:40000", "127.0.0.1:80", "established"), tcp("127.0.0.1:80", "127.0.0.1:40000", "established"))
	// A client from afar on :80, and nginx to an upstream.
	m.fd(11, 10, m.obj(graph.KindSocket, tcp("10.0.0.1:80", "203.0.113.5:51000", "established")), "rw")
	m.fd(12, 10, m.obj(graph.KindSocket, tcp("10.0.0.1:80", "203.0.113.5:51002", "established")), "rw")
	m.fd(12, 11, m.obj(graph.KindSocket, tcp("10.0.0.1:33000", "198.51.100.7:443", "established")), "rw")
	// cat | grep; bash holds the tty, not a connection.
	pipe := m.obj(graph.KindPipe, nil)
	m.fd(31, 1, pipe, "w")
	m.fd(32, 0, pipe, "r")
	// The shim holds the container's stdio pipe.
	p2 := m.obj(graph.KindPipe, nil)
	m.fd(41, 1, p2, "w")
	m.fd(40, 9, p2, "r")
	// grep also writes into a FIFO that sleep reads.
	fifo := m.obj(graph.KindFIFO, nil)
	m.fd(32, 1, fifo, "w")
	m.fd(51, 0, fifo, "r")
	return m
}

func TestBuild(t *testing.T) {
	got := host().build()
	want := &Map{
		Groups: []Group{
			{ID: "container:/system.slice/docker-0123456789abcdef0123.scope", Name: "docker 0123456789ab", Kind: KindContainer,
				Detail: "/system.slice/docker-0123456789abcdef0123.scope", PIDs: []int{41}, Comms: []string{"redis-server"}, Listen: []string{}},
			{ID: "netns:4026532999", Name: "sleep (netns)", Kind: KindNetNS, Detail: "net:[4026532999]", PIDs: []int{51}, Comms: []string{"sleep"}, Listen: []string{}},
			{ID: "pipeline:30:31", Name: "cat | grep", Kind: KindPipeline, Detail: "children of bash 30", PIDs: []int{31, 32}, Comms: []string{"cat", "grep"}, Listen: []string{}},
			{ID: "program:1", Name: "systemd", Kind: KindProgram, Detail: "systemd 1", PIDs: []int{1}, Comms: []string{"systemd"}, Listen: []string{}},
			{ID: "program:30", Name: "bash", Kind: KindProgram, Detail: "bash 30", PIDs: []int{30}, Comms: []string{"bash"}, Listen: []string{}},
			{ID: "program:30:worker", Name: "worker", Kind: KindProgram, Detail: "worker jobs of bash 30", PIDs: []int{60, 61}, Comms: []string{"worker"}, Listen: []string{}},
			{ID: "program:33", Name: "curl", Kind: KindProgram, Detail: "curl 33", PIDs: []int{33}, Comms: []string{"curl"}, Listen: []string{}},
			{ID: "program:50", Name: "unshare", Kind: KindProgram, Detail: "unshare 50", PIDs: []int{50}, Comms: []string{"unshare"}, Listen: []string{}},
			{ID: "remote:198.51.100.7:443", Name: "198.51.100.7:443", Kind: KindRemote, Detail: "198.51.100.7:443", PIDs: []int{}, Comms: []string{}, Listen: []string{}},
			{ID: "remote:203.0.113.5", Name: "clients from 203.0.113.5", Kind: KindRemote, Detail: "203.0.113.5", PIDs: []int{}, Comms: []string{}, Listen: []string{}},
			{ID: "unit:/system.slice/containerd.service", Name: "containerd.service", Kind: KindUnit, Detail: "/system.slice/containerd.service", PIDs: []int{40}, Comms: []string{"containerd-shim"}, Listen: []string{}},
			{ID: "unit:/system.slice/nginx.service", Name: "nginx.service", Kind: KindUnit, Detail: "/system.slice/nginx.service", PIDs: []int{10, 11, 12}, Comms: []string{"nginx"}, Listen: []string{"tcp 0.0.0.0:80"}},
			{ID: "unit:/system.slice/postgresql.service", Name: "postgresql.service", Kind: KindUnit, Detail: "/system.slice/postgresql.service", PIDs: []int{20, 21}, Comms: []string{"postgres"}, Listen: []string{}},
		},
		Links: []Link{
			{From: "container:/system.slice/docker-0123456789abcdef0123.scope", To: "unit:/system.slice/containerd.service", Count: 1, Via: []graph.Via{graph.ViaPipe}},
			{From: "netns:4026532999", To: "pipeline:30:31", Count: 1, Via: []graph.Via{graph.ViaFIFO}},
			{From: "program:33", To: "unit:/system.slice/nginx.service", Count: 1, Via: []graph.Via{graph.ViaTCP}},
			{From: "remote:198.51.100.7:443", To: "unit:/system.slice/nginx.service", Count: 1, Via: []graph.Via{graph.ViaTCP}},
			{From: "remote:203.0.113.5", To: "unit:/system.slice/nginx.service", Count: 2, Via: []graph.Via{graph.ViaTCP}},
			{From: "unit:/system.slice/nginx.service", To: "unit:/system.slice/postgresql.service", Count: 3, Via: []graph.Via{graph.ViaUnix}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("map (-want +got):\n%s", d)
	}
}

// TestBuildWithoutCgroups: a machine or container without systemd, where
// every process is in one cgroup (pid 1's), falls through to programs.
func TestBuildWithoutCgroups(t *testing.T) {
	m := &machine{}
	m.proc(1, 0, "tini", "/docker/abc", 5)
	m.proc(7, 1, "server", "/docker/abc", 5)
	m.proc(8, 7, "server", "/docker/abc", 5)
	m.proc(9, 1, "client", "/docker/abc", 5)
	m.pair(9, 3, 8, 4, unix(), unix())
	got := m.build()
	var ids []string
	for _, g := range got.Groups {
		ids = append(ids, g.ID+"="+fmt.Sprint(g.PIDs))
	}
	if d := cmp.Diff([]string{"program:1=[1]", "program:7=[7 8]", "program:9=[9]"}, ids); d != "" {
		t.Errorf("groups (-want +got):\n%s", d)
	}
	if len(got.Links) != 1 || got.Links[0].From != "program:7" || got.Links[0].To != "program:9" {
		t.Errorf("links = %+v, want program:7 — program:9", got.Links)
	}
}

func TestCgroupGroup(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"", ""},
		{"/", ""},
		{"/init.scope", ""},
		{"/user.slice/user-1000.slice/session-4.scope", ""},
		{"/user.slice/user-1000.slice/user@1000.service/init.scope", ""},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-123.scope", "unit:/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-123.scope"},
		{"/system.slice", ""},
		{"/system.slice/ssh.service", "unit:/system.slice/ssh.service"},
		{"/system.slice/docker-abc.scope", "container:/system.slice/docker-abc.scope"},
		{"/docker/abc/sub", "container:/docker/abc"},
		{"/kubepods.slice/kubepods-pod1.slice/cri-containerd-ff.scope", "container:/kubepods.slice/kubepods-pod1.slice/cri-containerd-ff.scope"},
		{"/lxc.payload.web", "container:/lxc.payload.web"},
		{"/batch/job7", "cgroup:/batch/job7"},
		{"/everything", ""},
	} {
		got := ""
		if g := cgroupGroup(tc.path, "/everything"); g != nil {
			got = g.ID
		}
		if got != tc.want {
			t.Errorf("cgroupGroup(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestBuildStable: the map does not depend on the order the snapshot was
// built in, and group IDs do not change when unrelated processes come and go.
func TestBuildStable(t *testing.T) {
	a := host()
	want := a.build()
	b := host()
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(b.nodes), func(i, j int) { b.nodes[i], b.nodes[j] = b.nodes[j], b.nodes[i] })
	if d := cmp.Diff(want, b.build()); d != "" {
		t.Errorf("shuffled (-want +got):\n%s", d)
	}
	c := host()
	c.proc(99, 1, "cron", "/system.slice/cron.service", 4026531840)
	got := c.build()
	if len(got.Groups) != len(want.Groups)+1 {
		t.Fatalf("%d groups with cron, want %d", len(got.Groups), len(want.Groups)+1)
	}
	for _, g := range want.Groups {
		if !containsGroup(got, g.ID) {
			t.Errorf("group %s vanished when cron started", g.ID)
		}
	}
}

func containsGroup(m *Map, id string) bool {
	for _, g := range m.Groups {
		if g.ID == id {
			return true
		}
	}
	return false
}

// Big builds a snapshot the size of the bench workload: procs processes
// with fds fds each, in groups of ten forked workers, joined by unix
// pairs, pipes and TCP connections, some to remote hosts.
func Big(procs, fds int) *graph.Snapshot {
	m := &machine{}
	m.proc(1, 0, "init", "", 1)
	r := rand.New(rand.NewPCG(3, 4))
	for p := 2; p <= procs; p++ {
		parent := 1
		if p%10 != 2 {
			parent = p - p%10 + 2
		}
		m.proc(p, parent, "svc"+strconv.Itoa(p/10), "", 1)
	}
	next := make([]int, procs+1)
	for p := range next {
		next[p] = 3
	}
	for p := 2; p <= procs; p++ {
		for next[p] < fds {
			switch r.IntN(4) {
			case 0:
				q := 2 + r.IntN(procs-1)
				if q == p || next[q] >= fds+fds/2 {
					m.fd(p, next[p], m.obj(graph.KindFile, nil), "r")
					next[p]++
					continue
				}
				m.pair(p, next[p], q, next[q], unix(), unix())
				next[p]++
				next[q]++
			case 1:
				q := 2 + r.IntN(procs-1)
				pipe := m.obj(graph.KindPipe, nil)
				m.fd(p, next[p], pipe, "w")
				m.fd(q, next[q]+fds, pipe, "r")
				next[p]++
			case 2:
				m.fd(p, next[p], m.obj(graph.KindSocket, tcp("10.0.0.1:"+strconv.Itoa(20000+next[p]), "192.0.2."+strconv.Itoa(r.IntN(50))+":443", "established")), "rw")
				next[p]++
			default:
				m.fd(p, next[p], m.obj(graph.KindFile, nil), "r")
				next[p]++
			}
		}
	}
	return graph.New(m.nodes, m.edges, graph.Stats{})
}

// BenchmarkBuild computes the map of a snapshot the size of the bench
// workload (501 processes, ~65k fds); issue 13 asks for ≤ 50 ms.
func BenchmarkBuild(b *testing.B) {
	s := Big(501, 100)
	b.Logf("%d nodes, %d edges", len(s.Nodes), len(s.Edges))
	x := graph.NewIndex(s)
	var m *Map
	for b.Loop() {
		m = Build(x)
	}
	b.ReportMetric(float64(len(m.Groups)), "groups")
	b.ReportMetric(float64(len(m.Links)), "links")
}

func indexOf(s *graph.Snapshot) *graph.Index { return graph.NewIndex(s) }

// FuzzCgroupGroup: any cgroup path makes a group with an ID of its kind,
// or none.
func FuzzCgroupGroup(f *testing.F) {
	for _, p := range []string{"/", "/system.slice/a.service", "/docker/abc", "/user.slice/user-1.slice/session-2.scope", "/lxc.payload.x", "//", "/a//b.scope/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		g := cgroupGroup(path, "/everything")
		if g == nil {
			return
		}
		if g.Name == "" || !strings.HasPrefix(g.ID, g.Kind+":") {
			t.Fatalf("cgroupGroup(%q) = %+v: no name, or an ID not of its kind", path, g)
		}
	})
}

// A pipe whose write end every process of a session inherited (a harness
// reading it to see when they have all exited) links nothing; a pipe
// between two programs does.
func TestInheritedPipe(t *testing.T) {
	m := &machine{}
	m.proc(1, 0, "systemd", "/init.scope", 1)
	m.proc(10, 1, "harness", "/harness.service", 1)
	p := m.obj(graph.KindPipe, nil)
	m.fd(10, 250, p, "r")
	w := ""
	for i, comm := range []string{"nginx", "redis-server", "perl", "postgres", "sshd", "cron"} {
		pid := 100 + i
		m.proc(pid, 10, comm, "/"+comm+".service", 1)
		if w == "" {
			w = m.fd(pid, 251, p, "w")
		} else {
			m.share(pid, 251, w)
		}
	}
	q := m.obj(graph.KindPipe, nil)
	m.fd(100, 3, q, "w")
	m.fd(101, 0, q, "r")
	mp := m.build()
	for _, l := range mp.Links {
		if strings.Contains(l.From+l.To, "harness") {
			t.Errorf("a link to the harness through the inherited pipe: %+v", l)
		}
	}
	if len(mp.Links) != 1 {
		t.Errorf("links %+v, want one: nginx → redis-server", mp.Links)
	}
}

// TestHostNetNSIsTheInitialOne: pid 1's namespace cannot be read (a
// sandbox's init denies it even to root) and a workload in a namespace of
// its own runs more processes than the host: the host's namespace is still
// the kernel's initial one, whose processes are not folded into one netns
// group, and the workload's namespace is a group.
func TestHostNetNSIsTheInitialOne(t *testing.T) {
	const work = 4026532999
	m := &machine{}
	m.proc(1, 0, "init", "", 0) // namespace denied
	m.proc(10, 1, "nginx", "", initNetNS)
	m.proc(20, 1, "redis-server", "", initNetNS)
	for pid := 100; pid < 110; pid++ {
		m.proc(pid, 1, "worker", "", work)
	}
	got := m.build()
	var ids []string
	for _, g := range got.Groups {
		ids = append(ids, g.ID)
	}
	for _, want := range []string{"program:10", "program:20", "netns:" + strconv.Itoa(work)} {
		if !slices.Contains(ids, want) {
			t.Errorf("no group %s in %v", want, ids)
		}
	}
	if slices.Contains(ids, "netns:"+strconv.Itoa(initNetNS)) {
		t.Errorf("the host's own namespace is a group: %v", ids)
	}
}

// TestHubHosts: in a hub's merged graph, where pids repeat across hosts,
// each group names the host of each of its pids, in the pids' order; on
// one host it names none.
func TestHubHosts(t *testing.T) {
	m := &machine{}
	for _, host := range []string{"beta", "alpha"} {
		for _, pid := range []int{300, 100} {
			id := host + "/" + graph.ProcessID(pid, st(pid))
			m.nodes = append(m.nodes, &graph.Node{ID: id, Kind: graph.KindProcess, PID: pid,
				Process: &graph.Process{PPID: 0, Comm: "worker", StartTime: st(pid), Host: host}})
		}
	}
	var pids []int
	var hosts []string
	for _, g := range m.build().Groups {
		for i, pid := range g.PIDs {
			if len(g.Hosts) != len(g.PIDs) {
				t.Fatalf("group %s: %d pids, %d hosts", g.ID, len(g.PIDs), len(g.Hosts))
			}
			pids, hosts = append(pids, pid), append(hosts, g.Hosts[i])
		}
	}
	slices.Sort(pids)
	if !slices.Equal(pids, []int{100, 100, 300, 300}) || !slices.Contains(hosts, "alpha") || !slices.Contains(hosts, "beta") {
		t.Errorf("pids %v, hosts %v", pids, hosts)
	}
	for _, g := range host().build().Groups {
		if len(g.Hosts) != 0 {
			t.Errorf("one host: group %s names hosts %v", g.ID, g.Hosts)
		}
	}
}

// TestThreadWithOwnTable: a thread with an fd table of its own (a process
// node with a TGID) is not a process of the map; what its fds connect, its
// process connects.
func TestThreadWithOwnTable(t *testing.T) {
	m := &machine{}
	m.proc(1, 0, "systemd", "/init.scope", 1)
	m.proc(70, 1, "app", "/app.service", 1)
	m.proc(80, 1, "peer", "/peer.service", 1)
	// The thread: its own node, the child of nobody, a thread edge from
	// its process.
	m.nodes = append(m.nodes, &graph.Node{ID: graph.ProcessID(71, st(71)), Kind: graph.KindProcess, PID: 71, NetNS: 1,
		Process: &graph.Process{PPID: 1, Comm: "app-worker", StartTime: st(71), Cgroup: "/app.service", TGID: 70}})
	m.edges = append(m.edges, graph.Edge{From: graph.ProcessID(70, st(70)), To: graph.ProcessID(71, st(71)), Kind: graph.EdgeThread})
	m.pair(71, 3, 80, 4, unix(), unix())
	mp := m.build()
	for _, g := range mp.Groups {
		if slices.Contains(g.PIDs, 71) || slices.Contains(g.Comms, "app-worker") {
			t.Errorf("the thread is a process of group %+v", g)
		}
	}
	want := []Link{{From: "unit:/app.service", To: "unit:/peer.service", Count: 1, Via: []graph.Via{graph.ViaUnix}}}
	if d := cmp.Diff(want, mp.Links); d != "" {
		t.Errorf("links (-want +got):\n%s", d)
	}
}
