//go:build linux

package scan_test

// Live tests: real processes (the test binary re-executed in the roles of
// roles_test.go) build sockets, pipes, shared open file descriptions and
// namespaces, and the tests check the graph the scanner builds of them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

// sockWant is what a socket node must say; nil pointers are not checked.
type sockWant struct {
	family, typ, protocol, state string
	local, remote                *string
}

func ptr(s string) *string { return &s }

// checkSocket checks that obj is the socket with inode ino and the wanted facts.
func checkSocket(t *testing.T, v *view, what string, obj *graph.Node, ino uint64, w sockWant) {
	t.Helper()
	if obj.Kind != graph.KindSocket || obj.Object == nil || obj.Socket == nil {
		t.Errorf("%s: want a socket node with socket details, got %s", what, dumpNodes(obj))
		return
	}
	if obj.ID != graph.SocketID(ino) || obj.Inode != ino {
		t.Errorf("%s: want ID %s and inode %d (fstat in the child), got %s", what, graph.SocketID(ino), ino, dumpNodes(obj))
	}
	s := obj.Socket
	for _, c := range []struct {
		field     string
		got, want string
	}{
		{"family", string(s.Family), w.family},
		{"type", s.Type, w.typ},
		{"protocol", s.Protocol, w.protocol},
		{"state", s.State, w.state},
	} {
		if c.want != "" && c.got != c.want {
			t.Errorf("%s: %s = %q, want %q\n%s", what, c.field, c.got, c.want, v.around(obj.ID))
		}
	}
	if w.local != nil && s.Local != *w.local {
		t.Errorf("%s: local = %q, want %q\n%s", what, s.Local, *w.local, v.around(obj.ID))
	}
	if w.remote != nil && s.Remote != *w.remote {
		t.Errorf("%s: remote = %q, want %q\n%s", what, s.Remote, *w.remote, v.around(obj.ID))
	}
}

// checkPeers checks that a and b are joined by exactly one peer edge and
// have no other peers.
func checkPeers(t *testing.T, v *view, a, b string) {
	t.Helper()
	if es := v.between(a, b, graph.EdgePeer); len(es) != 1 {
		t.Errorf("want one peer edge between %s and %s, got %v\n%s", a, b, es, v.around(a, b))
	}
	for _, c := range [][2]string{{a, b}, {b, a}} {
		if got := v.peers(c[0]); !slices.Equal(got, []string{c[1]}) {
			t.Errorf("peers of %s = %v, want [%s]\n%s", c[0], got, c[1], v.around(c[0]))
		}
	}
}

func netnsInode(t *testing.T, pid string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+pid+"/ns/net", &st); err != nil {
		t.Fatalf("netns of %s: %v", pid, err)
	}
	return st.Ino
}

// Scenario 1 and 2 (seeds 000 and 002): an echo server and its client in
// two processes, over a unix stream socket and over loopback TCP.
func TestStreamEcho(t *testing.T) {
	t.Parallel()
	hostNS := netnsInode(t, "self")
	inet := func(fam string) func(ln, cli, dial string) (sockWant, sockWant, sockWant) {
		return func(ln, cli, dial string) (sockWant, sockWant, sockWant) {
			return sockWant{family: fam, typ: "stream", protocol: "tcp", state: "listen", local: ptr(ln)},
				sockWant{family: fam, typ: "stream", protocol: "tcp", state: "established", local: ptr(dial), remote: ptr(cli)},
				sockWant{family: fam, typ: "stream", protocol: "tcp", state: "established", local: ptr(cli), remote: ptr(dial)}
		}
	}
	for _, tc := range []struct {
		name    string
		network string
		listen  func(dir string) string // where the server listens
		dial    func(ln string) string  // where the client connects, given the listener's address
		// want describes the listener, the accepted socket and the client's
		// socket, given the listener's, the client's and the dialled address.
		want     func(ln, cli, dial string) (lnW, accW, cliW sockWant)
		fullScan bool // also check a scan of the whole machine
	}{{
		name: "unix", network: "unix",
		listen: func(dir string) string { return filepath.Join(dir, "server.sock") },
		want: func(ln, _, _ string) (sockWant, sockWant, sockWant) {
			return sockWant{family: "unix", typ: "stream", state: "listen", local: ptr(ln)},
				// sock_diag names an accepted unix socket after its listener.
				sockWant{family: "unix", typ: "stream", state: "established", local: ptr(ln), remote: ptr("")},
				sockWant{family: "unix", typ: "stream", state: "established", local: ptr(""), remote: ptr(ln)}
		},
		fullScan: true,
	}, {
		name: "tcp", network: "tcp",
		listen: func(string) string { return "127.0.0.1:0" },
		want:   inet("inet"),
	}, {
		name: "tcp6", network: "tcp",
		listen: func(string) string { return "[::1]:0" },
		want:   inet("inet6"),
	}, {
		// An IPv4 client of a dual-stack listener: the accepted socket is
		// inet6 with v4-mapped addresses, however the scanner writes them.
		name: "tcp dual stack", network: "tcp",
		listen: func(string) string { return "[::]:0" },
		dial:   func(ln string) string { return "127.0.0.1:" + ln[strings.LastIndexByte(ln, ':')+1:] },
		want: func(ln, cli, dial string) (sockWant, sockWant, sockWant) {
			l, _, c := inet("inet")(ln, cli, dial)
			l.family = "inet6"
			return l, sockWant{family: "inet6", protocol: "tcp", state: "established"}, c
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startChild(t, "streamserver", childOpts{args: []string{tc.network, tc.listen(t.TempDir())}})
			sf := srv.ready()
			listenAddr := sf.Str["listener"]
			dialAddr := listenAddr
			if tc.dial != nil {
				dialAddr = tc.dial(listenAddr)
			}
			cli := startChild(t, "streamclient", childOpts{args: []string{tc.network, dialAddr}})
			sf = srv.step()
			cf := cli.ready()
			clientAddr := cf.Str["conn"]
			if tc.network == "tcp" && (strings.HasSuffix(listenAddr, ":0") || strings.HasSuffix(clientAddr, ":0")) {
				t.Fatalf("addresses from the children: listener %q, client %q", listenAddr, clientAddr)
			}

			snaps := []struct {
				name string
				s    *graph.Snapshot
			}{{"scoped", scanPIDs(t, srv.pid, cli.pid)}}
			if tc.fullScan {
				snaps = append(snaps, struct {
					name string
					s    *graph.Snapshot
				}{"full", scanPIDs(t)})
			}
			for _, sn := range snaps {
				t.Run(sn.name, func(t *testing.T) {
					v := newView(t, sn.s)
					lnFD, lnOFD, ln := v.follow(srv.pid, sf.FD["listener"])
					_, accOFD, acc := v.follow(srv.pid, sf.FD["conn"])
					_, cliOFD, cl := v.follow(cli.pid, cf.FD["conn"])

					if lnFD.PID != srv.pid || lnFD.Num != sf.FD["listener"] || !lnFD.CloExec {
						t.Errorf("listener fd node: want pid %d fd %d cloexec, got %s", srv.pid, sf.FD["listener"], dumpNodes(lnFD))
					}
					for _, o := range []*graph.Node{lnOFD, accOFD, cliOFD} {
						if o.Mode != "rw" || !slices.Contains(o.Flags, "O_RDWR") || o.Sharers != 1 {
							t.Errorf("socket ofd: want mode rw, O_RDWR, 1 sharer, got %s", dumpNodes(o))
						}
					}

					wantLn, wantAcc, wantCli := tc.want(listenAddr, clientAddr, dialAddr)
					checkSocket(t, v, "listener", ln, sf.Ino["listener"], wantLn)
					checkSocket(t, v, "accepted socket", acc, sf.Ino["conn"], wantAcc)
					checkSocket(t, v, "client socket", cl, cf.Ino["conn"], wantCli)

					if es := v.out(ln.ID, graph.EdgeAccepted); len(es) != 1 || es[0].To != acc.ID {
						t.Errorf("want one accepted edge %s → %s, got %v\n%s", ln.ID, acc.ID, es, v.around(ln.ID))
					}
					if es := v.into(cl.ID, graph.EdgeAccepted); len(es) != 0 {
						t.Errorf("the client socket is not an accepted one, but has %v", es)
					}
					checkPeers(t, v, acc.ID, cl.ID)
					if p := v.peers(ln.ID); len(p) != 0 {
						t.Errorf("the listener has peers %v", p)
					}
					if tc.network != "unix" {
						for _, n := range []*graph.Node{ln, acc, cl} {
							if n.NetNS != hostNS {
								t.Errorf("socket %s: netns %d, want the host's %d", n.ID, n.NetNS, hostNS)
							}
						}
					}
					for _, pid := range []int{srv.pid, cli.pid} {
						p := v.proc(pid)
						if p.Error != "" || p.PPID != os.Getpid() || p.NetNS != hostNS || p.StartTime == 0 || p.ID != graph.ProcessID(pid, p.StartTime) {
							t.Errorf("process %d: want no error, ppid %d, netns %d and a process ID, got %s", pid, os.Getpid(), hostNS, dumpNodes(p))
						}
					}
					if sn.name == "full" {
						self := v.proc(os.Getpid())
						if es := v.between(self.ID, v.proc(srv.pid).ID, graph.EdgeChild); len(es) != 1 || es[0].From != self.ID {
							t.Errorf("want a child edge from the test process to the server, got %v", es)
						}
					}
				})
			}
		})
	}
}

