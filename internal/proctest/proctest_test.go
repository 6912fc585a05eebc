//go:build linux

package proctest_test

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// scanIndex scans the given processes and indexes the snapshot.
func scanIndex(t *testing.T, pids ...int) *graph.Index {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := scan.New(scan.Options{PIDs: pids}).Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return graph.NewIndex(s)
}

// hasPeer says whether pid's fd reaches peer's peerFD via via.
func hasPeer(x *graph.Index, pid, fd, peer, peerFD int, via graph.Via) bool {
	return slices.ContainsFunc(x.Peers(pid), func(p graph.Peer) bool {
		return p.FD == fd && p.PeerPID == peer && p.PeerFD == peerFD && p.Via == via
	})
}

func readComm(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, prefix string
		start        func(testing.TB) *proctest.Echo
		via          graph.Via
	}{
		{"unix", "echo", proctest.UnixEcho, graph.ViaUnix},
		{"tcp", "tcp", proctest.TCPPair, graph.ViaTCP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := tc.start(t)
			srv, cli := e.Server, e.Client
			for p, want := range map[*proctest.Proc]string{srv: tc.prefix + "-server", cli: tc.prefix + "-client"} {
				if got := readComm(t, p.PID); got != want || p.Name != want {
					t.Errorf("comm of pid %d = %q (Name %q), want %q", p.PID, got, p.Name, want)
				}
			}
			c0 := cli.Facts().Conns[0]
			s0 := srv.Facts().Conns[0]
			x := scanIndex(t, srv.PID, cli.PID)
			if !hasPeer(x, cli.PID, c0.FD, srv.PID, s0.FD, tc.via) {
				t.Fatalf("client fd %d does not reach server fd %d via %s: %+v", c0.FD, s0.FD, tc.via, x.Peers(cli.PID))
			}
			c1 := e.Dial()
			s1 := srv.Facts().Conns[1]
			if c1.FD == c0.FD || c1.Inode == c0.Inode {
				t.Fatalf("dial returned the first connection again: %+v %+v", c0, c1)
			}
			x = scanIndex(t, srv.PID, cli.PID)
			if !hasPeer(x, cli.PID, c1.FD, srv.PID, s1.FD, tc.via) {
				t.Fatalf("new client fd %d does not reach server fd %d: %+v", c1.FD, s1.FD, x.Peers(cli.PID))
			}
			if n := x.Process(srv.PID).Process.FDCount; n < 4 {
				t.Errorf("server holds %d fds", n)
			}

			// The child ends when asked, and its pid is gone.
			cli.Stop()
			if err := syscall.Kill(cli.PID, 0); err == nil {
				t.Errorf("client pid %d still exists after Stop", cli.PID)
			}
		})
	}
}

