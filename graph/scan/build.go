//go:build linux

package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// builder turns what the passes read into nodes and edges.
type builder struct {
	ctx     context.Context
	scanner *Scanner
	procs   []*procRec
	sockets *socketTable
	stats   *graph.Stats
	// byDesc says that the fds carry their descriptions' numbers from a
	// BPF dump, which settle sharing without kcmp.
	byDesc bool
	// prev are the records of the Scanner's last scan, of which the
	// descriptions keep their IDs; nil for a first scan.
	prev []*procRec

	// The nodes made so far; the edges name their ends by index in nodes
	// (graph.NewIndexed), and so do the lookup tables: no ID is made,
	// hashed or looked up to join two nodes.
	nodes       []*graph.Node
	edges       []graph.IndexEdge
	objects     map[string]int32 // objects but sockets and pipes, by ID
	socketNodes map[uint64]int32 // socket objects by inode
	pipeNodes   map[uint64]int32 // pipe objects by inode
	byDevIno    map[devIno]int32 // path objects by device and inode, for watches
	mqueueDev   map[uint64]bool  // devices known to be (or not to be) mqueue filesystems
}

// noNode is the index of no node.
const noNode int32 = -1

type devIno struct {
	dev uint64 // user-space dev_t
	ino uint64
}

func (b *builder) build() *graph.Snapshot {
	prev := previousOFDs(b.prev)
	b.prev = nil
	byPID := make(map[int]*procRec, len(b.procs))
	for _, p := range b.procs {
		byPID[p.pid] = p
		for _, f := range p.fds { // records kept from an earlier scan
			f.ofd = nil
		}
	}
	ofds, shared := b.groupOFDs(prev)
	prev = nil
	b.allocate(ofds)
	for _, p := range b.procs {
		b.addProcess(p)
	}
	b.addChildEdges(byPID)
	b.addOFDs(ofds)
	b.addSocketEdges()
	b.addBoundDatagramPeers()
	b.addUnheldWatched()
	b.addWatches()
	b.addPtyPeers()

	b.stats.Sharing = shared.method
	if shared.missing != "" {
		b.stats.MissingFeatures = append(b.stats.MissingFeatures, shared.missing)
	}
	b.stats.MissingFeatures = append(b.stats.MissingFeatures, b.sockets.missing...)
	b.stats.VanishedFDs += shared.vanished
	b.countNodes()
	nodes, edges := b.nodes, b.edges
	b.release()
	if b.scanner.opts.Once {
		runtime.GC() // the records: see Options.Once
	}
	return graph.NewIndexed(nodes, edges, *b.stats)
}

// allocate makes the builder's node and edge lists and lookup tables, sized
// for the descriptions ofds: each fd makes an fd node and two edges, each
// description a node, at most one object and an edge to it, each process a
// few nodes and edges, and each socket at most one peer or accepted edge.
func (b *builder) allocate(ofds []*ofdRec) {
	nfds := 0
	for _, p := range b.procs {
		nfds += len(p.fds)
	}
	b.nodes = make([]*graph.Node, 0, 4*len(b.procs)+nfds+2*len(ofds))
	// Peer edges are added from both ends; graph.NewIndexed drops the duplicates.
	b.edges = make([]graph.IndexEdge, 0, 5*len(b.procs)+2*nfds+len(ofds)+2*len(b.sockets.byInode))
	b.objects = map[string]int32{}
	b.socketNodes = make(map[uint64]int32, len(b.sockets.byInode))
	b.pipeNodes = map[uint64]int32{}
	b.byDevIno = map[devIno]int32{}
	b.mqueueDev = map[uint64]bool{}
}

// release drops the builder's lists and tables and what it read, so that
// graph.NewIndexed can reuse their memory.
func (b *builder) release() {
	b.nodes, b.edges = nil, nil
	b.objects, b.socketNodes, b.pipeNodes, b.byDevIno = nil, nil, nil, nil
	b.sockets, b.procs = nil, nil
}

// countNodes counts the nodes of each kind into the stats.
func (b *builder) countNodes() {
	for _, n := range b.nodes {
		switch n.Kind {
		case graph.KindProcess:
			b.stats.Processes++
		case graph.KindFD:
			b.stats.FDs++
		case graph.KindOFD:
			b.stats.OFDs++
		default:
			b.stats.Objects++
			if n.Kind == graph.KindSocket {
				b.stats.Sockets++
			}
		}
	}
}

// fdKey identifies an fd across scans.
type fdKey struct {
	pid       int
	startTime uint64
	num       int
}

func keyOf(f *fdRec) fdKey { return fdKey{f.proc.pid, f.proc.startTime, f.num} }

