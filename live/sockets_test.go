package live

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func connInode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	rc.Control(func(fd uintptr) { ino = inode(t, int(fd)) })
	return ino
}

// TestSockDiagProber dumps this process's namespace: a unix pair and a TCP
// connection appear, and queued bytes change their signatures.
func TestSockDiagProber(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	p := NewSockDiagProber("")
	defer p.Close()
	netns := map[uint64]int{p.self: os.Getpid()}
	ctx := context.Background()
	before, err := p.ProbeSockets(ctx, netns)
	if err != nil {
		t.Fatal(err)
	}
	u0, tc := inode(t, fds[0]), connInode(t, client.(*net.TCPConn))
	for _, ino := range []uint64{u0, tc, connInode(t, ln.(*net.TCPListener))} {
		if _, ok := before[ino]; !ok {
			t.Fatalf("socket %d missing from the dump", ino)
		}
	}
	if _, err := unix.Write(fds[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	after, err := p.ProbeSockets(ctx, netns)
	if err != nil {
		t.Fatal(err)
	}
	if before[u0] == after[u0] {
		t.Errorf("unix signature unchanged after queuing bytes: %x", after[u0])
	}
	if before[tc] == after[tc] {
		t.Errorf("tcp signature unchanged after queuing bytes: %x", after[tc])
	}
	if len(p.conns) != 1 {
		t.Errorf("%d connections kept, want 1", len(p.conns))
	}
	// A namespace that is gone is forgotten.
	if _, err := p.ProbeSockets(ctx, map[uint64]int{}); err != nil {
		t.Fatal(err)
	}
	if len(p.conns) != 0 {
		t.Errorf("%d connections kept for no namespace", len(p.conns))
	}
}

func TestSignature(t *testing.T) {
	seen := map[uint64]bool{}
	for state := range uint64(12) {
		for q := range uint64(50) {
			for _, k := range []byte{'u', 'i'} {
				h := signature(k, state, q, 0)
				if seen[h] {
					t.Fatalf("collision at %c %d %d", k, state, q)
				}
				seen[h] = true
			}
		}
	}
	if signature('u', 1, 2) == signature('u', 2, 1) {
		t.Error("the order of facts does not count")
	}
}
