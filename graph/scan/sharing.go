//go:build linux

package scan

import (
	"cmp"
	"errors"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// ofdRec is one open file description: the fds that share it.
type ofdRec struct {
	id      string
	key     shareKey // what its fds have in common: object, mode, flags, mount
	members []*fdRec
	node    int32 // its node's index in the build
	obj     int32 // its object's node's index in the build; noNode when its object is unknown
}

// fileComparer compares two fds as kcmp(2) KCMP_FILE does: 0 when they share
// one open file description, 1 or 2 as an ordering otherwise. It is a
// parameter so that tests can run the grouping without the kernel.
type fileComparer func(pid1, fd1, pid2, fd2 int) (int, error)

// shareKey is what every fd sharing one open file description has in
// common. Its kind says what names the object: a socket's, a pipe's or an
// anon inode's number, an eventfd's id, or a path object's device (or,
// without a stat, mount) and inode; the zero key is no key.
type shareKey struct {
	kind     shareKind
	obj, ino uint64 // socket, pipe: the inode; eventfd: its id; anon: the inode; path: device or mount, and inode
	anonType string
	// The status flags without O_CLOEXEC, and the mount (none for sockets).
	flags uint32
	mntID int32
}

// shareKind is what names the object of a shareKey.
type shareKind uint8

const (
	noKey shareKind = iota
	socketKey
	pipeKey
	eventfdKey
	anonKey
	devInoKey   // a path object by device and inode
	mountInoKey // a path object that could not be stat'ed, by mount and inode
)

// sharingKey returns what every fd sharing f's open file description must
// have in common, or the zero key when f cannot be grouped (its fdinfo was
// unreadable). A socket has exactly one description, so its key is its
// inode alone.
func sharingKey(f *fdRec) shareKey {
	if f.err != "" && f.kind != graph.KindSocket {
		return shareKey{}
	}
	var k shareKey
	switch f.kind {
	case graph.KindSocket:
		return shareKey{kind: socketKey, obj: f.inode}
	case graph.KindPipe:
		k = shareKey{kind: pipeKey, obj: f.inode}
	case graph.KindAnon:
		if id := f.info.eventfdID(); id >= 0 {
			k = shareKey{kind: eventfdKey, obj: uint64(id)}
		} else {
			k = shareKey{kind: anonKey, ino: f.info.ino, anonType: f.target().anonType}
		}
	case graph.KindUnknown:
		return shareKey{}
	default:
		if f.st != nil {
			k = shareKey{kind: devInoKey, obj: f.st.dev, ino: f.st.ino}
		} else {
			k = shareKey{kind: mountInoKey, obj: uint64(f.info.mntID), ino: f.info.ino}
		}
	}
	k.flags = f.info.flags &^ unix.O_CLOEXEC
	k.mntID = f.info.mntID
	return k
}

// heuristicMergeable reports whether the heuristic may merge fds like f.
// Anon inodes (epoll, timerfd, signalfd, inotify, ...) all share one inode
// number, so equal keys say nothing about them: without kcmp each is its own
// description. An eventfd is known by its eventfd-id and may be merged.
func heuristicMergeable(f *fdRec) bool {
	return f.kind != graph.KindAnon || f.info.eventfdID() >= 0
}

// sharing groups fds into open file descriptions.
type sharing struct {
	compare   fileComparer
	method    string // "kcmp" or "heuristic"
	missing   string // why kcmp could not be used, if it could not
	vanished  int    // fds that closed while being compared
	heuristic int    // groups resolved by the heuristic
}

// group splits fds (all with the same sharing key) into open file
// descriptions. With kcmp it sorts them by the kernel's ordering of their
// struct file and cuts the runs of equals: O(n log n) comparisons. Where
// kcmp is refused it falls back to the heuristic documented in docs/graph.md:
// fds with equal keys and equal positions share one description, except
// anon fds, which stay apart.
func (s *sharing) group(fds []*fdRec) [][]*fdRec {
	if len(fds) == 1 {
		return [][]*fdRec{fds}
	}
	if groups, ok := groupByDesc(fds); ok {
		return groups
	}
	if s.compare != nil {
		if groups, ok := s.groupByKcmp(fds); ok {
			return groups
		}
	}
	s.heuristic++
	if !heuristicMergeable(fds[0]) {
		groups := make([][]*fdRec, len(fds))
		for i, f := range fds {
			groups[i] = []*fdRec{f}
		}
		return groups
	}
	slices.SortFunc(fds, func(a, b *fdRec) int {
		return cmp.Or(cmp.Compare(a.info.pos, b.info.pos), cmp.Compare(a.proc.pid, b.proc.pid), cmp.Compare(a.num, b.num))
	})
	var groups [][]*fdRec
	for i, f := range fds {
		if i > 0 && f.info.pos == fds[i-1].info.pos {
			groups[len(groups)-1] = append(groups[len(groups)-1], f)
			continue
		}
		groups = append(groups, []*fdRec{f})
	}
	return groups
}

func (s *sharing) groupByKcmp(fds []*fdRec) ([][]*fdRec, bool) {
	closed := map[*fdRec]bool{}
	var refused error
	kcmp := func(a, b *fdRec) int {
		if refused != nil || closed[a] || closed[b] {
			return cmp.Or(cmp.Compare(a.proc.pid, b.proc.pid), cmp.Compare(a.num, b.num))
		}
		r, err := s.compare(a.proc.pid, a.num, b.proc.pid, b.num)
		switch {
		case err == nil:
			switch r {
			case 0:
				return 0
			case 1:
				return -1
			default:
				return 1
			}
		case errors.Is(err, unix.EBADF) || errors.Is(err, unix.ESRCH):
			// One of the two closed meanwhile; find out which.
			if _, err := s.compare(a.proc.pid, a.num, a.proc.pid, a.num); err != nil {
				closed[a] = true
			}
			if _, err := s.compare(b.proc.pid, b.num, b.proc.pid, b.num); err != nil {
				closed[b] = true
			}
		default:
			refused = err
		}
		return cmp.Or(cmp.Compare(a.proc.pid, b.proc.pid), cmp.Compare(a.num, b.num))
	}
	// Most groups are one description held by many fds (stdio and pipes
	// inherited by forked processes): n-1 comparisons settle those, and a
	// sort is needed only when one differs.
	allSame := true
	for _, f := range fds[1:] {
		if kcmp(fds[0], f) != 0 {
			allSame = false
			break
		}
	}
	if allSame && refused == nil && len(closed) == 0 {
		return [][]*fdRec{fds}, true
	}
	sorted := slices.Clone(fds)
	slices.SortStableFunc(sorted, kcmp)
	var groups [][]*fdRec
	var rep *fdRec
	for _, f := range sorted {
		if closed[f] {
			continue
		}
		if rep != nil && kcmp(rep, f) == 0 && !closed[f] && !closed[rep] {
			groups[len(groups)-1] = append(groups[len(groups)-1], f)
			continue
		}
		if closed[f] {
			continue
		}
		rep = f
		groups = append(groups, []*fdRec{f})
	}
	if refused != nil {
		s.method = "heuristic"
		if s.missing == "" {
			s.missing = "kcmp: " + errText(refused)
		}
		if errors.Is(refused, unix.ENOSYS) {
			s.compare = nil
		}
		return nil, false
	}
	// Drop fds found closed after they were placed in a group.
	out := groups[:0]
	for _, g := range groups {
		g = slices.DeleteFunc(g, func(f *fdRec) bool { return closed[f] })
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	s.vanished += len(closed)
	for f := range closed {
		f.closed = true
	}
	return out, true
}
