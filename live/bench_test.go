//go:build linux

package live

import (
	"context"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSockDiagProber measures the socket part of a probe tick on this
// process's namespace with 2000 unix socketpairs and 200 TCP connections
// open besides whatever else runs: its time and allocations per tick, and
// per socket.
func BenchmarkSockDiagProber(b *testing.B) {
	const pairs, conns = 2000, 200
	for range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatalf("socketpair: %v", err)
		}
		b.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(); s.Close() })
	}
	p := NewSockDiagProber("")
	b.Cleanup(func() { p.Close() })
	netns := map[uint64]int{p.netns.Self(): os.Getpid()}
	ctx := context.Background()
	var n int
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		got, err := p.ProbeSockets(ctx, netns)
		if err != nil {
			b.Fatal(err)
		}
		n = len(got)
	}
	if n < 2*pairs+2*conns {
		b.Fatalf("probed %d sockets, want at least %d", n, 2*pairs+2*conns)
	}
	// CPU time, the garbage collector's included: steadier than wall time
	// on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(n), "sockets/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/socket")
}
