// Package diagramtest builds the seed scenarios of the diagram as hand-made
// graph snapshots: the unix stream echo pair, the TCP echo pair, the three
// tables of dup/fork/open and a pipe, plus a large synthetic process. They
// are shaped exactly as graph/scan builds a snapshot (the same IDs, edges and
// fields), so tests, benchmarks and documentation screenshots can draw them
// without live processes.
//
// Every function returns a new snapshot of the whole "machine"; callers focus
// it with graph.NewIndex(s).Focus(pid). The results are deterministic.
package diagramtest

import (
	"fmt"
	"strconv"

	"github.com/fdscope/fdscope/graph"
)

// Builder assembles a snapshot the way the scanner does: one node per
// process, fd, open file description and object, and the fd, ofd, object,
// peer, accepted and child edges between them. The zero value is ready to
// use; it is not safe for concurrent use.
type Builder struct {
	nodes []*graph.Node
	edges []graph.Edge
	procs map[int]*graph.Node
}

// Proc adds a process and returns its node ID. fdCount is the size of its
// fd table as /proc reports it.
func (b *Builder) Proc(pid, ppid int, start uint64, comm, cmdline string, fdCount int) string {
	if b.procs == nil {
		b.procs = map[int]*graph.Node{}
	}
	n := &graph.Node{
		ID: graph.ProcessID(pid, start), Kind: graph.KindProcess, PID: pid, NetNS: 4026531840,
		Process: &graph.Process{
			PPID: ppid, Comm: comm, Cmdline: cmdline, UID: 1000, User: "alice", StartTime: start,
			MntNS: 4026531841, PidNS: 4026531836, Threads: 1, FDCount: fdCount,
		},
	}
	b.procs[pid] = n
	b.nodes = append(b.nodes, n)
	if parent := b.procs[ppid]; parent != nil {
		b.edges = append(b.edges, graph.Edge{From: parent.ID, To: n.ID, Kind: graph.EdgeChild})
	}
	return n.ID
}

// FD adds fd number num of process pid, leading to the open file
// description ofdID, and returns the fd's node ID.
func (b *Builder) FD(pid, num int, cloexec bool, ofdID string) string {
	p := b.procs[pid]
	if p == nil {
		panic(fmt.Sprintf("diagramtest: fd %d of unknown process %d", num, pid))
	}
	id := graph.FDID(pid, p.Process.StartTime, num)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: graph.KindFD, PID: pid, FD: &graph.FD{Num: num, CloExec: cloexec}})
	b.edges = append(b.edges,
		graph.Edge{From: p.ID, To: id, Kind: graph.EdgeFD},
		graph.Edge{From: id, To: ofdID, Kind: graph.EdgeOFD})
	return id
}

// OFD adds an open file description named after fd num of process pid (the
// first fd that held it), leading to the object objID, and returns its ID.
// sharers is how many fds share it.
func (b *Builder) OFD(pid, num int, mode string, pos int64, sharers int, objID string, flags ...string) string {
	p := b.procs[pid]
	if p == nil {
		panic(fmt.Sprintf("diagramtest: ofd of unknown process %d", pid))
	}
	id := graph.OFDID(pid, p.Process.StartTime, num)
	access := map[string]string{"r": "O_RDONLY", "w": "O_WRONLY", "rw": "O_RDWR"}[mode]
	fl := []string{}
	if access != "" {
		fl = append(fl, access)
	}
	fl = append(fl, flags...)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: graph.KindOFD, OFD: &graph.OFD{Mode: mode, Flags: fl, Pos: pos, MntID: 29, Sharers: sharers}})
	b.edges = append(b.edges, graph.Edge{From: id, To: objID, Kind: graph.EdgeObject})
	return id
}

// File adds a filesystem object (file, dir, chr, fifo, ...) and returns its ID.
func (b *Builder) File(kind graph.Kind, dev string, inode uint64, path, rdev string) string {
	id := graph.InodeID(kind, dev, inode)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: kind, Object: &graph.Object{Inode: inode, Dev: dev, RDev: rdev, Name: path, Path: path}})
	return id
}

