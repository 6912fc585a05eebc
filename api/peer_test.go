package api

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/fdscope/fdscope/graph/sockdiag"
	"github.com/fdscope/fdscope/live"
)

// TestSocketOwners: the owner of a client's socket, by sock_diag and by
// /proc/net/tcp and tcp6, is this process's user; a socket that does not
// exist has none.
func TestSocketOwners(t *testing.T) {
	o := &socketOwners{procRoot: "/proc"}
	defer o.close()
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err)
			continue
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		client, server := c.LocalAddr().(*net.TCPAddr).AddrPort(), ln.Addr().(*net.TCPAddr).AddrPort()
		uid, err := o.owner(client, server)
		if err != nil || uid != uint32(os.Geteuid()) {
			t.Errorf("%s: sock_diag owner = %d, %v; want %d", addr, uid, err, os.Geteuid())
		}
		uid, err = procNetTCPOwner("/proc", client, server)
		if err != nil || uid != uint32(os.Geteuid()) {
			t.Errorf("%s: /proc/net owner = %d, %v; want %d", addr, uid, err, os.Geteuid())
		}
		gone := netip.AddrPortFrom(client.Addr(), client.Port()+1)
		if _, err := o.owner(gone, server); !errors.Is(err, sockdiag.ErrNoSocket) {
			t.Errorf("%s: owner of no socket: %v", addr, err)
		}
		if _, err := procNetTCPOwner("/proc", gone, server); !errors.Is(err, sockdiag.ErrNoSocket) {
			t.Errorf("%s: /proc/net owner of no socket: %v", addr, err)
		}
	}
}

// TestDualStack: a server listening on every address, IPv4 and IPv6, sees
// IPv4 clients as IPv4-mapped addresses; the kernel still says who they
// are, and the server's own user needs no token on loopback (the server
// has one, as a server not on loopback must).
func TestDualStack(t *testing.T) {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no dual-stack listener: %v", err)
	}
	store := live.NewStore(0)
	store.Publish(hugeSnapshot())
	srv, err := New(Options{Source: store, Listen: ln.Addr().String(), Token: "a-token-for-the-others"})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ConnContext: srv.ConnContext}
	go hs.Serve(ln)
	defer hs.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		resp, err := http.Get("http://" + host + ":" + port + "/api/summary")
		if err != nil {
			t.Logf("%s: %v", host, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the server's own user through %s, no token: %d, want 200", host, resp.StatusCode)
		}
	}
}
