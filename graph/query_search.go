package graph

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// SearchResult is one process found by Index.Search: the row of GET /api/search.
type SearchResult struct {
	PID  int    `json:"pid"`
	ID   string `json:"id"`
	Comm string `json:"comm"`
	// Match says what matched when it was not the process's comm, pid or
	// user: "cmdline: ...", "fd 4 → /tmp/server.sock", "cwd → /srv".
	Match string `json:"match"`
}

// How well a process matched, best first.
const (
	rankPID = iota
	rankComm
	rankUser
	rankCmdline
	rankFD
	rankPeer // the far end of a matching connection
	rankPath // cwd, root, exe
)

// searchHit is a process's best match so far; the match text is built
// only for the results.
type searchHit struct {
	rank int
	fd   int    // the fd, for rankFD and rankPeer
	via  string // "cwd", "root" or "exe", for rankPath
	what string // what matched: the object, or the command line
}

func (h searchHit) match() string {
	switch h.rank {
	case rankFD, rankPeer:
		return "fd " + strconv.Itoa(h.fd) + " → " + h.what
	case rankPath:
		return h.via + " → " + h.what
	case rankCmdline:
		return "cmdline: " + clipRunes(h.what, 120)
	}
	return ""
}

// Search finds the processes that match q, best first, at most limit of
// them (limit < 1: all). q matches, case-insensitively:
//
//   - a process's pid (q is the number), comm, user or command line (a substring);
//   - what one of its fds leads to: an object whose path or name holds q
//     ("/tmp/server.sock", "socket:[28728]", "eventfd"), a socket whose
//     local or remote address holds q, an inet socket whose local or
//     remote port is q, a socket or pipe whose inode is q;
//   - the path of its cwd, root or exe.
//
// Each process is listed once, for its best match: pid, then comm, user,
// command line, the lowest fd, then cwd/root/exe; ties by pid. The cost is
// one pass over the nodes and, for every object that matched, a walk to
// its holders.
func (x *Index) Search(q string, limit int) []SearchResult {
	out := []SearchResult{}
	q = strings.TrimSpace(q)
	if q == "" {
		return out
	}
	lq := strings.ToLower(q)
	num, err := strconv.ParseUint(q, 10, 64)
	isNum := err == nil
	if isNum {
		lq = strconv.FormatUint(num, 10) // "08080" is port 8080
	}
	hits := map[int32]searchHit{}
	better := func(p int32, h searchHit) {
		if o, ok := hits[p]; !ok || h.rank < o.rank || (h.rank == o.rank && h.fd < o.fd) {
			hits[p] = h
		}
	}
	for i, n := range x.s.Nodes {
		switch {
		case n.Kind == KindProcess:
			if h, ok := matchProcess(n, lq, num, isNum); ok {
				better(int32(i), h)
			}
		case n.Kind.IsObject() && n.Object != nil:
			what, ok := matchObject(n, lq, num, isNum)
			if !ok {
				continue
			}
			obj := int32(i)
			x.searchHolders(obj, rankFD, what, better)
			// The far end of a matching connection: the clients of a
			// server's socket path, the other end of a port.
			if n.Socket != nil {
				for _, po := range x.peerObjects(obj) {
					if far := x.s.Nodes[po]; far.Object != nil && far.Socket != nil {
						x.searchHolders(po, rankPeer, socketDesc(far.Socket)+" (peer of "+what+")", better)
					}
				}
			}
			for _, k := range []EdgeKind{EdgeCwd, EdgeRoot, EdgeExe} {
				for p := range x.ins(obj, k) {
					better(p, searchHit{rank: rankPath, via: string(k), what: what})
				}
			}
		}
	}
	type found struct {
		SearchResult
		rank int
	}
	all := make([]found, 0, len(hits))
	for p, h := range hits {
		n := x.s.Nodes[p]
		r := SearchResult{PID: n.PID, ID: n.ID, Match: h.match()}
		if n.Process != nil {
			r.Comm = n.Process.Comm
		}
		all = append(all, found{r, h.rank})
	}
	slices.SortFunc(all, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	for _, f := range all {
		out = append(out, f.SearchResult)
	}
	return out
}

// searchHolders offers every process holding obj as a hit of the given rank.
func (x *Index) searchHolders(obj int32, rank int, what string, better func(int32, searchHit)) {
	for ofd := range x.ins(obj, EdgeObject) {
		for fd := range x.ins(ofd, EdgeOFD) {
			fdn := fdNum(x.s.Nodes[fd])
			for p := range x.ins(fd, EdgeFD) {
				better(p, searchHit{rank: rank, fd: fdn, what: what})
			}
		}
	}
}

func matchProcess(n *Node, lq string, num uint64, isNum bool) (searchHit, bool) {
	if isNum && uint64(n.PID) == num {
		return searchHit{rank: rankPID}, true
	}
	p := n.Process
	if p == nil {
		return searchHit{}, false
	}
	switch {
	case containsFold(p.Comm, lq):
		return searchHit{rank: rankComm}, true
	case containsFold(p.User, lq):
		return searchHit{rank: rankUser}, true
	case containsFold(p.Cmdline, lq):
		return searchHit{rank: rankCmdline, what: p.Cmdline}, true
	}
	return searchHit{}, false
}

// matchObject says whether an object matches, and how to name it in the match.
func matchObject(n *Node, lq string, num uint64, isNum bool) (string, bool) {
	o := n.Object
	if s := o.Socket; s != nil {
		switch {
		case isNum && o.Inode == num:
			return n.Name + " (" + socketDesc(s) + ")", true
		case isNum && num > 0 && s.Family.IsInet() && (portOf(s.Local) == lq || portOf(s.Remote) == lq):
			return socketDesc(s), true
		case !isNum && (containsFold(s.Local, lq) || containsFold(s.Remote, lq)):
			return socketDesc(s), true
		case !isNum && containsFold(n.Name, lq):
			return n.Name + " (" + socketDesc(s) + ")", true
		}
		return "", false
	}
	if isNum && n.Kind == KindPipe && o.Inode == num {
		return n.Name, true
	}
	if o.Path != "" && containsFold(o.Path, lq) {
		return o.Path, true
	}
	if !isNum && n.Name != o.Path && containsFold(n.Name, lq) {
		return n.Name, true
	}
	return "", false
}

// portOf returns the port of an inet address ("127.0.0.1:80", "[::1]:80", "*:80"), or "".
func portOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.HasSuffix(addr, "]") {
		return ""
	}
	return addr[i+1:]
}

// socketDesc names a socket as a search match: "tcp 127.0.0.1:5 ⇄ 127.0.0.1:6", "unix stream /tmp/x.sock".
func socketDesc(s *Socket) string {
	var b strings.Builder
	if s.Family.IsInet() {
		b.WriteString(cmp.Or(s.Protocol, string(s.Family)))
	} else {
		b.WriteString(string(s.Family))
		if s.Type != "" {
			b.WriteString(" " + s.Type)
		}
	}
	if s.Local != "" {
		b.WriteString(" " + s.Local)
	}
	if s.Remote != "" {
		b.WriteString(" ⇄ " + s.Remote)
	}
	return b.String()
}

// containsFold reports whether s holds lq (lower case) in any letter case.
// Most strings are lower case already: they cost one strings.Contains.
func containsFold(s, lq string) bool {
	if strings.Contains(s, lq) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
			return strings.Contains(strings.ToLower(s), lq)
		}
	}
	return false
}

// clipRunes shortens s to at most n runes, marking the cut with "…".
func clipRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
