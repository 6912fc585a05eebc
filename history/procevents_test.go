//go:build linux

package history_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/live"
)

// TestRecordsShortLivedProcesses records a process that execs and exits
// with no scan in between, through the proc connector.
func TestRecordsShortLivedProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the proc connector needs root")
	}
	db, err := history.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := live.NewStore(0)
	store.Publish(nil)
	ctx, cancel := context.WithCancel(context.Background())
	rec := &history.Recorder{DB: db}
	if _, err := live.ListenProcEventsTo(ctx, rec.ProcEvent); err != nil {
		cancel()
		t.Skipf("no proc connector here: %v", err)
	}
	stopped := make(chan struct{})
	go func() { rec.Run(ctx, store); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	begin := time.Now()

	cmd := exec.Command("sh", "-c", "exit 3")
	if err := cmd.Run(); err == nil {
		t.Fatal("sh -c 'exit 3' succeeded")
	}
	pid := cmd.Process.Pid
	waitFor(t, db, history.Query{Since: begin.Add(-time.Second), PID: pid}, "exec and exit", func(evs []history.Event) bool {
		execd := slices.ContainsFunc(evs, func(e history.Event) bool {
			return e.Kind == history.Exec && e.Source == history.SourceProcConnector
		})
		exited := slices.ContainsFunc(evs, func(e history.Event) bool {
			return e.Kind == history.Exit && e.Name == "exit status 3"
		})
		return execd && exited
	})
}