// Scenario 3 (the three tables): dup2 and fork share one open file
// description; a second open() makes another description of the same file.
func TestSharedOFD(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "three-tables.txt")
	a := startChild(t, "sharer", childOpts{args: []string{path}})
	f := a.ready()
	bpid := f.Num["b.pid"]
	s := scanPIDs(t, a.pid, bpid)
	v := newView(t, s)

	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	wFD, wOFD, wObj := v.follow(a.pid, f.FD["w"])
	w30FD, w30OFD, _ := v.follow(a.pid, 30)
	rFD, rOFD, rObj := v.follow(a.pid, f.FD["r"])
	bFD, bOFD, bObj := v.follow(bpid, f.FD["b.inherited"])
	_, rwOFD, rwObj := v.follow(a.pid, f.FD["rw"])
	_, r2OFD, r2Obj := v.follow(a.pid, f.FD["r2"])

	if wOFD.ID != w30OFD.ID {
		t.Errorf("fd %d and its dup2 fd 30 lead to different ofds:\n%s", f.FD["w"], v.around(wFD.ID, w30FD.ID))
	}
	if rOFD.ID != bOFD.ID {
		t.Errorf("A's fd %d and the fd %d B inherited lead to different ofds:\n%s", f.FD["r"], f.FD["b.inherited"], v.around(rFD.ID, bFD.ID))
	}
	if ids := []string{wOFD.ID, rOFD.ID, rwOFD.ID, r2OFD.ID}; len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 4 {
		t.Errorf("four open()s of one file gave ofds %v, want four different ones (the second read-only open differs from the first in nothing but identity: only kcmp tells them apart)", ids)
	}
	if !wFD.CloExec || w30FD.CloExec {
		t.Errorf("cloexec: want fd %d set and fd 30 (dup2) clear, got %s", f.FD["w"], dumpNodes(wFD, w30FD))
	}

	for _, c := range []struct {
		name      string
		ofd       *graph.Node
		mode      string
		pos       int64
		sharers   int
		want, not []string
	}{
		{"w (fd and its dup2)", wOFD, "w", 9, 2, []string{"O_WRONLY", "O_APPEND"}, []string{"O_RDONLY", "O_RDWR", "O_CLOEXEC", "O_CREAT"}},
		{"r (A's fd and B's inherited fd)", rOFD, "r", 0, 2, []string{"O_RDONLY"}, []string{"O_WRONLY", "O_RDWR", "O_APPEND", "O_CLOEXEC"}},
		{"rw (a third open)", rwOFD, "rw", 0, 1, []string{"O_RDWR"}, []string{"O_RDONLY", "O_WRONLY", "O_APPEND", "O_CLOEXEC"}},
		{"r2 (a fourth open)", r2OFD, "r", 0, 1, []string{"O_RDONLY"}, []string{"O_WRONLY", "O_RDWR", "O_APPEND", "O_CLOEXEC"}},
	} {
		o := c.ofd
		if o.Mode != c.mode || o.Pos != c.pos || o.Sharers != c.sharers {
			t.Errorf("%s: want mode %q pos %d sharers %d, got %s", c.name, c.mode, c.pos, c.sharers, dumpNodes(o))
		}
		for _, fl := range c.want {
			if !slices.Contains(o.Flags, fl) {
				t.Errorf("%s: flags %v lack %s", c.name, o.Flags, fl)
			}
		}
		for _, fl := range c.not {
			if slices.Contains(o.Flags, fl) {
				t.Errorf("%s: flags %v hold %s", c.name, o.Flags, fl)
			}
		}
		if len(o.Flags) == 0 || o.Flags[0] != c.want[0] || !slices.IsSorted(o.Flags[1:]) {
			t.Errorf("%s: flags %v: want the access mode %s first, then the rest sorted (docs/graph.md)", c.name, o.Flags, c.want[0])
		}
		if o.MntID == 0 {
			t.Errorf("%s: no mnt_id: %s", c.name, dumpNodes(o))
		}
	}

	for _, obj := range []*graph.Node{rObj, bObj, rwObj, r2Obj} {
		if obj.ID != wObj.ID {
			t.Errorf("every open of %s must lead to one file node, got %s and %s", path, wObj.ID, obj.ID)
		}
	}
	dev := graph.DevString(unix.Major(st.Dev), unix.Minor(st.Dev))
	if wObj.Kind != graph.KindFile || wObj.Path != path || wObj.Inode != st.Ino || wObj.Inode != f.Ino["w"] ||
		wObj.Dev != dev || wObj.ID != graph.InodeID(graph.KindFile, dev, st.Ino) || wObj.Deleted {
		t.Errorf("file node: want kind file, path %s, inode %d, dev %s, ID %s, got %s",
			path, st.Ino, dev, graph.InodeID(graph.KindFile, dev, st.Ino), dumpNodes(wObj))
	}
	if f.Ino["b.inherited"] != st.Ino {
		t.Errorf("B's fstat inode %d, want %d", f.Ino["b.inherited"], st.Ino)
	}
}