func TestThreeTables(t *testing.T) {
	t.Parallel()
	tt := proctest.ThreeTables(t)
	a := tt.A.Facts()
	x := scanIndex(t, tt.A.PID, tt.BPID)
	if b := x.Process(tt.BPID); b == nil || b.Process.PPID != tt.A.PID || b.Process.Comm != "tables-b" {
		t.Fatalf("tables-b (pid %d) is not A's child named tables-b: %+v", tt.BPID, b)
	}
	if !hasPeer(x, tt.A.PID, a.FDs["log"], tt.A.PID, a.FDs["dup"], graph.ViaSharedOFD) &&
		!hasPeer(x, tt.A.PID, a.FDs["dup"], tt.A.PID, a.FDs["log"], graph.ViaSharedOFD) {
		// Within one process, a dup is not a peer; check the descriptions instead.
		if ofdOf(t, x, tt.A.PID, a.FDs["log"]) != ofdOf(t, x, tt.A.PID, a.FDs["dup"]) {
			t.Errorf("log fd %d and its dup %d have different descriptions", a.FDs["log"], a.FDs["dup"])
		}
	}
	if !hasPeer(x, tt.A.PID, a.FDs["log"], tt.BPID, tt.BFDs["log"], graph.ViaSharedOFD) {
		t.Errorf("A's log fd does not share its description with B's fd 3: %+v", x.Peers(tt.A.PID))
	}
	if !hasPeer(x, tt.A.PID, a.FDs["data"], tt.BPID, tt.BFDs["data"], graph.ViaFile) {
		t.Errorf("A's and B's opens of data.txt are not two descriptions of one file: %+v", x.Peers(tt.A.PID))
	}

	// Ending A ends B.
	tt.A.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(tt.BPID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("tables-b (pid %d) outlived tables-a", tt.BPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ofdOf(t *testing.T, x *graph.Index, pid, fd int) string {
	t.Helper()
	focus := x.Focus(pid)
	for _, n := range focus.Nodes {
		if n.Kind == graph.KindFD && n.PID == pid && n.FD.Num == fd {
			for _, e := range focus.EdgesFrom(n.ID) {
				if e.Kind == graph.EdgeOFD {
					return e.To
				}
			}
		}
	}
	t.Fatalf("no description for fd %d of %d", fd, pid)
	return ""
}

func TestPipe(t *testing.T) {
	t.Parallel()
	p := proctest.PipePair(t)
	x := scanIndex(t, p.Writer.PID, p.Reader.PID)
	if !hasPeer(x, p.Writer.PID, 3, p.Reader.PID, 3, graph.ViaPipe) {
		t.Fatalf("writer's fd 3 does not reach the reader's: %+v", x.Peers(p.Writer.PID))
	}
	// The test process holds no end of it, and shares nothing else with
	// the children either (it keeps open the cgroup files the Go runtime
	// reads; they must not).
	self := scanIndex(t, os.Getpid(), p.Writer.PID, p.Reader.PID)
	for _, peer := range self.Peers(os.Getpid()) {
		if peer.PeerPID == p.Writer.PID || peer.PeerPID == p.Reader.PID {
			t.Errorf("the test process shares something with a child: %+v", peer)
		}
	}
	// Each child holds stdio on /dev/null, the pipe end, and the Go
	// runtime's epoll and eventfd: nothing inherited.
	for _, c := range []*proctest.Proc{p.Writer, p.Reader} {
		if n := x.Process(c.PID).Process.FDCount; n != 6 {
			t.Errorf("%v holds %d fds, want 6: %v", c, n, x.Peers(c.PID))
		}
	}
}

// A datagram sender connect()ed to a bound receiver reaches it, though the
// receiver is connected to no one.
func TestDatagram(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, prefix string
		start        func(testing.TB) *proctest.Datagram
		via          graph.Via
	}{
		{"udp", "udp", proctest.UDPSender, graph.ViaUDP},
		{"unix", "log", proctest.UnixDgramSender, graph.ViaUnix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.start(t)
			if d.Server.Name != tc.prefix+"-server" || d.Client.Name != tc.prefix+"-client" {
				t.Errorf("names %q and %q", d.Server.Name, d.Client.Name)
			}
			c0 := d.Client.Facts().Conns[0]
			srvFD := d.Server.Facts().ListenFD
			x := scanIndex(t, d.Server.PID, d.Client.PID)
			if !hasPeer(x, d.Client.PID, c0.FD, d.Server.PID, srvFD, tc.via) {
				t.Fatalf("client fd %d does not reach the server's fd %d via %s: %+v", c0.FD, srvFD, tc.via, x.Peers(d.Client.PID))
			}
			c1 := d.Client.Dial()
			x = scanIndex(t, d.Server.PID, d.Client.PID)
			for _, c := range []proctest.Conn{c0, c1} {
				if !hasPeer(x, d.Server.PID, srvFD, d.Client.PID, c.FD, tc.via) {
					t.Errorf("the server's fd %d does not reach the client's fd %d: %+v", srvFD, c.FD, x.Peers(d.Server.PID))
				}
			}
		})
	}
}

// The watcher's inotify instance watches a file and a directory that no
// process holds open: each is an object with a watch edge.
func TestWatcher(t *testing.T) {
	t.Parallel()
	p, watched := proctest.Watcher(t)
	x := scanIndex(t, p.PID)
	s := x.Snapshot()
	var in *graph.Node
	for _, n := range x.Focus(p.PID).Nodes {
		if n.Kind == graph.KindAnon && n.AnonType == "inotify" {
			in = n
		}
	}
	if in == nil {
		t.Fatalf("no inotify instance in the watcher's focus")
	}
	var paths []string
	for _, e := range s.EdgesFrom(in.ID) {
		if e.Kind != graph.EdgeWatch {
			continue
		}
		n := s.Node(e.To)
		if n == nil || n.Object == nil {
			t.Fatalf("watch edge %v leads to no object", e)
		}
		paths = append(paths, n.Path)
	}
	slices.Sort(paths)
	if os.Geteuid() == 0 && !slices.Equal(paths, watched) {
		t.Errorf("the watcher's inotify instance watches %q, want %q", paths, watched)
	}
	if len(paths) != len(watched) {
		t.Errorf("%d watch edges, want %d", len(paths), len(watched))
	}
}
