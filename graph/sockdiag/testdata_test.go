//go:build linux

package sockdiag

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The files testdata/*.nlmsgs hold real sock_diag replies, captured once in a
// fresh network namespace (so they hold only the sockets made for them) by
//
//	go test -run TestCaptureTestdata -capture ./graph/sockdiag
//
// as root. Each file is the reply messages, framed as on the wire.
var capture = flag.Bool("capture", false, "regenerate testdata/*.nlmsgs from the live kernel (root)")

// captureName is the abstract name of the listener in the captured unix dump.
const captureName = "@fdscope-capture"

// captures lists the dumps captured, by file name.
var captures = []struct {
	file string
	req  func() Request
}{
	{"unix.nlmsgs", unixRequest},
	{"inet4_tcp.nlmsgs", func() Request { return inetRequest(unix.AF_INET, unix.IPPROTO_TCP) }},
	{"inet4_udp.nlmsgs", func() Request { return inetRequest(unix.AF_INET, unix.IPPROTO_UDP) }},
	{"inet6_tcp.nlmsgs", func() Request { return inetRequest(unix.AF_INET6, unix.IPPROTO_TCP) }},
	{"netlink.nlmsgs", netlinkRequest},
	{"packet.nlmsgs", packetRequest},
}

// marshalMessages frames msgs as the kernel sends them.
func marshalMessages(msgs []netlink.Message) []byte {
	var b []byte
	for _, m := range msgs {
		n := 16 + len(m.Data)
		b = binary.NativeEndian.AppendUint32(b, uint32(n))
		b = binary.NativeEndian.AppendUint16(b, uint16(m.Header.Type))
		b = binary.NativeEndian.AppendUint16(b, uint16(m.Header.Flags))
		b = binary.NativeEndian.AppendUint32(b, m.Header.Sequence)
		b = binary.NativeEndian.AppendUint32(b, m.Header.PID)
		b = append(b, m.Data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// splitMessages parses framed netlink messages.
func splitMessages(b []byte) ([]netlink.Message, error) {
	var msgs []netlink.Message
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < 16 {
			return msgs, fmt.Errorf("byte %d: %d trailing bytes", off, len(rest))
		}
		n := int(binary.NativeEndian.Uint32(rest))
		if n < 16 || n > len(rest) {
			return msgs, fmt.Errorf("byte %d: message length %d, %d bytes left", off, n, len(rest))
		}
		end := (n + 3) &^ 3
		buf := rest[:min(end, len(rest))]
		if len(buf) < end { // the last message's padding is missing
			buf = append(buf[:len(buf):len(buf)], make([]byte, end-len(buf))...)
		}
		var m netlink.Message
		if err := m.UnmarshalBinary(buf); err != nil {
			return msgs, fmt.Errorf("byte %d: %w", off, err)
		}
		msgs = append(msgs, m)
		off += (n + 3) &^ 3
	}
	return msgs, nil
}

// skipIfBigEndian skips tests that read the captured files, which hold the
// native (little-endian) byte order of the machine that captured them.
func skipIfBigEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("skipping: testdata was captured on a little-endian machine")
	}
}

func readTestdata(t testing.TB, file string) []netlink.Message {
	t.Helper()
	skipIfBigEndian(t)
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := splitMessages(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return msgs
}

func TestCaptureTestdata(t *testing.T) {
	if !*capture {
		t.Skip("skipping: run with -capture to regenerate testdata")
	}
	ns := newNetNS(t)
	var err error
	ns.do(func() { err = makeCaptureSockets(t) })
	if err != nil {
		t.Fatal(err)
	}
	c := dialT(t, ns.fd)
	for _, cp := range captures {
		var msgs []netlink.Message
		err := c.Each(cp.req(), func(m netlink.Message) error {
			m.Data = append([]byte(nil), m.Data...) // a view of the receive buffer
			msgs = append(msgs, m)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", cp.file, err)
		}
		b := marshalMessages(msgs)
		if err := os.WriteFile(filepath.Join("testdata", cp.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d messages, %d bytes", cp.file, len(msgs), len(b))
	}
}

// makeCaptureSockets creates, in the calling thread's namespace, the
// sockets that TestDecodeTestdata expects. They stay open until the test
// ends.
func makeCaptureSockets(t *testing.T) error {
	keep := func(fd int) { t.Cleanup(func() { unix.Close(fd) }) }
	sock := func(domain, typ, proto int) (int, error) {
		fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		if err == nil {
			keep(fd)
		}
		return fd, err
	}
	// unix: an abstract listener with one pending connection, a path
	// listener with one accepted connection holding 5 unread bytes, a
	// dgram pair.
	l1, err := sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(l1, &unix.SockaddrUnix{Name: captureName}); err != nil {
		return err
	}
	if err := unix.Listen(l1, 16); err != nil {
		return err
	}
	c1, _ := sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err := unix.Connect(c1, &unix.SockaddrUnix{Name: captureName}); err != nil {
		return err
	}
	path := filepath.Join(t.TempDir(), "capture.sock")
	l2, _ := sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err := unix.Bind(l2, &unix.SockaddrUnix{Name: path}); err != nil {
		return err
	}
	if err := unix.Listen(l2, 16); err != nil {
		return err
	}
	c2, _ := sock(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err := unix.Connect(c2, &unix.SockaddrUnix{Name: path}); err != nil {
		return err
	}
	a2, _, err := unix.Accept4(l2, unix.SOCK_CLOEXEC)
	if err != nil {
		return err
	}
	keep(a2)
	if _, err := unix.Write(c2, []byte("hello")); err != nil {
		return err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	keep(pair[0])
	keep(pair[1])

	// inet: a tcp4 listener with an accepted connection that moved 1000
	// bytes, a udp4 socket, a tcp6 listener with a connection.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	t.Cleanup(func() { ln.Close() })
	cl, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		return err
	}
	t.Cleanup(func() { cl.Close() })
	sv, err := ln.Accept()
	if err != nil {
		return err
	}
	t.Cleanup(func() { sv.Close() })
	if _, err := cl.Write(make([]byte, 1000)); err != nil {
		return err
	}
	if _, err := sv.Read(make([]byte, 1000)); err != nil {
		return err
	}
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353})
	if err != nil {
		return err
	}
	t.Cleanup(func() { u.Close() })
	ln6, err := net.Listen("tcp6", "[::1]:8080")
	if err != nil {
		return err
	}
	t.Cleanup(func() { ln6.Close() })
	cl6, err := net.Dial("tcp6", "[::1]:8080")
	if err != nil {
		return err
	}
	t.Cleanup(func() { cl6.Close() })

	// netlink: a route socket in groups 1 and 5. packet: one on lo.
	nl, _ := sock(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	if err := unix.Bind(nl, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(nl, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, 5); err != nil {
		return err
	}
	pk, err := sock(unix.AF_PACKET, unix.SOCK_DGRAM, 0xb588) // htons(0x88b5)
	if err != nil {
		return err
	}
	return unix.Bind(pk, &unix.SockaddrLinklayer{Protocol: 0xb588, Ifindex: 1})
}

// TestDecodeTestdata decodes the captured replies and checks that they hold
// the sockets makeCaptureSockets made.
func TestDecodeTestdata(t *testing.T) {
	t.Run("unix", func(t *testing.T) {
		socks, err := decodeUnix(readTestdata(t, "unix.nlmsgs"))
		if err != nil {
			t.Fatal(err)
		}
		byIno := map[uint64]UnixSocket{}
		var abstractL, pathL, accepted *UnixSocket
		for i, s := range socks {
			byIno[s.Inode] = s
			switch {
			case s.Name == captureName && s.State == uint8(StateListen):
				abstractL = &socks[i]
			case strings.HasSuffix(s.Name, "/capture.sock") && s.State == uint8(StateListen):
				pathL = &socks[i]
			case strings.HasSuffix(s.Name, "/capture.sock"):
				accepted = &socks[i]
			}
		}
		if len(socks) != 7 {
			t.Errorf("%d sockets, want 7", len(socks))
		}
		if abstractL == nil || pathL == nil || accepted == nil {
			t.Fatalf("missing abstract listener (%v), path listener (%v) or accepted socket (%v)", abstractL, pathL, accepted)
		}
		if len(abstractL.Pending) != 1 || byIno[abstractL.Pending[0]].Peer != 0 || abstractL.RQueue != 1 || abstractL.WQueue != 16 {
			t.Errorf("abstract listener %+v: want one pending client without a peer yet, backlog 16", *abstractL)
		}
		if pathL.VFSInode == 0 || len(pathL.Pending) != 0 {
			t.Errorf("path listener %+v: want a VFS inode and nothing pending", *pathL)
		}
		if peer := byIno[accepted.Peer]; peer.Peer != accepted.Inode || accepted.RQueue != 5 {
			t.Errorf("accepted %+v and its peer %+v: want mutual peers and 5 unread bytes", *accepted, peer)
		}
		dgram := 0
		for _, s := range socks {
			if s.Type == unix.SOCK_DGRAM && byIno[s.Peer].Peer == s.Inode {
				dgram++
			}
		}
		if dgram != 2 {
			t.Errorf("%d dgram sockets with mutual peers, want 2", dgram)
		}
	})
	t.Run("inet4_tcp", func(t *testing.T) {
		socks, err := decodeInet(readTestdata(t, "inet4_tcp.nlmsgs"), unix.IPPROTO_TCP)
		if err != nil {
			t.Fatal(err)
		}
		var listen, est int
		for _, s := range socks {
			if !s.HasTCPInfo || s.Family != unix.AF_INET || s.Inode == 0 || s.Local.Addr().String() != "127.0.0.1" {
				t.Errorf("%+v: want tcp_info, AF_INET, an inode, bound to 127.0.0.1", s)
			}
			switch {
			case s.State == uint8(StateListen):
				listen++
			case s.State == uint8(StateEstablished) && s.BytesAcked == 1001:
				est++ // the client: 1000 bytes plus its SYN acknowledged
			case s.State == uint8(StateEstablished) && s.BytesReceived == 1000:
				est++
			}
		}
		if len(socks) != 3 || listen != 1 || est != 2 {
			t.Errorf("%d sockets, %d listening, %d established with the expected byte counts; want 3, 1, 2", len(socks), listen, est)
		}
	})
	t.Run("inet4_udp", func(t *testing.T) {
		socks, err := decodeInet(readTestdata(t, "inet4_udp.nlmsgs"), unix.IPPROTO_UDP)
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) != 1 || socks[0].Local.String() != "127.0.0.1:5353" || socks[0].State != uint8(StateClose) || socks[0].HasTCPInfo {
			t.Errorf("got %+v, want one unconnected udp socket on 127.0.0.1:5353", socks)
		}
	})
	t.Run("inet6_tcp", func(t *testing.T) {
		socks, err := decodeInet(readTestdata(t, "inet6_tcp.nlmsgs"), unix.IPPROTO_TCP)
		if err != nil {
			t.Fatal(err)
		}
		var listener, client bool
		for _, s := range socks {
			listener = listener || (s.State == uint8(StateListen) && s.Local.String() == "[::1]:8080")
			client = client || (s.State == uint8(StateEstablished) && s.Remote.String() == "[::1]:8080" && s.Inode != 0)
		}
		if !listener || !client {
			t.Errorf("got %+v, want a listener on [::1]:8080 and a client connected to it", socks)
		}
	})
	t.Run("netlink", func(t *testing.T) {
		socks, err := decodeNetlink(readTestdata(t, "netlink.nlmsgs"))
		if err != nil {
			t.Fatal(err)
		}
		var route, diag bool
		for _, s := range socks {
			if s.Protocol == unix.NETLINK_ROUTE && s.PortID != 0 && fmt.Sprint(s.Groups) == "[1 5]" {
				route = true
			}
			diag = diag || (s.Protocol == unix.NETLINK_SOCK_DIAG && s.PortID != 0)
		}
		if !route || !diag {
			t.Errorf("got %+v, want a route socket in groups 1 and 5 and the dumping sock_diag socket", socks)
		}
	})
	t.Run("packet", func(t *testing.T) {
		socks, err := decodePacket(readTestdata(t, "packet.nlmsgs"))
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) != 1 || socks[0].Protocol != 0x88b5 || socks[0].Interface != 1 || socks[0].Type != unix.SOCK_DGRAM || !socks[0].HasUID {
			t.Errorf("got %+v, want one dgram packet socket for ethertype 0x88b5 on ifindex 1", socks)
		}
	})
	t.Run("wrong decoder", func(t *testing.T) {
		// A unix dump fed to the inet decoder must fail cleanly.
		_, err := decodeInet(readTestdata(t, "unix.nlmsgs"), unix.IPPROTO_TCP)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("err = %v, want ErrMalformed", err)
		}
	})
}
