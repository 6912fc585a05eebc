package api

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fdscope/fdscope/graph"
)

// Message types sent by the server on /api/ws (docs/api.md has examples).
const (
	TypeSnapshot      = "snapshot"       // the graph stream starts again: a whole (or focus) graph
	TypeDiff          = "diff"           // the graph stream's changes since base
	TypeProcesses     = "processes"      // the process-list stream starts again: every row
	TypeProcessesDiff = "processes_diff" // the process list's changes since base
	TypeError         = "error"          // a request could not be honoured; the stream goes on
)

// Message types sent by a client on /api/ws.
const (
	TypeResync    = "resync"    // send each subscribed stream again from a snapshot
	TypeFocus     = "focus"     // make the graph stream the focus subgraph of a pid
	TypeSubscribe = "subscribe" // choose the streams
)

// Graph stream scopes.
const (
	GraphAll   = "all"   // the whole graph
	GraphFocus = "focus" // the focus subgraph of one process
	GraphNone  = "none"  // no graph stream
)

// SnapshotMessage starts (or restarts) the graph stream.
type SnapshotMessage struct {
	Type  string          `json:"type"` // "snapshot"
	Seq   uint64          `json:"seq"`
	Focus int             `json:"focus,omitempty"` // the pid, for a focus stream
	Graph *graph.Snapshot `json:"graph"`
}

// DiffMessage carries the changes that turn the graph of version Base into
// that of version Seq. A client applies it only if Base is the seq of the
// last snapshot or diff it applied, and otherwise asks for a resync.
type DiffMessage struct {
	Type  string `json:"type"` // "diff"
	Seq   uint64 `json:"seq"`
	Base  uint64 `json:"base"`
	Focus int    `json:"focus,omitempty"`
	*graph.Changes
}

// ProcessesMessage starts (or restarts) the process-list stream.
type ProcessesMessage struct {
	Type      string             `json:"type"` // "processes"
	Seq       uint64             `json:"seq"`
	Processes []graph.ProcessRow `json:"processes"`
}

// ProcessesDiffMessage carries the changes to the process list from
// version Base to version Seq (same rule as DiffMessage).
type ProcessesDiffMessage struct {
	Type string `json:"type"` // "processes_diff"
	Seq  uint64 `json:"seq"`
	Base uint64 `json:"base"`
	*graph.RowChanges
}

// ErrorMessage reports a request that could not be honoured.
type ErrorMessage struct {
	Type  string `json:"type"` // "error"
	Error string `json:"error"`
}

// Request is a message from a client. Type is one of TypeResync,
// TypeFocus (with PID) and TypeSubscribe (with Graph, PID and Processes).
type Request struct {
	Type      string `json:"type"`
	PID       int    `json:"pid,omitempty"`
	Graph     string `json:"graph,omitempty"`
	Processes *bool  `json:"processes,omitempty"`
}

// subscription is what a client asked to receive.
type subscription struct {
	graph     string // GraphAll, GraphFocus or GraphNone
	pid       int    // for GraphFocus
	processes bool
}

// parseSubscription reads the subscription from the query of /api/ws:
// graph=all|focus|none (default all), pid=N (with graph=focus, or alone),
// processes=1.
func parseSubscription(q map[string][]string) (subscription, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	s := subscription{graph: GraphAll}
	if g := get("graph"); g != "" {
		s.graph = g
	}
	if p := get("pid"); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			return s, fmt.Errorf("bad pid %q", p)
		}
		s.pid = pid
		if get("graph") == "" {
			s.graph = GraphFocus
		}
	}
	switch get("processes") {
	case "", "0", "false":
	case "1", "true":
		s.processes = true
	default:
		return s, fmt.Errorf("bad processes %q (want 1 or 0)", get("processes"))
	}
	return s, s.check()
}

func (s subscription) check() error {
	switch s.graph {
	case GraphAll, GraphNone:
		if s.pid != 0 {
			return fmt.Errorf("pid given with graph=%s", s.graph)
		}
	case GraphFocus:
		if s.pid <= 0 {
			return fmt.Errorf("graph=focus needs a pid")
		}
	default:
		return fmt.Errorf("bad graph %q (want all, focus or none)", s.graph)
	}
	return nil
}

// apply returns the subscription after request r, and whether r asked for a resync.
func (s subscription) apply(r Request) (subscription, bool, error) {
	switch r.Type {
	case TypeResync:
		return s, true, nil
	case TypeFocus:
		if r.PID <= 0 {
			return s, false, fmt.Errorf("focus: bad pid %d", r.PID)
		}
		s.graph, s.pid = GraphFocus, r.PID
		return s, false, nil
	case TypeSubscribe:
		n := s
		if r.Graph != "" {
			n.graph = r.Graph
		}
		if r.PID != 0 {
			n.pid = r.PID
		}
		if n.graph != GraphFocus {
			n.pid = 0
		}
		if r.Processes != nil {
			n.processes = *r.Processes
		}
		if err := n.check(); err != nil {
			return s, false, fmt.Errorf("subscribe: %w", err)
		}
		return n, false, nil
	}
	return s, false, fmt.Errorf("unknown request type %q", r.Type)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every wire type is plain data: this cannot fail.
		panic(fmt.Sprintf("api: encode %T: %v", v, err))
	}
	return b
}
