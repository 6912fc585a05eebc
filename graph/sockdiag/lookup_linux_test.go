package sockdiag

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestInetLookup(t *testing.T) {
	c := dialT(t, -1)
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			client, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			ap := func(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }
			for _, end := range []net.Conn{client, server} {
				s, err := c.InetLookup(ipprotoTCP, ap(end.LocalAddr()), ap(end.RemoteAddr()))
				if err != nil {
					t.Fatalf("lookup %v→%v: %v", end.LocalAddr(), end.RemoteAddr(), err)
				}
				want := connInode(t, end.(*net.TCPConn))
				if s.Inode != want || s.UID != uint32(os.Getuid()) || s.Local != ap(end.LocalAddr()) || s.State != uint8(StateEstablished) {
					t.Errorf("lookup %v→%v = %+v, want inode %d uid %d established", end.LocalAddr(), end.RemoteAddr(), s, want, os.Getuid())
				}
			}
			// The same tuple one port off names no socket.
			l, r := ap(client.LocalAddr()), ap(client.RemoteAddr())
			off := netip.AddrPortFrom(l.Addr(), l.Port()+1)
			if _, err := c.InetLookup(ipprotoTCP, off, r); !errors.Is(err, ErrNoSocket) {
				t.Errorf("lookup of a missing socket: %v, want ErrNoSocket", err)
			}
			// The connection is still usable after a miss.
			if _, err := c.InetLookup(ipprotoTCP, l, r); err != nil {
				t.Errorf("lookup after a miss: %v", err)
			}
		})
	}
	if _, err := c.InetLookup(ipprotoTCP, netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("[::1]:2")); err == nil {
		t.Error("lookup across families accepted")
	}
}
