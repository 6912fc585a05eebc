package sockdiag

// Integration tests against the running kernel. They need no build tag: the
// unprivileged ones run anywhere, the others skip when not root.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func dialT(t testing.TB, netnsFD int) *Conn {
	t.Helper()
	c, err := Dial(netnsFD)
	if err != nil {
		t.Fatalf("Dial(%d): %v", netnsFD, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// fdInode returns the inode of an open fd.
func fdInode(t testing.TB, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat(%d): %v", fd, err)
	}
	return st.Ino
}

// connInode returns the socket inode of a net.Conn or net.Listener.
func connInode(t testing.TB, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	if err := rc.Control(func(fd uintptr) { ino = fdInode(t, int(fd)) }); err != nil {
		t.Fatal(err)
	}
	return ino
}

// socket opens a raw socket fd, closed at cleanup.
func socket(t testing.TB, domain, typ, proto int) int {
	t.Helper()
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatalf("socket(%d, %d, %d): %v", domain, typ, proto, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func find[T any](socks []T, inode uint64, ino func(*T) uint64) *T {
	for i := range socks {
		if ino(&socks[i]) == inode {
			return &socks[i]
		}
	}
	return nil
}

func findUnix(socks []UnixSocket, inode uint64) *UnixSocket {
	return find(socks, inode, func(s *UnixSocket) uint64 { return s.Inode })
}

func findInet(socks []InetSocket, inode uint64) *InetSocket {
	return find(socks, inode, func(s *InetSocket) uint64 { return s.Inode })
}

func mustUnix(t *testing.T, c *Conn) []UnixSocket {
	t.Helper()
	socks, err := c.Unix()
	if err != nil {
		t.Fatalf("Unix(): %v", err)
	}
	return socks
}

func mustInet(t *testing.T, c *Conn, family, protocol uint8) []InetSocket {
	t.Helper()
	socks, err := c.Inet(family, protocol)
	if err != nil {
		t.Fatalf("Inet(%d, %d): %v", family, protocol, err)
	}
	return socks
}

// listenUnix binds a stream socket to name and listens with a backlog of 8.
func listenUnix(t *testing.T, name string) int {
	t.Helper()
	fd := socket(t, unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		t.Fatalf("bind %q: %v", name, err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestLiveUnixListenerAndPeers(t *testing.T) {
	c := dialT(t, -1)
	abstract := fmt.Sprintf("@fdscope-sockdiag-test-%d-\x00x", os.Getpid()) // an embedded NUL too
	path := filepath.Join(t.TempDir(), "listener.sock")

	for _, tc := range []struct{ label, name string }{{"abstract", abstract}, {"path", path}} {
		name := tc.name
		t.Run(tc.label, func(t *testing.T) {
			lfd := listenUnix(t, name)
			cfd := socket(t, unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err := unix.Connect(cfd, &unix.SockaddrUnix{Name: name}); err != nil {
				t.Fatalf("connect: %v", err)
			}
			lino, cino := fdInode(t, lfd), fdInode(t, cfd)

			// Before accept: the connection waits in the listener's queue.
			socks := mustUnix(t, c)
			l := findUnix(socks, lino)
			if l == nil {
				t.Fatalf("listener inode %d not in the dump of %d sockets", lino, len(socks))
			}
			if l.Name != name || l.State != uint8(StateListen) || l.Type != unix.SOCK_STREAM {
				t.Errorf("listener: name %q state %s type %s; want %q listen stream", l.Name, StateName(l.State), TypeName(l.Type), name)
			}
			if !slices.Equal(l.Pending, []uint64{cino}) {
				t.Errorf("listener Pending = %v, want [%d] (the connecting client)", l.Pending, cino)
			}
			if l.RQueue != 1 || l.WQueue != 8 {
				t.Errorf("listener RQueue, WQueue = %d, %d; want 1 queued of backlog 8", l.RQueue, l.WQueue)
			}
			if !l.HasUID || l.UID != uint32(os.Geteuid()) {
				t.Errorf("listener UID = %d (has %v), want %d", l.UID, l.HasUID, os.Geteuid())
			}
			if name == path {
				var st unix.Stat_t
				if err := unix.Stat(path, &st); err != nil {
					t.Fatal(err)
				}
				maj, min := l.VFSDevMajorMinor()
				if l.VFSInode != st.Ino || maj != unix.Major(st.Dev) || min != unix.Minor(st.Dev) {
					t.Errorf("listener VFS = inode %d dev %d:%d; stat says inode %d dev %d:%d",
						l.VFSInode, maj, min, st.Ino, unix.Major(st.Dev), unix.Minor(st.Dev))
				}
			} else if l.VFSInode != 0 {
				t.Errorf("abstract listener has VFS inode %d", l.VFSInode)
			}
			cl := findUnix(socks, cino)
			if cl == nil {
				t.Fatalf("client inode %d not in the dump", cino)
			}
			if cl.Peer != 0 || cl.State != uint8(StateEstablished) {
				t.Errorf("queued client: peer %d state %s; want 0 (server end has no inode yet), established", cl.Peer, StateName(cl.State))
			}

			// After accept, both ends point at each other.
			afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(afd) })
			ano := fdInode(t, afd)
			if _, err := unix.Write(cfd, []byte("hello")); err != nil {
				t.Fatal(err)
			}

			socks = mustUnix(t, c)
			a, cl, l := findUnix(socks, ano), findUnix(socks, cino), findUnix(socks, lino)
			if a == nil || cl == nil || l == nil {
				t.Fatalf("accepted %v, client %v, listener %v: missing from the dump", a, cl, l)
			}
			if a.Peer != cino || cl.Peer != ano {
				t.Errorf("accepted.Peer = %d (want client %d), client.Peer = %d (want accepted %d)", a.Peer, cino, cl.Peer, ano)
			}
			if a.Name != name {
				t.Errorf("accepted socket name %q, want the listener's %q", a.Name, name)
			}
			if a.RQueue != 5 {
				t.Errorf("accepted RQueue = %d, want the 5 unread bytes", a.RQueue)
			}
			if len(l.Pending) != 0 || l.RQueue != 0 {
				t.Errorf("listener after accept: Pending %v RQueue %d, want none", l.Pending, l.RQueue)
			}
		})
	}
}

func TestLiveUnixDgramPair(t *testing.T) {
	c := dialT(t, -1)
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		i0, i1 := fdInode(t, fds[0]), fdInode(t, fds[1])
		socks := mustUnix(t, c)
		s0, s1 := findUnix(socks, i0), findUnix(socks, i1)
		if s0 == nil || s1 == nil {
			t.Fatalf("%s pair %d, %d: not both in the dump", TypeName(uint8(typ)), i0, i1)
		}
		for _, s := range []*UnixSocket{s0, s1} {
			if s.Type != uint8(typ) || s.State != uint8(StateEstablished) || s.Name != "" {
				t.Errorf("%+v: want type %s, established, unnamed", *s, TypeName(uint8(typ)))
			}
		}
		if s0.Peer != i1 || s1.Peer != i0 {
			t.Errorf("%s pair: peers %d, %d; want %d, %d", TypeName(uint8(typ)), s0.Peer, s1.Peer, i1, i0)
		}
	}
}

// tcpPair opens a listener on 127.0.0.1 and one connection to it, both
// ends, closed when the test ends.
func tcpPair(t testing.TB, network string) (ln net.Listener, client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	client, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return ln, client, server
}

func TestLiveTCP(t *testing.T) {
	c := dialT(t, -1)
	ln, client, server := tcpPair(t, "tcp4")
	lino, cino, sino := connInode(t, ln.(*net.TCPListener)), connInode(t, client.(*net.TCPConn)), connInode(t, server.(*net.TCPConn))
	laddr := ln.Addr().(*net.TCPAddr).AddrPort()
	caddr := client.LocalAddr().(*net.TCPAddr).AddrPort()

	const n = 1000
	if _, err := client.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	var socks []InetSocket
	// Wait until the bytes sit, unread, in the server's receive queue.
	var srv *InetSocket
	waitFor(t, "server RQueue == 1000", func() bool {
		socks = mustInet(t, c, unix.AF_INET, unix.IPPROTO_TCP)
		srv = findInet(socks, sino)
		return srv != nil && srv.RQueue == n
	}, func() string { return fmt.Sprintf("server %+v", srv) })
	for _, tc := range []struct {
		name          string
		ino           uint64
		state         State
		local, remote netip.AddrPort
	}{
		{"listener", lino, StateListen, laddr, netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
		{"client", cino, StateEstablished, caddr, laddr},
		{"server", sino, StateEstablished, laddr, caddr},
	} {
		s := findInet(socks, tc.ino)
		if s == nil {
			t.Errorf("%s inode %d not in the dump of %d sockets", tc.name, tc.ino, len(socks))
			continue
		}
		if s.State != uint8(tc.state) || s.Local != tc.local || s.Remote != tc.remote || s.Family != unix.AF_INET || s.Protocol != unix.IPPROTO_TCP {
			t.Errorf("%s: %s %s -> %s family %d protocol %d; want %s %s -> %s, AF_INET tcp",
				tc.name, StateName(s.State), s.Local, s.Remote, s.Family, s.Protocol, tc.state, tc.local, tc.remote)
		}
		if s.UID != uint32(os.Geteuid()) {
			t.Errorf("%s: UID %d, want %d", tc.name, s.UID, os.Geteuid())
		}
		if !s.HasTCPInfo {
			t.Errorf("%s: no tcp_info", tc.name)
		}
	}
	if l := findInet(socks, lino); l != nil && l.WQueue == 0 {
		t.Errorf("listener WQueue (backlog) = 0")
	}

	if _, err := server.Read(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	// bytes_acked counts sequence space, so the client's includes its SYN.
	var cs, ss *InetSocket
	waitFor(t, "client BytesAcked == 1001 and server BytesReceived == 1000", func() bool {
		socks = mustInet(t, c, unix.AF_INET, unix.IPPROTO_TCP)
		cs, ss = findInet(socks, cino), findInet(socks, sino)
		return cs != nil && ss != nil && cs.BytesAcked == n+1 && ss.BytesReceived == n && ss.RQueue == 0
	}, func() string { return fmt.Sprintf("client %+v, server %+v", cs, ss) })
	if cs := findInet(socks, cino); cs.RTTMicros == 0 || cs.RTTMicros > 1e6 {
		t.Errorf("client RTT %d µs on loopback", cs.RTTMicros)
	}

	// The same sockets must not show up in an AF_INET6 or UDP dump.
	for _, d := range []struct{ family, protocol uint8 }{{unix.AF_INET6, unix.IPPROTO_TCP}, {unix.AF_INET, unix.IPPROTO_UDP}} {
		for _, ino := range []uint64{lino, cino, sino} {
			if findInet(mustInet(t, c, d.family, d.protocol), ino) != nil {
				t.Errorf("tcp4 socket %d in the dump of family %d protocol %d", ino, d.family, d.protocol)
			}
		}
	}
}

// waitFor polls cond for up to 30 s (a bound for a loaded machine, not a
// speed to meet); state describes the last state seen.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last seen: %s", what, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLiveUDP(t *testing.T) {
	c := dialT(t, -1)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sino, cino := connInode(t, srv), connInode(t, cl)
	saddr := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	socks := mustInet(t, c, unix.AF_INET, unix.IPPROTO_UDP)
	s, k := findInet(socks, sino), findInet(socks, cino)
	if s == nil || k == nil {
		t.Fatalf("server %d or client %d missing from the udp dump", sino, cino)
	}
	if s.State != uint8(StateClose) || s.Local != saddr || s.Remote.Port() != 0 || s.Protocol != unix.IPPROTO_UDP {
		t.Errorf("unconnected udp: %s %s -> %s; want close %s -> 0.0.0.0:0", StateName(s.State), s.Local, s.Remote, saddr)
	}
	if k.State != uint8(StateEstablished) || k.Remote != saddr || k.Local != cl.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("connected udp: %s %s -> %s; want established -> %s", StateName(k.State), k.Local, k.Remote, saddr)
	}
	if s.HasTCPInfo {
		t.Error("udp socket has tcp_info")
	}
}

func TestLiveUDPLite(t *testing.T) {
	c := dialT(t, -1)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDPLITE)
	if err != nil {
		t.Skipf("no UDP-Lite sockets on this kernel: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	socks, err := c.Inet(unix.AF_INET, unix.IPPROTO_UDPLITE)
	if err != nil {
		t.Fatalf("Inet(AF_INET, IPPROTO_UDPLITE): %v", err)
	}
	s := findInet(socks, fdInode(t, fd))
	if s == nil || s.Protocol != unix.IPPROTO_UDPLITE || s.Local.Addr() != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		t.Errorf("udplite socket: %+v", s)
	}
	if findInet(mustInet(t, c, unix.AF_INET, unix.IPPROTO_UDP), fdInode(t, fd)) != nil {
		t.Error("udplite socket in the udp dump")
	}
}

func TestLiveIPv6(t *testing.T) {
	c := dialT(t, -1)
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("skipping: cannot listen on [::1] (no IPv6 on lo in this kernel or namespace): %v", err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp6", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	lino, cino := connInode(t, ln.(*net.TCPListener)), connInode(t, client.(*net.TCPConn))
	laddr := ln.Addr().(*net.TCPAddr).AddrPort()
	socks := mustInet(t, c, unix.AF_INET6, unix.IPPROTO_TCP)
	l, cl := findInet(socks, lino), findInet(socks, cino)
	if l == nil || cl == nil {
		t.Fatalf("listener %d or client %d missing from the tcp6 dump", lino, cino)
	}
	if l.Family != unix.AF_INET6 || l.State != uint8(StateListen) || l.Local != laddr || l.Remote != netip.AddrPortFrom(netip.IPv6Unspecified(), 0) {
		t.Errorf("tcp6 listener: family %d %s %s -> %s", l.Family, StateName(l.State), l.Local, l.Remote)
	}
	if cl.Remote != laddr || cl.State != uint8(StateEstablished) || !cl.Local.Addr().Is6() {
		t.Errorf("tcp6 client: %s %s -> %s", StateName(cl.State), cl.Local, cl.Remote)
	}
	if findInet(mustInet(t, c, unix.AF_INET, unix.IPPROTO_TCP), lino) != nil {
		t.Error("tcp6 listener in the tcp4 dump")
	}
}

// An AF_INET6 socket says whether it is IPv6 only (IPV6_V6ONLY): Go's
// "udp6" sets it, "udp" on the wildcard leaves it off (dual stack).
func TestLiveV6Only(t *testing.T) {
	c := dialT(t, -1)
	only, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skipf("skipping: no IPv6 UDP here: %v", err)
	}
	defer only.Close()
	dual, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	socks := mustInet(t, c, unix.AF_INET6, unix.IPPROTO_UDP)
	for _, tc := range []struct {
		name string
		conn *net.UDPConn
		want bool
	}{{"udp6", only, true}, {"udp", dual, false}} {
		s := findInet(socks, connInode(t, tc.conn))
		if s == nil {
			t.Errorf("%s socket on %s missing from the udp6 dump", tc.name, tc.conn.LocalAddr())
			continue
		}
		if s.V6Only != tc.want {
			t.Errorf("%s socket on %s: V6Only = %v, want %v", tc.name, tc.conn.LocalAddr(), s.V6Only, tc.want)
		}
	}
}

func TestLiveRaw(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: raw sockets need root (CAP_NET_RAW)")
	}
	c := dialT(t, -1)
	fd := socket(t, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	socks, err := c.Inet(unix.AF_INET, unix.IPPROTO_RAW)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("skipping: the kernel has no raw_diag (CONFIG_INET_RAW_DIAG): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := findInet(socks, fdInode(t, fd))
	if s == nil || s.Protocol != unix.IPPROTO_ICMP {
		t.Errorf("raw icmp socket: %+v; want protocol icmp", s)
	}
}

func TestLiveNetlink(t *testing.T) {
	c := dialT(t, -1)
	fd := socket(t, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	// Group 1 (RTNLGRP_LINK) by the bind mask, group 5 by setsockopt;
	// binding also assigns the port id.
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, unix.RTNLGRP_IPV4_IFADDR); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	portID := sa.(*unix.SockaddrNetlink).Pid
	ino := fdInode(t, fd)

	socks, err := c.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	s := find(socks, ino, func(s *NetlinkSocket) uint64 { return s.Inode })
	if s == nil {
		t.Fatalf("netlink socket %d not in the dump of %d", ino, len(socks))
	}
	if s.Protocol != unix.NETLINK_ROUTE || s.Type != unix.SOCK_RAW || s.PortID != portID || NetlinkProtocolName(s.Protocol) != "route" {
		t.Errorf("got %+v; want route, raw, port id %d", *s, portID)
	}
	if !slices.Equal(s.Groups, []uint32{1, unix.RTNLGRP_IPV4_IFADDR}) {
		t.Errorf("Groups = %v, want [1 %d]", s.Groups, unix.RTNLGRP_IPV4_IFADDR)
	}
	// The dump also sees the sock_diag socket it was made through.
	diag := 0
	for _, s := range socks {
		if s.Protocol == unix.NETLINK_SOCK_DIAG && s.PortID != 0 {
			diag++
		}
	}
	if diag == 0 {
		t.Error("no bound sock_diag socket in the dump")
	}
}

func TestLivePacket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: packet sockets need root (CAP_NET_RAW)")
	}
	c := dialT(t, -1)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	const ethertype = 0x88b5 // IEEE local experimental: no traffic expected
	htons := func(v uint16) uint16 { return v<<8 | v>>8 }
	fd := socket(t, unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(ethertype)))
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethertype), Ifindex: lo.Index}); err != nil {
		t.Fatal(err)
	}
	ino := fdInode(t, fd)
	socks, err := c.Packet()
	if err != nil {
		t.Fatal(err)
	}
	s := find(socks, ino, func(s *PacketSocket) uint64 { return s.Inode })
	if s == nil {
		t.Fatalf("packet socket %d not in the dump of %d", ino, len(socks))
	}
	want := PacketSocket{Inode: ino, Type: unix.SOCK_DGRAM, Protocol: ethertype, Interface: uint32(lo.Index), UID: uint32(os.Geteuid()), HasUID: true}
	if *s != want {
		t.Errorf("got %+v, want %+v", *s, want)
	}
}

func TestLiveVsock(t *testing.T) {
	c := dialT(t, -1)
	socks, err := c.Vsock()
	if errors.Is(err, ErrNotSupported) {
		t.Logf("no vsock_diag in this kernel: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d vsock sockets", len(socks))
}

func TestDialBadNetNS(t *testing.T) {
	f, err := os.Open("/proc/self/stat") // not a namespace
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c, err := Dial(int(f.Fd())); err == nil {
		c.Close()
		t.Fatal("Dial with a non-namespace fd succeeded")
	}
}
