package main

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/live"
	"github.com/prometheus/client_golang/prometheus"
)

// activityRecordEvery is how often what each connection carried is
// written to the history store (docs/history.md).
var activityRecordEvery = 10 * time.Second

// newSampler returns the activity sampler of the server, nil where there
// is none (not Linux, another proc root than the machine's, --activity=false).
func newSampler(on bool, procRoot string, store *live.Store, ln net.Listener, reg *prometheus.Registry) *activity.Sampler {
	if !on || procRoot != "/proc" || runtime.GOOS != "linux" {
		return nil
	}
	s := &activity.Sampler{ProcRoot: procRoot, NetNS: func() map[uint64]int {
		_, snap := store.Latest()
		return activity.NetNSOf(snap)
	}}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.IgnoreLocal = a.AddrPort() // the page's own requests
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "fdscope_activity_samples_total", Help: "Samples the activity sampler took."},
			func() float64 { n, _ := s.Stats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "fdscope_activity_cpu_seconds_total", Help: "CPU time of the activity sampler's samples."},
			func() float64 { _, cpu := s.Stats(); return cpu.Seconds() }))
	return s
}

// runActivity samples every interval until ctx is done and, with a
// history store, records what moved every activityRecordEvery.
func runActivity(ctx context.Context, s *activity.Sampler, interval time.Duration, hist *history.DB, log *slog.Logger) {
	done := make(chan struct{})
	go func() { s.Run(ctx, interval); close(done) }()
	defer func() { <-done }()
	if hist == nil {
		return
	}
	t := time.NewTicker(activityRecordEvery)
	defer t.Stop()
	last, failing := time.Now(), false
	s.Flush()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			totals := s.Flush()
			rows := make([]history.Activity, 0, len(totals))
			for _, tot := range totals {
				rows = append(rows, history.Activity{T: now, Inode: tot.Inode, Via: tot.Via, Seconds: now.Sub(last).Seconds(),
					Sent: tot.Sent, Received: tot.Received, MaxQueue: tot.MaxQueue})
			}
			last = now
			if err := hist.WriteActivity(ctx, rows); err != nil && ctx.Err() == nil {
				if !failing {
					log.Warn("activity not recorded", "err", err)
				}
				failing = true
			} else {
				failing = false
			}
		}
	}
}
