//go:build linux

package history_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/live"
)

// TestKernelConnsRecordedOnce: of two connections the kernel reports, the
// one a scan saw (a real echo pair's, by the inode of either end) is not
// recorded again; the other is, as conn_open and conn_close at its own
// times, with source kernel.
func TestKernelConnsRecordedOnce(t *testing.T) {
	db, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := proctest.TCPPair(t)
	srv, cli := e.Server, e.Client
	store := live.NewStore(0)
	publish(t, store, srv.PID, cli.PID)
	ctx, cancel := context.WithCancel(context.Background())
	rec := &history.Recorder{DB: db}
	stopped := make(chan struct{})
	go func() { rec.Run(ctx, store); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok, _ := db.Begin(context.Background()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot stored after 30 s")
		}
	}

	opened := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	closed := opened.Add(300 * time.Microsecond)
	seen := history.Event{Time: opened, PID: cli.PID, FD: cli.Facts().Conns[0].FD, Inode: cli.Facts().Conns[0].Inode,
		PeerPID: srv.PID, PeerFD: -1, Via: "tcp"}
	unseen := history.Event{Time: opened, PID: cli.PID, Comm: "tcp-client", FD: 9, Inode: 1<<40 + 1,
		PeerPID: srv.PID, PeerComm: "tcp-server", PeerFD: 8, PeerInode: 1<<40 + 2, Via: "tcp"}
	rec.KernelConn(seen, closed)
	rec.KernelConn(unseen, closed)

	evs := waitFor(t, db, history.Query{Since: opened.Add(-time.Minute), PID: cli.PID}, "the unseen connection's close", func(evs []history.Event) bool {
		return slices.ContainsFunc(evs, func(e history.Event) bool { return e.Kind == history.ConnClose && e.Inode == unseen.Inode })
	})
	var kernel []history.Event
	for _, e := range evs {
		if e.Source == history.SourceKernel {
			kernel = append(kernel, e)
		}
	}
	if len(kernel) != 2 || kernel[0].Kind != history.ConnOpen || !kernel[0].Time.Equal(opened) ||
		kernel[1].Kind != history.ConnClose || !kernel[1].Time.Equal(closed) || kernel[1].PeerPID != srv.PID || kernel[1].PeerFD != 8 {
		t.Errorf("kernel events: %+v", kernel)
	}
}
