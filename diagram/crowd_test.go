package diagram_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
)

// boxesOf returns the boxes of a layout of the given kind.
func boxesOf(l *diagram.Layout, kind string) []diagram.Box {
	var out []diagram.Box
	for _, b := range l.Boxes {
		if b.Kind == kind {
			out = append(out, b)
		}
	}
	return out
}

func crowdLayout(t testing.TB, n int, opts diagram.Options) *diagram.Layout {
	t.Helper()
	return diagram.NewLayout(graph.NewIndex(diagramtest.Crowd(n)).Focus(9940), 9940, opts)
}

// A worker among many siblings: its connections are drawn first and in the
// first tier, its siblings are one crowd box that says how many and which.
func TestCrowd(t *testing.T) {
	for _, n := range []int{24, 500} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			l := crowdLayout(t, n, diagram.Options{Width: 120})
			procs := boxesOf(l, "process")
			var pids []int
			for _, b := range procs {
				if !slices.Contains(pids, b.PID) {
					pids = append(pids, b.PID)
				}
			}
			// The focus, postgres, the feeder and bash (one sharer of its own).
			if want := []int{9940, 800, 9935, 9934}; !sameSet(pids, want) {
				t.Errorf("process boxes of pids %v, want %v", pids, want)
			}
			crowds := boxesOf(l, diagram.KindCrowd)
			for _, b := range procs {
				// postgres fits in the first tier; the feeder's pipe is in the
				// component of the crowd, which comes after.
				if b.PID == 800 && b.Tier != 0 || b.PID == 9935 && len(crowds) > 0 && b.Tier > crowds[0].Tier {
					t.Errorf("connection peer %d drawn in tier %d", b.PID, b.Tier)
				}
			}
			if len(crowds) != 1 {
				t.Fatalf("%d crowd boxes, want 1: %+v", len(crowds), crowds)
			}
			c := crowds[0]
			want := []string{fmt.Sprintf("shared with %d processes", n-1), fmt.Sprintf("python3 ×%d", n-1), "children of pid 9934"}
			if !slices.Equal(c.Label, want) {
				t.Errorf("crowd label %q, want %q", c.Label, want)
			}
			if len(c.Members) != n-1 || len(c.Ports) != 2 {
				t.Errorf("crowd has %d members and %d ports, want %d and 2 (the pipe, the tty)", len(c.Members), len(c.Ports), n-1)
			}
			// postgres is a connection of its own; the feeder's pipe comes
			// through fd 0, which the siblings share.
			if want := fmt.Sprintf("1 connection · 1 more through shared fds · fd 0–2 shared with %d processes", n+1); l.Headline != want {
				t.Errorf("headline %q, want %q", l.Headline, want)
			}
			// The connection peers are nearest the focus: right after it in its row.
			first := map[int]int{}
			for _, b := range procs {
				if b.Tier == 0 {
					first[b.PID] = b.Rect.X
				}
			}
			for _, b := range crowds {
				if b.Tier == 0 && (b.Rect.X < first[800] || b.Rect.X < first[9935]) {
					t.Errorf("the crowd (x %d) is left of a connection peer (%v)", b.Rect.X, first)
				}
			}
			// About a screenful of text, whatever the crowd's size.
			text := render(t, l, diagram.TextOptions{Width: 120})
			if lines := strings.Count(text, "\n"); lines > 60 {
				t.Errorf("text export of %d lines, want a screenful:\n%s", lines, text)
			}
		})
	}
	// Expanded, the crowd is drawn one by one.
	l := crowdLayout(t, 24, diagram.Options{Width: 120})
	id := boxesOf(l, diagram.KindCrowd)[0].ID
	ex := crowdLayout(t, 24, diagram.Options{Width: 120, ExpandGroups: []string{id}})
	pids := map[int]bool{}
	for _, b := range boxesOf(ex, "process") {
		pids[b.PID] = true
	}
	if len(pids) != 27 || len(boxesOf(ex, diagram.KindCrowd)) != 0 {
		t.Errorf("expanded crowd: %d processes and %d crowds, want 27 and none", len(pids), len(boxesOf(ex, diagram.KindCrowd)))
	}
	if all := crowdLayout(t, 24, diagram.Options{Expand: true}); len(boxesOf(all, diagram.KindCrowd)) != 0 {
		t.Error("Options.Expand left a crowd")
	}
	// Laid out with itself as Prev, a crowd stays put.
	again := crowdLayout(t, 24, diagram.Options{Width: 120, Prev: l})
	if a, b := boxesOf(l, diagram.KindCrowd)[0].Rect, boxesOf(again, diagram.KindCrowd)[0].Rect; a != b {
		t.Errorf("crowd moved from %+v to %+v with Prev", a, b)
	}
}

