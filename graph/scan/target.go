//go:build linux

package scan

import (
	"strconv"
	"strings"

	"github.com/fdscope/fdscope/graph"
)

// target is what readlink(/proc/PID/fd/N) says an fd leads to.
type target struct {
	kind     graph.Kind // socket, pipe, anon, nsfs, or "" for a path to stat
	inode    uint64     // socket, pipe, nsfs: the inode in the brackets
	anonType string     // anon: eventfd, eventpoll, inotify, ...
	nsType   string     // nsfs: net, mnt, pid, ...
	path     string     // path objects: the path without " (deleted)"
	deleted  bool
}

// parseTarget classifies a readlink target. The forms are the ones the
// kernel's d_path and dynamic dentry names produce:
//
//	socket:[28728]  pipe:[4431]  anon_inode:[eventfd]  anon_inode:inotify
//	net:[4026531840]  /tmp/a.log (deleted)  /memfd:name (deleted)
//
// Anything else that does not start with '/' is reported with kind unknown.
func parseTarget(s string) target {
	if strings.HasPrefix(s, "/") {
		t := target{path: s}
		if p, ok := strings.CutSuffix(s, " (deleted)"); ok {
			t.path, t.deleted = p, true
		}
		return t
	}
	if rest, ok := strings.CutPrefix(s, "anon_inode:"); ok {
		rest = strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]")
		if rest == "" {
			return target{kind: graph.KindUnknown}
		}
		return target{kind: graph.KindAnon, anonType: rest}
	}
	name, inode, ok := bracketed(s)
	if !ok {
		return target{kind: graph.KindUnknown}
	}
	switch name {
	case "socket":
		return target{kind: graph.KindSocket, inode: inode}
	case "pipe":
		return target{kind: graph.KindPipe, inode: inode}
	case "net", "mnt", "pid", "pid_for_children", "uts", "ipc", "user", "cgroup", "time", "time_for_children":
		return target{kind: graph.KindNsfs, inode: inode, nsType: name}
	default:
		// Other pseudo filesystems that name files "type:[inode]" (pidfd in
		// some kernels, bpf objects...) are kept as anon objects of that type.
		return target{kind: graph.KindAnon, anonType: name, inode: inode}
	}
}

// bracketed splits "name:[123]" into its name and number.
func bracketed(s string) (string, uint64, bool) {
	name, rest, ok := strings.Cut(s, ":[")
	if !ok || name == "" || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	n, err := strconv.ParseUint(rest[:len(rest)-1], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return name, n, true
}
