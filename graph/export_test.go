package graph

// Queries the tests use to check the graph; nothing else needs them.

import (
	"iter"
	"slices"
)

// EdgesTo returns the edges of the given kind that end at id, ordered by their source.
func (x *Index) EdgesTo(id string, kind EdgeKind) iter.Seq[Edge] {
	p, ok := x.posOf(id)
	return func(yield func(Edge) bool) {
		if !ok {
			return
		}
		for _, i := range x.in[x.inStart[p]:x.inStart[p+1]] {
			if e := x.s.Edges[i]; e.Kind == kind && !yield(e) {
				return
			}
		}
	}
}

// Row returns the process-list row of the process with the given pid.
func (x *Index) Row(pid int) (ProcessRow, bool) {
	proc, ok := x.procs[pid]
	if !ok {
		return ProcessRow{}, false
	}
	return x.row(x.holders(), proc, nil, nil), true
}

// PeerPIDs returns the pids of the peers of the process with the given pid
// (see Peers), sorted and without repeats.
func (x *Index) PeerPIDs(pid int) []int {
	return x.pidsOf(pid, func(h *holderTables, proc int32) []int32 {
		conn, shared := x.peerSets(h, proc, nil, nil)
		return append(conn, shared...)
	})
}

// ConnectionPIDs returns the pids of the processes at the other end of a
// connection of the process with the given pid (relation "connection"),
// sorted and without repeats.
func (x *Index) ConnectionPIDs(pid int) []int {
	return x.pidsOf(pid, func(h *holderTables, proc int32) []int32 {
		conn, _ := x.peerSets(h, proc, nil, nil)
		return conn
	})
}

// socketPeerPIDsByTables is SocketPeerPIDs from the holder tables of the
// whole snapshot (as the process list counts peers): the tests check one
// against the other.
func (x *Index) socketPeerPIDsByTables(pid int) []int { return x.pidsOf(pid, x.edgePeerSet) }

func (x *Index) pidsOf(pid int, set func(*holderTables, int32) []int32) []int {
	proc, ok := x.procs[pid]
	if !ok {
		return nil
	}
	h := x.holders()
	var out []int
	for _, p := range set(h, proc) {
		out = append(out, x.s.Nodes[h.procs[p]].PID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// edgePeerSet returns the indexes (into h.procs) of the processes holding
// the far end of a peer edge (sockets, ptys) from the process at position
// proc, sorted.
func (x *Index) edgePeerSet(h *holderTables, proc int32) []int32 {
	self, ok := h.index[proc]
	if !ok {
		return nil
	}
	var out []int32
	for _, obj := range h.objs[self] {
		for _, po := range x.peerObjects(obj) {
			for _, p := range h.objHolders[po] {
				if p != self {
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
