package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
)

// fakeActivity serves fixed samples.
type fakeActivity struct {
	at    time.Time
	socks map[uint64]activity.Socket
}

func (f *fakeActivity) Socket(ino uint64) (activity.Socket, bool) {
	s, ok := f.socks[ino]
	return s, ok
}

func (f *fakeActivity) LastSample() (time.Time, time.Duration) { return f.at, time.Millisecond }

// socketsOf returns the socket inodes of pid's focus in the latest version.
func socketsOf(t *testing.T, e *env, pid int) []uint64 {
	t.Helper()
	_, snap := e.store.Latest()
	var out []uint64
	for _, n := range graph.NewIndex(snap).Focus(pid).Nodes {
		if n.Kind == graph.KindSocket {
			out = append(out, n.Object.Inode)
		}
	}
	if len(out) == 0 {
		t.Fatalf("pid %d has no socket", pid)
	}
	return out
}

func TestActivityRoute(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 42, 0, 0, time.UTC)
	src := &fakeActivity{at: at, socks: map[uint64]activity.Socket{}}
	db, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newEnv(t, func(o *Options) { o.Activity, o.History = src, db })
	pids := e.world.PIDs()
	server := pids[len(pids)-2]
	inos := socketsOf(t, e, server)
	busy := inos[0]
	src.socks[busy] = activity.Socket{Inode: busy, Via: activity.ViaUnix, Points: []activity.Point{
		{T: at, Seconds: 1, RQueue: 4096, WQueue: 10}}}
	if err := db.WriteActivity(context.Background(), []history.Activity{{T: at.Add(-time.Second), Inode: busy, Via: "unix", Seconds: 10, MaxQueue: 4106}}); err != nil {
		t.Fatal(err)
	}

	resp, b := e.get("/api/processes/" + itoa(server) + "/activity")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("activity: %d %s", resp.StatusCode, b)
	}
	var body ActivityBody
	if err := json.Unmarshal([]byte(b), &body); err != nil {
		t.Fatal(err)
	}
	if body.PID != server || !body.SampledAt.Equal(at) || len(body.Sockets) != 1 || body.NotMeasured == "" {
		t.Fatalf("activity of %d: %s", server, b)
	}
	if s := body.Sockets[0]; s.ID != graph.SocketID(busy) || len(s.Points) != 1 || s.Points[0].RQueue != 4096 || s.Recorded != nil {
		t.Errorf("busy socket: %+v", s)
	}

	// What was recorded, with since=.
	resp, b = e.get("/api/processes/" + itoa(server) + "/activity?since=2026-12-02T10:00:00Z")
	if err := json.Unmarshal([]byte(b), &body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("activity?since: %d %s", resp.StatusCode, b)
	}
	if len(body.Sockets) != 1 || len(body.Sockets[0].Recorded) != 1 || body.Sockets[0].Recorded[0].MaxQueue != 4106 {
		t.Errorf("activity?since: %s", b)
	}

	// The diagram exports draw it.
	if _, svg := e.get("/api/processes/" + itoa(server) + "/diagram.svg"); !strings.Contains(svg, `data-rate="0"`) || !strings.Contains(svg, "4.1 KB queued") {
		t.Errorf("diagram.svg draws no activity:\n%s", svg)
	}
	if _, txt := e.get("/api/processes/" + itoa(server) + "/diagram.txt"); !strings.Contains(txt, "· 4.1 KB queued") {
		t.Errorf("diagram.txt draws no activity:\n%s", txt)
	}

	for _, c := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/processes/x/activity", http.StatusBadRequest, "bad pid"},
		{"/api/processes/999999/activity", http.StatusNotFound, "no process"},
		{"/api/processes/" + itoa(server) + "/activity?at=2026-12-02T10:00:00Z", http.StatusBadRequest, "activity is live"},
		{"/api/processes/" + itoa(server) + "/activity?since=yesterday", http.StatusBadRequest, "bad since"},
		{"/api/processes/" + itoa(server) + "/activity?until=2026-12-02T10:00:00Z", http.StatusBadRequest, "until without since"},
		{"/api/processes/" + itoa(server) + "/activity?since=2026-12-02T10:00:00Z&until=2026-12-01T10:00:00Z", http.StatusBadRequest, "before since"},
	} {
		resp, b := e.get(c.path)
		if resp.StatusCode != c.code || !strings.Contains(b, c.msg) {
			t.Errorf("%s: %d %s, want %d %q", c.path, resp.StatusCode, b, c.code, c.msg)
		}
	}
}

func TestActivityRouteWithoutSampler(t *testing.T) {
	e := newEnv(t, nil)
	pids := e.world.PIDs()
	resp, b := e.get("/api/processes/" + itoa(pids[0]) + "/activity")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(b, "no activity is sampled") {
		t.Errorf("activity without a sampler: %d %s", resp.StatusCode, b)
	}
	if _, txt := e.get("/api/processes/" + itoa(pids[0]) + "/diagram.txt"); strings.Contains(txt, "· ") {
		t.Errorf("diagram.txt without a sampler shows activity:\n%s", txt)
	}
}

// docActivity is what the examples of docs/api.md show: the server's
// accepted socket of the UnixEcho scenario with bytes waiting.
func docActivity() *fakeActivity {
	at := time.Date(2026, 12, 2, 10, 42, 7, 0, time.UTC)
	return &fakeActivity{at: at, socks: map[uint64]activity.Socket{
		28725: {Inode: 28725, Via: activity.ViaUnix, Points: []activity.Point{
			{T: at.Add(-time.Second), Seconds: 1, RQueue: 0, WQueue: 0},
			{T: at, Seconds: 1, RQueue: 2048, WQueue: 0},
		}},
	}}
}
