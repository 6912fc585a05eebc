//go:build linux

package main

import (
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
)

// TestServeActivity keeps a loopback TCP connection of the test process
// busy and checks that serve's sampler shows its rate on the API and
// records it into the history store.
func TestServeActivity(t *testing.T) {
	activityRecordEvery = 500 * time.Millisecond // before serve starts
	s := startServe(t, "--listen", "127.0.0.1:0", "--interval", "100ms", "--full-interval", "1s", "--activity-interval", "100ms", "--log-level", "error")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var st syscall.Stat_t
	rc, err := srv.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if cerr := rc.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go io.Copy(io.Discard, srv)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()

	path := "/api/processes/" + strconv.Itoa(os.Getpid()) + "/activity"
	id := graph.SocketID(st.Ino)
	find := func(b *api.ActivityBody) *api.ActivitySocket {
		for i := range b.Sockets {
			if b.Sockets[i].ID == id {
				return &b.Sockets[i]
			}
		}
		return nil
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var body api.ActivityBody
		resp, b := s.get(t, path, &body) // 503 before the first scan, 404 until it sees the test
		if sock := find(&body); sock != nil && sock.Latest().Recv > 0 && sock.Via == "tcp" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no rate for %s after a minute: %d %.2000s", path, id, resp.StatusCode, b)
		}
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var body api.ActivityBody
		s.get(t, path+"?since="+since, &body)
		if sock := find(&body); sock != nil && slices.ContainsFunc(sock.Recorded, func(r history.Activity) bool { return r.Received > 0 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no activity of %s recorded after a minute", id)
		}
	}
}
