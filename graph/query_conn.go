package graph

import "slices"

// Connections says which processes hold each end of each connection in a
// snapshot: the holders of every socket, and of every object joined to
// another by a peer edge (ptys). It is the index the live loop needs to
// decide what to read again, built in linear passes over the edges (cheaper
// than an Index on a busy host). Read-only once built; safe for concurrent use.
type Connections struct {
	holders map[string][]int    // object ID → pids holding it, ascending
	objects map[int][]string    // pid → the connection objects it holds
	peers   map[string][]string // object ID → the objects at the other end
}

// NewConnections indexes the connections of s. A nil s stands for an empty snapshot.
func NewConnections(s *Snapshot) *Connections {
	c := &Connections{holders: map[string][]int{}, objects: map[int][]string{}, peers: map[string][]string{}}
	if s == nil {
		return c
	}
	for _, e := range s.Edges {
		if e.Kind == EdgePeer {
			c.peers[e.From] = append(c.peers[e.From], e.To)
			c.peers[e.To] = append(c.peers[e.To], e.From)
		}
	}
	// The descriptions of connection objects: every socket and every end of a peer edge.
	objOf := map[string]string{}
	nSockets := 0
	for _, n := range s.Nodes {
		if n.Kind == KindSocket {
			nSockets++
		}
	}
	sockets := make(map[string]bool, nSockets)
	for _, n := range s.Nodes {
		if n.Kind == KindSocket {
			sockets[n.ID] = true
		}
	}
	for _, e := range s.Edges {
		if e.Kind == EdgeObject && (sockets[e.To] || c.peers[e.To] != nil) {
			objOf[e.From] = e.To
		}
	}
	for _, e := range s.Edges {
		if e.Kind != EdgeOFD {
			continue
		}
		obj, ok := objOf[e.To]
		if !ok {
			continue
		}
		fd := s.Node(e.From)
		if fd == nil {
			continue
		}
		if l := c.holders[obj]; !slices.Contains(l, fd.PID) {
			c.holders[obj] = append(l, fd.PID)
			c.objects[fd.PID] = append(c.objects[fd.PID], obj)
		}
	}
	for _, l := range c.holders {
		slices.Sort(l)
	}
	return c
}

// HolderPIDs returns the pids of the processes holding the object with the
// given ID (a socket, or an end of a peer edge), sorted; nil if none.
func (c *Connections) HolderPIDs(objectID string) []int { return c.holders[objectID] }

// PeerPIDs returns the pids of the processes holding the far end of a
// connection of the process with the given pid (what Index.SocketPeerPIDs
// returns), sorted and without repeats.
func (c *Connections) PeerPIDs(pid int) []int {
	var out []int
	for _, obj := range c.objects[pid] {
		for _, far := range c.peers[obj] {
			for _, p := range c.holders[far] {
				if p != pid {
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
