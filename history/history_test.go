//go:build linux

package history_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/live"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// publish scans the given processes and publishes the snapshot.
func publish(t *testing.T, store *live.Store, pids ...int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := scan.New(scan.Options{PIDs: pids}).Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.Publish(s)
}

// waitFor polls the store's changes until ok accepts them.
func waitFor(t *testing.T, db *history.DB, q history.Query, what string, ok func([]history.Event) bool) []history.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := db.Changes(context.Background(), q)
		if err == nil && ok(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s recorded after 30 s: %+v (err %v)", what, evs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasConn(kind string, pid, fd, peer, peerFD int) func([]history.Event) bool {
	return func(evs []history.Event) bool {
		return slices.ContainsFunc(evs, func(e history.Event) bool {
			return e.Kind == kind && ((e.PID == pid && e.FD == fd && e.PeerPID == peer && e.PeerFD == peerFD) ||
				(e.PID == peer && e.FD == peerFD && e.PeerPID == pid && e.PeerFD == fd))
		})
	}
}

// TestRecordsRealChanges records an echo pair's second connection opening,
// then the client exiting, and reads the graph back at times in between.
func TestRecordsRealChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *proctest.Echo
		via   string
	}{
		{"unix", proctest.UnixEcho, "unix"},
		{"tcp", proctest.TCPPair, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := history.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := tc.start(t)
			srv, cli := e.Server, e.Client
			store := live.NewStore(0)
			publish(t, store, srv.PID, cli.PID)
			ctx, cancel := context.WithCancel(context.Background())
			rec := &history.Recorder{DB: db}
			stopped := make(chan struct{})
			go func() { rec.Run(ctx, store); close(stopped) }()
			begin := time.Now()
			// The first version is stored as a snapshot.
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, ok, _ := db.Begin(context.Background()); ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no snapshot stored after 30 s")
				}
				time.Sleep(20 * time.Millisecond)
			}

			c1 := e.Dial()
			s1 := srv.Facts().Conns[1]
			publish(t, store, srv.PID, cli.PID)
			q := history.Query{Since: begin.Add(-time.Minute), PID: cli.PID}
			evs := waitFor(t, db, q, "conn_open", hasConn(history.ConnOpen, cli.PID, c1.FD, srv.PID, s1.FD))
			var opened history.Event
			for _, ev := range evs {
				if ev.Kind == history.ConnOpen {
					opened = ev
					if ev.Via != tc.via || ev.Comm == "" || ev.PeerComm == "" || ev.Inode == 0 || ev.PeerInode == 0 {
						t.Errorf("conn_open lacks facts: %+v", ev)
					}
				}
			}
			if !slices.ContainsFunc(evs, func(ev history.Event) bool { return ev.Kind == history.FDOpen && ev.PID == cli.PID && ev.FD == c1.FD }) {
				t.Errorf("no fd_open of client fd %d: %+v", c1.FD, evs)
			}
			time.Sleep(5 * time.Millisecond) // the close is recorded at a later time
			cli.Stop()
			publish(t, store, srv.PID, cli.PID)
			evs = waitFor(t, db, q, "conn_close", hasConn(history.ConnClose, cli.PID, c1.FD, srv.PID, s1.FD))
			if !slices.ContainsFunc(evs, func(ev history.Event) bool { return ev.Kind == history.ProcessExit && ev.PID == cli.PID }) {
				t.Errorf("no process_exit of the client: %+v", evs)
			}
			// The graph at the time the connection was open holds it;
			// the graph now does not.
			at, err := db.At(context.Background(), opened.Time)
			if err != nil {
				t.Fatal(err)
			}
			if !hasPeer(at, cli.PID, c1.FD, srv.PID, s1.FD) {
				t.Errorf("graph at %s lacks the connection: %+v", opened.Time, graph.NewIndex(at).Peers(cli.PID))
			}
			now, err := db.At(context.Background(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if graph.NewIndex(now).Process(cli.PID) != nil {
				t.Errorf("graph now still holds the exited client")
			}
			if _, err := db.At(context.Background(), begin.Add(-time.Hour)); err == nil {
				t.Errorf("a time before the history gave no error")
			}

			// Stopped and reopened, the store still has it all.
			cancel()
			<-stopped
			db.Close()
			db, err = history.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			again, err := db.Changes(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if !hasConn(history.ConnClose, cli.PID, c1.FD, srv.PID, s1.FD)(again) || len(again) != len(evs) {
				t.Errorf("reopened store has %d events, want the %d recorded: %+v", len(again), len(evs), again)
			}
		})
	}
}

func hasPeer(s *graph.Snapshot, pid, fd, peer, peerFD int) bool {
	return slices.ContainsFunc(graph.NewIndex(s).Peers(pid), func(p graph.Peer) bool {
		return p.FD == fd && p.PeerPID == peer && p.PeerFD == peerFD
	})
}
