package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/hostmap"
)

// Message types sent by the server on /api/ws (docs/api.md has examples).
const (
	TypeSnapshot      = "snapshot"       // the graph stream starts again: a whole (or focus) graph
	TypeDiff          = "diff"           // the graph stream's changes since base
	TypeProcesses     = "processes"      // the process-list stream starts again: every row
	TypeProcessesDiff = "processes_diff" // the process list's changes since base
	TypeLayout        = "layout"         // the diagram layout of the focus, after its snapshot or diff
	TypeMap           = "map"            // the map of the host, on each version that changes it
	TypeError         = "error"          // a request could not be honoured; the stream goes on
)

// Message types sent by a client on /api/ws.
const (
	TypeResync    = "resync"    // send each subscribed stream again from a snapshot
	TypeFocus     = "focus"     // make the graph stream the focus subgraph of a pid
	TypeSubscribe = "subscribe" // choose the streams
	TypeExpand    = "expand"    // choose the groups of the focus drawn fd by fd
)

// Limits on the expanded groups a client may ask for.
const (
	MaxExpand      = 256 // group IDs in one request
	MaxExpandIDLen = 512 // bytes in one group ID
)

// LayoutHeadroom is the diagram.Options.Headroom of the layouts the
// websocket sends: one spare row in each channel of a live diagram, so
// that a new connection does not push the kernel layers down.
const LayoutHeadroom = 1

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

// LayoutMessage carries the diagram layout of the focus subgraph of version
// Seq (diagram.NewLayout with the client's expanded groups, and the layout
// last sent to the client for the same pid as Prev).
type LayoutMessage struct {
	Type   string          `json:"type"` // "layout"
	Seq    uint64          `json:"seq"`
	Focus  int             `json:"focus"`
	Layout *diagram.Layout `json:"layout"`
}

// MapMessage carries the map of the host (package hostmap): its groups
// and links, and where each group is drawn. Seq is the version the map was
// computed from: the last that changed it. GET /api/map answers it too.
type MapMessage struct {
	Type string `json:"type,omitempty"` // "map"
	Seq  uint64 `json:"seq,omitempty"`
	*hostmap.Map
	Layout *hostmap.Layout `json:"layout"`
}

// ErrorMessage reports a request that could not be honoured.
type ErrorMessage struct {
	Type  string `json:"type"` // "error"
	Error string `json:"error"`
}

// Request is a message from a client. Type is one of TypeResync,
// TypeFocus (with PID and optionally Expand), TypeExpand (with Expand) and
// TypeSubscribe (with Graph, PID, Processes, Map and Layout).
type Request struct {
	Type      string   `json:"type"`
	PID       int      `json:"pid,omitempty"`
	Host      string   `json:"host,omitempty"` // with PID: the process's host, in a hub (see ?host=)
	Graph     string   `json:"graph,omitempty"`
	Processes *bool    `json:"processes,omitempty"`
	Layout    *bool    `json:"layout,omitempty"`
	Map       *bool    `json:"map,omitempty"`
	Expand    []string `json:"expand,omitempty"`
}

// subscription is what a client asked to receive. It is comparable: the
// expanded groups are kept joined.
type subscription struct {
	graph     string // GraphAll, GraphFocus or GraphNone
	pid       int    // for GraphFocus
	host      string // for GraphFocus: the pid's host ("": any, as graph.Index.Process)
	processes bool
	hostMap   bool   // map messages
	layout    bool   // layout messages after the focus's snapshots and diffs
	expand    string // the expanded group IDs, joined by expandSep
	width     int    // the layout's diagram.Options.Width (0: no wrapping)
	screen    int    // the layout's diagram.Options.Screen (0: width)
	watches   bool   // the layout's diagram.Options.Watches
}

// layoutOptions are the diagram options the subscription asks its layouts for.
func (s subscription) layoutOptions() diagram.Options {
	return diagram.Options{ExpandGroups: s.expandList(), Width: s.width, Screen: s.screen, Watches: s.watches}
}

// expandSep joins expanded group IDs; checkExpand refuses IDs that hold it.
const expandSep = "\x00"

// expandList returns the expanded group IDs (nil for none).
func (s subscription) expandList() []string {
	if s.expand == "" {
		return nil
	}
	return strings.Split(s.expand, expandSep)
}

// checkExpand checks a list of group IDs to expand: at most MaxExpand, each
// at most MaxExpandIDLen bytes, starting with "group:" and without control
// characters. It returns them joined by expandSep.
func checkExpand(ids []string) (string, error) {
	if len(ids) > MaxExpand {
		return "", fmt.Errorf("expand: %d groups, at most %d", len(ids), MaxExpand)
	}
	for _, id := range ids {
		if len(id) > MaxExpandIDLen {
			return "", fmt.Errorf("expand: group ID of %d bytes, at most %d", len(id), MaxExpandIDLen)
		}
		if !strings.HasPrefix(id, diagram.GroupPrefix) {
			return "", fmt.Errorf("expand: %q is not a group ID (group:...)", clip(id, 64))
		}
		if strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", fmt.Errorf("expand: %q holds a control character", clip(id, 64))
		}
	}
	return strings.Join(ids, expandSep), nil
}

