//go:build linux

package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/internal/proctest"
)

// changesOf asks /api/changes for what pid did, from since on, and
// returns the answer and its raw body.
func changesOf(t *testing.T, s *server, pid int, since time.Time) (api.ChangesBody, []byte) {
	t.Helper()
	var body api.ChangesBody
	path := "/api/changes?since=" + since.UTC().Format(time.RFC3339Nano)
	if pid != 0 {
		path += fmt.Sprintf("&pid=%d", pid)
	}
	resp, b := s.get(t, path, &body)
	if resp.StatusCode != 200 {
		t.Fatalf("/api/changes: %d %s", resp.StatusCode, b)
	}
	return body, b
}

// kernelAddress matches what a kernel address would look like in JSON: a
// number of 19 digits or more (times are RFC 3339 there), or hex digits
// starting as the kernel's half of the address space does.
var kernelAddress = regexp.MustCompile(`\d{19,}|(?i)ffff[89a-f][0-9a-f]{11}`)

// TestServeConnEvents: with connection events, connections that live a
// fraction of a millisecond, between two processes, over TCP (v4, v6) and
// unix sockets, are in the history with both pids, while no scan runs
// after the first; no kernel address is in the answer. Root only (loading the
// programs); CI runs as root.
func TestServeConnEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("connection events need root")
	}
	// Nothing but the first scan reads the machine: no tick within the
	// test, no kernel or proc events to rescan the burst's processes. A
	// scan that caught a connection mid-burst would record it itself (and
	// the kernel's report of it would be dropped as a duplicate).
	s := startServe(t, "--listen", "127.0.0.1:0", "--conn-events", "on", "--kernel-events", "off", "--proc-events=false",
		"--interval", "1h", "--full-interval", "1h", "--log-level", "error")
	start := time.Now()
	for _, network := range []string{"tcp", "tcp6", "unix"} {
		t.Run(network, func(t *testing.T) {
			wantVia := network
			if network == "tcp6" {
				wantVia = "tcp" // as scans name it
			}
			b := proctest.StartBurst(t, network, 50)
			made := b.Run()
			want := map[uint64]bool{}
			for _, c := range made {
				want[c.Inode] = true
			}
			deadline := time.Now().Add(2 * time.Minute)
			for {
				body, raw := changesOf(t, s, b.Client.PID, start)
				if !slices.Contains(body.Sources, history.SourceKernel) {
					t.Fatalf("sources %v: no %q", body.Sources, history.SourceKernel)
				}
				if m := kernelAddress.Find(raw); m != nil {
					t.Fatalf("/api/changes holds %q, a kernel address or like one", m)
				}
				opened, closed := map[uint64]bool{}, map[uint64]bool{}
				for _, e := range body.Changes {
					if !want[e.Inode] {
						continue
					}
					if e.Source != history.SourceKernel || e.PID != b.Client.PID || e.PeerPID != b.Server.PID ||
						e.Comm != "burst-client" || e.PeerComm != "burst-server" || e.Via != wantVia {
						t.Fatalf("%+v: want pids %d → %d, source kernel", e, b.Client.PID, b.Server.PID)
					}
					switch e.Kind {
					case history.ConnOpen:
						opened[e.Inode] = true
					case history.ConnClose:
						closed[e.Inode] = true
					}
				}
				if len(opened) == len(want) && len(closed) == len(want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 2 minutes, %d of %d connections opened and %d closed in /api/changes", len(opened), len(want), len(closed))
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// TestServeConnEventsOnce: a connection the scans saw is recorded once,
// by the scans, not again from the kernel's report when it closes.
func TestServeConnEventsOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("connection events need root")
	}
	s := startServe(t, "--listen", "127.0.0.1:0", "--conn-events", "on", "--kernel-events", "off",
		"--interval", "100ms", "--full-interval", "1s", "--log-level", "error")
	start := time.Now()
	// The first version of the graph is stored whole, with no events: the
	// pair starts after it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if body, _ := changesOf(t, s, 0, start); !body.Begins.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no history begins after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pair := proctest.TCPPair(t)
	conn := pair.Client.Facts().Conns[0]
	// The scans record it.
	for !slices.ContainsFunc(changes(t, s, pair.Client.PID, start), func(e history.Event) bool {
		return e.Kind == history.ConnOpen && (e.Inode == conn.Inode || e.PeerInode == conn.Inode)
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("the scans did not record the connection %+v in 2 minutes: %+v", conn, changes(t, s, pair.Client.PID, start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Both ends close: the kernel reports it. Then a burst whose report
	// comes later: once it is recorded, the pair's report (if it were
	// recorded) is too.
	pair.Client.Stop()
	pair.Server.Stop()
	b := proctest.StartBurst(t, "tcp", 5)
	last := b.Run()[4]
	for !slices.ContainsFunc(changes(t, s, b.Client.PID, start), func(e history.Event) bool {
		return e.Kind == history.ConnClose && e.Inode == last.Inode
	}) {
		if time.Now().After(deadline) {
			t.Fatal("the burst's connections were not recorded in 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var opens []history.Event
	for _, e := range changes(t, s, pair.Client.PID, start) {
		if e.Kind == history.ConnOpen && (e.Inode == conn.Inode || e.PeerInode == conn.Inode) {
			opens = append(opens, e)
		}
	}
	if len(opens) != 1 || opens[0].Source != history.SourceScan {
		t.Errorf("the connection is recorded %d times: %+v", len(opens), opens)
	}
}

func changes(t *testing.T, s *server, pid int, since time.Time) []history.Event {
	t.Helper()
	body, _ := changesOf(t, s, pid, since)
	return body.Changes
}
