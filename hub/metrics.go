package hub

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's own, on the hub's /metrics.
type metrics struct {
	merge    prometheus.Histogram
	messages prometheus.Counter
	resyncs  prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, h *Hub) *metrics {
	m := &metrics{
		merge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fdscope_hub_merge_seconds",
			Help:    "Time to merge the agents' graphs into one.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fdscope_hub_agent_messages_total",
			Help: "Snapshots and diffs received from the agents.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fdscope_hub_agent_resyncs_total",
			Help: "Resyncs asked of agents after a missed version.",
		}),
	}
	if reg == nil {
		return m
	}
	count := func(state string) func() float64 {
		return func() float64 {
			up, down, absent := h.countAgents()
			return float64(map[string]int{"up": up, "down": down, "absent": absent}[state])
		}
	}
	reg.MustRegister(m.merge, m.messages, m.resyncs)
	for _, state := range []string{"up", "down", "absent"} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "fdscope_hub_agents",
			Help:        "Agents by state: up (streaming), down (unreachable, still shown, marked), absent (never reached, or dropped).",
			ConstLabels: prometheus.Labels{"state": state},
		}, count(state)))
	}
	return m
}

// countAgents counts the agents by state.
func (h *Hub) countAgents() (up, down, absent int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ag := range h.agents {
		switch v := ag.view(); {
		case v == nil:
			absent++
		case v.down != "":
			down++
		default:
			up++
		}
	}
	return up, down, absent
}
