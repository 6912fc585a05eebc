// Package history records what the live loop sees change — processes
// starting and exiting, fds opening and closing, connections opening and
// closing with both ends — in an SQLite database on disk, and answers
// questions about the past: the changes in a time range, the graph as it
// was at a time. docs/history.md describes the store's tables.
//
// A Recorder follows a Source (a live.Store) from its own goroutines: the
// live loop never waits for it, nor for the disk. The graph at a past time
// is rebuilt from periodic full snapshots and the diff of every version
// after them.
package history

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

// Source is what a Recorder follows; *live.Store is one.
type Source interface {
	Latest() (uint64, *graph.Snapshot)
	Changes(seq uint64) (*graph.Changes, bool)
	Notify() (<-chan struct{}, func())
}

// Defaults of a Recorder's zero fields.
const (
	DefaultMaxAge        = 24 * time.Hour
	DefaultMaxSize       = 256 << 20
	DefaultSnapshotEvery = 5 * time.Minute
	DefaultPruneEvery    = time.Minute
	DefaultQueue         = 64
)

// Recorder writes the versions of a Source to a DB. Set the fields, then
// call Run once.
type Recorder struct {
	DB *DB
	// MaxAge and MaxSize bound what is kept (DefaultMaxAge, DefaultMaxSize).
	MaxAge  time.Duration
	MaxSize int64
	// SnapshotEvery is how often a full snapshot is stored; the graph at a
	// past time is the snapshot before it and the diffs after that.
	SnapshotEvery time.Duration
	// PruneEvery is how often retention is applied.
	PruneEvery time.Duration
	// Queue is how many batches may wait for the disk; when it is full a
	// batch is dropped (and counted) rather than waited for.
	Queue int
	// Log receives write failures; nil discards.
	Log *slog.Logger
	// Registry, when set, receives the recorder's metrics.
	Registry prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// ProcRoot is where exec'd processes' names are read; default /proc.
	ProcRoot string

	once                                sync.Once
	events, dropped, versions, failures prometheus.Counter
	broken                              atomic.Bool // a batch was lost: the next one needs a snapshot
	procEvents                          chan live.ProcEvent
	kernelConns                         chan kernelConn
	deduplicated                        prometheus.Counter
	scanned                             scannedSockets                 // what scans recorded, against which kernelConns are checked
	comms                               atomic.Pointer[map[int]string] // pid → comm in the latest version
}

// ProcEvent records a process's exec or exit as the proc connector
// reports it (give it to live.ListenProcEventsTo): it never blocks, and
// drops (and counts) the event when the recorder is that far behind.
func (r *Recorder) ProcEvent(e live.ProcEvent) {
	r.once.Do(r.defaults)
	select {
	case r.procEvents <- e:
	default:
		r.dropped.Inc()
	}
}

func (r *Recorder) defaults() {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultMaxAge
	}
	if r.MaxSize <= 0 {
		r.MaxSize = DefaultMaxSize
	}
	if r.SnapshotEvery <= 0 {
		r.SnapshotEvery = DefaultSnapshotEvery
	}
	if r.PruneEvery <= 0 {
		r.PruneEvery = DefaultPruneEvery
	}
	if r.Queue <= 0 {
		r.Queue = DefaultQueue
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.ProcRoot == "" {
		r.ProcRoot = "/proc"
	}
	r.procEvents = make(chan live.ProcEvent, procEventQueue)
	r.kernelConns = make(chan kernelConn, kernelConnQueue)
	r.deduplicated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fdscope_history_kernel_conns_seen_by_scans_total",
		Help: "Connections the kernel reported that were not recorded from its report: a scan had seen (and recorded) them.",
	})
	r.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fdscope_history_events_total", Help: "Changes recorded in the history store.",
	})
	r.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fdscope_history_dropped_events_total",
		Help: "Changes not recorded: the store's queue was full (a slow disk) or a write failed.",
	})
	r.versions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fdscope_history_skipped_versions_total",
		Help: "Versions of the graph the recorder could not diff one by one (it fell behind the live store's window).",
	})
	r.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fdscope_history_write_errors_total", Help: "Writes to the history store that failed.",
	})
	if r.Registry != nil {
		r.Registry.MustRegister(r.events, r.dropped, r.versions, r.failures, r.deduplicated)
		r.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fdscope_history_queue_capacity", Help: "Batches the history store's queue holds at most.",
		}, func() float64 { return float64(r.Queue) }))
	}
}

// Run records every version of src until ctx is done; it returns when
// what was queued is written (or ctx's cancellation interrupts it).
func (r *Recorder) Run(ctx context.Context, src Source) {
	r.once.Do(r.defaults)
	queue := make(chan *batch, r.Queue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.write(queue)
	}()
	var wg sync.WaitGroup
	wg.Go(func() { r.followProcEvents(ctx, queue) })
	wg.Go(func() { r.followKernelConns(ctx, queue) })
	r.follow(ctx, src, queue)
	wg.Wait()
	close(queue)
	<-done
}

