package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/fdscope/fdscope/graph"
)

// agent is the hub's side of one agent: a goroutine that keeps its stream
// and the view it last made of it.
type agent struct {
	Agent
	h      *Hub
	cancel context.CancelFunc // stops run; nil before it starts

	mu  sync.Mutex
	cur *view // nil: nothing to show (never reached, or dropped)
}

func newAgent(a Agent, h *Hub) *agent { return &agent{Agent: a, h: h} }

func (a *agent) view() *view {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func (a *agent) setView(v *view) {
	a.mu.Lock()
	a.cur = v
	a.mu.Unlock()
	a.h.poke()
}

// stop ends the agent's goroutine; its view leaves the merged graph.
func (a *agent) stop() {
	if a.cancel != nil {
		a.cancel()
	}
	a.setView(nil)
}

// run keeps the agent's stream until ctx is done: it dials, follows the
// stream, and when it ends marks the agent unreachable, dials again after
// a growing wait, and drops the agent's graph once it has been
// unreachable for DropAfter.
func (a *agent) run(ctx context.Context) {
	o := &a.h.opts
	log := a.h.log.With("host", a.Host, "url", a.URL)
	wait := o.RetryMin
	var downSince time.Time
	for {
		up, err := a.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if up || downSince.IsZero() {
			downSince = now
			wait = o.RetryMin
			log.Warn("agent unreachable", "err", err)
			if v := a.view(); v != nil {
				a.setView(v.markDown(err, now))
			}
		}
		dropAt := downSince.Add(o.DropAfter)
		if !now.Before(dropAt) && a.view() != nil {
			log.Warn("agent dropped", "unreachable_for", now.Sub(downSince).Round(time.Second))
			a.setView(nil)
		}
		sleep := wait
		if d := dropAt.Sub(now); d > 0 && d < sleep {
			sleep = d
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, o.RetryMax)
	}
}

// message is what the hub reads of an agent's messages: the graph
// stream's snapshots and diffs (api.SnapshotMessage, api.DiffMessage) and
// errors.
type message struct {
	Type  string          `json:"type"`
	Seq   uint64          `json:"seq"`
	Base  uint64          `json:"base"`
	Focus int             `json:"focus"`
	Graph *graph.Snapshot `json:"graph"`
	Error string          `json:"error"`
	graph.Changes
}

// stream follows the agent's whole-graph stream until it ends, and says
// whether it got as far as a snapshot (the agent was up) and why it ended.
func (a *agent) stream(ctx context.Context) (up bool, err error) {
	o := &a.h.opts
	u, err := wsURL(a.URL)
	if err != nil {
		return false, err
	}
	h := http.Header{}
	if o.Token != "" {
		h.Set("Authorization", "Bearer "+o.Token)
	}
	dctx, cancel := context.WithTimeout(ctx, o.Heartbeat)
	c, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: h})
	cancel()
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", u, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(o.MaxMessageBytes)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		// A silent agent may be idle or gone: its pong tells.
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(sctx, o.Heartbeat)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				c.CloseNow()
				return
			}
		}
	}()

	prefix := a.Host + "/"
	var snap *graph.Snapshot
	var seq uint64
	resyncing := false
	for {
		var m message
		if err := wsjson.Read(sctx, c, &m); err != nil {
			return up, fmt.Errorf("read: %w", err)
		}
		switch m.Type {
		case "snapshot":
			if m.Graph == nil || m.Focus != 0 {
				return up, errors.New("agent sent a snapshot that is not of the whole graph")
			}
			if !up {
				a.h.log.Info("agent streaming", "host", a.Host, "url", a.URL, "nodes", len(m.Graph.Nodes))
			}
			snap, seq, resyncing, up = prefixSnapshot(prefix, a.Host, m.Graph), m.Seq, false, true
		case "diff":
			if snap == nil || m.Base != seq {
				// A missed version: start again from a snapshot.
				if !resyncing {
					a.h.metrics.resyncs.Inc()
					if err := wsjson.Write(sctx, c, map[string]string{"type": "resync"}); err != nil {
						return up, fmt.Errorf("ask for a resync: %w", err)
					}
					resyncing = true
				}
				continue
			}
			snap, seq = graph.Apply(snap, prefixChanges(prefix, a.Host, &m.Changes)), m.Seq
		case "error":
			a.h.log.Warn("agent says", "host", a.Host, "error", m.Error)
			continue
		default:
			continue
		}
		a.h.metrics.messages.Inc()
		a.setView(newView(a.Host, snap))
	}
}

// wsURL turns an agent's base URL into that of its websocket.
func wsURL(base string) (string, error) {
	base = strings.TrimSuffix(base, "/")
	switch {
	case strings.HasPrefix(base, "http://"):
		return "ws://" + strings.TrimPrefix(base, "http://") + "/api/ws", nil
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://") + "/api/ws", nil
	case strings.HasPrefix(base, "ws://"), strings.HasPrefix(base, "wss://"):
		return base + "/api/ws", nil
	}
	return "", fmt.Errorf("agent URL %q: want http:// or https://", base)
}

// prefixSnapshot renames, in place, the nodes and edges of s (just
// decoded, owned by the caller) into the host's name space, and returns
// them as a snapshot.
func prefixSnapshot(prefix, host string, s *graph.Snapshot) *graph.Snapshot {
	prefixNodes(prefix, host, s.Nodes)
	prefixEdges(prefix, s.Edges)
	return graph.NewOwned(s.Nodes, s.Edges, s.Stats)
}

// prefixChanges does the same to a diff.
func prefixChanges(prefix, host string, d *graph.Changes) *graph.Changes {
	prefixNodes(prefix, host, d.NodesAdded)
	prefixNodes(prefix, host, d.NodesChanged)
	for i := range d.NodesRemoved {
		d.NodesRemoved[i] = prefix + d.NodesRemoved[i]
	}
	prefixEdges(prefix, d.EdgesAdded)
	prefixEdges(prefix, d.EdgesRemoved)
	return d
}

func prefixNodes(prefix, host string, nodes []*graph.Node) {
	for _, n := range nodes {
		n.ID = prefix + n.ID
		if n.Process != nil {
			n.Process.Host = host
		}
	}
}

func prefixEdges(prefix string, edges []graph.Edge) {
	for i := range edges {
		edges[i].From = prefix + edges[i].From
		edges[i].To = prefix + edges[i].To
	}
}
