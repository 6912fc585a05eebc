package history

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fdscope/fdscope/live"
)

// TestUnwritableStore: a store that fails every write (here: closed)
// counts the failures and the changes lost, and never holds up the
// publisher.
func TestUnwritableStore(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // every write fails
	store := live.NewStore(4)
	store.Publish(snapshotOf(3))
	rec := &Recorder{DB: db, Registry: prometheus.NewRegistry(), Queue: 2}
	rec.once.Do(rec.defaults) // the metrics, read below
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.Run(ctx, store); close(done) }()
	// Versions, as fast as they come, until the failures show: Publish
	// never waits for the recorder.
	for i, deadline := 0, time.Now().Add(30*time.Second); testutil.ToFloat64(rec.failures) == 0 || testutil.ToFloat64(rec.dropped) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %v failures, %v dropped", testutil.ToFloat64(rec.failures), testutil.ToFloat64(rec.dropped))
		}
		store.Publish(snapshotOf(4 + i%5))
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if testutil.ToFloat64(rec.events) != 0 {
		t.Errorf("%v events counted as recorded in a closed store", testutil.ToFloat64(rec.events))
	}
	cancel()
	<-done
}
