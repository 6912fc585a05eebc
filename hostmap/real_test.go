//go:build linux

package hostmap

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/internal/realproc"
)

// scanUntil scans the host until cond holds of its map (real processes
// take a moment to connect), or fails after a generous bound.
func scanUntil(t *testing.T, what string, cond func(*Map) bool) *Map {
	t.Helper()
	s := scan.New(scan.Options{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, err := s.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		m := Build(graph.NewIndex(snap))
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func groupOfPID(m *Map, pid int) *Group {
	for i, g := range m.Groups {
		if slices.Contains(g.PIDs, pid) {
			return &m.Groups[i]
		}
	}
	return nil
}

func linked(m *Map, a, b string) *Link {
	for i, l := range m.Links {
		if l.From == min(a, b) && l.To == max(a, b) {
			return &m.Links[i]
		}
	}
	return nil
}

// TestRealPrefork: a prefork server (a perl master and its workers) is one
// group, showing its listening port, linked by TCP to its client.
func TestRealPrefork(t *testing.T) {
	srv := realproc.StartPrefork(t, 3)
	client, _ := realproc.KeepAlive(t, srv.Addr)
	scanUntil(t, "the prefork server's group linked to its client", func(m *Map) bool {
		g, c := groupOfPID(m, srv.Master.PID), groupOfPID(m, client.PID)
		if g == nil || c == nil || g.ID == c.ID {
			return false
		}
		for _, w := range srv.Workers {
			if !slices.Contains(g.PIDs, w) {
				t.Logf("worker %d is not in %s %v", w, g.ID, g.PIDs)
				return false
			}
		}
		l := linked(m, g.ID, c.ID)
		return slices.Contains(g.Listen, "tcp "+srv.Addr) && l != nil && slices.Contains(l.Via, graph.ViaTCP)
	})
}

// TestRealPipeline: the members of a shell pipeline are one group, and
// the shell another.
func TestRealPipeline(t *testing.T) {
	sh := realproc.Shell(t, "sleep 1000 | cat | cat", nil)
	m := scanUntil(t, "the pipeline", func(m *Map) bool {
		// Scanned after every member exec'd: the map names them all.
		kids := realproc.Children(sh.PID)
		g := (*Group)(nil)
		if len(kids) == 3 {
			g = groupOfPID(m, kids[0])
		}
		return g != nil && g.Name == "sleep | cat | cat" && groupOfPID(m, kids[2]) != nil
	})
	kids := realproc.Children(sh.PID)
	g := groupOfPID(m, kids[0])
	if g.Kind != KindPipeline || !slices.Equal(g.PIDs, kids) || g.Name != "sleep | cat | cat" {
		t.Errorf("pipeline group = %+v, want a pipeline of %v named sleep | cat | cat", g, kids)
	}
	if s := groupOfPID(m, sh.PID); s == nil || s.ID == g.ID {
		t.Errorf("the shell's group = %+v, want one apart from the pipeline's", s)
	}
}

// TestRealNetNS: a process in a network namespace of its own is a group,
// linked to the process it talks to through a pipe.
func TestRealNetNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare -n needs root")
	}
	realproc.Need(t, "unshare")
	sh := realproc.Shell(t, "unshare -n sleep 1000 | cat", nil)
	m := scanUntil(t, "the namespaced sleep", func(m *Map) bool {
		kids := realproc.Children(sh.PID)
		// Scanned after unshare exec'd the sleep in its namespace.
		if len(kids) != 2 {
			return false
		}
		g := groupOfPID(m, kids[0])
		return g != nil && g.Kind == KindNetNS && groupOfPID(m, kids[1]) != nil
	})
	kids := realproc.Children(sh.PID)
	ns, host := groupOfPID(m, kids[0]), groupOfPID(m, kids[1])
	if ns.Kind != KindNetNS || ns.Name != "sleep (netns)" {
		t.Errorf("the namespaced sleep's group = %+v, want a netns group", ns)
	}
	if l := linked(m, ns.ID, host.ID); l == nil || !slices.Equal(l.Via, []graph.Via{graph.ViaPipe}) {
		t.Errorf("link %s — %s = %+v, want one by pipe", ns.ID, host.ID, l)
	}
}