// Scenario 4: a pipe between two processes.
func TestPipe(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	writer := startChild(t, "pipeend", childOpts{args: []string{"w"}, extra: []*os.File{w}})
	reader := startChild(t, "pipeend", childOpts{args: []string{"r"}, extra: []*os.File{r}})
	r.Close()
	w.Close()
	wf, rf := writer.ready(), reader.ready()
	if wf.Ino["end"] != rf.Ino["end"] {
		t.Fatalf("the children see different pipe inodes: %d and %d", wf.Ino["end"], rf.Ino["end"])
	}
	ino := wf.Ino["end"]

	v := newView(t, scanPIDs(t, writer.pid, reader.pid))
	_, wOFD, wObj := v.follow(writer.pid, 3)
	_, rOFD, rObj := v.follow(reader.pid, 3)
	if wOFD.ID == rOFD.ID {
		t.Errorf("the two ends of a pipe share ofd %s", wOFD.ID)
	}
	if wOFD.Mode != "w" || !slices.Contains(wOFD.Flags, "O_WRONLY") || wOFD.Sharers != 1 {
		t.Errorf("write end: want mode w, O_WRONLY, 1 sharer, got %s", dumpNodes(wOFD))
	}
	if rOFD.Mode != "r" || !slices.Contains(rOFD.Flags, "O_RDONLY") || rOFD.Sharers != 1 {
		t.Errorf("read end: want mode r, O_RDONLY, 1 sharer, got %s", dumpNodes(rOFD))
	}
	want := graph.PipeID(ino)
	if wObj.ID != want || rObj.ID != want {
		t.Errorf("both ends must lead to %s, got %s and %s", want, wObj.ID, rObj.ID)
	}
	if wObj.Kind != graph.KindPipe || wObj.Inode != ino || wObj.Name != want {
		t.Errorf("pipe node: want kind pipe, inode %d, name %s, got %s", ino, want, dumpNodes(wObj))
	}
	// The two ends are joined by the object they share, not by a peer edge.
	for _, e := range v.edgesOfKind(graph.EdgePeer) {
		if e.From == want || e.To == want {
			t.Errorf("a pipe has no peers, but %v", e)
		}
	}
}

// Scenario 5: SCM_RIGHTS passes an open file description between processes;
// an fd sent and not yet received is in flight on the receiving socket.
func TestSCMRights(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "passed"), filepath.Join(dir, "in-flight")}
	for _, p := range paths {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := os.NewFile(uintptr(pair[0]), "a"), os.NewFile(uintptr(pair[1]), "b")
	a := startChild(t, "scmsender", childOpts{args: paths, extra: []*os.File{sa}})
	b := startChild(t, "scmreceiver", childOpts{extra: []*os.File{sb}})
	sa.Close()
	sb.Close()
	af := a.ready()
	b.ready()
	a.step()       // A sends file1,
	bf := b.step() // B receives it,
	a.step()       // and A sends file2, which stays in flight.

	// The kernel's own account, so that a scanner failure is not a test failure.
	scm := func(pid, fd int) string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "scm_fds:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	kernelA, kernelB := scm(a.pid, 3), scm(b.pid, 3)
	if kernelB != "1" || kernelA != "0" {
		t.Fatalf("fdinfo scm_fds: sender %q, receiver %q; want 0 and 1", kernelA, kernelB)
	}

	v := newView(t, scanPIDs(t, a.pid, b.pid))
	aFD, aOFD, aObj := v.follow(a.pid, af.FD["file1"])
	bFD, bOFD, bObj := v.follow(b.pid, bf.FD["received"])
	if aOFD.ID != bOFD.ID || aOFD.Sharers != 2 {
		t.Errorf("the sent fd and the received fd must share one ofd with 2 sharers:\n%s", v.around(aFD.ID, bFD.ID, aOFD.ID, bOFD.ID))
	}
	if aObj.ID != bObj.ID || aObj.Path != paths[0] {
		t.Errorf("want both fds to lead to the file %s, got %s", paths[0], dumpNodes(aObj, bObj))
	}
	if !bFD.CloExec {
		t.Errorf("the received fd was received with MSG_CMSG_CLOEXEC: %s", dumpNodes(bFD))
	}

	aSock, bSock := v.object(a.pid, 3), v.object(b.pid, 3)
	checkPeers(t, v, aSock.ID, bSock.ID)
	if aSock.Socket == nil || bSock.Socket == nil {
		t.Fatalf("sockets without socket details: %s", dumpNodes(aSock, bSock))
	}
	if bSock.InFlight != 1 || aSock.InFlight != 0 {
		t.Errorf("in_flight: want 0 on the sender's socket and 1 on the receiver's (fdinfo scm_fds %s and %s), got %d and %d\n  %s",
			kernelA, kernelB, aSock.InFlight, bSock.InFlight, dumpNodes(aSock, bSock))
	}
}