// previousOFDs maps each fd of the last scan's records to the description
// it was in, so that a description keeps its ID while any of its fds
// survives. It is made at the start of the next scan rather than kept from
// the last one: a one-off scan never needs it.
func previousOFDs(procs []*procRec) map[fdKey]*ofdRec {
	n := 0
	for _, p := range procs {
		n += len(p.fds)
	}
	prev := make(map[fdKey]*ofdRec, n)
	for _, p := range procs {
		for _, f := range p.fds {
			if f.ofd != nil && f.ofd.key.kind != noKey {
				prev[keyOf(f)] = f.ofd
			}
		}
	}
	return prev
}

// fdID returns the ID of f's node, made once, in ids.
func fdID(f *fdRec, ids *idArena) string {
	if f.id == "" {
		f.id = ids.fdID(f.proc.pid, f.proc.startTime, f.num)
	}
	return f.id
}

// addProcess adds the node of p and the edges to its cwd, root and
// executable.
func (b *builder) addProcess(p *procRec) {
	p.node = int32(len(b.nodes))
	n := &graph.Node{
		ID: graph.ProcessID(p.pid, p.startTime), Kind: graph.KindProcess, PID: p.pid, NetNS: p.netns, Error: p.err,
		Process: &graph.Process{
			PPID: p.stat.PPID, Comm: p.stat.Comm, Cmdline: p.cmdline,
			UID: p.uid, User: b.scanner.userName(p.uid), StartTime: p.startTime,
			MntNS: p.mntns, PidNS: p.pidns, Cgroup: p.cgroup, Threads: p.stat.NumThreads, FDCount: p.fdCount,
			TGID: p.tgid,
		},
	}
	if p.err != "" {
		b.stats.DeniedProcesses++
	}
	b.nodes = append(b.nodes, n)
	for _, l := range []struct {
		o    *pathObject
		kind graph.EdgeKind
	}{{p.cwd, graph.EdgeCwd}, {p.root, graph.EdgeRoot}, {p.exe, graph.EdgeExe}} {
		if l.o == nil {
			continue
		}
		t := parseTarget(l.o.name)
		obj := b.pathObject("", l.o.name, t, l.o.st, -1)
		b.edges = append(b.edges, graph.IndexEdge{From: p.node, To: obj, Kind: l.kind})
	}
}

// addChildEdges joins each process to its parent, and each thread read
// as a process to its process, once every process has its node.
func (b *builder) addChildEdges(byPID map[int]*procRec) {
	for _, p := range b.procs {
		if p.tgid != 0 {
			if l := byPID[p.tgid]; l != nil && l.startTime == p.leaderStart {
				b.edges = append(b.edges, graph.IndexEdge{From: l.node, To: p.node, Kind: graph.EdgeThread})
			}
			continue
		}
		if parent := byPID[p.stat.PPID]; parent != nil && parent != p {
			b.edges = append(b.edges, graph.IndexEdge{From: parent.node, To: p.node, Kind: graph.EdgeChild})
		}
	}
}

