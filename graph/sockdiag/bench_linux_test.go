package sockdiag

import (
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// BenchmarkUnixDump dumps the unix sockets of the namespace with 2000
// socketpairs (4000 sockets) open besides whatever else runs.
func BenchmarkUnixDump(b *testing.B) {
	const pairs = 2000
	for range pairs {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatalf("socketpair: %v", err)
		}
		b.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	}
	c := dialT(b, -1)
	var n int
	for b.Loop() {
		socks, err := c.Unix()
		if err != nil {
			b.Fatal(err)
		}
		n = len(socks)
	}
	if n < 2*pairs {
		b.Fatalf("dumped %d sockets, want at least %d", n, 2*pairs)
	}
	b.ReportMetric(float64(n), "sockets/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/socket")
}

// BenchmarkDecodeUnix measures decoding alone, on 4000 synthetic messages
// shaped like the kernel's (peer, rqlen, shutdown and uid attributes).
func BenchmarkDecodeUnix(b *testing.B) {
	msgs := make([]netlink.Message, 4000)
	for i := range msgs {
		msgs[i] = msg(unixMsg(1, 1, uint32(i+1), attr(unixDiagPeer, u32(uint32(i+2))),
			attr(unixDiagRQLen, cat(u32(0), u32(0))), attr(6, []byte{0}), attr(unixDiagUID, u32(0))))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeUnix(msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnixReplyView reads the same 4000 messages as BenchmarkDecodeUnix
// through the views, as the live probe does: inode, state, peer and queues.
func BenchmarkUnixReplyView(b *testing.B) {
	msgs := make([]netlink.Message, 4000)
	for i := range msgs {
		msgs[i] = msg(unixMsg(1, 1, uint32(i+1), attr(unixDiagPeer, u32(uint32(i+2))),
			attr(unixDiagRQLen, cat(u32(0), u32(0))), attr(6, []byte{0}), attr(unixDiagUID, u32(0))))
	}
	b.ReportAllocs()
	var sum uint64
	for b.Loop() {
		for _, m := range msgs {
			r, err := ParseUnixReply(m.Data)
			if err != nil {
				b.Fatal(err)
			}
			sum += r.Inode() + uint64(r.State())
			a := r.Attrs()
			for a.Next() {
				switch a.Type() {
				case UnixAttrPeer, UnixAttrRQLen:
					sum += uint64(len(a.Data()))
				}
			}
		}
	}
	if sum == 0 {
		b.Fatal("nothing read")
	}
}