// Scenario 6: abstract and unnamed unix sockets.
func TestAbstractAndUnnamedUnix(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("fdscope-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := startChild(t, "abstract", childOpts{args: []string{name}})
	f := c.ready()
	v := newView(t, scanPIDs(t, c.pid))
	ln := v.object(c.pid, f.FD["listener"])
	p0 := v.object(c.pid, f.FD["pair0"])
	p1 := v.object(c.pid, f.FD["pair1"])
	checkSocket(t, v, "abstract listener", ln, f.Ino["listener"], sockWant{family: "unix", typ: "stream", state: "listen", local: ptr("@" + name)})
	checkSocket(t, v, "socketpair[0]", p0, f.Ino["pair0"], sockWant{family: "unix", typ: "stream", state: "established", local: ptr("")})
	checkSocket(t, v, "socketpair[1]", p1, f.Ino["pair1"], sockWant{family: "unix", typ: "stream", state: "established", local: ptr("")})
	checkPeers(t, v, p0.ID, p1.ID)
	if p := v.peers(ln.ID); len(p) != 0 {
		t.Errorf("the listener has peers %v", p)
	}
}

// Scenario 7: unix datagram sockets connect()ed to a bound server, which
// stays unconnected (like syslog's /dev/log and its clients): sock_diag's
// UNIX_DIAG_PEER names the server as each client's peer.
func TestUnixDgram(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dgram.sock")
	srv := startChild(t, "dgramserver", childOpts{args: []string{path}})
	sf := srv.ready()
	cli := startChild(t, "dgramclient", childOpts{args: []string{path}})
	cf := cli.ready()
	v := newView(t, scanPIDs(t, srv.pid, cli.pid))

	server := v.object(srv.pid, sf.FD["server"])
	checkSocket(t, v, "dgram server", server, sf.Ino["server"], sockWant{family: "unix", typ: "dgram", local: ptr(path)})
	var clients []string
	checkSocket(t, v, "dgram server", server, sf.Ino["server"], sockWant{remote: ptr("")})
	for _, name := range []string{"client0", "client1", "client2"} {
		c := v.object(cli.pid, cf.FD[name])
		local := ""
		if name == "client2" {
			local = path + "." + name
		}
		checkSocket(t, v, name, c, cf.Ino[name], sockWant{family: "unix", typ: "dgram", local: ptr(local), remote: ptr(path)})
		if es := v.between(c.ID, server.ID, graph.EdgePeer); len(es) != 1 {
			t.Errorf("want one peer edge between %s %s and the server %s, got %v\n%s", name, c.ID, server.ID, es, v.around(c.ID, server.ID))
		}
		if got := v.peers(c.ID); !slices.Equal(got, []string{server.ID}) {
			t.Errorf("peers of %s = %v, want only the server %s", name, got, server.ID)
		}
		clients = append(clients, c.ID)
	}
	slices.Sort(clients)
	if got := v.peers(server.ID); !slices.Equal(got, clients) {
		t.Errorf("peers of the dgram server = %v, want its three clients %v", got, clients)
	}
}

// Scenario 8: epoll watching a socket and an eventfd; eventfds are distinct
// nodes although all anon inodes share one inode number.
func TestEpollAndEventfd(t *testing.T) {
	t.Parallel()
	c := startChild(t, "epoll", childOpts{})
	f := c.ready()
	v := newView(t, scanPIDs(t, c.pid))

	_, epOFD, ep := v.follow(c.pid, f.FD["epoll"])
	_, sockOFD, sock := v.follow(c.pid, f.FD["sock"])
	_, ev1OFD, ev1 := v.follow(c.pid, f.FD["ev1"])
	_, ev2OFD, ev2 := v.follow(c.pid, f.FD["ev2"])
	if ep.Kind != graph.KindAnon || ep.AnonType != "eventpoll" || ep.ID != graph.AnonID("eventpoll", epOFD.ID) {
		t.Errorf("epoll: want an anon node of type eventpoll with ID %s, got %s", graph.AnonID("eventpoll", epOFD.ID), dumpNodes(ep))
	}
	for _, e := range []struct {
		ev, ofd *graph.Node
	}{{ev1, ev1OFD}, {ev2, ev2OFD}} {
		if e.ev.Kind != graph.KindAnon || e.ev.AnonType != "eventfd" || e.ev.ID != graph.AnonID("eventfd", e.ofd.ID) {
			t.Errorf("eventfd: want an anon node of type eventfd with ID %s, got %s", graph.AnonID("eventfd", e.ofd.ID), dumpNodes(e.ev))
		}
	}
	if ev1.ID == ev2.ID || ev1OFD.ID == ev2OFD.ID {
		t.Errorf("two eventfds merged into one node: %s", dumpNodes(ev1, ev2))
	}
	if ev1.Inode != ev2.Inode || ev1.Inode != f.Ino["ev1"] || ep.Inode != f.Ino["epoll"] {
		t.Errorf("anon inodes share one inode number (fstat %d, %d, %d), got %s", f.Ino["ev1"], f.Ino["ev2"], f.Ino["epoll"], dumpNodes(ev1, ev2, ep))
	}

	watches := v.out(ep.ID, graph.EdgeWatch)
	watched := func(ns ...*graph.Node) bool {
		return slices.ContainsFunc(watches, func(e graph.Edge) bool {
			return slices.ContainsFunc(ns, func(n *graph.Node) bool { return n.ID == e.To })
		})
	}
	if !watched(sock, sockOFD) {
		t.Errorf("epoll %s does not watch the socket %s or its ofd %s; watch edges %v", ep.ID, sock.ID, sockOFD.ID, watches)
	}
	if !watched(ev1, ev1OFD) {
		t.Errorf("epoll %s does not watch the eventfd %s or its ofd %s; watch edges %v", ep.ID, ev1.ID, ev1OFD.ID, watches)
	}
	if watched(ev2, ev2OFD) {
		t.Errorf("epoll %s watches the second eventfd %s, which was never added; watch edges %v", ep.ID, ev2.ID, watches)
	}
	if len(watches) != 2 {
		t.Errorf("want 2 watch edges from %s, got %v", ep.ID, watches)
	}
}

// An epoll target is known by the fd number that added it, and every anon
// inode shares one inode number: when that number now holds another eventfd,
// the watch must not move to it. And without kcmp, two epoll instances of one
// process (same flags, position and anon inode) are still two.
func TestEpollFDReuse(t *testing.T) {
	t.Parallel()
	c := startChild(t, "epollreuse", childOpts{})
	f := c.ready()

	t.Run("watch follows the file", func(t *testing.T) {
		v := newView(t, scanPIDs(t, c.pid))
		ep := v.object(c.pid, f.FD["epoll"])
		_, wOFD, w := v.follow(c.pid, f.FD["watched"])
		_, rOFD, r := v.follow(c.pid, f.FD["reused"])
		watches := v.out(ep.ID, graph.EdgeWatch)
		to := func(ns ...*graph.Node) bool {
			return slices.ContainsFunc(watches, func(e graph.Edge) bool {
				return slices.ContainsFunc(ns, func(n *graph.Node) bool { return n.ID == e.To })
			})
		}
		if to(r, rOFD) {
			t.Errorf("epoll %s claims to watch the eventfd now at fd %d (%s), which it never watched; it watches the one at fd %d (%s). Watch edges: %v",
				ep.ID, f.FD["reused"], rOFD.ID, f.FD["watched"], wOFD.ID, watches)
		}
		if !to(w, wOFD) {
			t.Errorf("epoll %s does not watch the eventfd it watches, held at fd %d (%s, %s); watch edges: %v",
				ep.ID, f.FD["watched"], wOFD.ID, w.ID, watches)
		}
	})

	t.Run("two epolls without kcmp", func(t *testing.T) {
		s := scanWith(t, scan.New(scan.Options{PIDs: []int{c.pid}, NoKcmp: true}), false)
		v := newView(t, s)
		_, o1, e1 := v.follow(c.pid, f.FD["epoll"])
		_, o2, e2 := v.follow(c.pid, f.FD["epoll2"])
		if o1.ID == o2.ID || e1.ID == e2.ID {
			t.Errorf("with sharing %q, two epoll instances merged into one description:\n%s", s.Stats.Sharing, v.around(o1.ID, e1.ID))
		}
		_, w1, _ := v.follow(c.pid, f.FD["watched"])
		_, w2, _ := v.follow(c.pid, f.FD["reused"])
		if w1.ID == w2.ID {
			t.Errorf("with sharing %q, two eventfds merged into one description:\n%s", s.Stats.Sharing, v.around(w1.ID))
		}
	})
}

// An open file description keeps its ID from one scan to the next while
// any of its fds survives, even when the fd it was named after closes.
func TestOFDIDStable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "dupper", childOpts{args: []string{path}})
	f := c.ready()
	sc := scan.New(scan.Options{PIDs: []int{c.pid}})

	v := newView(t, scanWith(t, sc, false))
	_, first, _ := v.follow(c.pid, f.FD["first"])
	_, at40, _ := v.follow(c.pid, 40)
	p := v.proc(c.pid)
	if want := graph.OFDID(c.pid, p.StartTime, f.FD["first"]); first.ID != want || at40.ID != want || first.Sharers != 2 {
		t.Fatalf("fds %d and 40: want one ofd %s with 2 sharers, got\n%s", f.FD["first"], want, v.around(first.ID, at40.ID))
	}
	id := first.ID

	c.step() // closes the first fd
	v = newView(t, scanWith(t, sc, false))
	if _, o, _ := v.follow(c.pid, 40); o.ID != id || o.Sharers != 1 {
		t.Errorf("after closing fd %d: fd 40's ofd is %s with %d sharers, want %s (kept while fd 40 survives) with 1", f.FD["first"], o.ID, o.Sharers, id)
	}
	// A new scanner has no history: it names the description after its first fd.
	v = newView(t, scanPIDs(t, c.pid))
	if _, o, _ := v.follow(c.pid, 40); o.ID != graph.OFDID(c.pid, p.StartTime, 40) {
		t.Errorf("a fresh scanner names fd 40's description %s, want %s", o.ID, graph.OFDID(c.pid, p.StartTime, 40))
	}
	// (Had the last fd of the previous scan moved to a new number between
	// two scans, nothing would tie the description to its old ID: the
	// contract keeps the ID only while an fd that held it survives.)
}

