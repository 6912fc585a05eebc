package graph

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConns: the connections of testMachine, each once, with the pids
// at each end; sharing (the tty) and the same file (the log) are none.
func TestConns(t *testing.T) {
	m := testMachine()
	// A remote client of the TCP server, and a listening TCP socket.
	m.fd(100, 9, m.obj("socket:[40]", KindSocket, &Socket{Family: "inet", Type: "stream", Protocol: "tcp", State: "established", Local: "10.0.0.1:8080", Remote: "203.0.113.9:50000"}))
	m.fd(100, 10, m.obj("socket:[41]", KindSocket, &Socket{Family: "inet", Type: "stream", Protocol: "tcp", State: "listen", Local: "0.0.0.0:8080"}))
	// An unconnected UDP socket is no connection.
	m.fd(500, 6, m.obj("socket:[42]", KindSocket, &Socket{Family: "inet", Type: "dgram", Protocol: "udp", State: "close", Local: "0.0.0.0:5353"}))
	x := NewIndex(m.snapshot())
	var got []string
	x.Conns(func(c *Conn) {
		var ends [2][]int
		for side := range 2 {
			for _, n := range c.Holders[side] {
				ends[side] = append(ends[side], n.PID)
			}
			slices.Sort(ends[side])
		}
		got = append(got, fmt.Sprintf("%s listen=%v %v %v", c.Via, c.Listen, ends[0], ends[1]))
	})
	slices.Sort(got)
	want := []string{
		"pipe listen=false [100] [300]",
		"tcp listen=false [100] [500]",
		"tcp listen=false [100] []",
		"tcp listen=true [100] []",
		"unix listen=false [100] [200]",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("conns (-want +got):\n%s", d)
	}
}