// The master and workers of a prefork server are drawn one by one while
// they are few, and as a crowd when there are many.
func TestPreforkSharers(t *testing.T) {
	for _, c := range []struct {
		workers, boxes, crowds int
	}{
		{2, 4, 0},                       // curl, the master, the other worker, the focus
		{diagram.PreforkSharers, 10, 0}, // the focus, curl and 8 sharers of the listening socket
		{20, 2, 1},
	} {
		l := diagram.NewLayout(graph.NewIndex(diagramtest.Prefork(c.workers)).Focus(701), 701, diagram.Options{})
		if got, crowds := len(boxesOf(l, "process")), len(boxesOf(l, diagram.KindCrowd)); got != c.boxes || crowds != c.crowds {
			t.Errorf("%d workers: %d process boxes and %d crowds, want %d and %d", c.workers, got, crowds, c.boxes, c.crowds)
		}
	}
}

// A diagram wider than the first screen gives the focus's own connections
// the first tier to themselves; one that fits stays one tier.
func TestScreen(t *testing.T) {
	f := graph.NewIndex(diagramtest.Prefork(2)).Focus(701)
	whole := diagram.NewLayout(f, 701, diagram.Options{Width: 2000})
	if len(whole.Tiers) != 1 {
		t.Fatalf("%d tiers at width 2000, want 1", len(whole.Tiers))
	}
	for _, c := range []struct {
		screen, tiers int
	}{{0, 1}, {whole.Width, 1}, {whole.Width - 1, 2}} {
		l := diagram.NewLayout(f, 701, diagram.Options{Width: 2000, Screen: c.screen})
		if len(l.Tiers) != c.tiers {
			t.Errorf("screen %d: %d tiers, want %d", c.screen, len(l.Tiers), c.tiers)
			continue
		}
		if c.tiers == 1 {
			continue
		}
		// The first tier: the worker, curl (its connection), nothing else.
		var first []int
		for _, b := range boxesOf(l, "process") {
			if b.Tier == 0 {
				first = append(first, b.PID)
			}
		}
		if !sameSet(first, []int{701, 900}) {
			t.Errorf("screen %d: the first tier holds pids %v, want the worker and curl", c.screen, first)
		}
	}
}

func sameSet(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// BenchmarkLayoutCrowd lays out a worker that shares its stdio with 500
// siblings (diagramtest.Crowd): the relations of every peer, the crowd and
// the layout, at the width the dashboard asks for and unwrapped (issue
// target: < 50 ms).
func BenchmarkLayoutCrowd(b *testing.B) {
	f := graph.NewIndex(diagramtest.Crowd(501)).Focus(9940)
	for _, o := range []diagram.Options{{}, {Width: 300}} {
		b.Run(fmt.Sprintf("width=%d", o.Width), func(b *testing.B) {
			for b.Loop() {
				diagram.NewLayout(f, 9940, o)
			}
		})
	}
	b.Run("focus", func(b *testing.B) {
		x := graph.NewIndex(diagramtest.Crowd(501))
		for b.Loop() {
			x.Focus(9940)
		}
	})
}
