package hub

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// view is what one agent contributes to the merged graph: its graph in
// its host's name space, and its TCP and UDP sockets' 4-tuples for the
// matching across hosts. A view is immutable.
type view struct {
	host  string
	snap  *graph.Snapshot
	ends  []endpoint
	down  string // why the agent is unreachable; "" while it is up
	since time.Time
}

// endpoint is one connected TCP or UDP socket: its protocol and 4-tuple.
type endpoint struct {
	proto         string
	local, remote netip.AddrPort
	id            string
}

// tuple is an endpoint's key: the same for both ends of a connection
// when the one's local and remote are swapped.
type tuple struct {
	proto         string
	local, remote netip.AddrPort
}

func newView(host string, s *graph.Snapshot) *view {
	v := &view{host: host, snap: s}
	for _, n := range s.Nodes {
		if e, ok := endpointOf(n); ok {
			v.ends = append(v.ends, e)
		}
	}
	return v
}

// endpointOf returns n's endpoint if n is a TCP or UDP socket connected
// to an address that can be on another host: loopback addresses and
// unconnected or listening sockets never are.
func endpointOf(n *graph.Node) (endpoint, bool) {
	if n.Kind != graph.KindSocket || n.Object == nil || n.Socket == nil || !n.Socket.Family.IsInet() {
		return endpoint{}, false
	}
	s := n.Socket
	if (s.Protocol != "tcp" && s.Protocol != "udp") || s.State == "listen" {
		return endpoint{}, false
	}
	local, err1 := netip.ParseAddrPort(s.Local)
	remote, err2 := netip.ParseAddrPort(s.Remote)
	if err1 != nil || err2 != nil {
		return endpoint{}, false
	}
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	for _, a := range []netip.AddrPort{local, remote} {
		if a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().IsLoopback() {
			return endpoint{}, false
		}
	}
	return endpoint{proto: s.Protocol, local: local, remote: remote, id: n.ID}, true
}

// HostUnreachable starts the error of the process nodes of an agent that
// cannot be reached.
const HostUnreachable = "host unreachable"

// markDown returns v with every process marked unreachable.
func (v *view) markDown(err error, since time.Time) *view {
	reason := HostUnreachable + " since " + since.UTC().Format(time.RFC3339)
	if err != nil {
		reason += ": " + err.Error()
	}
	nodes := make([]*graph.Node, len(v.snap.Nodes))
	for i, n := range v.snap.Nodes {
		if n.Kind == graph.KindProcess {
			c := *n
			c.Error = reason
			n = &c
		}
		nodes[i] = n
	}
	// The same IDs in the same order: still sorted.
	s := &graph.Snapshot{Nodes: nodes, Edges: v.snap.Edges, Stats: v.snap.Stats}
	return &view{host: v.host, snap: s, ends: v.ends, down: reason, since: since}
}

// merge joins the views into one snapshot: each view's nodes and edges
// (already in its host's name space), and a peer edge for each TCP or UDP
// connection whose ends are on two hosts.
func merge(views []*view, now time.Time) *graph.Snapshot {
	// Sorted by prefix, the views' sorted nodes are sorted once joined:
	// no host name holds a slash, so no prefix is another's.
	slices.SortFunc(views, func(a, b *view) int { return cmp.Compare(a.host+"/", b.host+"/") })
	var nn, ne int
	for _, v := range views {
		nn += len(v.snap.Nodes)
		ne += len(v.snap.Edges)
	}
	cross := crossPeers(views)
	slices.SortFunc(cross, compareEdges)
	nodes := make([]*graph.Node, 0, nn)
	edges := make([]graph.Edge, 0, ne+len(cross))
	stats := graph.Stats{StartedAt: now, MissingFeatures: []string{}, Errors: []string{}}
	scanners := map[string]bool{}
	sharing := map[string]bool{}
	j := 0
	for _, v := range views {
		nodes = append(nodes, v.snap.Nodes...)
		// The edges are sorted the same way: by source first, and every
		// source is in its host's name space. The few edges across hosts
		// go in their places.
		for _, e := range v.snap.Edges {
			for j < len(cross) && compareEdges(cross[j], e) < 0 {
				edges = append(edges, cross[j])
				j++
			}
			edges = append(edges, e)
		}
		addStats(&stats, v, scanners, sharing)
	}
	edges = append(edges, cross[j:]...)
	stats.Scanner = joinKeys(scanners)
	stats.Sharing = joinKeys(sharing)
	// Sorted and whole (each view's graph is one graph.New built): no
	// need for New to sort 10⁶ nodes again, which is most of a merge's cost.
	return &graph.Snapshot{Nodes: nodes, Edges: edges, Stats: stats}
}

// compareEdges orders edges as a graph.Snapshot does: by from, kind, to.
func compareEdges(a, b graph.Edge) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.To, b.To))
}

func addStats(t *graph.Stats, v *view, scanners, sharing map[string]bool) {
	s := &v.snap.Stats
	t.DurationMS = max(t.DurationMS, s.DurationMS)
	t.Processes += s.Processes
	t.FDs += s.FDs
	t.OFDs += s.OFDs
	t.Objects += s.Objects
	t.Sockets += s.Sockets
	t.NetNamespaces += s.NetNamespaces
	t.DeniedProcesses += s.DeniedProcesses
	t.DeniedFDs += s.DeniedFDs
	t.VanishedProcesses += s.VanishedProcesses
	t.VanishedFDs += s.VanishedFDs
	if s.Scanner != "" {
		scanners[s.Scanner] = true
	}
	if s.Sharing != "" {
		sharing[s.Sharing] = true
	}
	for _, f := range s.MissingFeatures {
		t.MissingFeatures = append(t.MissingFeatures, v.host+": "+f)
	}
	if v.down != "" {
		t.Errors = append(t.Errors, v.host+": "+v.down)
	}
	for _, e := range s.Errors {
		t.Errors = append(t.Errors, v.host+": "+e)
	}
}

func joinKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// crossPeers returns a peer edge (from < to) for each pair of sockets on
// two hosts whose 4-tuples are each other's reversed. A tuple held on more
// than one other host (two hosts behind one NAT address, say) is
// ambiguous and joins nothing.
func crossPeers(views []*view) []graph.Edge {
	type holder struct {
		view int
		id   string
	}
	n := 0
	for _, v := range views {
		n += len(v.ends)
	}
	byTuple := make(map[tuple][]holder, n)
	for i, v := range views {
		for _, e := range v.ends {
			k := tuple{e.proto, e.local, e.remote}
			byTuple[k] = append(byTuple[k], holder{i, e.id})
		}
	}
	matchOf := make(map[string]string, n)
	for i, v := range views {
		for _, e := range v.ends {
			var match string
			n := 0
			for _, h := range byTuple[tuple{e.proto, e.remote, e.local}] {
				if h.view != i {
					match = h.id
					n++
				}
			}
			if n == 1 {
				matchOf[e.id] = match
			}
		}
	}
	var out []graph.Edge
	for id, match := range matchOf {
		if id < match && matchOf[match] == id {
			out = append(out, graph.Edge{From: id, To: match, Kind: graph.EdgePeer})
		}
	}
	return out
}
