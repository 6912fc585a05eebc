// Package hub merges the graphs of many fdscope agents into one. An agent
// is an `fdscope serve` on another host; the hub keeps one websocket to
// each (its whole-graph stream of docs/api.md: a snapshot, then diffs),
// applies their diffs, and publishes the merged graph to a live.Store,
// which package api serves as it serves one host's.
//
// In the merged graph every node ID is prefixed with its host's name and a
// slash ("node-1/proc:42:1234"), every process node carries its host
// (graph.Process.Host), and a TCP or UDP connection whose two ends are on
// two hosts — the 4-tuple of one is that of the other reversed — becomes a
// peer edge between the two sockets. An agent that cannot be reached keeps
// its last graph, its processes marked with an error, until DropAfter; it
// comes back with a fresh snapshot. docs/hub.md documents it.
//
// Each agent has its own goroutine and holds one graph (plus the message
// being read, at most MaxMessageBytes): a slow or stuck agent delays
// nobody else, and the merge only reads the graphs the agents last made.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/live"
)

// Refresh is how often the hub merges while no agent changes, so that
// the merged graph's Stats.StartedAt (the time of the merge) stays recent.
const Refresh = 10 * time.Second

// Agent is one fdscope serve to subscribe to.
type Agent struct {
	// Host names the agent's host in the merged graph: the prefix of its
	// node IDs and the process nodes' host. It must not hold a slash.
	Host string
	// URL is the agent's base URL (http://10.0.0.5:8080); the hub dials
	// URL/api/ws, as ws:// or wss://.
	URL string
}

// Options configure a Hub. Store is required.
type Options struct {
	// Store receives the merged graph.
	Store *live.Store
	// Token is sent to every agent as Authorization: Bearer.
	Token string
	// HTTPClient dials the agents; nil is http.DefaultClient.
	HTTPClient *http.Client
	// Log receives the agents' comings and goings; nil discards them.
	Log *slog.Logger
	// DropAfter is how long an unreachable agent's graph stays in the
	// merged one, marked; default 2 minutes.
	DropAfter time.Duration
	// RetryMin and RetryMax bound the wait between two attempts to reach
	// an agent (doubling from RetryMin); defaults 500 ms and 15 s.
	RetryMin, RetryMax time.Duration
	// Heartbeat is how often the hub pings each agent; an agent that does
	// not answer within it is taken as gone. Default 15 s.
	Heartbeat time.Duration
	// MaxMessageBytes is the largest message read from an agent (its
	// snapshot, on a busy host tens of megabytes); default 256 MiB.
	MaxMessageBytes int64
	// Registry receives the hub's metrics (fdscope_hub_*); nil: none.
	Registry *prometheus.Registry
	// Coalesce is how long the hub waits after an agent's change for more
	// before it merges: one merge for a burst. Default 100 ms.
	Coalesce time.Duration
}

// Hub subscribes to agents and publishes their merged graph. Create it
// with New, name the agents with SetAgents (again whenever they change),
// and call Run.
type Hub struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu     sync.Mutex
	agents map[Agent]*agent // by who they are
	wake   chan struct{}    // capacity 1: some agent's view changed
	ctx    context.Context  // Run's, for the agents' goroutines; nil before Run
	wg     sync.WaitGroup
}

// New returns a Hub with the given options.
func New(opts Options) (*Hub, error) {
	if opts.Store == nil {
		return nil, errors.New("hub: no Store")
	}
	setDefault(&opts.DropAfter, 2*time.Minute)
	setDefault(&opts.RetryMin, 500*time.Millisecond)
	setDefault(&opts.RetryMax, 15*time.Second)
	setDefault(&opts.Heartbeat, 15*time.Second)
	setDefault(&opts.MaxMessageBytes, 256<<20)
	setDefault(&opts.Coalesce, 100*time.Millisecond)
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{opts: opts, log: opts.Log, agents: make(map[Agent]*agent), wake: make(chan struct{}, 1)}
	h.metrics = newMetrics(opts.Registry, h)
	return h, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// SetAgents makes the given agents the ones the hub subscribes to: new
// ones are dialled, and those no longer listed are let go and leave the
// merged graph. Two agents with one Host are an error. Safe to call at
// any time, before or during Run.
func (h *Hub) SetAgents(list []Agent) error {
	hosts := make(map[string]bool, len(list))
	for _, a := range list {
		if err := validHost(a.Host); err != nil {
			return err
		}
		if hosts[a.Host] {
			return errors.New("hub: two agents named " + a.Host)
		}
		hosts[a.Host] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	want := make(map[Agent]bool, len(list))
	for _, a := range list {
		want[a] = true
		if h.agents[a] == nil {
			ag := newAgent(a, h)
			h.agents[a] = ag
			if h.ctx != nil {
				h.start(ag)
			}
		}
	}
	for a, ag := range h.agents {
		if !want[a] {
			ag.stop()
			delete(h.agents, a)
			h.log.Info("agent removed", "host", a.Host, "url", a.URL)
		}
	}
	h.poke()
	return nil
}

func validHost(host string) error {
	if host == "" {
		return errors.New("hub: an agent without a host name")
	}
	for _, r := range host {
		if r == '/' || r < ' ' {
			return errors.New("hub: agent host name " + host + " holds a slash or a control character")
		}
	}
	return nil
}

// start runs ag's goroutine; h.mu is held.
func (h *Hub) start(ag *agent) {
	ctx, cancel := context.WithCancel(h.ctx)
	ag.cancel = cancel
	h.wg.Go(func() { ag.run(ctx) })
}

// poke asks the merge loop for a merge, without blocking.
func (h *Hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run keeps the agents' streams and publishes the merged graph after
// every change, until ctx is done; it returns when every agent's
// goroutine has.
func (h *Hub) Run(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	for _, ag := range h.agents {
		h.start(ag)
	}
	h.mu.Unlock()
	defer h.wg.Wait()
	// Agents send nothing while their hosts do not change: a merge now
	// and then keeps the stats' time (and /healthz) fresh.
	refresh := time.NewTicker(Refresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-refresh.C:
		}
		// Let a burst of changes from many agents make one merge.
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.opts.Coalesce):
		}
		start := time.Now()
		s := h.Merge()
		h.metrics.merge.Observe(time.Since(start).Seconds())
		h.opts.Store.Publish(s)
	}
}

// Merge returns the merged graph of what every agent last sent. Run
// publishes it; tests and benchmarks call it directly.
func (h *Hub) Merge() *graph.Snapshot {
	h.mu.Lock()
	agents := slices.Collect(maps.Values(h.agents))
	h.mu.Unlock()
	views := make([]*view, 0, len(agents))
	for _, ag := range agents {
		if v := ag.view(); v != nil {
			views = append(views, v)
		}
	}
	return merge(views, time.Now())
}
