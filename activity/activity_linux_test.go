//go:build linux

package activity

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fdscope/fdscope/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// waitFor samples until ok, for at most 30 s.
func waitFor(t *testing.T, s *Sampler, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := s.Sample(context.Background()); err != nil {
			t.Fatalf("Sample: %v", err)
		}
		if ok() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTCPBytes sends a known number of bytes through a real echo server
// over loopback and checks that the server's socket carried at least as
// many both ways, as rates in its samples and in Flush.
func TestTCPBytes(t *testing.T) {
	srv := proctest.Start(t, proctest.Spec{Name: "tcp-server", Role: "stream-server", Args: []string{"tcp", "127.0.0.1:0"}})
	c, err := net.Dial("tcp", srv.Facts().Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := srv.WaitConns(1).Conns[0]

	s := &Sampler{}
	waitFor(t, s, "first sample of the server's socket", func() bool { return s.socks[conn.Inode] != nil })
	s.Flush()

	const n = 1 << 20
	go func() {
		buf := make([]byte, 64<<10)
		for sent := 0; sent < n; sent += len(buf) {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	if _, err := io.CopyN(io.Discard, c, n); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	// The samples' rates times their intervals add up to the bytes, to
	// float32 precision; Flush counts bytes exactly.
	var sent, received float64
	var total Total
	waitFor(t, s, "1 MiB both ways in the server socket's samples and totals", func() bool {
		for _, tot := range s.Flush() {
			if tot.Inode == conn.Inode {
				total.Via = tot.Via
				total.Sent += tot.Sent
				total.Received += tot.Received
			}
		}
		sock, ok := s.Socket(conn.Inode)
		if !ok {
			return false
		}
		sent, received = 0, 0
		for _, p := range sock.Points {
			sent += p.Send * p.Seconds
			received += p.Recv * p.Seconds
		}
		return sock.Via == ViaTCP && sent >= n*0.99 && received >= n*0.99 && total.Sent >= n && total.Received >= n
	})
	if total.Via != ViaTCP || total.Sent > n+64 || total.Received > n+64 {
		t.Errorf("Flush: server socket %+v, want %d bytes both ways over tcp (and a SYN and FIN)", total, n)
	}
	if got := s.Latest([]uint64{conn.Inode, 1}); len(got) != 1 {
		t.Errorf("Latest of the socket and a made-up inode: %v, want the socket only", got)
	}
	// A sampler that ignores the server's local end never sees its socket.
	ign := &Sampler{IgnoreLocal: netip.MustParseAddrPort(srv.Facts().Listen)}
	for range 3 {
		ign.Sample(context.Background())
		if _, err := c.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, c, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if ign.socks[conn.Inode] != nil {
		t.Error("IgnoreLocal: the server's socket was sampled")
	}
	if last, _ := s.LastSample(); last.IsZero() {
		t.Error("LastSample: no time after samples")
	}
}

// TestUnixQueue leaves bytes unread in a unix stream socket and checks
// that the queue shows, then that the socket is forgotten once closed.
func TestUnixQueue(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(fds[1], &st); err != nil {
		t.Fatal(err)
	}
	const k = 3000
	if _, err := a.Write(make([]byte, k)); err != nil {
		t.Fatal(err)
	}
	s := &Sampler{Keep: 4, UnixEvery: -1}
	waitFor(t, s, "the unread bytes in b's queue", func() bool {
		sock, ok := s.Socket(st.Ino)
		return ok && sock.Via == ViaUnix && sock.Latest().RQueue == k && sock.Latest().Queued() == k
	})
	for range 6 {
		s.Sample(context.Background())
	}
	if sock, _ := s.Socket(st.Ino); len(sock.Points) != 4 {
		t.Errorf("%d samples kept, want Keep = 4", len(sock.Points))
	}
	b.Close()
	waitFor(t, s, "b forgotten once closed", func() bool { _, ok := s.Socket(st.Ino); return !ok })
	var seen bool
	for _, tot := range s.Flush() {
		seen = seen || tot.Inode == st.Ino && tot.MaxQueue == k
	}
	if !seen {
		t.Errorf("Flush after b closed has no total of b with its queue of %d", k)
	}
}

// TestUnixEvery: unix sockets are sampled every UnixEvery samples, and
// kept in between; TCP sockets every sample.
func TestUnixEvery(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	var st syscall.Stat_t
	if err := syscall.Fstat(fds[1], &st); err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Write(fds[0], make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	srv := proctest.Start(t, proctest.Spec{Name: "tcp-server", Role: "stream-server", Args: []string{"tcp", "127.0.0.1:0"}})
	c, err := net.Dial("tcp", srv.Facts().Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := srv.WaitConns(1).Conns[0]

	s := &Sampler{UnixEvery: 3}
	for i := range 7 {
		if err := s.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 10)); err != nil { // a rate at every TCP sample
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, c, 10); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Socket(st.Ino); !ok {
			t.Fatalf("after sample %d: the unix socket with a queue is not kept", i+1)
		}
	}
	// Samples 1, 4 and 7.
	if sock, _ := s.Socket(st.Ino); len(sock.Points) != 3 || sock.Latest().RQueue != 100 {
		t.Errorf("unix socket: %d samples, latest %+v; want 3, 100 bytes queued", len(sock.Points), sock.Latest())
	}
	// The first sample of a TCP socket gives no rate: 6 after it.
	if sock, ok := s.Socket(conn.Inode); !ok || len(sock.Points) < 5 {
		t.Errorf("TCP socket: %d samples of 7, want one at each after the first", len(sock.Points))
	}
}

// TestPipeQueue leaves bytes unread in a pipe that a child process holds
// too and checks that its queue shows, as the BPF iterator reads it (two
// buffers' lengths summed); then that it drains, and what Flush says of it.
// Root only (loading the iterator); CI runs as root.
func TestPipeQueue(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the pipe iterator needs root (or CAP_BPF and CAP_PERFMON)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	// Another holder of both ends: the pipe is one, whoever holds it.
	proctest.Start(t, proctest.Spec{Name: "pipe-holder", Role: "holder", Args: []string{"pipe-r", "pipe-w"}, Files: []*os.File{r, w}})
	const k = 5000 // two pages: two buffers
	if _, err := w.Write(make([]byte, k)); err != nil {
		t.Fatal(err)
	}
	s := &Sampler{PipeEvery: 1}
	waitFor(t, s, "the unread bytes in the pipe", func() bool {
		p, ok := s.Socket(st.Ino)
		return ok && p.Via == ViaPipe && p.Latest().RQueue == k
	})
	if on, why := s.PipesMeasured(); !on {
		t.Fatalf("PipesMeasured: %v", why)
	}
	if _, err := io.ReadFull(r, make([]byte, k)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, "the pipe drained", func() bool {
		p, ok := s.Socket(st.Ino)
		return ok && p.Latest().RQueue == 0
	})
	w.Close()
	r.Close()
	for _, tot := range s.Flush() {
		if tot.Inode == st.Ino && (tot.Via != ViaPipe || tot.MaxQueue != k) {
			t.Errorf("the pipe's total: %+v, want via pipe and a queue of %d", tot, k)
		}
	}
}
