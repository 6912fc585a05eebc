package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/google/go-cmp/cmp"
)

// wantLayout is the layout the websocket should send: that of the latest
// focus of pid, with prev (as the client received it), expand and the
// live headroom.
func (e *env) wantLayout(pid int, prev *diagram.Layout, expand ...string) *diagram.Layout {
	return e.layoutWith(pid, diagram.Options{Prev: prev, ExpandGroups: expand, Headroom: LayoutHeadroom})
}

// wantRESTLayout is the layout GET /api/processes/{pid}/layout should answer.
func (e *env) wantRESTLayout(pid int, expand ...string) *diagram.Layout {
	return e.layoutWith(pid, diagram.Options{ExpandGroups: expand})
}

func (e *env) layoutWith(pid int, o diagram.Options) *diagram.Layout {
	_, snap := e.store.Latest()
	f := graph.NewIndex(snap).Focus(pid)
	if f == nil {
		f = graph.New(nil, nil, snap.Stats)
	}
	return diagram.NewLayout(f, pid, o)
}

// sameLayout compares two layouts through their JSON form, as a client sees them.
func sameLayout(t *testing.T, what string, want, got *diagram.Layout) {
	t.Helper()
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	if d := cmp.Diff(x, y); d != "" {
		t.Errorf("%s: layout differs (-want +got):\n%s", what, d)
	}
}

func (e *env) readLayout(c *wsc, seq uint64, pid int) *diagram.Layout {
	e.t.Helper()
	m := e.read(c)
	if m.Type != TypeLayout || m.Seq != seq || m.Focus != pid || m.Layout == nil || m.Layout.Focus != pid {
		e.t.Fatalf("want a layout of pid %d at seq %d, got %.300s", pid, seq, m.raw)
	}
	return m.Layout
}

// groupPort returns the ID of the first group port of the layout's focus box.
func groupPort(t *testing.T, l *diagram.Layout) string {
	t.Helper()
	for _, b := range l.Boxes {
		for _, p := range b.Ports {
			if b.Focus && strings.HasPrefix(p.ID, "group:") {
				return p.ID
			}
		}
	}
	t.Fatalf("no group port on the focus box")
	return ""
}

// TestLayoutStream follows the layout messages of a focus stream: after
// the snapshot, after each non-empty diff, after an expand; Prev is the
// layout sent before for the same pid and resets when the focus moves.
func TestLayoutStream(t *testing.T) {
	e := newEnv(t, nil)
	server, client := e.world.PIDs()[1], e.world.PIDs()[2]
	c := e.client("?graph=focus&pid=" + itoa(server) + "&layout=1")
	if m := e.read(c); m.Type != TypeSnapshot || m.Seq != 1 {
		t.Fatalf("first message: %.200s", m.raw)
	}
	l1 := e.readLayout(c, 1, server)
	sameLayout(t, "first", e.wantLayout(server, nil), l1)

	// A change elsewhere: nothing.
	x := e.world.Start(1, "x")
	e.publish()
	e.quiet(c, 200*time.Millisecond)

	// A new peer: a diff, then a layout laid out after the first.
	e.world.Connect(server, x)
	seq := e.publish()
	if m := e.read(c); m.Type != TypeDiff || m.Seq != seq {
		t.Fatalf("want a diff at %d, got %.200s", seq, m.raw)
	}
	l2 := e.readLayout(c, seq, server)
	sameLayout(t, "after the diff", e.wantLayout(server, l1), l2)

	// Expand the stdio group: a new layout of the same version, no snapshot.
	g := groupPort(t, l2)
	send(t, c, map[string]any{"type": "expand", "expand": []string{g}})
	l3 := e.readLayout(c, seq, server)
	sameLayout(t, "expanded", e.wantLayout(server, l2, g), l3)
	e.quiet(c, 150*time.Millisecond)

	// The expansion holds for the next diffs.
	e.world.Connect(server, client)
	seq = e.publish()
	if m := e.read(c); m.Type != TypeDiff {
		t.Fatalf("want a diff, got %.200s", m.raw)
	}
	l4 := e.readLayout(c, seq, server)
	sameLayout(t, "expanded, after a diff", e.wantLayout(server, l3, g), l4)

	// A new focus: snapshot, then a layout without Prev or expansion.
	send(t, c, Request{Type: TypeFocus, PID: client})
	if m := e.read(c); m.Type != TypeSnapshot || m.Focus != client {
		t.Fatalf("want the client's snapshot, got %.200s", m.raw)
	}
	sameLayout(t, "new focus", e.wantLayout(client, nil), e.readLayout(c, seq, client))

	// Focus with expand, back on the server: Prev reset, groups expanded.
	send(t, c, Request{Type: TypeFocus, PID: server, Expand: []string{g}})
	if m := e.read(c); m.Type != TypeSnapshot || m.Focus != server {
		t.Fatalf("want the server's snapshot, got %.200s", m.raw)
	}
	sameLayout(t, "focus with expand", e.wantLayout(server, nil, g), e.readLayout(c, seq, server))

	// Layouts off: diffs only.
	send(t, c, map[string]any{"type": "subscribe", "layout": false})
	e.quiet(c, 150*time.Millisecond)
	e.world.Connect(server, client)
	e.publish()
	if m := e.read(c); m.Type != TypeDiff {
		t.Fatalf("want a diff, got %.200s", m.raw)
	}
	e.quiet(c, 150*time.Millisecond)
}