// groupOFDs groups every readable fd into open file descriptions and gives
// each a stable ID. Groups of fds with one sharing key are independent, so
// the kcmp comparisons run on the scanner's workers; the returned sharing
// sums up how they went.
func (b *builder) groupOFDs(prev map[fdKey]*ofdRec) ([]*ofdRec, sharing) {
	// Each key's fds, in the order they are listed, in one array: the fds
	// are counted by key first, then placed.
	nfds := 0
	for _, p := range b.procs {
		nfds += len(p.fds)
	}
	byKey := make(map[shareKey]int32, nfds/2)
	keys := make([]shareKey, 0, nfds/2)
	var counts []int
	var alone []*fdRec
	groupOf := make([]int32, 0, nfds) // each fd's key's index; -1 alone
	for _, p := range b.procs {
		for _, f := range p.fds {
			if f.name == "" && f.kind == graph.KindUnknown {
				b.stats.DeniedFDs++ // listed, but its link could not be read
			}
			k := sharingKey(f)
			if k.kind == noKey {
				alone = append(alone, f)
				groupOf = append(groupOf, -1)
				continue
			}
			g, ok := byKey[k]
			if !ok {
				g = int32(len(keys))
				byKey[k] = g
				keys = append(keys, k)
				counts = append(counts, 0)
			}
			counts[g]++
			groupOf = append(groupOf, g)
		}
	}
	byKey = nil
	groups := make([][]*fdRec, len(keys))
	all := make([]*fdRec, nfds-len(alone))
	at := 0
	for g, n := range counts {
		groups[g] = all[at : at : at+n]
		at += n
	}
	n := 0
	for _, p := range b.procs {
		for _, f := range p.fds {
			if g := groupOf[n]; g >= 0 {
				groups[g] = append(groups[g], f)
			}
			n++
		}
	}
	// The descriptions of one fd come first, in the order of their fds.
	var multi []int
	ofds := make([]*ofdRec, 0, len(keys)+len(alone))
	for g, k := range keys {
		if fds := groups[g]; len(fds) == 1 {
			ofds = append(ofds, &ofdRec{key: k, members: fds})
		} else {
			multi = append(multi, g)
		}
	}
	singles := len(ofds)
	grouped := make([][][]*fdRec, len(multi))
	var mu sync.Mutex
	var workers []*sharing
	newSharing := func() *sharing {
		sh := &sharing{compare: b.scanner.compare, method: "kcmp"}
		mu.Lock()
		workers = append(workers, sh)
		mu.Unlock()
		return sh
	}
	parallel(b.ctx, b.scanner.opts.Workers, len(multi), newSharing, func(sh *sharing, i int) {
		grouped[i] = sh.group(groups[multi[i]])
	})
	total := sharing{method: "kcmp"}
	if b.byDesc {
		total.method = "bpf"
	} else if b.scanner.compare == nil {
		total = sharing{method: "heuristic", missing: "kcmp: disabled"}
	}
	for _, sh := range workers {
		total.vanished += sh.vanished
		total.heuristic += sh.heuristic
		if sh.method == "heuristic" {
			total.method = "heuristic"
		}
		if total.missing == "" {
			total.missing = sh.missing
		}
	}
	for i, g := range multi {
		for _, members := range grouped[i] {
			ofds = append(ofds, &ofdRec{key: keys[g], members: members})
		}
	}
	for _, f := range alone {
		ofds = append(ofds, &ofdRec{members: []*fdRec{f}})
	}
	for _, o := range ofds {
		if len(o.members) > 1 {
			slices.SortFunc(o.members, compareFDs)
		}
		for _, f := range o.members {
			f.ofd = o
		}
	}
	nameOFDs(ofds, prev)
	// In the order of their first fds: the objects are added in this
	// order, and of descriptions that name one object differently (a file
	// opened by two paths) the first names it. The descriptions of one fd
	// are in that order already.
	byFirstFD := func(x, y *ofdRec) int { return compareFDs(x.members[0], y.members[0]) }
	slices.SortFunc(ofds[singles:], byFirstFD)
	return mergeSorted(ofds[:singles], ofds[singles:], byFirstFD), total
}

// compareFDs orders fds by process and number.
func compareFDs(x, y *fdRec) int {
	return cmp.Or(cmp.Compare(x.proc.pid, y.proc.pid), cmp.Compare(x.num, y.num))
}