// A pty master (an open of /dev/ptmx) and its slave are peers.
func TestPty(t *testing.T) {
	t.Parallel()
	c := startChild(t, "pty", childOpts{})
	f := c.ready()
	v := newView(t, scanPIDs(t, c.pid))
	m := v.object(c.pid, f.FD["master"])
	s := v.object(c.pid, f.FD["slave"])
	if m.Kind != graph.KindChr || !strings.HasPrefix(m.ID, "ptmx:") || !strings.HasSuffix(m.ID, ":"+strconv.Itoa(f.Num["index"])) {
		t.Errorf("pty master: want a chr node with ID ptmx:MAJ:MIN:INODE:%d, got %s", f.Num["index"], dumpNodes(m))
	}
	if s.Kind != graph.KindChr || s.Path != f.Str["slave"] || s.Inode != f.Ino["slave"] {
		t.Errorf("pty slave: want a chr node with path %s, inode %d, got %s", f.Str["slave"], f.Ino["slave"], dumpNodes(s))
	}
	checkPeers(t, v, m.ID, s.ID)
}

// Connected UDP sockets are peers by their 4-tuple; an unconnected one has none.
func TestUDP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, addr, family string }{
		{"udp", "127.0.0.1:0", "inet"},
		{"udp6", "[::1]:0", "inet6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startChild(t, "udp", childOpts{args: []string{tc.addr}})
			f := c.ready()
			v := newView(t, scanPIDs(t, c.pid))
			u0, u1, u2 := v.object(c.pid, f.FD["udp0"]), v.object(c.pid, f.FD["udp1"]), v.object(c.pid, f.FD["udp2"])
			checkSocket(t, v, "udp0", u0, f.Ino["udp0"], sockWant{family: tc.family, typ: "dgram", protocol: "udp", state: "established", local: ptr(f.Str["udp0"]), remote: ptr(f.Str["udp1"])})
			checkSocket(t, v, "udp1", u1, f.Ino["udp1"], sockWant{family: tc.family, typ: "dgram", protocol: "udp", state: "established", local: ptr(f.Str["udp1"]), remote: ptr(f.Str["udp0"])})
			checkSocket(t, v, "udp2", u2, f.Ino["udp2"], sockWant{family: tc.family, typ: "dgram", protocol: "udp", state: "unconnected", local: ptr(f.Str["udp2"]), remote: ptr("")})
			checkPeers(t, v, u0.ID, u1.ID)
			if p := v.peers(u2.ID); len(p) != 0 {
				t.Errorf("the unconnected socket has peers %v", p)
			}
		})
	}
}

// procNetTCP returns the lines of a /proc/.../net/tcp file as fields.
func procNetTCP(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if fs := strings.Fields(l); len(fs) >= 10 {
			rows = append(rows, fs)
		}
	}
	return rows
}