// Pipe adds an anonymous pipe and returns its ID.
func (b *Builder) Pipe(inode uint64) string {
	id := graph.PipeID(inode)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: graph.KindPipe, Object: &graph.Object{Inode: inode, Dev: "0:14", Name: id}})
	return id
}

// Anon adds an anon-inode object of the given type behind ofdID and returns its ID.
func (b *Builder) Anon(anonType, ofdID, detail string) string {
	id := graph.AnonID(anonType, ofdID)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: graph.KindAnon, Object: &graph.Object{
		Inode: 26, Dev: "0:15", Name: "anon_inode:[" + anonType + "]", AnonType: anonType, Detail: detail,
	}})
	return id
}

// Socket adds a socket and returns its ID.
func (b *Builder) Socket(inode uint64, family, typ, proto, state, local, remote string) string {
	id := graph.SocketID(inode)
	b.nodes = append(b.nodes, &graph.Node{ID: id, Kind: graph.KindSocket, NetNS: 4026531840, Object: &graph.Object{
		Inode: inode, Dev: "0:8", Name: id,
		Socket: &graph.Socket{Family: graph.Family(family), Type: typ, Protocol: proto, State: state, Local: local, Remote: remote},
	}})
	return id
}

// Peer joins two objects with a peer edge (one per pair, from < to).
func (b *Builder) Peer(a, c string) {
	if c < a {
		a, c = c, a
	}
	b.edges = append(b.edges, graph.Edge{From: a, To: c, Kind: graph.EdgePeer})
}

// Accepted joins a listening socket to a socket accepted from it.
func (b *Builder) Accepted(listener, accepted string) {
	b.edges = append(b.edges, graph.Edge{From: listener, To: accepted, Kind: graph.EdgeAccepted})
}

// Watch adds a watch edge: the epoll object watcher watches the open file
// description watched (inotify: the inode watched), as the scanner finds them.
func (b *Builder) Watch(watcher, watched string) {
	b.edges = append(b.edges, graph.Edge{From: watcher, To: watched, Kind: graph.EdgeWatch})
}

// Snapshot returns the snapshot built so far, with stats counted as the
// scanner counts them.
func (b *Builder) Snapshot() *graph.Snapshot {
	st := graph.Stats{Sharing: "kcmp"}
	for _, n := range b.nodes {
		switch {
		case n.Kind == graph.KindProcess:
			st.Processes++
		case n.Kind == graph.KindFD:
			st.FDs++
		case n.Kind == graph.KindOFD:
			st.OFDs++
		default:
			st.Objects++
			if n.Kind == graph.KindSocket {
				st.Sockets++
			}
		}
	}
	return graph.New(b.nodes, b.edges, st)
}

// tty adds /dev/pts/0, the terminal both seed articles ran their scripts from.
func (b *Builder) tty() string { return b.File(graph.KindChr, "0:25", 3, "/dev/pts/0", "136:0") }

// stdio gives process pid fds 0, 1 and 2 on one description of tty, as a
// shell leaves them.
func (b *Builder) stdio(pid int, tty string) {
	o := b.OFD(pid, 0, "rw", 0, 3, tty)
	for fd := range 3 {
		b.FD(pid, fd, false, o)
	}
}

// UnixEcho is seed 000: server.py (pid 2554) listens on /tmp/server.sock
// (fd 3, socket:[28724]) and has accepted client.py's connection (fd 4,
// socket:[28725]); client.py (pid 2555) holds the other end on fd 3
// (socket:[28728]). Both have stdio on /dev/pts/0.
func UnixEcho() *graph.Snapshot {
	return unixEcho(false)
}

// EpollEcho is UnixEcho with the server waiting in epoll, as an
// event-loop server does: its fd 5 is an eventpoll instance watching the
// listener (fd 3) and the accepted connection (fd 4).
func EpollEcho() *graph.Snapshot {
	return unixEcho(true)
}

