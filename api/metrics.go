package api

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus metrics.
type metrics struct {
	clients   prometheus.Gauge
	connected prometheus.Counter
	messages  *prometheus.CounterVec
	bytes     prometheus.Counter
	dropped   *prometheus.CounterVec
	resyncs   *prometheus.CounterVec
	refused   *prometheus.CounterVec
	seq       prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, seq func() float64) *metrics {
	m := &metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fdscope_ws_clients", Help: "Websocket clients connected now.",
		}),
		connected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fdscope_ws_connections_total", Help: "Websocket clients accepted.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_ws_messages_total", Help: "Websocket messages sent, by type.",
		}, []string{"type"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fdscope_ws_sent_bytes_total", Help: "Bytes of websocket messages sent (payloads).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_ws_dropped_clients_total",
			Help: "Websocket clients the server disconnected, by reason: slow (a write timed out), heartbeat (no pong in time), requests (too many requests).",
		}, []string{"reason"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_ws_resyncs_total",
			Help: "Snapshots sent to a client already streaming, by reason: gap (it fell behind the kept versions) or request (it asked).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fdscope_http_refused_total",
			Help: "Requests refused, by reason: host, origin, token, user (another user and no token set), limit (too many connections), busy (too many large answers under way).",
		}, []string{"reason"}),
		seq: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fdscope_graph_version", Help: "Sequence number of the latest version of the graph.",
		}, seq),
	}
	// Export every series from the start, at zero.
	for _, t := range []string{TypeSnapshot, TypeDiff, TypeProcesses, TypeProcessesDiff, TypeError} {
		m.messages.WithLabelValues(t)
	}
	for _, r := range []string{"slow", "heartbeat", "requests"} {
		m.dropped.WithLabelValues(r)
	}
	for _, r := range []string{"gap", "request"} {
		m.resyncs.WithLabelValues(r)
	}
	for _, r := range []string{"host", "origin", "token", "user", "limit", "busy"} {
		m.refused.WithLabelValues(r)
	}
	reg.MustRegister(m.clients, m.connected, m.messages, m.bytes, m.dropped, m.resyncs, m.refused, m.seq)
	return m
}