// Scenario 9: a TCP connection inside another network namespace. The
// connection's 4-tuple is also made in the host namespace, when the ports
// are free there, so that a scanner which matches peers across namespaces
// pairs the wrong sockets.
func TestNetnsTCP(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unshare -n and nsenter --net")
	}
	srv := startChild(t, "streamserver", childOpts{prefix: []string{"unshare", "-n"}, args: []string{"tcp", "127.0.0.1:0", "lo-up"}})
	sf := srv.ready()
	listenAddr := sf.Str["listener"]
	cli := startChild(t, "streamclient", childOpts{
		prefix: []string{"nsenter", "--net=/proc/" + strconv.Itoa(srv.pid) + "/ns/net"},
		args:   []string{"tcp", listenAddr},
	})
	sf = srv.step()
	cf := cli.ready()
	clientAddr := cf.Str["conn"]

	hostNS, childNS := netnsInode(t, "self"), netnsInode(t, strconv.Itoa(srv.pid))
	if hostNS == childNS || netnsInode(t, strconv.Itoa(cli.pid)) != childNS {
		t.Fatalf("netns: host %d, server %d, client %d", hostNS, childNS, netnsInode(t, strconv.Itoa(cli.pid)))
	}

	// The same 4-tuple in the host namespace, when its ports are free here.
	pids := []int{srv.pid, cli.pid}
	var twin *net.TCPConn
	if hl, err := net.Listen("tcp", listenAddr); err != nil {
		t.Logf("no twin connection in the host namespace: %v", err)
	} else {
		defer hl.Close()
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(clientAddr))}
		if c, err := d.Dial("tcp", listenAddr); err != nil {
			// The client's port is taken here: no twin, and no host
			// listener left behind on the namespace's address either.
			hl.Close()
			t.Logf("no twin connection in the host namespace: %v", err)
		} else {
			twin = c.(*net.TCPConn)
			defer twin.Close()
			acc, err := hl.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer acc.Close()
			pids = append(pids, os.Getpid())
		}
	}

	s := scanPIDs(t, pids...)
	v := newView(t, s)
	ln := v.object(srv.pid, sf.FD["listener"])
	acc := v.object(srv.pid, sf.FD["conn"])
	cl := v.object(cli.pid, cf.FD["conn"])
	checkSocket(t, v, "listener", ln, sf.Ino["listener"], sockWant{family: "inet", protocol: "tcp", state: "listen", local: ptr(listenAddr)})
	checkSocket(t, v, "accepted", acc, sf.Ino["conn"], sockWant{family: "inet", protocol: "tcp", state: "established", local: ptr(listenAddr), remote: ptr(clientAddr)})
	checkSocket(t, v, "client", cl, cf.Ino["conn"], sockWant{family: "inet", protocol: "tcp", state: "established", local: ptr(clientAddr), remote: ptr(listenAddr)})
	for _, n := range []*graph.Node{ln, acc, cl, v.proc(srv.pid), v.proc(cli.pid)} {
		if n.NetNS != childNS {
			t.Errorf("%s: netns %d, want the child namespace %d (host %d)", n.ID, n.NetNS, childNS, hostNS)
		}
	}
	checkPeers(t, v, acc.ID, cl.ID)
	if es := v.out(ln.ID, graph.EdgeAccepted); len(es) != 1 || es[0].To != acc.ID {
		t.Errorf("want one accepted edge %s → %s, got %v", ln.ID, acc.ID, es)
	}
	if s.Stats.NetNamespaces < 1 || twin != nil && s.Stats.NetNamespaces < 2 {
		t.Errorf("stats.net_namespaces = %d", s.Stats.NetNamespaces)
	}
	if twin != nil {
		sc, err := twin.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var fd int
		sc.Control(func(u uintptr) { fd = int(u) })
		twinObj := v.object(os.Getpid(), fd)
		if twinObj.NetNS != hostNS {
			t.Errorf("host twin %s: netns %d, want %d", twinObj.ID, twinObj.NetNS, hostNS)
		}
		if len(v.peers(twinObj.ID)) != 1 || slices.Contains(v.peers(twinObj.ID), acc.ID) {
			t.Errorf("host twin %s with the same 4-tuple: peers %v, want one peer in the host namespace", twinObj.ID, v.peers(twinObj.ID))
		}
	}

	t.Run("socket held from outside its namespace", func(t *testing.T) {
		h := startChild(t, "nsholder", childOpts{args: []string{"/proc/" + strconv.Itoa(srv.pid) + "/ns/net"}})
		hf := h.ready()
		want := sockWant{family: "inet", protocol: "tcp", state: "listen", local: ptr(hf.Str["listener"])}

		// With a process of the socket's namespace in the scan, its dump describes the socket.
		v := newView(t, scanPIDs(t, h.pid, srv.pid))
		if p := v.proc(h.pid); p.NetNS != hostNS {
			t.Errorf("holder %d: netns %d, want the host's %d", h.pid, p.NetNS, hostNS)
		}
		ln := v.object(h.pid, hf.FD["listener"])
		checkSocket(t, v, "listener made in the child namespace", ln, hf.Ino["listener"], want)
		if ln.NetNS != childNS {
			t.Errorf("socket %s: netns %d, want the namespace it was made in, %d (its holder is in %d)", ln.ID, ln.NetNS, childNS, hostNS)
		}

		// Without one, the socket is still a socket, and never said to be in its holder's namespace.
		v = newView(t, scanPIDs(t, h.pid))
		ln = v.object(h.pid, hf.FD["listener"])
		checkSocket(t, v, "listener of a namespace no scanned process is in", ln, hf.Ino["listener"], sockWant{family: "inet", protocol: "tcp"})
		if ln.NetNS == hostNS {
			t.Errorf("socket %s of namespace %d is said to be in its holder's namespace %d: %s", ln.ID, childNS, hostNS, dumpNodes(ln))
		}
		t.Logf("scanned alone, the holder's socket reads %s", dumpNodes(ln))
	})

	// README: with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH a scan sees
	// sockets of namespaces it cannot enter through /proc/PID/net (addresses,
	// states, TCP peers) and says so in missing_features; CAP_SYS_ADMIN lets
	// it enter them.
	for _, tc := range []struct {
		name, caps string
		entered    bool
	}{
		{"unprivileged with ptrace and dac_read_search", "+sys_ptrace,+dac_read_search", false},
		{"unprivileged with sys_admin too", "+sys_ptrace,+dac_read_search,+sys_admin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := unprivBinary(t)
			s, _ := unprivScan(t, bin, tc.caps, strconv.Itoa(srv.pid)+","+strconv.Itoa(cli.pid))
			v := newView(t, s)
			ln := v.object(srv.pid, sf.FD["listener"])
			acc := v.object(srv.pid, sf.FD["conn"])
			cl := v.object(cli.pid, cf.FD["conn"])
			checkSocket(t, v, "listener", ln, sf.Ino["listener"], sockWant{family: "inet", protocol: "tcp", state: "listen", local: ptr(listenAddr)})
			checkSocket(t, v, "accepted", acc, sf.Ino["conn"], sockWant{family: "inet", protocol: "tcp", state: "established", local: ptr(listenAddr), remote: ptr(clientAddr)})
			checkSocket(t, v, "client", cl, cf.Ino["conn"], sockWant{family: "inet", protocol: "tcp", state: "established", local: ptr(clientAddr), remote: ptr(listenAddr)})
			for _, n := range []*graph.Node{ln, acc, cl} {
				if n.NetNS != childNS {
					t.Errorf("%s: netns %d, want %d", n.ID, n.NetNS, childNS)
				}
			}
			checkPeers(t, v, acc.ID, cl.ID)
			mentioned := slices.ContainsFunc(s.Stats.MissingFeatures, func(m string) bool { return strings.Contains(m, strconv.FormatUint(childNS, 10)) })
			if mentioned == tc.entered {
				t.Errorf("missing_features %q: want the namespace %d mentioned: %v", s.Stats.MissingFeatures, childNS, !tc.entered)
			}
		})
	}

	// The kernel's view: the host's /proc/net/tcp does not list the
	// namespace's listener, the namespace's own does.
	port := listenAddr[strings.LastIndexByte(listenAddr, ':')+1:]
	portHex := fmt.Sprintf("0100007F:%04X", atoiMust(port))
	lnIno := strconv.FormatUint(sf.Ino["listener"], 10)
	for _, row := range procNetTCP(t, "/proc/net/tcp") {
		if row[9] == lnIno || twin == nil && row[1] == portHex && row[3] == "0A" {
			t.Errorf("the host's /proc/net/tcp lists the namespace's listener: %v", row)
		}
	}
	found := false
	for _, row := range procNetTCP(t, fmt.Sprintf("/proc/%d/net/tcp", srv.pid)) {
		found = found || row[9] == lnIno && row[1] == portHex
	}
	if !found {
		t.Errorf("/proc/%d/net/tcp does not list the listener %s inode %s", srv.pid, listenAddr, lnIno)
	}
}

