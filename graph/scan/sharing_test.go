//go:build linux

package scan

import (
	"cmp"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeFiles is a fake kernel: which struct file each (pid, fd) holds.
type fakeFiles struct {
	file   map[[2]int]int
	calls  int
	refuse bool
}

func (k *fakeFiles) compare(pid1, fd1, pid2, fd2 int) (int, error) {
	k.calls++
	if k.refuse {
		return 0, unix.EPERM
	}
	a, ok1 := k.file[[2]int{pid1, fd1}]
	b, ok2 := k.file[[2]int{pid2, fd2}]
	if !ok1 || !ok2 {
		return 0, unix.EBADF
	}
	switch {
	case a == b:
		return 0, nil
	case a < b:
		return 1, nil
	default:
		return 2, nil
	}
}

func groupsOf(gs [][]*fdRec) [][]int {
	var out [][]int
	for _, g := range gs {
		var ids []int
		for _, f := range g {
			ids = append(ids, f.proc.pid*100+f.num)
		}
		slices.Sort(ids)
		out = append(out, ids)
	}
	slices.SortFunc(out, func(a, b []int) int { return cmp.Compare(a[0], b[0]) })
	return out
}

func TestSharingGroup(t *testing.T) {
	p1, p2 := &procRec{pid: 1}, &procRec{pid: 2}
	fds := []*fdRec{
		{proc: p1, num: 1}, {proc: p1, num: 30}, // dup2: file 7
		{proc: p1, num: 2}, {proc: p2, num: 2}, // fork: file 8
		{proc: p1, num: 0, info: fdInfo{pos: 5}}, {proc: p2, num: 3, info: fdInfo{pos: 5}}, // two opens: files 9, 10
	}
	k := &fakeFiles{file: map[[2]int]int{{1, 1}: 7, {1, 30}: 7, {1, 2}: 8, {2, 2}: 8, {1, 0}: 9, {2, 3}: 10}}
	s := &sharing{compare: k.compare, method: "kcmp"}
	got := groupsOf(s.group(slices.Clone(fds)))
	want := [][]int{{100}, {101, 130}, {102, 202}, {203}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("kcmp groups = %v, want %v", got, want)
	}
	if s.method != "kcmp" || s.heuristic != 0 {
		t.Errorf("method %q, heuristic %d", s.method, s.heuristic)
	}

	// An fd that closes mid-scan is dropped, not grouped.
	delete(k.file, [2]int{2, 3})
	s = &sharing{compare: k.compare, method: "kcmp"}
	got = groupsOf(s.group(slices.Clone(fds)))
	want = [][]int{{100}, {101, 130}, {102, 202}}
	if !slices.EqualFunc(got, want, slices.Equal) || s.vanished != 1 {
		t.Errorf("after close: groups = %v (want %v), vanished %d", got, want, s.vanished)
	}

	// Refused kcmp: the heuristic groups by position, and says so.
	k.refuse = true
	s = &sharing{compare: k.compare, method: "kcmp"}
	got = groupsOf(s.group(slices.Clone(fds)))
	want = [][]int{{101, 102, 130, 202}, {100, 203}}
	slices.SortFunc(want, func(a, b []int) int { return cmp.Compare(a[0], b[0]) })
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("heuristic groups = %v, want %v", got, want)
	}
	if s.method != "heuristic" || s.missing == "" {
		t.Errorf("heuristic not reported: method %q missing %q", s.method, s.missing)
	}
}

func TestSharingKey(t *testing.T) {
	sockA := &fdRec{kind: "socket", inode: 5, info: fdInfo{flags: unix.O_RDWR | unix.O_CLOEXEC}}
	sockB := &fdRec{kind: "socket", inode: 5, info: fdInfo{flags: unix.O_RDWR}}
	if sharingKey(sockA) != sharingKey(sockB) {
		t.Error("one socket, two keys")
	}
	r := &fdRec{kind: "pipe", inode: 9, info: fdInfo{flags: unix.O_RDONLY}}
	w := &fdRec{kind: "pipe", inode: 9, info: fdInfo{flags: unix.O_WRONLY}}
	if sharingKey(r) == sharingKey(w) {
		t.Error("a pipe's read and write ends share a key")
	}
	e1 := &fdRec{kind: "anon", name: "anon_inode:[eventfd]", info: fdInfo{ino: 26, extra: &fdExtra{eventfdID: 1, ttyIndex: -1}}}
	e2 := &fdRec{kind: "anon", name: "anon_inode:[eventfd]", info: fdInfo{ino: 26, extra: &fdExtra{eventfdID: 2, ttyIndex: -1}}}
	if sharingKey(e1) == sharingKey(e2) {
		t.Error("two eventfds with one anon inode share a key")
	}
	ep := &fdRec{kind: "anon", name: "anon_inode:[eventpoll]", info: fdInfo{ino: 26, flags: unix.O_RDWR}}
	tf := &fdRec{kind: "anon", name: "anon_inode:[timerfd]", info: fdInfo{ino: 26, flags: unix.O_RDWR}}
	if sharingKey(ep) == sharingKey(tf) {
		t.Error("an epoll and a timerfd on the one anon inode share a key")
	}
	f1 := &fdRec{kind: "file", st: &fileStat{dev: 1, ino: 7}, info: fdInfo{flags: unix.O_RDONLY, mntID: 3}}
	f2 := &fdRec{kind: "file", st: &fileStat{dev: 1, ino: 7}, info: fdInfo{flags: unix.O_RDONLY, mntID: 4}}
	if sharingKey(f1) == sharingKey(f2) {
		t.Error("one file open through two mounts shares a key")
	}
	if sharingKey(&fdRec{err: "fdinfo: x", kind: "pipe"}) != (shareKey{}) {
		t.Error("an fd without fdinfo got a key")
	}
}
