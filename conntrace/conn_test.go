package conntrace

import (
	"net/netip"
	"testing"
	"time"
)

// The joiner on records as the kernel sends them for one TCP connection
// on loopback: the client's ESTABLISHED (on the SYN-ACK) before its
// connect returns, the server's before accept returns; then both CLOSE.
// A socket the kernel reuses the address of starts anew.
func TestJoinerTCPOrderAndReuse(t *testing.T) {
	j := newJoiner(10 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:80")
	const cliSock, srvSock = 0xffff888000001000, 0xffff888000002000
	feed := func(kind uint8, ms int, addr uint64, local, remote netip.AddrPort, pid int) {
		r := record{kind: kind, time: at(ms), sock: j.ordinal(addr, kind != kindClose), family: afInet, local: local, remote: remote, pid: pid, fd: -1}
		if kind == kindConnect || kind == kindAccept {
			r.fd, r.inode = pid, uint64(pid)
		}
		j.handle(&r)
	}
	var got []Conn
	emit := func(c Conn) { got = append(got, c) }
	for round := range 2 {
		base := round * 100
		feed(kindEstablished, base+1, cliSock, cli, srv, 0)
		feed(kindConnect, base+2, cliSock, netip.AddrPort{}, netip.AddrPort{}, 10+round)
		feed(kindEstablished, base+3, srvSock, srv, cli, 0)
		feed(kindAccept, base+4, srvSock, netip.AddrPort{}, netip.AddrPort{}, 20+round)
		feed(kindClose, base+5, cliSock, cli, srv, 0)
		feed(kindClose, base+6, srvSock, srv, cli, 0)
		j.flush(at(base+7), emit)
		if len(got) != round {
			t.Fatalf("round %d: handed over before the grace: %+v", round, got)
		}
		j.flush(at(base+50), emit)
		if len(got) != round+1 {
			t.Fatalf("round %d: %d connections, want %d", round, len(got), round+1)
		}
		c := got[round]
		if c.Client.PID != 10+round || c.Server.PID != 20+round || c.Client.Addr != cli.String() || c.Server.Addr != srv.String() ||
			!c.Opened.Equal(at(base+1)) || !c.Closed.Equal(at(base+6)) || c.Via != "tcp" {
			t.Errorf("round %d: %+v", round, c)
		}
	}
	if len(j.socks) != 0 || len(j.ords) != 0 || len(j.waiting) != 0 || len(j.closing) != 0 {
		t.Errorf("state left: %d socks, %d ordinals, %d waiting, %d closing", len(j.socks), len(j.ords), len(j.waiting), len(j.closing))
	}
}

// BenchmarkJoin is the reader's work per connection, its records decoded:
// the six records of a loopback TCP connection (both ends established,
// connected or accepted, closed) joined and handed over.
func BenchmarkJoin(b *testing.B) {
	j := newJoiner(0)
	t0 := time.Unix(1000, 0)
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:80")
	type step struct {
		kind          uint8
		end           uint64 // 0 client, 1 server
		local, remote netip.AddrPort
	}
	steps := []step{{kindEstablished, 0, cli, srv}, {kindConnect, 0, cli, srv}, {kindEstablished, 1, srv, cli},
		{kindAccept, 1, srv, cli}, {kindClose, 0, cli, srv}, {kindClose, 1, srv, cli}}
	n := 0
	emit := func(Conn) { n++ }
	for i := range b.N {
		base := 0xffff888000000000 + uint64(i%4096)*0x1000
		for _, s := range steps {
			r := record{kind: s.kind, time: t0, sock: j.ordinal(base+s.end*0x800, s.kind != kindClose), family: afInet,
				local: s.local, remote: s.remote, pid: 10, fd: 3}
			j.handle(&r)
		}
		if i%64 == 63 {
			j.flush(t0, emit)
		}
	}
	j.flush(t0, emit)
	if n != b.N {
		b.Fatalf("%d connections handed over of %d", n, b.N)
	}
}

// A TCP socket connected that never became ESTABLISHED (refused, timed
// out: the programs report no CLOSE for it) is forgotten after a minute.
func TestJoinerForgetsWhatNeverConnected(t *testing.T) {
	j := newJoiner(10 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	r := record{kind: kindConnect, time: t0, sock: j.ordinal(0xffff888000001000, true), family: afInet, state: 2, pid: 10, fd: 3}
	j.handle(&r)
	j.flush(t0.Add(30*time.Second), func(Conn) { t.Error("handed over a connection that never was") })
	if len(j.socks) != 1 {
		t.Fatalf("%d sockets after 30 s, want 1", len(j.socks))
	}
	j.flush(t0.Add(2*time.Minute), func(Conn) { t.Error("handed over a connection that never was") })
	if len(j.socks) != 0 || len(j.ords) != 0 {
		t.Errorf("%d sockets, %d ordinals after 2 minutes, want none", len(j.socks), len(j.ords))
	}
}
