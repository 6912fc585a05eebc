//go:build linux

package bpfiter_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/bpfiter"
	"github.com/fdscope/fdscope/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// open loads the iterator, or skips the test where the caller may not
// (not root); as root a failure is the test's.
func open(t *testing.T) *bpfiter.Iterator {
	t.Helper()
	it, err := bpfiter.Open()
	if err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("not root: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := it.Close(); err != nil {
			t.Error(err)
		}
	})
	return it
}

type fdKey struct{ pid, fd int }

func dump(t *testing.T, it *bpfiter.Iterator) map[fdKey]bpfiter.File {
	t.Helper()
	files, err := it.Files()
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[fdKey]bpfiter.File, len(files))
	for _, f := range files {
		m[fdKey{f.PID, f.FD}] = f
	}
	return m
}

func get(t *testing.T, m map[fdKey]bpfiter.File, pid, fd int) bpfiter.File {
	t.Helper()
	f, ok := m[fdKey{pid, fd}]
	if !ok {
		t.Fatalf("no record for fd %d of pid %d", fd, pid)
	}
	return f
}

// fdinfo reads the pos, flags, mnt_id and ino lines of /proc/self/fdinfo/FD.
func fdinfo(t *testing.T, fd int) map[string]string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// One process: an fd and its dup share one description, an fd received
// with SCM_RIGHTS too, a second open of the file does not; an fd sent and
// not received counts in flight. What the kernel's fdinfo says of each
// agrees with the record.
func TestOneProcess(t *testing.T) {
	it := open(t)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Seek(fd, 7, 0); err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(fd) // no close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	other, err := unix.Open(path, unix.O_RDWR|unix.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	if err := unix.Sendmsg(pair[0], []byte{1}, unix.UnixRights(fd), nil, 0); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(pair[1], buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v: %v", msgs, err)
	}
	got, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(got) != 1 {
		t.Fatalf("rights %v: %v", got, err)
	}
	received := got[0]
	defer unix.Close(received)
	// Two fds in flight on the other end, never received.
	if err := unix.Sendmsg(pair[1], []byte{2}, unix.UnixRights(fd, other), nil, 0); err != nil {
		t.Fatal(err)
	}

	m := dump(t, it)
	self := os.Getpid()
	f, d, o, r := get(t, m, self, fd), get(t, m, self, dup), get(t, m, self, other), get(t, m, self, received)
	if f.Desc != d.Desc || f.Desc != r.Desc {
		t.Errorf("fd %d, its dup %d and the received %d have descriptions %d, %d, %d: want one", fd, dup, received, f.Desc, d.Desc, r.Desc)
	}
	if o.Desc == f.Desc {
		t.Errorf("a second open shares the first's description %d", f.Desc)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	for _, x := range []bpfiter.File{f, d, o, r} {
		if x.Inode != st.Ino || x.Dev != st.Dev || x.IMode != st.Mode {
			t.Errorf("fd %d: inode %d dev %#x mode %o, stat says %d %#x %o", x.FD, x.Inode, x.Dev, x.IMode, st.Ino, st.Dev, st.Mode)
		}
		info := fdinfo(t, x.FD)
		want := []string{info["pos"], info["flags"], info["mnt_id"], info["ino"]}
		have := []string{strconv.FormatInt(x.Pos, 10), "0" + strconv.FormatUint(uint64(x.Flags), 8), strconv.Itoa(x.MntID), strconv.FormatUint(x.Inode, 10)}
		if strings.Join(want, " ") != strings.Join(have, " ") {
			t.Errorf("fd %d: pos flags mnt_id ino %v, fdinfo says %v", x.FD, have, want)
		}
	}
	if f.Pos != 7 || f.Flags&unix.O_CLOEXEC == 0 || d.Flags&unix.O_CLOEXEC != 0 || o.Flags&unix.O_APPEND == 0 {
		t.Errorf("pos %d, flags %o (fd) %o (dup) %o (other)", f.Pos, f.Flags, d.Flags, o.Flags)
	}

	s0, s1 := get(t, m, self, pair[0]), get(t, m, self, pair[1])
	if s0.FSMagic != bpfiter.SockfsMagic || s0.Family != unix.AF_UNIX || s0.SockType != unix.SOCK_STREAM {
		t.Errorf("socketpair end: magic %#x family %d type %d", s0.FSMagic, s0.Family, s0.SockType)
	}
	if s0.Peer != s1.Sock || s1.Peer != s0.Sock || s0.Sock == s1.Sock || s0.Sock == 0 {
		t.Errorf("socketpair ends: socks %d, %d; peers %d, %d", s0.Sock, s1.Sock, s0.Peer, s1.Peer)
	}
	if s0.PeerInode != s1.Inode || s1.PeerInode != s0.Inode {
		t.Errorf("socketpair ends: inodes %d, %d; peer inodes %d, %d", s0.Inode, s1.Inode, s0.PeerInode, s1.PeerInode)
	}
	// The fds sent by pair[1] wait on pair[0]'s receive queue.
	if s0.InFlight != 2 || s1.InFlight != 0 {
		t.Errorf("in flight: %d on the receiving end, %d on the sending one; want 2, 0", s0.InFlight, s1.InFlight)
	}
	if s0.InFlight != atoiOr(fdinfo(t, pair[0])["scm_fds"]) {
		t.Errorf("in flight %d, fdinfo scm_fds %q", s0.InFlight, fdinfo(t, pair[0])["scm_fds"])
	}
}

