package graph

import (
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