// procEventQueue is how many proc connector events may wait to be batched.
const procEventQueue = 4096

// followProcEvents batches the events ProcEvent receives (every 250 ms, or
// every 256 events) and queues them without waiting.
func (r *Recorder) followProcEvents(ctx context.Context, queue chan<- *batch) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	execd := map[int]string{} // comm of the processes exec'd since the latest version
	var pending []Event
	flush := func() {
		if len(pending) == 0 {
			return
		}
		select {
		case queue <- &batch{t: r.Now(), events: pending}:
		default:
			r.dropped.Add(float64(len(pending)))
		}
		pending = nil
	}
	for {
		select {
		case <-ctx.Done():
			flush()
			return
		case <-tick.C:
			flush()
		case e := <-r.procEvents:
			ev := Event{Time: e.Time, Kind: e.Kind, PID: e.PID, FD: -1, PeerFD: -1, Source: SourceProcConnector}
			switch e.Kind {
			case Exec:
				ev.Comm, ev.Name = readComm(r.ProcRoot, e.PID), readCmdline(r.ProcRoot, e.PID)
				if len(execd) > 1<<16 {
					clear(execd)
				}
				execd[e.PID] = ev.Comm
			case Exit:
				ev.Comm = execd[e.PID]
				delete(execd, e.PID)
				if m := r.comms.Load(); ev.Comm == "" && m != nil {
					ev.Comm = (*m)[e.PID]
				}
				ev.Name = exitStatus(e.ExitStatus)
			}
			if pending = append(pending, ev); len(pending) >= 256 {
				flush()
			}
		}
	}
}

// exitStatus describes a wait status.
func exitStatus(ws int) string {
	if sig := ws & 0x7f; sig != 0 {
		return "killed by signal " + itoa(sig)
	}
	return "exit status " + itoa(ws>>8&0xff)
}

func readComm(procRoot string, pid int) string {
	b, _ := os.ReadFile(filepath.Join(procRoot, itoa(pid), "comm"))
	return strings.TrimSuffix(string(b), "\n")
}

func readCmdline(procRoot string, pid int) string {
	b, _ := os.ReadFile(filepath.Join(procRoot, itoa(pid), "cmdline"))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// follow turns each version of src into a batch and queues it without
// waiting.
func (r *Recorder) follow(ctx context.Context, src Source, queue chan<- *batch) {
	wake, stop := src.Notify()
	defer stop()
	var (
		lastSeq  uint64
		prev     *state
		lastSnap time.Time
	)
	for {
		seq, snap := src.Latest()
		if snap != nil && seq != lastSeq {
			now := r.Now()
			b := &batch{t: now}
			cur := stateOf(snap, prev)
			comms := make(map[int]string, len(cur.procs))
			for _, p := range cur.procs {
				comms[p.PID] = p.Process.Comm
			}
			r.comms.Store(&comms)
			if prev == nil {
				r.scanned.update(nil, cur, now)
			} else {
				b.events = diffStates(prev, cur, now)
				r.scanned.update(b.events, nil, now)
				for s := lastSeq + 1; s <= seq; s++ {
					c, ok := src.Changes(s)
					if !ok {
						r.versions.Inc()
						b.changes, b.snap = nil, snap
						break
					}
					b.changes = append(b.changes, c)
				}
			}
			if prev == nil || r.broken.Swap(false) || now.Sub(lastSnap) >= r.SnapshotEvery {
				b.snap = snap
			}
			if b.snap != nil {
				lastSnap = now
				b.changes = nil // the snapshot says it all
			}
			select {
			case queue <- b:
			default:
				r.dropped.Add(float64(len(b.events)))
				r.broken.Store(true)
			}
			prev, lastSeq = cur, seq
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// write writes the batches and applies retention, until queue is closed.
func (r *Recorder) write(queue <-chan *batch) {
	ctx := context.Background()
	var lastPrune time.Time
	failing := false
	for b := range queue {
		if err := r.DB.write(ctx, b); err != nil {
			r.failures.Inc()
			r.dropped.Add(float64(len(b.events)))
			r.broken.Store(true)
			if !failing {
				r.Log.Warn("history: recording paused: cannot write to the store (the live dashboard is not affected)", "path", r.DB.Path(), "err", err)
			}
			failing = true
			continue
		}
		if failing {
			r.Log.Info("history: recording again", "path", r.DB.Path())
			failing = false
		}
		r.events.Add(float64(len(b.events)))
		if now := r.Now(); now.Sub(lastPrune) >= r.PruneEvery {
			lastPrune = now
			if err := r.DB.Prune(ctx, now.Add(-r.MaxAge), r.MaxSize); err != nil {
				r.Log.Warn("history: retention", "err", err)
			}
		}
	}
}
