//go:build linux

package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/conntrace"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/live"
)

// BenchmarkConnEventsServer measures what the server spends on
// connection events: in this process only the tracer's reader and the
// history recorder (no scans: its store never gets a version), while two
// other processes make b.N loopback TCP connections as fast as one
// goroutine can (connect, write a byte, close; the server side reads to
// the end and closes). It waits until every one is in the store, and
// reports the CPU this process used (user+system, from getrusage) per
// connection and as a share of one core, and the connections per second
// the client made. Root only.
//
//	go test -run '^$' -bench ConnEventsServer -benchtime 100000x .
func BenchmarkConnEventsServer(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("connection events need root")
	}
	db, err := history.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tr, err := conntrace.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &history.Recorder{DB: db}
	done := make(chan struct{}, 2)
	go func() { rec.Run(ctx, live.NewStore(live.DefaultWindow)); done <- struct{}{} }()
	go func() { recordConns(ctx, tr, rec, os.Getpid(), slog.New(slog.DiscardHandler)); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	burst := proctest.StartBurst(b, "tcp", b.N)
	start := time.Now()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	made := burst.Run()
	made1 := time.Now()
	// The connections are written in the order they closed: once the last
	// one is in the store, all are. The CPU time of the reads that wait
	// for it (on this goroutine's own thread) is not counted.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var polls time.Duration
	last := made[len(made)-1].Inode
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		t0 := threadCPU(b)
		evs, err := db.Changes(ctx, history.Query{Since: start, Until: time.Now(), PID: burst.Client.PID, Limit: 4*b.N + 100})
		if err != nil {
			b.Fatal(err)
		}
		found := slices.ContainsFunc(evs, func(e history.Event) bool { return e.Kind == history.ConnClose && e.Inode == last })
		polls += threadCPU(b) - t0
		if found {
			break
		}
		if time.Now().After(deadline) {
			t, _ := tr.Totals()
			b.Fatalf("the last connection not recorded after 5 minutes (%+v)", t)
		}
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0 - polls
	wall := time.Since(start)
	evs, err := db.Changes(ctx, history.Query{Since: start, Until: time.Now(), PID: burst.Client.PID, Limit: 4*b.N + 100})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == history.ConnClose && e.Source == history.SourceKernel && e.PeerPID == burst.Server.PID {
			n++
		}
	}
	if n != b.N {
		b.Errorf("%d of %d connections recorded with both pids", n, b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/conn")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(b.N)/made1.Sub(start).Seconds(), "conns/s")
	if t, err := tr.Totals(); err == nil {
		b.ReportMetric(float64(t.Lost), "lost")
	}
}

// threadCPU is the CPU time of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// cpuTime is the user and system time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