func unixEcho(epoll bool) *graph.Snapshot {
	var b Builder
	tty := b.tty()
	serverFDs := 5
	if epoll {
		serverFDs++
	}
	b.Proc(2554, 2300, 5000, "server.py", "python /tmp/server.py", serverFDs)
	b.Proc(2555, 2300, 5100, "client.py", "python /tmp/client.py", 4)
	b.stdio(2554, tty)
	b.stdio(2555, tty)
	ln := b.Socket(28724, "unix", "stream", "", "listen", "/tmp/server.sock", "")
	acc := b.Socket(28725, "unix", "stream", "", "established", "/tmp/server.sock", "")
	cli := b.Socket(28728, "unix", "stream", "", "established", "", "/tmp/server.sock")
	lnOFD, accOFD := b.OFD(2554, 3, "rw", 0, 1, ln), b.OFD(2554, 4, "rw", 0, 1, acc)
	b.FD(2554, 3, true, lnOFD)
	b.FD(2554, 4, true, accOFD)
	b.FD(2555, 3, true, b.OFD(2555, 3, "rw", 0, 1, cli))
	b.Accepted(ln, acc)
	b.Peer(acc, cli)
	if epoll {
		ep := b.Anon("eventpoll", graph.OFDID(2554, 5000, 5), "2 watched")
		b.FD(2554, 5, true, b.OFD(2554, 5, "rw", 0, 1, ep))
		b.Watch(ep, lnOFD)
		b.Watch(ep, accOFD)
	}
	return b.Snapshot()
}

// Inotify is a file manager (pid 4100, "watcher") whose inotify instance
// (fd 3) watches a directory it holds open (fd 4, /srv/data) and a file
// and a directory it does not hold (/etc/app.conf, /var/spool/app).
func Inotify() *graph.Snapshot {
	var b Builder
	b.Proc(4100, 1, 41000, "watcher", "watcher /srv/data", 2)
	in := b.Anon("inotify", graph.OFDID(4100, 41000, 3), "3 watches")
	b.FD(4100, 3, true, b.OFD(4100, 3, "r", 0, 1, in))
	data := b.File(graph.KindDir, "8:1", 300, "/srv/data", "")
	b.FD(4100, 4, true, b.OFD(4100, 4, "r", 0, 1, data))
	conf := b.File(graph.KindFile, "8:1", 301, "/etc/app.conf", "")
	spool := b.File(graph.KindDir, "8:1", 302, "/var/spool/app", "")
	b.Watch(in, data)
	b.Watch(in, conf)
	b.Watch(in, spool)
	return b.Snapshot()
}

// TCPEcho is seed 002: server.py (pid 14199) listens on 127.0.0.1:22222
// (fd 3, socket:[99154]) and has accepted (fd 4, socket:[99155]) the
// connection of client.py (pid 14202, fd 3, socket:[28728], 127.0.0.1:56946).
func TCPEcho() *graph.Snapshot {
	var b Builder
	tty := b.tty()
	b.Proc(14199, 14000, 90000, "server.py", "python /tmp/server.py", 5)
	b.Proc(14202, 14000, 90100, "client.py", "python /tmp/client.py", 4)
	b.stdio(14199, tty)
	b.stdio(14202, tty)
	ln := b.Socket(99154, "inet", "stream", "tcp", "listen", "127.0.0.1:22222", "")
	acc := b.Socket(99155, "inet", "stream", "tcp", "established", "127.0.0.1:22222", "127.0.0.1:56946")
	cli := b.Socket(28728, "inet", "stream", "tcp", "established", "127.0.0.1:56946", "127.0.0.1:22222")
	b.FD(14199, 3, true, b.OFD(14199, 3, "rw", 0, 1, ln))
	b.FD(14199, 4, true, b.OFD(14199, 4, "rw", 0, 1, acc))
	b.FD(14202, 3, true, b.OFD(14202, 3, "rw", 0, 1, cli))
	b.Accepted(ln, acc)
	b.Peer(acc, cli)
	return b.Snapshot()
}

