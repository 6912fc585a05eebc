package live

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Loop's Prometheus metrics. Create them with NewMetrics.
type Metrics struct {
	tickSeconds   *prometheus.HistogramVec
	tickCPU       *prometheus.CounterVec
	ticks         *prometheus.CounterVec
	scanSeconds   prometheus.Gauge
	rescannedPIDs prometheus.Counter
	nodes         *prometheus.GaugeVec
	edges         prometheus.Gauge
}

// NewMetrics creates the Loop's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tickSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fdscope_tick_duration_seconds",
			Help:    "Wall time of one tick of the live loop (probe and scan), by outcome: idle, rescan, full or failed.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"outcome"}),
		tickCPU: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_tick_cpu_seconds_total",
			Help: "CPU time (user + system, whole process) spent during ticks of the live loop, by outcome.",
		}, []string{"outcome"}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_ticks_total",
			Help: "Ticks of the live loop, by outcome.",
		}, []string{"outcome"}),
		scanSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fdscope_scan_duration_seconds",
			Help: "Wall time of the last scan as the scanner reports it in the snapshot's stats.",
		}),
		rescannedPIDs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fdscope_rescanned_processes_total",
			Help: "Processes read again by incremental ticks.",
		}),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fdscope_graph_nodes",
			Help: "Nodes in the latest snapshot, by kind.",
		}, []string{"kind"}),
		edges: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fdscope_graph_edges",
			Help: "Edges in the latest snapshot.",
		}),
	}
	for _, o := range []string{TickIdle, TickRescan, TickFull, TickFailed} {
		m.tickCPU.WithLabelValues(o)
		m.ticks.WithLabelValues(o)
	}
	reg.MustRegister(m.tickSeconds, m.tickCPU, m.ticks, m.scanSeconds, m.rescannedPIDs, m.nodes, m.edges)
	return m
}

func (m *Metrics) tick(outcome string, pids int, took, cpu time.Duration, snap *graph.Snapshot) {
	m.tickSeconds.WithLabelValues(outcome).Observe(took.Seconds())
	m.tickCPU.WithLabelValues(outcome).Add(cpu.Seconds())
	m.ticks.WithLabelValues(outcome).Inc()
	if outcome == TickRescan {
		m.rescannedPIDs.Add(float64(pids))
	}
	if snap == nil || outcome == TickIdle || outcome == TickFailed {
		return
	}
	m.scanSeconds.Set(snap.Stats.DurationMS / 1000)
	m.nodes.Reset()
	for k, n := range snap.CountKinds() {
		m.nodes.WithLabelValues(string(k)).Set(float64(n))
	}
	m.edges.Set(float64(len(snap.Edges)))
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