func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Across processes: a description inherited by a child is one; the child's
// own open of the same file is another.
func TestFork(t *testing.T) {
	it := open(t)
	tt := proctest.ThreeTables(t)
	a := tt.A.Facts()
	m := dump(t, it)
	aLog, aDup, bLog := get(t, m, tt.A.PID, a.FDs["log"]), get(t, m, tt.A.PID, a.FDs["dup"]), get(t, m, tt.BPID, tt.BFDs["log"])
	if aLog.Desc != aDup.Desc || aLog.Desc != bLog.Desc {
		t.Errorf("A's log %d, its dup %d and B's fd 3 %d are not one description", aLog.Desc, aDup.Desc, bLog.Desc)
	}
	aData, bData := get(t, m, tt.A.PID, a.FDs["data"]), get(t, m, tt.BPID, tt.BFDs["data"])
	if aData.Desc == bData.Desc || aData.Inode != bData.Inode || aData.Dev != bData.Dev {
		t.Errorf("A's and B's opens of data.txt: descriptions %d, %d (want two), inodes %d, %d (want one)", aData.Desc, bData.Desc, aData.Inode, bData.Inode)
	}
}

// Two processes connected by a unix socket see each other's socket as peer.
func TestUnixPeers(t *testing.T) {
	it := open(t)
	e := proctest.UnixEcho(t)
	cc, sc := e.Client.Facts().Conns[0], e.Server.Facts().Conns[0]
	m := dump(t, it)
	c, s := get(t, m, e.Client.PID, cc.FD), get(t, m, e.Server.PID, sc.FD)
	if c.Inode != cc.Inode || s.Inode != sc.Inode {
		t.Fatalf("inodes %d, %d; the children report %d, %d", c.Inode, s.Inode, cc.Inode, sc.Inode)
	}
	if c.Peer != s.Sock || s.Peer != c.Sock || c.PeerInode != s.Inode || s.PeerInode != c.Inode {
		t.Errorf("client sock %d peer %d (inode %d), server sock %d peer %d (inode %d)", c.Sock, c.Peer, c.PeerInode, s.Sock, s.Peer, s.PeerInode)
	}
	l := get(t, m, e.Server.PID, e.Server.Facts().ListenFD)
	if l.Peer != 0 || l.Family != unix.AF_UNIX {
		t.Errorf("the listener: family %d, peer %d", l.Family, l.Peer)
	}
}

// Every fd /proc lists for a process is in the dump, and no other.
func TestAgreesWithProc(t *testing.T) {
	it := open(t)
	e := proctest.UnixEcho(t)
	m := dump(t, it)
	for _, pid := range []int{e.Server.PID, e.Client.PID} {
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]bool{}
		for _, ent := range ents {
			n, _ := strconv.Atoi(ent.Name())
			want[n] = true
			get(t, m, pid, n)
		}
		for k := range m {
			if k.pid == pid && !want[k.fd] {
				t.Errorf("pid %d: fd %d in the dump, not in /proc", pid, k.fd)
			}
		}
	}
}

// A record's start time is the one /proc/PID/stat shows.
func TestStartTime(t *testing.T) {
	it := open(t)
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	want, err := strconv.ParseUint(fields[19], 10, 64) // field 22, starttime
	if err != nil {
		t.Fatal(err)
	}
	if f := get(t, dump(t, it), os.Getpid(), 0); f.StartTime != want {
		t.Errorf("start time %d, /proc/self/stat says %d", f.StartTime, want)
	}
}

// Kernel addresses stay inside the package: descriptions and socks are
// numbered from 1 in the order met.
func TestNoAddresses(t *testing.T) {
	it := open(t)
	files, err := it.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no fds at all")
	}
	n := uint64(len(files))
	for _, f := range files {
		if f.Desc < 1 || f.Desc > n || f.Sock > 2*n || f.Peer > 2*n {
			t.Fatalf("pid %d fd %d: desc %#x sock %#x peer %#x: not numbers up to %d", f.PID, f.FD, f.Desc, f.Sock, f.Peer, n)
		}
	}
}
