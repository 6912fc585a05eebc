//go:build linux

package proctest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Echo is a stream echo server and one connected client.
type Echo struct {
	Server, Client *Proc
	// Addr is where the server listens: a socket path or 127.0.0.1:PORT.
	Addr string
}

// Dial opens one more connection from the client to the server, waits
// until the server has accepted it, and returns the client's end.
func (e *Echo) Dial() Conn {
	e.Server.t.Helper()
	c := e.Client.Dial()
	e.Server.WaitConns(len(e.Client.Facts().Conns))
	return c
}

// UnixEcho starts echo-server listening on a unix stream socket (echo.sock
// in a new temporary directory) and echo-client connected to it.
func UnixEcho(t testing.TB) *Echo {
	t.Helper()
	path := filepath.Join(tempDir(t, "fdscope-echo-"), "echo.sock")
	return startEcho(t, "echo", "unix", path)
}

// TCPPair starts tcp-server listening on 127.0.0.1 (a free port) and
// tcp-client connected to it.
func TCPPair(t testing.TB) *Echo {
	t.Helper()
	return startEcho(t, "tcp", "tcp", "127.0.0.1:0")
}

func startEcho(t testing.TB, name, network, addr string) *Echo {
	t.Helper()
	srv := Start(t, Spec{Name: name + "-server", Role: "stream-server", Args: []string{network, addr}})
	e := &Echo{Server: srv, Addr: srv.Facts().Listen}
	e.Client = Start(t, Spec{Name: name + "-client", Role: "stream-client", Args: []string{network, e.Addr}})
	srv.WaitConns(1)
	return e
}

// Tables is the three tables of the classic figure, in two processes:
// tables-a opened log and dup'ed that fd (FDs "log" and "dup": one open
// file description), opened data.txt (FDs "data"), and started tables-b,
// which got the log's description as its fd 3 (one description in two
// processes, as after fork) and opened data.txt again (a second
// description of the same inode).
type Tables struct {
	A    *Proc
	BPID int // tables-b, A's child
	// B's fds: "log" (3, shared with A) and "data" (its own open).
	BFDs          map[string]int
	Log, DataPath string
}

// ThreeTables starts tables-a (which starts tables-b) in a new temporary directory.
func ThreeTables(t testing.TB) *Tables {
	t.Helper()
	dir := tempDir(t, "fdscope-tables-")
	a := Start(t, Spec{Name: "tables-a", Role: "tables-a", Args: []string{dir}})
	b := readFacts(t, filepath.Join(dir, "facts-b"))
	return &Tables{A: a, BPID: a.Facts().Child, BFDs: b.FDs, Log: filepath.Join(dir, "log"), DataPath: filepath.Join(dir, "data.txt")}
}

// Pipe is a pipe between two processes: pipe-writer holds its write end
// and pipe-reader its read end, each as fd 3 (FDs "pipe").
type Pipe struct {
	Writer, Reader *Proc
}

// PipePair starts pipe-writer and pipe-reader on one new pipe; the test
// process keeps no end of it.
func PipePair(t testing.TB) *Pipe {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	return &Pipe{
		Writer: Start(t, Spec{Name: "pipe-writer", Role: "holder", Args: []string{"pipe"}, Files: []*os.File{w}}),
		Reader: Start(t, Spec{Name: "pipe-reader", Role: "holder", Args: []string{"pipe"}, Files: []*os.File{r}}),
	}
}

// readFacts reads the last report in a facts file.
func readFacts(t testing.TB, path string) Facts {
	t.Helper()
	p := &Proc{t: t, Name: filepath.Base(path), facts: path}
	lines := p.reports()
	if len(lines) == 0 {
		t.Fatalf("proctest: no report in %s", path)
	}
	p.seen = len(lines) - 1
	p.done = make(chan struct{})
	return p.Next()
}

// Datagram is a datagram receiver, bound and never connected, and a
// sender connect()ed to it: a connection that no 4-tuple shows, since only
// the sender has a remote end.
type Datagram struct {
	Server, Client *Proc
	// Addr is where the server is bound: a socket path or HOST:PORT.
	Addr string
}

// UDPSender starts udp-server bound to the wildcard (0.0.0.0, a free port)
// and udp-client connected to 127.0.0.1 on that port.
func UDPSender(t testing.TB) *Datagram {
	t.Helper()
	srv := Start(t, Spec{Name: "udp-server", Role: "dgram-server", Args: []string{"udp4", "0.0.0.0:0"}})
	addr := srv.Facts().Listen
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cli := Start(t, Spec{Name: "udp-client", Role: "dgram-client", Args: []string{"udp4", "127.0.0.1:" + port}})
	return &Datagram{Server: srv, Client: cli, Addr: addr}
}

// UnixDgramSender starts log-server bound to a unix datagram socket
// (log.sock in a new temporary directory, like /dev/log) and log-client
// connected to it.
func UnixDgramSender(t testing.TB) *Datagram {
	t.Helper()
	path := filepath.Join(tempDir(t, "fdscope-dgram-"), "log.sock")
	srv := Start(t, Spec{Name: "log-server", Role: "dgram-server", Args: []string{"unixgram", path}})
	cli := Start(t, Spec{Name: "log-client", Role: "dgram-client", Args: []string{"unixgram", path}})
	return &Datagram{Server: srv, Client: cli, Addr: path}
}

// Watcher starts watcher with one inotify instance (FDs "inotify") watching
// a file and a directory in a new temporary directory, neither of which any
// process holds open, and returns it and their paths.
func Watcher(t testing.TB) (p *Proc, watched []string) {
	t.Helper()
	dir := tempDir(t, "fdscope-watched-")
	file := filepath.Join(dir, "config.txt")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "spool")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	watched = []string{file, sub}
	return Start(t, Spec{Name: "watcher", Role: "watcher", Args: watched}), watched
}

// Burst is a server and a client that makes short-lived connections to it.
type Burst struct {
	Server, Client *Proc
	Addr           string // where the server listens
}

// StartBurst starts burst-server listening on network and addr (for
// "unix" and "unixpacket", a socket path in a new temporary directory;
// for "tcp", "tcp6", 127.0.0.1:0 or [::1]:0), and burst-client, which makes count
// connections on each Run.
func StartBurst(t testing.TB, network string, count int) *Burst {
	t.Helper()
	addr := map[string]string{"tcp": "127.0.0.1:0", "tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network]
	if network == "unix" || network == "unixpacket" {
		addr = filepath.Join(tempDir(t, "fdscope-burst-"), "burst.sock")
	}
	srv := Start(t, Spec{Name: "burst-server", Role: "burst-server", Args: []string{network, addr}})
	b := &Burst{Server: srv, Addr: srv.Facts().Listen}
	b.Client = Start(t, Spec{Name: "burst-client", Role: "burst-client", Args: []string{network, b.Addr, strconv.Itoa(count)}})
	return b
}

// Run makes the client's burst of connections and returns them, after
// the client closed them all.
func (b *Burst) Run() []Conn {
	b.Client.t.Helper()
	n := len(b.Client.Facts().Conns)
	b.Client.Signal(syscall.SIGUSR1)
	return b.Client.Next().Conns[n:]
}