func atoiMust(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// Scenario 10: an unprivileged scan sees that it may not read a root
// process; with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH as ambient
// capabilities it reads it.
func TestUnprivilegedScan(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test drops to uid 65534 with setpriv")
	}
	bin := unprivBinary(t)

	name := fmt.Sprintf("fdscope-unpriv-%d-%d", os.Getpid(), time.Now().UnixNano())
	target := startChild(t, "abstract", childOpts{args: []string{name}})
	tf := target.ready()

	for _, tc := range []struct {
		name     string
		caps     string // for --inh-caps and --ambient-caps
		readable bool   // the root process's fds can be read
	}{
		{"no capabilities", "", false},
		{"sys_ptrace and dac_read_search", "+sys_ptrace,+dac_read_search", true},
		{"sys_ptrace alone", "+sys_ptrace", false},
		{"dac_read_search alone", "+dac_read_search", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, scanner := unprivScan(t, bin, tc.caps, strconv.Itoa(target.pid)+",self")
			v := newView(t, s)

			// The scanner always sees itself.
			self := v.proc(scanner)
			if self.Error != "" || self.UID != 65534 {
				t.Errorf("the scanner's own process node: want uid 65534 and no error, got %s", dumpNodes(self))
			}
			if _, _, obj := v.follow(scanner, 1); obj.Kind != graph.KindPipe {
				t.Errorf("the scanner's stdout is a pipe, got %s", dumpNodes(obj))
			}

			root := v.proc(target.pid)
			fds := v.fds(target.pid)
			if !tc.readable {
				if root.Error == "" || !strings.Contains(strings.ToLower(root.Error), "permission denied") {
					t.Errorf("root process %d: want an error saying permission denied, got %s", target.pid, dumpNodes(root))
				}
				if s.Stats.DeniedProcesses < 1 {
					t.Errorf("stats.denied_processes = %d, want ≥ 1", s.Stats.DeniedProcesses)
				}
				if len(fds) != 0 {
					t.Logf("note: %d fd nodes of the unreadable process %d", len(fds), target.pid)
				}
				return
			}
			if root.Error != "" || s.Stats.DeniedProcesses != 0 {
				t.Errorf("with %s: root process still unreadable (denied_processes %d): %s", tc.caps, s.Stats.DeniedProcesses, dumpNodes(root))
			}
			ln := v.object(target.pid, tf.FD["listener"])
			checkSocket(t, v, "root's abstract listener", ln, tf.Ino["listener"], sockWant{family: "unix", typ: "stream", state: "listen", local: ptr("@" + name)})
			p0, p1 := v.object(target.pid, tf.FD["pair0"]), v.object(target.pid, tf.FD["pair1"])
			checkPeers(t, v, p0.ID, p1.ID)
			if s.Stats.DeniedFDs != 0 {
				t.Errorf("stats.denied_fds = %d, want 0", s.Stats.DeniedFDs)
			}
			t.Logf("sharing %q, missing features %v, errors %v", s.Stats.Sharing, s.Stats.MissingFeatures, s.Stats.Errors)
		})
	}
}

// Scenario 10b: the bpf backend without root, as README's setcap line
// grants it: with CAP_BPF and CAP_PERFMON besides the two capabilities the
// /proc walk needs, auto takes bpf, and its graph of a root process is the
// procfs backend's; without them auto falls back to procfs and says why.
func TestUnprivilegedBPF(t *testing.T) {
	t.Parallel()
	bin := unprivBinary(t)
	name := fmt.Sprintf("fdscope-unpriv-bpf-%d-%d", os.Getpid(), time.Now().UnixNano())
	target := startChild(t, "abstract", childOpts{args: []string{name}})
	target.ready()
	pids := strconv.Itoa(target.pid)

	const walk = "+sys_ptrace,+dac_read_search"
	procfs, _ := unprivScanWith(t, bin, walk, pids, scan.BackendProcfs)
	if procfs.Stats.Scanner != string(scan.BackendProcfs) {
		t.Fatalf("procfs scan: stats.scanner %q", procfs.Stats.Scanner)
	}
	fallback, _ := unprivScanWith(t, bin, walk, pids, scan.BackendAuto)
	if fallback.Stats.Scanner != string(scan.BackendProcfs) || !strings.Contains(fallback.Stats.ScannerFallback, "CAP_BPF") {
		t.Errorf("auto without CAP_BPF: stats.scanner %q, scanner_fallback %q; want procfs, and why", fallback.Stats.Scanner, fallback.Stats.ScannerFallback)
	}
	for range 5 {
		bpf, _ := unprivScanWith(t, bin, walk+",+bpf,+perfmon", pids, scan.BackendAuto)
		if bpf.Stats.Scanner != string(scan.BackendBPF) {
			t.Fatalf("auto with CAP_BPF and CAP_PERFMON: stats.scanner %q (%s), want bpf", bpf.Stats.Scanner, bpf.Stats.ScannerFallback)
		}
		again, _ := unprivScanWith(t, bin, walk, pids, scan.BackendProcfs)
		if !cmp.Equal(procfs.Nodes, again.Nodes) || !cmp.Equal(procfs.Edges, again.Edges) {
			procfs = again // not at rest: try again
			continue
		}
		diffBackends(t, procfs, bpf)
		return
	}
	t.Log("the target was never at rest between scans: backends not compared")
}

var unpriv struct {
	once sync.Once
	bin  string
	err  error
}

