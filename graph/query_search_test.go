package graph

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func searchMachine() *Snapshot {
	m := testMachine()
	for _, n := range m.nodes {
		switch n.ID {
		case "file:8:1:77":
			n.Object.Path, n.Object.Name = "/var/log/App.log", "/var/log/App.log"
		case "socket:[12]":
			n.Object.Inode = 12
		case "pipe:[20]":
			n.Object.Inode = 20
		case ProcessID(500, 1500):
			n.Process.Cmdline, n.Process.User = "curl --silent http://localhost:8080/", "alice"
		}
	}
	exe := m.obj("file:8:1:5", KindFile, nil)
	m.nodes[len(m.nodes)-1].Object.Path = "/usr/bin/tail"
	m.edges = append(m.edges, Edge{From: ProcessID(400, 1400), To: exe, Kind: EdgeExe})
	return m.snapshot()
}

func TestSearch(t *testing.T) {
	x := NewIndex(searchMachine())
	type hit struct {
		PID   int
		Match string
	}
	for _, tt := range []struct {
		q     string
		limit int
		want  []hit
	}{
		{"", 0, nil},
		{"   ", 0, nil},
		{"SERVER", 0, []hit{{100, ""}, {200, "fd 3 → unix stream (peer of unix stream /tmp/server.sock)"}}},
		{"300", 0, []hit{{300, ""}}},
		{"alice", 0, []hit{{500, ""}}},
		{"--silent", 0, []hit{{500, "cmdline: curl --silent http://localhost:8080/"}}},
		// A port: both ends of the TCP connection, and the cmdline that holds it.
		{"8080", 0, []hit{{500, "cmdline: curl --silent http://localhost:8080/"}, {100, "fd 7 → tcp 127.0.0.1:8080 ⇄ 127.0.0.1:40000"}}},
		{"40000", 0, []hit{{100, "fd 7 → tcp 127.0.0.1:8080 ⇄ 127.0.0.1:40000"}, {500, "fd 5 → tcp 127.0.0.1:40000 ⇄ 127.0.0.1:8080"}}},
		// Inodes of sockets and pipes.
		{"12", 0, []hit{{200, "fd 3 → socket:[12] (unix stream)"}, {100, "fd 4 → unix stream /tmp/server.sock (peer of socket:[12] (unix stream))"}}},
		{"20", 0, []hit{{100, "fd 5 → pipe:[20]"}, {300, "fd 0 → pipe:[20]"}}},
		{"pipe:[20]", 0, []hit{{100, "fd 5 → pipe:[20]"}, {300, "fd 0 → pipe:[20]"}}},
		// Paths, in any case; the lowest fd wins; exe paths after fds.
		{"app.LOG", 0, []hit{{100, "fd 6 → /var/log/App.log"}, {400, "fd 3 → /var/log/App.log"}}},
		{"/tmp/server.sock", 0, []hit{{100, "fd 3 → unix stream /tmp/server.sock"}, {200, "fd 3 → unix stream (peer of unix stream /tmp/server.sock)"}}},
		{"bin/tail", 0, []hit{{400, "exe → /usr/bin/tail"}}},
		{"tail", 0, []hit{{400, ""}}},
		{"e", 2, []hit{{100, ""}, {200, ""}}},
		{"nothing-like-this", 0, nil},
	} {
		var got []hit
		for _, r := range x.Search(tt.q, tt.limit) {
			if r.ID != ProcessID(r.PID, 1000+uint64(r.PID)) || r.Comm == "" {
				t.Errorf("%q: result %+v lacks its id or comm", tt.q, r)
			}
			got = append(got, hit{r.PID, r.Match})
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("Search(%q, %d) (-want +got):\n%s", tt.q, tt.limit, d)
		}
	}
	if r := x.Search("", 0); r == nil {
		t.Error("Search returns nil; want an empty slice")
	}
}

func TestPortOf(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:80": "80", "[::1]:443": "443", "*:22": "22", "[::1]": "", "/tmp/x": "", "": "",
	} {
		if got := portOf(addr); got != want {
			t.Errorf("portOf(%q) = %q, want %q", addr, got, want)
		}
	}
}

// busyMachine is a synthetic busy host: procs processes with fds fds each —
// files with paths, unix socket pairs, TCP connections and pipes between
// neighbours.
func busyMachine(procs, fds int) *Snapshot {
	m := &machine{}
	ino := 1000
	for p := 1; p <= procs; p++ {
		m.proc(p, 1, "worker-"+strconv.Itoa(p%37))
	}
	for p := 1; p <= procs; p++ {
		for n := 0; n < fds; n++ {
			ino++
			switch n % 4 {
			case 0:
				id := InodeID(KindFile, "8:1", uint64(ino))
				m.obj(id, KindFile, nil)
				m.nodes[len(m.nodes)-1].Object.Path = "/var/lib/app/" + strconv.Itoa(p) + "/data-" + strconv.Itoa(n) + ".db"
				m.fd(p, n, id)
			case 1:
				q := p%procs + 1
				a := m.obj(SocketID(uint64(ino)), KindSocket, &Socket{Family: "unix", Type: "stream", Local: "/run/app-" + strconv.Itoa(p) + ".sock"})
				ino++
				b := m.obj(SocketID(uint64(ino)), KindSocket, &Socket{Family: "unix", Type: "stream"})
				m.fd(p, n, a)
				m.fd(q, fds+n, b)
				m.peer(a, b)
			case 2:
				port := strconv.Itoa(10000 + ino%50000)
				a := m.obj(SocketID(uint64(ino)), KindSocket, &Socket{Family: "inet", Type: "stream", Protocol: "tcp", Local: "127.0.0.1:" + port, Remote: "127.0.0.1:8080"})
				m.fd(p, n, a)
			default:
				id := PipeID(uint64(ino))
				m.obj(id, KindPipe, nil)
				m.fd(p, n, id)
				m.fd(p%procs+1, 2*fds+n, id)
			}
		}
	}
	return m.snapshot()
}

// BenchmarkSearch searches a busy host (500 processes, 65,000 fds) for a
// comm, a port, an inode, a path and a path that matches a quarter of the fds.
func BenchmarkSearch(b *testing.B) {
	x := NewIndex(busyMachine(500, 90))
	b.Logf("%d nodes, %d edges, %d fds", len(x.s.Nodes), len(x.s.Edges), x.s.CountKinds()[KindFD])
	for _, q := range []string{"worker-3", "8080", "12345", "/run/app-42.sock", "data-", "nothing"} {
		b.Run(q, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(x.Search(q, 200))
			}
			b.ReportMetric(float64(n), "results")
		})
	}
}