// ThreeTables is seed 002's figure of the three tables: process A (pid 100)
// dup2'd fd 1 to fd 30 (one description of /tmp/log, w pos 9); A forked B
// (pid 101), so A's fd 2 and B's fd 2 share one description of /dev/pts/0
// (rw pos 23); A's fd 0 and B's fd 3 opened /data/f.txt separately: two
// descriptions (r pos 0) of one inode.
func ThreeTables() *graph.Snapshot {
	var b Builder
	b.Proc(100, 1, 7000, "A", "A", 4)
	b.Proc(101, 100, 7100, "B", "B", 2)
	log := b.File(graph.KindFile, "8:1", 5120, "/tmp/log", "")
	tty := b.tty()
	data := b.File(graph.KindFile, "8:1", 1976, "/data/f.txt", "")
	b.FD(100, 0, false, b.OFD(100, 0, "r", 0, 1, data))
	dup := b.OFD(100, 1, "w", 9, 2, log, "O_APPEND")
	b.FD(100, 1, false, dup)
	b.FD(100, 30, false, dup)
	fork := b.OFD(100, 2, "rw", 23, 2, tty)
	b.FD(100, 2, false, fork)
	b.FD(101, 2, false, fork)
	b.FD(101, 3, false, b.OFD(101, 3, "r", 0, 1, data))
	return b.Snapshot()
}

// Pipe is a shell pipeline `sh | grep`: sh (pid 300) writes into pipe:[4431]
// on fd 1 and grep (pid 301) reads it on fd 0.
func Pipe() *graph.Snapshot {
	var b Builder
	b.Proc(299, 1, 3000, "bash", "bash", 4)
	b.Proc(300, 299, 3100, "sh", "sh -c yes", 1)
	b.Proc(301, 299, 3200, "grep", "grep y", 1)
	p := b.Pipe(4431)
	b.FD(300, 1, false, b.OFD(300, 1, "w", 0, 1, p))
	b.FD(301, 0, false, b.OFD(301, 0, "r", 0, 1, p))
	return b.Snapshot()
}

// Large is a busy server (pid 5000, "busyd"): stdio on /dev/null, one unix
// stream connection to each of peers client processes (pids 6000...),
// a listener they connected through, and fds-peers-4 more fds that lead
// nowhere else, in four runs: log files, /dev/null, eventfds and epolls. It is the
// stress case of the layout: one process with many ports and many peers.
func Large(fds, peers int) *graph.Snapshot {
	var b Builder
	b.Proc(5000, 1, 100, "busyd", "/usr/sbin/busyd --workers 64", fds)
	null := b.File(graph.KindChr, "0:6", 4, "/dev/null", "1:3")
	o := b.OFD(5000, 0, "rw", 0, 3, null)
	for fd := range 3 {
		b.FD(5000, fd, false, o)
	}
	ln := b.Socket(900000, "unix", "stream", "", "listen", "/run/busyd.sock", "")
	b.FD(5000, 3, true, b.OFD(5000, 3, "rw", 0, 1, ln))
	fd := 4
	for i := range peers {
		pid := 6000 + i
		b.Proc(pid, 1, uint64(200+i), "client"+strconv.Itoa(i), "client", 4)
		srv := b.Socket(uint64(1000000+2*i), "unix", "stream", "", "established", "/run/busyd.sock", "")
		cli := b.Socket(uint64(1000001+2*i), "unix", "stream", "", "established", "", "/run/busyd.sock")
		b.FD(5000, fd, true, b.OFD(5000, fd, "rw", 0, 1, srv))
		b.FD(pid, 3, true, b.OFD(pid, 3, "rw", 0, 1, cli))
		b.Accepted(ln, srv)
		b.Peer(srv, cli)
		fd++
	}
	// The rest in four runs: log files, /dev/null, eventfds, epolls.
	rest := fds - fd
	for i := 0; fd < fds; i++ {
		switch (4 * i) / max(rest, 1) {
		case 0:
			f := b.File(graph.KindFile, "8:1", uint64(700000+i), "/var/log/busyd/worker-"+strconv.Itoa(i)+".log", "")
			b.FD(5000, fd, true, b.OFD(5000, fd, "w", int64(i*100), 1, f, "O_APPEND"))
		case 1:
			b.FD(5000, fd, true, b.OFD(5000, fd, "rw", 0, 1, null))
		case 2:
			ofd := graph.OFDID(5000, 100, fd)
			b.FD(5000, fd, true, b.OFD(5000, fd, "rw", 0, 1, b.Anon("eventfd", ofd, "count 0")))
		default:
			ofd := graph.OFDID(5000, 100, fd)
			b.FD(5000, fd, true, b.OFD(5000, fd, "rw", 0, 1, b.Anon("eventpoll", ofd, "1 watched")))
		}
		fd++
	}
	return b.Snapshot()
}