// clip shortens s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// parseSubscription reads the subscription from the query of /api/ws:
// graph=all|focus|none (default all), pid=N (with graph=focus, or alone),
// host=NAME (with pid: the process's host, in a hub),
// processes=1|0, map=1|0, layout=1|0, width=N (the layouts' wrapping width in
// cells), screen=N (the cells the client sees at first), watches=1|0 (draw epoll and inotify watches), expand=ID
// (repeated). The bounds are those of params.go.
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
		pid, err := ParsePID(p)
		if err != nil {
			return s, fmt.Errorf("bad pid: %w", err)
		}
		s.pid = pid
		if get("graph") == "" {
			s.graph = GraphFocus
		}
	}
	s.host = get("host")
	for _, b := range []struct {
		name string
		p    *bool
	}{{"processes", &s.processes}, {"map", &s.hostMap}, {"layout", &s.layout}, {"watches", &s.watches}} {
		on, err := ParseSwitch(get(b.name))
		if err != nil {
			return s, fmt.Errorf("bad %s: %w", b.name, err)
		}
		*b.p = on
	}
	for _, c := range []struct {
		name string
		p    *int
	}{{"width", &s.width}, {"screen", &s.screen}} {
		w := get(c.name)
		if w == "" {
			continue
		}
		n, err := strconv.Atoi(w)
		if err == nil {
			err = CheckLayoutWidth(n)
		}
		if err != nil {
			return s, fmt.Errorf("bad %s %q (want 0, or %d to %d cells)", c.name, w, MinLayoutWidth, MaxLayoutWidth)
		}
		*c.p = n
	}
	if ex, ok := q["expand"]; ok {
		e, err := checkExpand(ex)
		if err != nil {
			return s, err
		}
		s.expand = e
	}
	if err := s.check(); err != nil {
		return s, err
	}
	if s.graph != GraphFocus {
		s.expand = ""
	}
	return s, nil
}

func (s subscription) check() error {
	switch s.graph {
	case GraphAll, GraphNone:
		if s.pid != 0 || s.host != "" {
			return fmt.Errorf("pid or host given with graph=%s", s.graph)
		}
	case GraphFocus:
		if s.pid == 0 {
			return fmt.Errorf("graph=focus needs a pid")
		}
		if err := CheckPID(s.pid); err != nil {
			return fmt.Errorf("bad pid: %w", err)
		}
		if s.host != "" {
			if err := CheckHost(s.host); err != nil {
				return fmt.Errorf("bad host: %w", err)
			}
		}
	default:
		return fmt.Errorf("bad graph %q (want all, focus or none)", s.graph)
	}
	return nil
}

// ref names the process in focus.
func (s subscription) ref() focusRef { return focusRef{pid: s.pid, host: s.host} }

// apply returns the subscription after request r, and whether r asked for a resync.
func (s subscription) apply(r Request) (subscription, bool, error) {
	switch r.Type {
	case TypeResync:
		return s, true, nil
	case TypeFocus:
		if err := CheckPID(r.PID); err != nil {
			return s, false, fmt.Errorf("focus: bad pid: %w", err)
		}
		e, err := checkExpand(r.Expand)
		if err != nil {
			return s, false, fmt.Errorf("focus: %w", err)
		}
		s.graph, s.pid, s.host, s.expand = GraphFocus, r.PID, r.Host, e
		if err := s.check(); err != nil {
			return s, false, fmt.Errorf("focus: %w", err)
		}
		return s, false, nil
	case TypeExpand:
		if s.graph != GraphFocus {
			return s, false, fmt.Errorf("expand: no process in focus")
		}
		e, err := checkExpand(r.Expand)
		if err != nil {
			return s, false, err
		}
		s.expand = e
		return s, false, nil
	case TypeSubscribe:
		n := s
		if r.Graph != "" {
			n.graph = r.Graph
		}
		if r.PID != 0 {
			n.pid, n.host = r.PID, r.Host
		}
		if n.graph != GraphFocus {
			n.pid, n.host = 0, ""
		}
		if r.Processes != nil {
			n.processes = *r.Processes
		}
		if r.Layout != nil {
			n.layout = *r.Layout
		}
		if r.Map != nil {
			n.hostMap = *r.Map
		}
		if n.graph != GraphFocus || n.ref() != s.ref() {
			n.expand = ""
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
