//go:build linux

package bench

import (
	"testing"
)

func TestPlanFullScaleMatchesTheIssue(t *testing.T) {
	p, err := NewPlan(1)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Expect()
	within := func(what string, got, want, tolerance int) {
		t.Helper()
		if got < want-tolerance || got > want+tolerance {
			t.Errorf("%s = %d, want %d ± %d", what, got, want, tolerance)
		}
	}
	within("processes", e.Processes, 500, 10)
	within("fds", e.FDs, 65000, 1500)
	within("unix sockets", e.UnixSockets, 18000, 500)
	within("cross-process unix connections", e.CrossUnixConns, 5000, 0)
	within("TCP connections", e.TCPConns, 2000, 0)
	if e.MaxFDsPerProcess > MaxFDsPerProcess {
		t.Errorf("a process holds %d fds, above %d", e.MaxFDsPerProcess, MaxFDsPerProcess)
	}
	if e.Pipes == 0 || e.SCMRightsFDs == 0 {
		t.Errorf("no pipes or no SCM_RIGHTS fds: %+v", e)
	}
}

func TestPlanIsConsistent(t *testing.T) {
	for _, scale := range []float64{0.002, 0.02, 0.05, 0.37, 1, 2} {
		p, err := NewPlan(scale)
		if err != nil {
			t.Fatalf("scale %v: %v", scale, err)
		}
		// Every connection a client dials, a hub accepts.
		dialled := map[string]int{}
		accepted := map[string]int{}
		for i := range p.Workers {
			for _, d := range p.dials(i) {
				if p.isHub(i) || d.Hub < 0 || d.Hub >= p.Hubs || d.Count <= 0 {
					t.Fatalf("scale %v: worker %d dials %+v", scale, i, d)
				}
				dialled[d.Kind] += d.Count
			}
			if l := p.listen(i); l != nil {
				accepted[dialNamed] += l.AcceptNamed
				accepted[dialAbstract] += l.AcceptAbstract
				accepted[dialTCP] += l.AcceptTCP
			}
		}
		want := map[string]int{dialNamed: p.NamedConns, dialAbstract: p.AbstractConns, dialTCP: p.TCPConns}
		for kind, n := range want {
			if dialled[kind] != n || accepted[kind] != n {
				t.Errorf("scale %v: %s: %d dialled, %d accepted, want %d", scale, kind, dialled[kind], accepted[kind], n)
			}
		}
		// SCM pairs join two different workers.
		total := 0
		for k := range p.SCMPairs {
			a, b := p.scmPair(k)
			if a == b || a < 0 || b < 0 || a >= p.Workers || b >= p.Workers {
				t.Fatalf("scale %v: SCM pair %d joins %d and %d", scale, k, a, b)
			}
		}
		for _, c := range p.scmCounts() {
			total += c
		}
		if total != 2*p.SCMPairs {
			t.Errorf("scale %v: %d SCM fds, want %d", scale, total, 2*p.SCMPairs)
		}
		// The specs agree with the plan.
		s := p.spec(p.Workers-1, "/tmp/x")
		if len(s.NamedPaths) != p.Hubs || len(s.Files) != p.Files || s.Pipes != p.PipesPerGroup {
			t.Errorf("scale %v: spec %+v", scale, s)
		}
	}
}

func TestNewPlanRejects(t *testing.T) {
	for _, scale := range []float64{0, -1, 1e9} {
		if _, err := NewPlan(scale); err == nil {
			t.Errorf("NewPlan(%v) accepted", scale)
		}
	}
}