// Crowd is a worker among many siblings, as on any real host: bash (pid
// 9934) ran `feeder | worker` with n copies of python3 (pids 9940...) all
// reading one pipe:[7000] on fd 0 (one description, inherited) that feeder
// (pid 9935) writes, and with stdout and stderr on bash's /dev/pts/0
// description. The first worker, the focus, is also connected to postgres
// (pid 800) over a unix socket (fd 3 ⇄ its fd 9). So the focus has two
// connections (the feeder's pipe, postgres) and shares fds 0–2 with n-1
// siblings, and fds 1–2 with bash.
func Crowd(n int) *graph.Snapshot {
	var b Builder
	tty := b.tty()
	b.Proc(800, 1, 50, "postgres", "postgres: alice app [local] idle", 12)
	b.Proc(9934, 9000, 60000, "bash", "-bash", 3)
	b.stdio(9934, tty)
	shared := graph.OFDID(9934, 60000, 0)
	b.Proc(9935, 9934, 60100, "feeder", "feeder --jobs", 3)
	p := b.Pipe(7000)
	b.FD(9935, 0, false, shared)
	b.FD(9935, 1, false, b.OFD(9935, 1, "w", 0, 1, p))
	b.FD(9935, 2, false, shared)
	var in string
	for i := range n {
		pid := 9940 + i
		b.Proc(pid, 9934, uint64(60200+i), "python3", "python3 worker.py", 4)
		if i == 0 {
			in = b.OFD(pid, 0, "r", 0, n, p)
		}
		b.FD(pid, 0, false, in)
		b.FD(pid, 1, false, shared)
		b.FD(pid, 2, false, shared)
	}
	srv := b.Socket(31000, "unix", "stream", "", "established", "/run/postgresql/.s.PGSQL.5432", "")
	cli := b.Socket(31001, "unix", "stream", "", "established", "", "/run/postgresql/.s.PGSQL.5432")
	b.FD(800, 9, true, b.OFD(800, 9, "rw", 0, 1, srv))
	b.FD(9940, 3, true, b.OFD(9940, 3, "rw", 0, 1, cli))
	b.Peer(srv, cli)
	return b.Snapshot()
}

// Prefork is a prefork server: master (pid 700) listens on 127.0.0.1:8080
// (fd 6) and forked workers (pids 701...) that share the listening
// socket's description and the master's /dev/null stdio. The first worker
// serves a keep-alive client, curl (pid 900).
func Prefork(workers int) *graph.Snapshot {
	var b Builder
	null := b.File(graph.KindChr, "0:6", 4, "/dev/null", "1:3")
	b.Proc(700, 1, 10, "server", "server: master process", 7)
	std := b.OFD(700, 0, "rw", 0, 3*(workers+1), null)
	ln := b.Socket(41000, "inet", "stream", "tcp", "listen", "127.0.0.1:8080", "")
	lnOFD := b.OFD(700, 6, "rw", 0, workers+1, ln)
	for _, pid := range []int{700} {
		for fd := range 3 {
			b.FD(pid, fd, false, std)
		}
		b.FD(pid, 6, false, lnOFD)
	}
	for i := range workers {
		pid := 701 + i
		b.Proc(pid, 700, uint64(20+i), "server", "server: worker process", 8)
		for fd := range 3 {
			b.FD(pid, fd, false, std)
		}
		b.FD(pid, 6, false, lnOFD)
	}
	b.Proc(900, 1, 30, "curl", "curl 127.0.0.1:8080", 4)
	acc := b.Socket(41001, "inet", "stream", "tcp", "established", "127.0.0.1:8080", "127.0.0.1:50000")
	cli := b.Socket(41002, "inet", "stream", "tcp", "established", "127.0.0.1:50000", "127.0.0.1:8080")
	b.FD(701, 9, true, b.OFD(701, 9, "rw", 0, 1, acc))
	b.FD(900, 3, true, b.OFD(900, 3, "rw", 0, 1, cli))
	b.Accepted(ln, acc)
	b.Peer(acc, cli)
	return b.Snapshot()
}
