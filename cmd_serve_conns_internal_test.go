package main

import (
	"testing"
	"time"

	"github.com/fdscope/fdscope/conntrace"
)

// connEvent puts the local process first: the client, or the server of a
// connection from another host.
func TestConnEvent(t *testing.T) {
	t0 := time.Unix(1000, 0)
	local := conntrace.Conn{Via: "tcp6", Opened: t0, Closed: t0.Add(time.Millisecond),
		Client: conntrace.End{PID: 10, Comm: "curl", FD: 3, Inode: 100, Addr: "[::1]:40000"},
		Server: conntrace.End{PID: 20, Comm: "nginx", FD: 7, Inode: 200, Addr: "[::1]:80"}}
	ev := connEvent(local)
	if ev.PID != 10 || ev.PeerPID != 20 || ev.FD != 3 || ev.PeerFD != 7 || ev.Inode != 100 || ev.PeerInode != 200 ||
		ev.Via != "tcp" || ev.Name != "socket:[100]" || ev.Source != "kernel" || !ev.Time.Equal(t0) {
		t.Errorf("local: %+v", ev)
	}
	remote := conntrace.Conn{Via: "tcp", Opened: t0, Closed: t0.Add(time.Millisecond),
		Client: conntrace.End{FD: -1, Addr: "192.0.2.1:50000"},
		Server: conntrace.End{PID: 20, Comm: "nginx", FD: 7, Inode: 200, Addr: "10.0.0.1:80"}}
	ev = connEvent(remote)
	if ev.PID != 20 || ev.Addr != "10.0.0.1:80" || ev.PeerPID != 0 || ev.PeerFD != -1 || ev.PeerAddr != "192.0.2.1:50000" {
		t.Errorf("remote: %+v", ev)
	}
	unix := conntrace.Conn{Via: "unix", Opened: t0, Closed: t0.Add(time.Millisecond),
		Client: conntrace.End{PID: 10, FD: 3, Inode: 100, Addr: "/run/x.sock"},
		Server: conntrace.End{PID: 20, FD: 7, Inode: 200, Addr: "/run/x.sock"}}
	ev = connEvent(unix)
	if ev.Addr != "" || ev.PeerAddr != "/run/x.sock" || ev.Via != "unix" {
		t.Errorf("unix: %+v", ev)
	}
}
