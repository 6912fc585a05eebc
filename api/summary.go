package api

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/fdscope/fdscope/graph"
)

// SummaryTop is how many processes each top list of the summary holds.
const SummaryTop = 10

// Summary is the body of GET /api/summary: the host at a glance.
type Summary struct {
	Seq   uint64      `json:"seq"`
	Stats graph.Stats `json:"stats"`
	// Kinds counts the nodes of each kind (process, fd, ofd, socket, pipe, file, ...).
	Kinds map[graph.Kind]int `json:"kinds"`
	// Sockets counts sockets by protocol for inet and inet6 (tcp, udp,
	// ...), by family otherwise (unix, netlink, packet, ...).
	Sockets map[string]int `json:"sockets"`
	// TopConnections are the processes connected to the most processes
	// (ProcessRow.Connections: sharing stdio makes no connection), TopFDs
	// those with the most fds: at most SummaryTop each, most first, then
	// by pid.
	TopConnections []graph.ProcessRow `json:"top_connections"`
	TopFDs         []graph.ProcessRow `json:"top_fds"`
}

// socketClass is the key a socket is counted under in Summary.Sockets.
func socketClass(n *graph.Node) string {
	if n.Object == nil || n.Socket == nil {
		return "unknown"
	}
	return n.Socket.Class()
}

// top returns the first n rows by key, most first, then by pid.
func top(rows []graph.ProcessRow, n int, key func(graph.ProcessRow) int) []graph.ProcessRow {
	out := append([]graph.ProcessRow{}, rows...)
	slices.SortStableFunc(out, func(a, b graph.ProcessRow) int {
		return cmp.Or(cmp.Compare(key(b), key(a)), cmp.Compare(a.PID, b.PID))
	})
	out = slices.DeleteFunc(out, func(r graph.ProcessRow) bool { return key(r) == 0 })
	return slices.Clip(out[:min(n, len(out))])
}

// summarize computes the summary of one version, once.
func (v *view) summarize() *Summary {
	v.summaryOnce.Do(func() {
		s := &Summary{Seq: v.seq, Stats: v.snap.Stats, Kinds: v.snap.CountKinds(), Sockets: map[string]int{}}
		for _, n := range v.snap.Nodes {
			if n.Kind == graph.KindSocket {
				s.Sockets[socketClass(n)]++
			}
		}
		rows := v.processes()
		s.TopConnections = top(rows, SummaryTop, func(r graph.ProcessRow) int { return r.Connections })
		s.TopFDs = top(rows, SummaryTop, func(r graph.ProcessRow) int { return r.FDCount })
		v.summary = s
	})
	return v.summary
}

// GET /api/summary: node counts by kind, sockets by protocol, the
// processes with the most connections and fds, and the scan's stats.
func (s *Server) getSummary(w http.ResponseWriter, r *http.Request) {
	if v := s.latest(w); v != nil {
		sum := *v.summarize()
		// The latest stats (a scan that changed nothing refreshes them).
		if _, snap := s.opts.Source.Latest(); snap != nil {
			sum.Stats = snap.Stats
		}
		writeJSON(w, http.StatusOK, sum)
	}
}
