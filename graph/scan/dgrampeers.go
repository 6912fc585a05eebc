//go:build linux

package scan

import (
	"net/netip"

	"github.com/fdscope/fdscope/graph"
)

// addBoundDatagramPeers joins each connected UDP or UDP-Lite socket to the
// unconnected socket that receives what it sends: the one bound where it
// is connected to, in its network namespace. connect(2) on a datagram
// socket fixes its destination only; the receiver stays unconnected and
// may have many senders, so no 4-tuple joins them (addSocketEdges joins
// only pairs connected to each other, which the kernel prefers, and those
// are left as they are).
//
// The receiver is chosen the way the kernel's UDP lookup scores sockets:
// a socket bound to the exact address beats one bound to the wildcard on
// that port; for IPv4 an inet socket beats an inet6 one (bound to the
// v4-mapped address, or a dual-stack ::). Sockets that tie (SO_REUSEPORT
// groups, among which the kernel picks by hash) are all peers of the
// sender. A wildcard receives only what is sent to a local address; an
// address counts as local when it is a loopback address or some socket of
// the namespace is bound to it or sends from it.
func (b *builder) addBoundDatagramPeers() {
	type portKey struct {
		netns uint64
		proto string
		port  uint16
	}
	type tuple struct {
		netns         uint64
		proto         string
		local, remote netip.AddrPort
	}
	type addrKey struct {
		netns uint64
		addr  netip.Addr
	}
	bound := map[portKey][]*sockRec{}
	connected := map[tuple]uint64{}
	local := map[addrKey]bool{}
	var senders []*sockRec
	for ino, r := range b.sockets.byInode {
		if !r.family.IsInet() {
			continue
		}
		if a := r.localAP.Addr().Unmap(); a.IsValid() && !a.IsUnspecified() {
			local[addrKey{r.netns, a}] = true
		}
		if (r.protocol != "udp" && r.protocol != "udplite") || r.localAP.Port() == 0 {
			continue
		}
		if r.remoteAP.Port() != 0 {
			// Held or not: a socket connected back to a sender gets what it sends.
			connected[tuple{r.netns, r.protocol, unmap(r.localAP), unmap(r.remoteAP)}] = ino
		}
		switch {
		case !b.holds(ino):
		case r.remoteAP.Port() == 0:
			k := portKey{r.netns, r.protocol, r.localAP.Port()}
			bound[k] = append(bound[k], r)
		default:
			senders = append(senders, r)
		}
	}
	for _, s := range senders {
		if other, ok := connected[tuple{s.netns, s.protocol, unmap(s.remoteAP), unmap(s.localAP)}]; ok && other != s.inode {
			continue // a connected pair
		}
		dst := s.remoteAP.Addr().Unmap()
		if !dst.IsValid() || dst.IsUnspecified() {
			continue
		}
		isLocal := dst.IsLoopback() || local[addrKey{s.netns, dst}]
		best, score := []*sockRec(nil), 0
		for _, r := range bound[portKey{s.netns, s.protocol, s.remoteAP.Port()}] {
			sc := receiveScore(r, dst, isLocal)
			if r.inode == s.inode || sc == 0 || sc < score {
				continue
			}
			if sc > score {
				best, score = best[:0], sc
			}
			best = append(best, r)
		}
		for _, r := range best {
			b.peer(b.socketNodes[s.inode], b.socketNodes[r.inode])
		}
	}
}

// receiveScore says how well the unconnected datagram socket r, bound on
// the right port, matches the destination address dst (unmapped): 0 when it
// does not receive what is sent there, more for a better match.
func receiveScore(r *sockRec, dst netip.Addr, dstLocal bool) int {
	la := r.localAP.Addr()
	score := 0
	switch {
	case la.Unmap() == dst:
		score = 4
	case la.IsUnspecified() && dstLocal:
		score = 0
	default:
		return 0
	}
	switch {
	case dst.Is4() && r.family == graph.FamilyInet:
		return score + 2
	case dst.Is4() && r.family == graph.FamilyInet6 && (score > 0 || r.dualStack):
		return score + 1
	case dst.Is6() && r.family == graph.FamilyInet6:
		return score + 2
	}
	return 0
}
