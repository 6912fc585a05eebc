package graph

// Conn is one connection between processes, as Index.Conns yields it: the
// two ends of a socket pair or pty (joined by a peer edge), or the two
// sides of a pipe or FIFO (the processes that write into it and those
// that read from it).
//
// A TCP or UDP socket whose other end is not in the snapshot (a remote
// host, or a process the scan could not see) is a Conn with no second
// end: Holders[1] is empty and Objects[1] nil. A listening socket is one
// too, with Listen set.
type Conn struct {
	Via    Via
	Listen bool
	// Objects are the kernel objects at each end: the two sockets, or the
	// pty master and slave; for a pipe or FIFO, the object itself twice.
	Objects [2]*Node
	// Holders are the process nodes at each end, each once. The slices
	// are reused between calls: copy what must outlive the call.
	Holders [2][]*Node
}

// Conns calls visit with every connection of the snapshot (see Conn):
// each peer edge once, each pipe and FIFO with both a writer and a reader
// once, each inet socket without a peer edge that has a remote address or
// listens once. Its cost is that of a pass over the nodes and edges.
func (x *Index) Conns(visit func(*Conn)) {
	// Holders are found from the object inward (descriptions, fds,
	// processes): each object is visited once or twice, so the walk costs
	// a pass over the edges, with no table of holders to build.
	stamp := make([]int32, len(x.s.Nodes))
	mark := int32(0)
	var c Conn
	// Plain loops over the edges in, not Index.ins: nested iterators
	// would allocate their closures for every object.
	hold := func(side int, ofd int32) {
		for _, i := range x.in[x.inStart[ofd]:x.inStart[ofd+1]] {
			if x.s.Edges[i].Kind != EdgeOFD {
				continue
			}
			fd := x.fromPos[i]
			for _, j := range x.in[x.inStart[fd]:x.inStart[fd+1]] {
				if p := x.fromPos[j]; x.s.Edges[j].Kind == EdgeFD && stamp[p] != mark {
					stamp[p] = mark
					c.Holders[side] = append(c.Holders[side], x.s.Nodes[p])
				}
			}
		}
	}
	holdObject := func(side int, obj int32, mode func(ofd *Node) bool) {
		c.Holders[side] = c.Holders[side][:0]
		for _, i := range x.in[x.inStart[obj]:x.inStart[obj+1]] {
			if d := x.fromPos[i]; x.s.Edges[i].Kind == EdgeObject && (mode == nil || mode(x.s.Nodes[d])) {
				hold(side, d)
			}
		}
	}
	reads := func(ofd *Node) bool { r, _ := accessOf(ofd); return r }
	writes := func(ofd *Node) bool { _, w := accessOf(ofd); return w }
	hasPeer := make([]bool, len(x.s.Nodes))
	for i, e := range x.s.Edges {
		if e.Kind != EdgePeer || x.fromPos[i] < 0 {
			continue
		}
		a, b := x.fromPos[i], x.toPos[i]
		hasPeer[a], hasPeer[b] = true, true
		c = Conn{Via: viaPeerEdge(x.s.Nodes[a]), Objects: [2]*Node{x.s.Nodes[a], x.s.Nodes[b]}, Holders: c.Holders}
		mark++
		holdObject(0, a, nil)
		mark++
		holdObject(1, b, nil)
		if len(c.Holders[0]) > 0 && len(c.Holders[1]) > 0 {
			visit(&c)
		}
	}
	for i, n := range x.s.Nodes {
		p := int32(i)
		switch {
		case n.Kind == KindPipe || n.Kind == KindFIFO:
			via := ViaPipe
			if n.Kind == KindFIFO {
				via = ViaFIFO
			}
			c = Conn{Via: via, Objects: [2]*Node{n, n}, Holders: [2][]*Node{c.Holders[0][:0], c.Holders[1][:0]}}
			mark++
			holdObject(0, p, writes)
			mark++
			holdObject(1, p, reads)
			if len(c.Holders[0]) > 0 && len(c.Holders[1]) > 0 {
				visit(&c)
			}
		case n.Kind == KindSocket && n.Object != nil && n.Socket != nil && n.Socket.Family.IsInet() && !hasPeer[p]:
			listen := n.Socket.State == "listen"
			if !listen && !remoteAddr(n.Socket.Remote) {
				continue
			}
			via := ViaSocket
			switch n.Socket.Protocol {
			case "tcp":
				via = ViaTCP
			case "udp":
				via = ViaUDP
			}
			c = Conn{Via: via, Listen: listen, Objects: [2]*Node{n, nil}, Holders: [2][]*Node{c.Holders[0], c.Holders[1][:0]}}
			mark++
			holdObject(0, p, nil)
			if len(c.Holders[0]) > 0 {
				visit(&c)
			}
		}
	}
}

// remoteAddr reports whether a socket's remote address names a peer (not
// empty, not a wildcard such as 0.0.0.0:0 or [::]:*).
func remoteAddr(a string) bool {
	if a == "" || a == "*" || a == "*:*" {
		return false
	}
	for _, w := range []string{":0", ":*"} {
		if len(a) > len(w) && a[len(a)-len(w):] == w {
			return false
		}
	}
	return true
}