// mergeSorted returns the sorted lists a and b merged, in a new list.
func mergeSorted[T any](a, b []T, cmp func(x, y T) int) []T {
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if cmp(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// nameOFDs gives each description the ID it had in the last scan (prev)
// while one of its fds survives, and names new ones after their first fd.
// Only IDs kept from the last scan and suffixed ones are remembered as
// claimed: two new descriptions never have the same first fd, so their
// plain names cannot collide.
func nameOFDs(ofds []*ofdRec, prev map[fdKey]*ofdRec) {
	claimed := map[string]bool{}
	var ids idArena
	for _, o := range ofds {
		if o.key.kind == noKey || len(prev) == 0 {
			continue
		}
		for _, f := range o.members {
			old := prev[keyOf(f)]
			if old != nil && !claimed[old.id] && old.key == o.key {
				o.id = old.id
				claimed[old.id] = true
				break
			}
		}
	}
	for _, o := range ofds {
		if o.id != "" {
			continue
		}
		f := o.members[0]
		id := ids.ofdID(f.proc.pid, f.proc.startTime, f.num)
		if claimed[id] {
			for i := 2; claimed[id]; i++ {
				id = graph.NthOFDID(f.proc.pid, f.proc.startTime, f.num, i)
			}
			claimed[id] = true
		}
		o.id = id
	}
}

// addOFDs adds the open file descriptions ofds, their fds and their
// objects. The nodes and edges of descriptions and fds, the most numerous,
// are made on the scanner's workers, each chunk of descriptions into its
// own part of lists sized beforehand (description i with the m fds before
// it: nodes from i+m, edges from 2m, fd details from m), and their details
// in arrays, one per kind, rather than one allocation each; so are the
// nodes of most sockets. The objects, shared between descriptions, are
// then added in order.
func (b *builder) addOFDs(ofds []*ofdRec) {
	fdsBefore := make([]int, len(ofds)+1)
	for i, o := range ofds {
		fdsBefore[i+1] = fdsBefore[i] + len(o.members)
	}
	nfds := fdsBefore[len(ofds)]
	nodeAt, edgeAt := len(b.nodes), len(b.edges)
	b.nodes = slices.Grow(b.nodes, len(ofds)+nfds)[:nodeAt+len(ofds)+nfds]
	b.edges = slices.Grow(b.edges, 2*nfds+len(ofds))[:edgeAt+2*nfds]
	nodes, edges := b.nodes[nodeAt:], b.edges[edgeAt:]
	nodeArr := make([]graph.Node, len(ofds)+nfds)
	fdArr := make([]graph.FD, nfds)
	ofdArr := make([]graph.OFD, len(ofds))
	sockets := make([]*graph.Node, len(ofds)) // the nodes of sockets, where made on the workers

	type worker struct {
		flagNames map[uint32][]string
		ids       idArena
	}
	newWorker := func() *worker { return &worker{flagNames: map[uint32][]string{}} }
	inChunks(b.scanner.opts.Workers, len(ofds), 1024, newWorker, func(w *worker, lo, hi int) {
		for i := lo; i < hi; i++ {
			m := fdsBefore[i]
			o := ofds[i]
			o.node = int32(nodeAt + i + m)
			addOFD(o, w.flagNames, &w.ids, nodes[i+m:i+m+1+len(o.members)], edges[2*m:2*m+2*len(o.members)],
				nodeArr[i+m:], fdArr[m:], &ofdArr[i])
			if o.members[0].kind == graph.KindSocket {
				sockets[i] = b.presetSocket(o.members[0], &w.ids)
			}
		}
	})
	for i, o := range ofds {
		if sockets[i] != nil {
			o.obj = b.socketObject(o.members[0], sockets[i])
		} else {
			o.obj = b.object(o)
		}
		if o.obj != noNode {
			b.edges = append(b.edges, graph.IndexEdge{From: o.node, To: o.obj, Kind: graph.EdgeObject})
		}
	}
}

// addOFD makes the nodes of the open file description o and its fds into
// nodes (o's node at index o.node, its fds' after it), their details in
// nodeArr, fdArr and od, and their edges into edges. flagNames holds the
// flag lists made so far; the fds' IDs are made in ids.
func addOFD(o *ofdRec, flagNames map[uint32][]string, ids *idArena, nodes []*graph.Node, edges []graph.IndexEdge, nodeArr []graph.Node, fdArr []graph.FD, od *graph.OFD) {
	first := o.members[0]
	flags := first.info.flags &^ unix.O_CLOEXEC
	*od = graph.OFD{
		Mode: accessMode(flags), Flags: flagList(flagNames, flags), Pos: first.info.pos,
		MntID: int(first.info.mntID), Sharers: len(o.members),
	}
	on := &nodeArr[0]
	*on = graph.Node{ID: o.id, Kind: graph.KindOFD, OFD: od}
	if first.err != "" {
		// Without its fdinfo nothing is known of the description.
		on.Error = first.err
		*od = graph.OFD{Flags: []string{}, Sharers: len(o.members)}
	}
	nodes[0] = on
	for j, f := range o.members {
		id := fdID(f, ids)
		fdArr[j] = graph.FD{Num: f.num, CloExec: f.info.flags&unix.O_CLOEXEC != 0}
		n := &nodeArr[1+j]
		*n = graph.Node{ID: id, Kind: graph.KindFD, PID: f.proc.pid, Error: f.err, FD: &fdArr[j]}
		nodes[1+j] = n
		fd := o.node + 1 + int32(j)
		edges[2*j] = graph.IndexEdge{From: f.proc.node, To: fd, Kind: graph.EdgeFD}
		edges[2*j+1] = graph.IndexEdge{From: fd, To: o.node, Kind: graph.EdgeOFD}
	}
}

func accessMode(flags uint32) string {
	if flags&unix.O_PATH != 0 {
		return ""
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return "r"
	case unix.O_WRONLY:
		return "w"
	default:
		return "rw"
	}
}

// openFlagNames are the status flags an open file description can carry,
// with this architecture's values.
var openFlagNames = []struct {
	bit  uint32
	name string
}{
	{unix.O_APPEND, "O_APPEND"}, {unix.O_ASYNC, "O_ASYNC"}, {unix.O_CREAT, "O_CREAT"},
	{unix.O_DIRECT, "O_DIRECT"}, {unix.O_DIRECTORY, "O_DIRECTORY"}, {unix.O_DSYNC, "O_DSYNC"},
	{unix.O_EXCL, "O_EXCL"}, {oLargefile(), "O_LARGEFILE"}, {unix.O_NOATIME, "O_NOATIME"},
	{unix.O_NOCTTY, "O_NOCTTY"}, {unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_PATH, "O_PATH"}, {unix.O_SYNC &^ unix.O_DSYNC, "O_SYNC"}, {unix.O_TMPFILE &^ unix.O_DIRECTORY, "O_TMPFILE"},
	{unix.O_TRUNC, "O_TRUNC"},
}

// oLargefile is the kernel's O_LARGEFILE, which 64-bit kernels set on every
// open and fdinfo shows; golang.org/x/sys defines it as 0 on those
// architectures because user space need not pass it.
func oLargefile() uint32 {
	switch runtime.GOARCH {
	case "arm", "arm64":
		return 0o400000
	case "ppc64", "ppc64le":
		return 0o200000
	case "mips", "mipsle", "mips64", "mips64le":
		return 0x2000
	case "sparc64":
		return 0x40000
	default:
		return 0o100000
	}
}

// flagList names the flags, access mode first; lists are shared between
// descriptions with equal flags, through the cache made, and must not be
// modified.
func flagList(made map[uint32][]string, flags uint32) []string {
	if l, ok := made[flags]; ok {
		return l
	}
	l := []string{}
	if flags&unix.O_PATH == 0 {
		l = append(l, [...]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_RDWR"}[flags&unix.O_ACCMODE])
	}
	var rest []string
	for _, f := range openFlagNames {
		if flags&f.bit == f.bit {
			rest = append(rest, f.name)
		}
	}
	slices.Sort(rest)
	l = append(l, rest...)
	made[flags] = l
	return l
}

// object adds (once) the object behind a description and returns its
// node, or noNode.
func (b *builder) object(o *ofdRec) int32 {
	f := o.members[0]
	switch f.kind {
	case graph.KindSocket:
		return b.socketObject(f, nil)
	case graph.KindPipe:
		if n, ok := b.pipeNodes[f.inode]; ok {
			return n
		}
		id := graph.PipeID(f.inode)
		n := b.add(&graph.Node{ID: id, Kind: graph.KindPipe, Object: &graph.Object{Inode: f.inode, Name: id}})
		b.pipeNodes[f.inode] = n
		return n
	case graph.KindAnon:
		return b.anonObject(o, f)
	case graph.KindNsfs:
		dev := ""
		if f.st != nil {
			dev = devString(f.st.dev)
		}
		id := graph.InodeID(graph.KindNsfs, dev, f.inode)
		return b.addObject(&graph.Node{ID: id, Kind: graph.KindNsfs, Object: &graph.Object{Inode: f.inode, Dev: dev, Name: f.name}})
	case graph.KindUnknown:
		if f.name == "" {
			return noNode // the link itself could not be read
		}
		id := graph.UnknownID(f.name)
		return b.addObject(&graph.Node{ID: id, Kind: graph.KindUnknown, Object: &graph.Object{Inode: f.info.ino, Name: f.name}})
	default:
		return b.pathObject(b.fdPath(f), f.name, f.target(), f.st, f.info.ttyIndex())
	}
}

// anonObject adds (once) the anon inode object behind o, whose first fd is
// f, and returns its node.
func (b *builder) anonObject(o *ofdRec, f *fdRec) int32 {
	anonType := f.target().anonType
	id := graph.AnonID(anonType, o.id)
	extra := f.info.rare()
	detail := extra.detail
	if anonType == "pidfd" && extra.pidfdPid != 0 {
		detail = "pid " + strconv.Itoa(extra.pidfdPid)
	}
	if anonType == "inotify" {
		detail = fmt.Sprintf("%d watches", len(extra.watches))
	}
	if anonType == "eventpoll" {
		detail = fmt.Sprintf("%d watched", len(extra.tfds))
	}
	ino := f.info.ino
	if ino == 0 {
		ino = f.inode
	}
	return b.addObject(&graph.Node{ID: id, Kind: graph.KindAnon, Object: &graph.Object{
		Inode: ino, Name: f.name, AnonType: anonType, Detail: detail,
	}})
}

// pathObject adds (once) a filesystem object and returns its node. st may
// be nil when the stat failed; the object is then known by its name only.
func (b *builder) pathObject(fdPath string, name string, t target, st *fileStat, ttyIndex int) int32 {
	if st == nil {
		id := graph.PathID(name)
		return b.addObject(&graph.Node{ID: id, Kind: graph.KindFile, Error: "stat failed", Object: &graph.Object{Name: name, Path: t.path, Deleted: t.deleted}})
	}
	kind := graph.KindFile
	switch st.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		kind = graph.KindDir
	case unix.S_IFCHR:
		kind = graph.KindChr
	case unix.S_IFBLK:
		kind = graph.KindBlk
	case unix.S_IFIFO:
		kind = graph.KindFIFO
	case unix.S_IFLNK:
		kind = graph.KindSymlink
	}
	if t.kind == graph.KindNsfs {
		kind = graph.KindNsfs
	}
	if kind == graph.KindFile && strings.HasPrefix(t.path, "/memfd:") {
		kind = graph.KindMemfd
	}
	if kind == graph.KindFile && unix.Major(st.dev) == 0 && fdPath != "" && b.isMqueue(fdPath, st) {
		kind = graph.KindMqueue
	}
	dev := devString(st.dev)
	id := graph.InodeID(kind, dev, st.ino)
	obj := &graph.Object{Inode: st.ino, Dev: dev, Name: name, Path: t.path, Deleted: t.deleted}
	if kind == graph.KindChr || kind == graph.KindBlk {
		obj.RDev = devString(st.rdev)
	}
	pty := kind == graph.KindChr && ttyIndex >= 0
	if pty {
		// Every open of /dev/ptmx shares one inode but makes a new pty.
		id = graph.PtyMasterID(dev, st.ino, ttyIndex)
		obj.Detail = "pty master of /dev/pts/" + strconv.Itoa(ttyIndex)
	}
	n := b.addObject(&graph.Node{ID: id, Kind: kind, Object: obj})
	if !pty {
		b.byDevIno[devIno{st.dev, st.ino}] = n
	}
	return n
}

// isMqueue reports whether st is on an mqueue filesystem, which holds
// POSIX message queues. The kernel's own mqueue mount is often in no mount
// table (/dev/mqueue need not be mounted), so the filesystem is asked with
// statfs on the fd link, once per device.
func (b *builder) isMqueue(path string, st *fileStat) bool {
	if v, ok := b.mqueueDev[st.dev]; ok {
		return v
	}
	var fs unix.Statfs_t
	v := unix.Statfs(path, &fs) == nil && fs.Type == mqueueMagic
	b.mqueueDev[st.dev] = v
	return v
}

// mqueueMagic is MQUEUE_MAGIC from linux/magic.h.
const mqueueMagic = 0x19800202

// fdPath returns the path of f's link in /proc.
func (b *builder) fdPath(f *fdRec) string {
	return b.scanner.opts.ProcRoot + "/" + strconv.Itoa(f.proc.pid) + "/fd/" + strconv.Itoa(f.num)
}

func devString(dev uint64) string {
	return graph.DevString(unix.Major(dev), unix.Minor(dev))
}

// addObject adds the object n, unless one with its ID was added, and
// returns the index of the object's node.
func (b *builder) addObject(n *graph.Node) int32 {
	if i, ok := b.objects[n.ID]; ok {
		return i
	}
	i := b.add(n)
	b.objects[n.ID] = i
	return i
}

// add adds the node n and returns its index.
func (b *builder) add(n *graph.Node) int32 {
	b.nodes = append(b.nodes, n)
	return int32(len(b.nodes) - 1)
}

// socketObject adds (once) the socket behind f and returns its node. pre
// is the node when made beforehand (by presetSocket), or nil.
func (b *builder) socketObject(f *fdRec, pre *graph.Node) int32 {
	if i, ok := b.socketNodes[f.inode]; ok {
		return i
	}
	n := pre
	if n == nil {
		r := b.socketRec(f)
		if r == nil {
			// Not in any dump: a family sock_diag does not cover (ping), a
			// namespace that could not be entered, or created after the dump.
			proto := ""
			buf := make([]byte, 64)
			if n, err := unix.Getxattr(b.fdPath(f), "system.sockprotoname", buf); err == nil {
				proto = string(buf[:n])
			}
			r = protoNameSocket(f.inode, proto)
			b.sockets.byInode[f.inode] = r
		}
		n = b.socketNode(f, graph.SocketID(f.inode), r)
	}
	i := b.add(n)
	b.socketNodes[f.inode] = i
	return i
}

// presetSocket makes the node of the socket behind f where it can be made
// before the objects are added in order, or returns nil: it only reads the
// socket table, so the workers call it at once, each with its own ids. A socket in no dump is
// described later, as is one whose unix peer is in none (its node's remote
// end depends on whether the peer was described first).
func (b *builder) presetSocket(f *fdRec, ids *idArena) *graph.Node {
	r := b.socketRec(f)
	if r == nil || r.family == "unix" && r.unixPeer != 0 && b.sockets.byInode[r.unixPeer] == nil {
		return nil
	}
	return b.socketNode(f, ids.socketID(f.inode), r)
}

// socketRec returns what the dumps or the probes say of the socket behind
// f, or nil.
func (b *builder) socketRec(f *fdRec) *sockRec {
	r := b.sockets.byInode[f.inode]
	if pr := b.sockets.probed[f.inode]; r == nil && pr != nil {
		r = probedSocket(f.inode, pr)
	}
	return r
}

// socketNode returns the node, with ID id, of the socket behind f, which r
// describes.
func (b *builder) socketNode(f *fdRec, id string, r *sockRec) *graph.Node {
	remote := r.remote
	if r.family == "unix" && r.unixPeer != 0 {
		if peer := b.sockets.byInode[r.unixPeer]; peer != nil {
			remote = peer.unixName // as ss shows it: the address of the other end
		}
	}
	// The node and its details in one allocation: a busy host has 10⁴
	// sockets, and they live and die together.
	n := &struct {
		node   graph.Node
		object graph.Object
		socket graph.Socket
	}{
		node:   graph.Node{ID: id, Kind: graph.KindSocket, NetNS: r.netns},
		object: graph.Object{Inode: f.inode, Name: id},
		socket: graph.Socket{
			Family: r.family, Type: r.typ, Protocol: r.protocol, State: r.state,
			Local: r.local, Remote: remote, RxQueue: r.rxQueue, TxQueue: r.txQueue,
			InFlight: int(f.info.scmFDs),
		},
	}
	n.node.Object, n.object.Socket = &n.object, &n.socket
	return &n.node
}

// addSocketEdges adds the peer edges between the two ends of each
// connection and the accepted edges from listeners.
func (b *builder) addSocketEdges() {
	type tuple struct {
		netns         uint64
		proto         string
		local, remote netip.AddrPort
	}
	type listenKey struct {
		netns uint64
		name  string
	}
	// Sized first: grown one entry at a time, the map of 4,000
	// connections cost ~20 ms of rehashing.
	ninet := 0
	for _, r := range b.sockets.byInode {
		if r.family.IsInet() && r.state != "listen" {
			ninet++
		}
	}
	inet := make(map[tuple]uint64, ninet)
	unixListeners := map[listenKey]uint64{}
	type inetListen struct {
		netns uint64
		proto string
		port  uint16
	}
	inetListeners := map[inetListen][]*sockRec{}

	for ino, r := range b.sockets.byInode {
		if !b.holds(ino) {
			continue
		}
		switch {
		case r.family == "unix" && r.state == "listen" && r.unixName != "":
			unixListeners[listenKey{r.netns, r.unixName}] = ino
		case r.family.IsInet() && r.state == "listen":
			k := inetListen{r.netns, r.protocol, r.localAP.Port()}
			inetListeners[k] = append(inetListeners[k], r)
		case r.family.IsInet():
			if r.remoteAP.Port() != 0 {
				inet[tuple{r.netns, r.protocol, unmap(r.localAP), unmap(r.remoteAP)}] = ino
			}
		}
	}
	for ino, r := range b.sockets.byInode {
		if !b.holds(ino) {
			continue
		}
		switch r.family {
		case "unix":
			if r.unixPeer != 0 && b.holds(r.unixPeer) {
				b.peer(b.socketNodes[ino], b.socketNodes[r.unixPeer])
			}
			// An accepted socket carries its listener's address.
			if r.state != "listen" && r.unixName != "" && r.typ != "dgram" {
				if l, ok := unixListeners[listenKey{r.netns, r.unixName}]; ok && l != ino {
					b.edges = append(b.edges, graph.IndexEdge{From: b.socketNodes[l], To: b.socketNodes[ino], Kind: graph.EdgeAccepted})
				}
			}
		case graph.FamilyInet, graph.FamilyInet6:
			if r.remoteAP.Port() == 0 || r.state == "listen" {
				continue
			}
			if other, ok := inet[tuple{r.netns, r.protocol, unmap(r.remoteAP), unmap(r.localAP)}]; ok && other != ino {
				b.peer(b.socketNodes[ino], b.socketNodes[other])
			}
			if r.protocol == "tcp" {
				for _, l := range inetListeners[inetListen{r.netns, "tcp", r.localAP.Port()}] {
					la := unmap(l.localAP).Addr()
					if la.IsUnspecified() || la == unmap(r.localAP).Addr() {
						b.edges = append(b.edges, graph.IndexEdge{From: b.socketNodes[l.inode], To: b.socketNodes[ino], Kind: graph.EdgeAccepted})
					}
				}
			}
		}
	}
}

// holds reports whether the socket with this inode is an object of the
// graph: whether a scanned fd holds it.
func (b *builder) holds(inode uint64) bool {
	_, ok := b.socketNodes[inode]
	return ok
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// peer adds one peer edge for the pair of nodes, from the smaller ID to
// the larger.
func (b *builder) peer(x, y int32) {
	if b.nodes[x].ID > b.nodes[y].ID {
		x, y = y, x
	}
	b.edges = append(b.edges, graph.IndexEdge{From: x, To: y, Kind: graph.EdgePeer})
}

// addWatches adds watch edges from epoll and inotify objects to what they
// watch. An epoll target is the fd number in the process that added it; it
// is trusted when that fd still leads to the same inode, and otherwise the
// inode itself is looked up.
func (b *builder) addWatches() {
	for _, p := range b.procs {
		for _, f := range p.fds {
			if f.kind != graph.KindAnon || f.info.extra == nil || f.ofd == nil || f.ofd.obj == noNode || f.ofd.members[0] != f {
				continue
			}
			obj := f.ofd.obj
			for _, t := range f.info.extra.tfds {
				if g := b.epollTarget(f, t); g != nil {
					b.edges = append(b.edges, graph.IndexEdge{From: obj, To: g.ofd.node, Kind: graph.EdgeWatch})
					continue
				}
				if to := b.byKernelDevIno(t.sdev, t.ino); to != noNode && b.nodes[to].Kind != graph.KindAnon {
					b.edges = append(b.edges, graph.IndexEdge{From: obj, To: to, Kind: graph.EdgeWatch})
				}
			}
			for _, w := range f.info.extra.watches {
				if to := b.byKernelDevIno(w.sdev, w.ino); to != noNode {
					b.edges = append(b.edges, graph.IndexEdge{From: obj, To: to, Kind: graph.EdgeWatch})
				}
			}
		}
	}
}

// epollTarget finds the fd of p that holds the file epoll fd ep watches
// under target number t.fd. The number is the one the watch was added
// with; the fd may have been closed or replaced since, and anon inodes all
// share one inode number, so a candidate is confirmed with kcmp(2)
// KCMP_EPOLL_TFD where it is permitted, and otherwise by inode.
func (b *builder) epollTarget(ep *fdRec, t epollTarget) *fdRec {
	p := ep.proc
	same := func(g *fdRec) bool {
		if g == nil || g.ofd == nil || g.info.ino != t.ino {
			return false
		}
		if b.scanner.compare == nil {
			return true
		}
		r, err := kcmpEpollTarget(p.pid, g.num, ep.num, t.fd)
		if err != nil {
			return !errors.Is(err, unix.EINVAL) && !gone(err) // refused: trust the inode
		}
		return r == 0
	}
	if g := fdByNum(p, t.fd); same(g) {
		return g
	}
	if b.scanner.compare == nil {
		return nil
	}
	for _, g := range p.fds {
		if g.num != t.fd && same(g) {
			return g
		}
	}
	return nil
}

// fdByNum returns p's fd number num, or nil; p.fds is sorted by number.
func fdByNum(p *procRec, num int) *fdRec {
	i, ok := slices.BinarySearchFunc(p.fds, num, func(f *fdRec, num int) int { return cmp.Compare(f.num, num) })
	if !ok {
		return nil
	}
	return p.fds[i]
}

// byKernelDevIno finds an object by the device (as fdinfo prints it) and
// inode; sockets and pipes by their inode, since their filesystems are one
// each (kernel-internal, so with an anonymous device, major 0: a file of a
// disk filesystem never matches a socket that has its inode number).
func (b *builder) byKernelDevIno(sdev uint32, ino uint64) int32 {
	major, minor := kernelDev(sdev)
	if n, ok := b.byDevIno[devIno{unix.Mkdev(major, minor), ino}]; ok {
		return n
	}
	if major != 0 {
		return noNode
	}
	if n, ok := b.socketNodes[ino]; ok {
		return n
	}
	if n, ok := b.pipeNodes[ino]; ok {
		return n
	}
	return noNode
}

// addPtyPeers joins each pty master (an open of /dev/ptmx, with its
// tty-index) to its slave /dev/pts/N. Where several devpts instances hold an
// N, the slave opened in the master's mount namespace wins.
func (b *builder) addPtyPeers() {
	type slave struct {
		node  int32
		mntns uint64
	}
	slaves := map[int][]slave{}
	var masters []*fdRec
	for _, p := range b.procs {
		for _, f := range p.fds {
			if f.ofd == nil || f.ofd.obj == noNode || f.st == nil || f.st.mode&unix.S_IFMT != unix.S_IFCHR {
				continue
			}
			if f.info.ttyIndex() >= 0 {
				masters = append(masters, f)
				continue
			}
			major, minor := unix.Major(f.st.rdev), unix.Minor(f.st.rdev)
			if major >= 136 && major <= 143 { // UNIX98_PTY_SLAVE_MAJOR
				idx := int(major-136)<<8 | int(minor)
				slaves[idx] = append(slaves[idx], slave{f.ofd.obj, f.proc.mntns})
			}
		}
	}
	for _, m := range masters {
		cands := slaves[m.info.ttyIndex()]
		if len(cands) == 0 {
			continue
		}
		best := cands[0]
		for _, c := range cands {
			if c.mntns == m.proc.mntns {
				best = c
				break
			}
		}
		b.peer(m.ofd.obj, best.node)
	}
}
