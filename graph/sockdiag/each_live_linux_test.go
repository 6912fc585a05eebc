package sockdiag

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// socketpairs opens n unix stream pairs, closed at cleanup.
func socketpairs(t testing.TB, n int) [][2]int {
	t.Helper()
	pairs := make([][2]int, n)
	for i := range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		pairs[i] = [2]int{fds[0], fds[1]}
	}
	return pairs
}

// TestLiveEach reads a unix pair with queued bytes and a TCP connection
// through Each and the views, as the live probe does.
func TestLiveEach(t *testing.T) {
	p := socketpairs(t, 1)[0]
	if _, err := unix.Write(p[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	ln, client, _ := tcpPair(t, "tcp")

	c := dialT(t, -1)
	u0, u1 := fdInode(t, p[0]), fdInode(t, p[1])
	found := map[uint64]unixFacts{}
	err := c.Each(UnixRequest(UnixShowPeer|UnixShowRQLen), func(m netlink.Message) error {
		if m.Header.Type != TypeByFamily {
			return nil
		}
		f, err := readUnix(m.Data)
		if err != nil {
			return err
		}
		if f.Inode == u0 || f.Inode == u1 {
			found[f.Inode] = f
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := found[u0]; f.Peer != u1 || f.RQueue != 5 || f.State != uint8(StateEstablished) || f.Name != "" {
		t.Errorf("the reading end: %+v; want peer %d, 5 bytes queued, established, no name (not asked for)", f, u1)
	}
	if f := found[u1]; f.Peer != u0 || f.RQueue != 0 {
		t.Errorf("the writing end: %+v; want peer %d, nothing queued", f, u0)
	}

	ci := connInode(t, client.(*net.TCPConn))
	n := 0
	err = c.Each(InetRequest(unix.AF_INET, unix.IPPROTO_TCP, 0), func(m netlink.Message) error {
		r, err := ParseInetReply(m.Data)
		if err != nil || r.Inode() != ci {
			return err
		}
		n++
		if r.Remote().String() != ln.Addr().String() || r.Local().String() != client.LocalAddr().String() || r.State() != uint8(StateEstablished) {
			t.Errorf("client: %v → %v, state %d", r.Local(), r.Remote(), r.State())
		}
		a := r.Attrs()
		for a.Next() {
			if a.Type() == InetAttrInfo {
				t.Error("tcp_info sent without InetExtInfo")
			}
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Errorf("inet dump: client seen %d times, %v", n, err)
	}
}

// TestLiveEachStopped stops a dump of several datagrams at its first
// message; the next dump on the Conn is whole and its own.
func TestLiveEachStopped(t *testing.T) {
	socketpairs(t, 1000)
	c := dialT(t, -1)
	stop := errors.New("stop")
	if err := c.Each(UnixRequest(UnixShowPeer), func(netlink.Message) error { return stop }); err != stop {
		t.Fatalf("Each = %v, want the callback's error", err)
	}
	seen := map[uint64]bool{}
	err := c.Each(UnixRequest(UnixShowPeer), func(m netlink.Message) error {
		r, err := ParseUnixReply(m.Data)
		if err != nil {
			return err
		}
		if seen[r.Inode()] {
			t.Errorf("inode %d twice", r.Inode())
		}
		seen[r.Inode()] = true
		// Only PEER was asked for (UNIX_DIAG_SHUTDOWN comes always).
		a := r.Attrs()
		for a.Next() {
			if a.Type() == UnixAttrName || a.Type() == UnixAttrRQLen || a.Type() == UnixAttrUID {
				t.Fatalf("attribute %d not asked for", a.Type())
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrDumpInterrupted) {
		t.Fatal(err)
	}
	if len(seen) < 2000 {
		t.Errorf("the second dump saw %d sockets, want at least 2000", len(seen))
	}
}

// TestLiveEachAllocs checks that Each allocates nothing per socket: once
// the Conn has its buffers, a dump of thousands of sockets allocates
// nothing at all.
func TestLiveEachAllocs(t *testing.T) {
	socketpairs(t, 2000)
	c := dialT(t, -1)
	req := UnixRequest(UnixShowPeer | UnixShowRQLen)
	var n int
	var sum uint64
	fn := func(m netlink.Message) error {
		n++
		if r, err := ParseUnixReply(m.Data); err == nil {
			a := r.Attrs()
			for a.Next() {
				if a.Type() == UnixAttrRQLen && len(a.Data()) == 8 {
					sum += uint64(binary.NativeEndian.Uint32(a.Data()))
				}
			}
		}
		return nil
	}
	allocs := testing.AllocsPerRun(10, func() {
		n = 0
		if err := c.Each(req, fn); err != nil && !errors.Is(err, ErrDumpInterrupted) {
			t.Fatal(err)
		}
	})
	if n < 4000 {
		t.Fatalf("%d messages, want at least 4000", n)
	}
	if allocs > 2 {
		t.Errorf("Each over %d sockets: %.0f allocations, want at most 2", n, allocs)
	}
	t.Logf("%d sockets, %.0f allocations per dump", n, allocs)
}