// unprivBinary returns a copy of the test binary that user 65534 can run
// (the original lives in a directory only root can enter). It is removed
// when the tests end.
func unprivBinary(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test drops to uid 65534 with setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	unpriv.once.Do(func() {
		dir, err := os.MkdirTemp("", "fdscope-unpriv-")
		if err != nil {
			unpriv.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		unpriv.bin = filepath.Join(dir, "scan.test")
		if unpriv.err = copyFile(os.Args[0], unpriv.bin); unpriv.err == nil {
			unpriv.err = os.Chmod(dir, 0o755)
		}
	})
	if unpriv.err != nil {
		t.Fatal(unpriv.err)
	}
	return unpriv.bin
}

// unprivScan runs bin in the scanner role as user and group 65534, with
// caps ("+sys_ptrace,...") as inheritable and ambient capabilities, on the
// given pids, and returns the snapshot it printed and the scanner's pid.
// The scanner's backend is procfs.
func unprivScan(t *testing.T, bin, caps, pids string) (*graph.Snapshot, int) {
	t.Helper()
	return unprivScanWith(t, bin, caps, pids, scan.BackendProcfs)
}

// unprivScanWith is unprivScan with the given backend.
func unprivScanWith(t *testing.T, bin, caps, pids string, backend scan.Backend) (*graph.Snapshot, int) {
	t.Helper()
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	if caps != "" {
		args = append(args, "--inh-caps="+caps, "--ambient-caps="+caps)
	}
	args = append(args, bin, pids, string(backend))
	cmd := exec.Command("setpriv", args...)
	cmd.Env = append(os.Environ(), childEnv+"=scanner")
	cmd.Dir = filepath.Dir(bin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("setpriv %v: %v; stderr:\n%s", args, err, stderr.String())
	}
	var s graph.Snapshot
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("the scanner's output is not a snapshot: %v\n%.500s", err, out)
	}
	checkConsistent(t, &s, false)
	return &s, cmd.Process.Pid
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Scenario 11: scans while processes start and exit and fds open and close
// around them. Every scan must succeed and be consistent. Scans alternate
// between the whole machine (one Scanner for the series, as the dashboard
// uses it) and the churning processes alone, which mostly exit mid-scan.
func TestChurn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var spawned, opened atomic.Int64
	var running sync.Map // pid → true, churn children alive now
	defer func() { cancel(); wg.Wait() }()

	// Short-lived processes, each with a few fds and a TCP connection.
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), childEnv+"=churn")
				if err := cmd.Start(); err != nil {
					t.Errorf("churn child: %v", err)
					return
				}
				running.Store(cmd.Process.Pid, true)
				err := cmd.Wait()
				running.Delete(cmd.Process.Pid)
				if err != nil && ctx.Err() == nil {
					t.Errorf("churn child: %v", err)
					return
				}
				spawned.Add(1)
			}
		})
	}
	// fds of this process opening and closing.
	dir := t.TempDir()
	for i := range 2 {
		wg.Go(func() {
			path := filepath.Join(dir, strconv.Itoa(i))
			for ctx.Err() == nil {
				var fds []int
				if p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
					fds = append(fds, p[:]...)
				}
				var p [2]int
				if unix.Pipe2(p[:], unix.O_CLOEXEC) == nil {
					fds = append(fds, p[:]...)
				}
				if fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644); err == nil {
					if d, err := unix.Dup(fd); err == nil {
						fds = append(fds, d)
					}
					fds = append(fds, fd)
				}
				if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
					if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
						c.Close()
					}
					ln.Close()
				}
				time.Sleep(time.Millisecond)
				for _, fd := range fds {
					unix.Close(fd)
				}
				opened.Add(int64(len(fds)))
			}
		})
	}

	// The churn must be under way before the first scan: wait for it (the
	// bound only catches a churn that never starts).
	waitChurn := time.Now().Add(60 * time.Second)
	for spawned.Load() == 0 || opened.Load() == 0 {
		if time.Now().After(waitChurn) {
			t.Fatalf("no churn after 60 s: %d processes spawned, %d fds opened", spawned.Load(), opened.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Count scans, not time: at least minScans (half of them of the whole
	// machine) however slow the machine is, then more while the 8 s last.
	const minScans, maxScans = 4, 20
	// Every other pair of scans runs the bpf backend (as root; auto falls
	// back to procfs otherwise).
	full := map[bool]*scan.Scanner{false: scan.New(scan.Options{}), true: scan.New(scan.Options{Backend: scan.BackendAuto})}
	defer full[true].Close()
	more := time.Now().Add(8 * time.Second)
	var scans, fullScans, vanishedP, vanishedF int
	for scans < minScans || scans < maxScans && time.Now().Before(more) {
		bpf := scans/2%2 == 1
		sc, isFull := full[bpf], scans%2 == 0
		if !isFull {
			pids := []int{os.Getpid()}
			running.Range(func(k, _ any) bool { pids = append(pids, k.(int)); return true })
			opts := scan.Options{PIDs: pids}
			if bpf {
				opts.Backend = scan.BackendAuto
			}
			sc = scan.New(opts)
		}
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := sc.Scan(sctx)
		scancel()
		if !isFull {
			sc.Close()
		}
		if err != nil {
			t.Fatalf("scan %d under churn (full %v, bpf %v): %v", scans+1, isFull, bpf, err)
		}
		checkConsistent(t, s, isFull)
		if t.Failed() {
			t.Fatalf("scan %d under churn (full %v, %s) was inconsistent", scans+1, isFull, s.Stats.Scanner)
		}
		if newView(t, s).proc(os.Getpid()).Error != "" {
			t.Errorf("scan %d: the test process has an error", scans+1)
		}
		if s.Stats.DurationMS > 1000 {
			t.Logf("scan %d (full %v) took %.0f ms: %d processes, %d fds", scans+1, isFull, s.Stats.DurationMS, s.Stats.Processes, s.Stats.FDs)
		}
		scans++
		if isFull {
			fullScans++
		}
		vanishedP += s.Stats.VanishedProcesses
		vanishedF += s.Stats.VanishedFDs
	}
	t.Logf("%d scans (%d of the whole machine); %d processes spawned and %d fds opened meanwhile; vanished: %d processes, %d fds",
		scans, fullScans, spawned.Load(), opened.Load(), vanishedP, vanishedF)
}

// Scenario 12: a scan of the whole machine holds this process and its fds.
// Not parallel, so that this process's fds hold still.
func TestFullMachineScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	myFD := int(f.Fd())
	before := listFDs(t)
	s := scanPIDs(t)
	after := listFDs(t)
	v := newView(t, s)

	pid := os.Getpid()
	p := v.proc(pid)
	wantStart := selfStartTime(t)
	exe, _ := os.Executable()
	if p.Error != "" || p.PPID != os.Getppid() || p.UID != os.Getuid() || p.StartTime != wantStart ||
		p.ID != graph.ProcessID(pid, wantStart) || p.Comm != comm(t) || !strings.Contains(p.Cmdline, filepath.Base(os.Args[0])) {
		t.Errorf("this process: want ppid %d, uid %d, start time %d, comm %q, cmdline with %s, no error; got %s",
			os.Getppid(), os.Getuid(), wantStart, comm(t), filepath.Base(os.Args[0]), dumpNodes(p))
	}
	fds := v.fds(pid)
	for _, n := range before {
		if slices.Contains(after, n) && fds[n] == nil {
			t.Errorf("this process's fd %d is missing from the snapshot (has %v)", n, slices.Sorted(maps.Keys(fds)))
		}
	}
	if p.FDCount < len(fds) || p.FDCount < len(before)-1 {
		t.Errorf("fd_count %d, but %d fd nodes and %d entries in /proc/self/fd", p.FDCount, len(fds), len(before))
	}
	_, ofd, obj := v.follow(pid, myFD)
	if obj.Kind != graph.KindFile || obj.Path != path || ofd.Mode != "rw" {
		t.Errorf("fd %d: want an rw ofd of the file %s, got %s", myFD, path, dumpNodes(ofd, obj))
	}
	if s.Stats.Sharing != "kcmp" && os.Geteuid() == 0 {
		t.Errorf("stats.sharing = %q as root, want kcmp (missing features %v)", s.Stats.Sharing, s.Stats.MissingFeatures)
	}
	if s.Stats.Processes < 2 || s.Stats.NetNamespaces < 1 {
		t.Errorf("stats: %+v", s.Stats)
	}
	t.Run("cwd and exe", func(t *testing.T) {
		wd, _ := os.Getwd()
		for _, c := range []struct {
			kind graph.EdgeKind
			path string
		}{{graph.EdgeCwd, wd}, {graph.EdgeExe, exe}, {graph.EdgeRoot, "/"}} {
			es := v.out(p.ID, c.kind)
			if len(es) != 1 || v.node(es[0].To).Path != c.path {
				t.Errorf("want one %s edge to %s, got %v", c.kind, c.path, es)
			}
		}
	})
}

func listFDs(t *testing.T) []int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range es {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, n)
		}
	}
	return fds
}

func selfStartTime(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	fs := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.ParseUint(fs[19], 10, 64) // field 22; fs[0] is field 3
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func comm(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