// TestNoLayoutByDefault: without layout=1 a focus stream has no layout messages.
func TestNoLayoutByDefault(t *testing.T) {
	e := newEnv(t, nil)
	server := e.world.PIDs()[1]
	c := e.client("?pid=" + itoa(server))
	if m := e.read(c); m.Type != TypeSnapshot {
		t.Fatalf("first message: %.200s", m.raw)
	}
	send(t, c, map[string]any{"type": "expand", "expand": []string{"group:stdio:x"}})
	e.quiet(c, 200*time.Millisecond)
}

// TestLayoutShared: clients following the same focus get the same bytes.
func TestLayoutShared(t *testing.T) {
	e := newEnv(t, nil)
	server := e.world.PIDs()[1]
	q := "?graph=focus&pid=" + itoa(server) + "&layout=1"
	a, b := e.client(q), e.client(q)
	for range 2 {
		e.read(a)
		e.read(b)
	}
	e.world.Connect(server, e.world.Start(1, "y"))
	e.publish()
	e.read(a)
	e.read(b)
	la, lb := e.read(a), e.read(b)
	if la.Type != TypeLayout || string(la.raw) != string(lb.raw) {
		t.Errorf("two clients of one focus got different layouts:\n%.200s\n%.200s", la.raw, lb.raw)
	}
}

// TestExpandErrors: a bad expand request is answered with an error message
// and changes nothing.
func TestExpandErrors(t *testing.T) {
	e := newEnv(t, nil)
	server, client := e.world.PIDs()[1], e.world.PIDs()[2]
	many := make([]string, MaxExpand+1)
	for i := range many {
		many[i] = "group:fd:" + itoa(i)
	}
	for _, tt := range []struct {
		name string
		req  any
		want string
	}{
		{"not strings", map[string]any{"type": "expand", "expand": []any{1, 2}}, "bad request"},
		{"not a list", map[string]any{"type": "expand", "expand": "group:x"}, "bad request"},
		{"too many", map[string]any{"type": "expand", "expand": many}, "at most 256"},
		{"too long", map[string]any{"type": "expand", "expand": []string{"group:" + strings.Repeat("x", MaxExpandIDLen)}}, "at most 512"},
		{"not a group", map[string]any{"type": "expand", "expand": []string{"fd:1:2:3"}}, "not a group ID"},
		{"control character", map[string]any{"type": "expand", "expand": []string{"group:a\x00b"}}, "control character"},
		{"focus with a bad expand", map[string]any{"type": "focus", "pid": client, "expand": []string{"nope"}}, "focus: expand"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client("?graph=focus&pid=" + itoa(server) + "&layout=1")
			e.read(c)
			e.read(c)
			send(t, c, tt.req)
			m := e.read(c)
			if m.Type != TypeError || !strings.Contains(m.Error, tt.want) {
				t.Errorf("got %.300s; want an error with %q", m.raw, tt.want)
			}
			e.quiet(c, 100*time.Millisecond)
			// The focus and layouts go on as before.
			e.world.Connect(server, e.world.Start(1, "z"))
			seq := e.publish()
			if m := e.read(c); m.Type != TypeDiff || m.Focus != server {
				t.Fatalf("want a diff of the server, got %.200s", m.raw)
			}
			e.readLayout(c, seq, server)
		})
	}
	// expand with no focus.
	c := e.client("?graph=none&processes=1")
	e.read(c)
	send(t, c, map[string]any{"type": "expand", "expand": []string{"group:x"}})
	if m := e.read(c); m.Type != TypeError || !strings.Contains(m.Error, "no process in focus") {
		t.Errorf("expand without focus: %.200s", m.raw)
	}
}
