//go:build linux

package scan

import (
	"cmp"
	"context"
	"fmt"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/bpfiter"
	"github.com/fdscope/fdscope/internal/procdir"
)

// Scanner scans the machine. It keeps the IDs of open file descriptions
// stable from one scan to the next, so one Scanner should be used for a
// series of scans. A Scanner is not safe for concurrent use.
type Scanner struct {
	opts    Options
	dumper  netnsDumper
	compare fileComparer
	users   map[int]string // uid → user name, cached across scans

	// The last snapshot and what was read for it, for Rescan; each fd
	// record holds the open file description it was in, so that the next
	// scan keeps a description's ID while any of its fds survives.
	last      *graph.Snapshot
	lastProcs []*procRec
	// dumped says that the last scan that could dump with the BPF
	// iterator did: the fds of lastProcs then carry its descriptions.
	dumped bool
	// fewFDs replaces the function fewFDs, for tests.
	fewFDs func(read, total int) bool

	// What the last scan learned of the inodes inotify watches and no fd
	// holds, opened by their file handles (see inotify.go).
	watched map[watchKey]*watchedInode

	bpf bpfState // the BPF iterator, for the bpf backend (see bpfwalk.go)
}

// New returns a Scanner with the given options.
func New(opts Options) *Scanner {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Workers <= 0 {
		opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	s := &Scanner{opts: opts, users: map[int]string{}}
	if !opts.NoSockDiag {
		s.dumper = sockDiagDumper{}
	}
	if !opts.NoKcmp {
		s.compare = kcmpFile
	}
	return s
}

// walker holds one worker's buffers; the rest is shared and read-only.
type walker struct {
	fs        procfs.FS
	rootFD    int
	linkBuf   []byte
	infoBuf   []byte
	direntBuf []byte
	// The mount IDs of the kernel's internal sockfs and pipefs mounts, once
	// seen; -1 until then.
	sockMnt, pipeMnt int32
}

func newWalker(fs procfs.FS, rootFD int) *walker {
	return &walker{
		fs: fs, rootFD: rootFD,
		linkBuf:   make([]byte, 4096+64),
		infoBuf:   make([]byte, 4096),
		direntBuf: make([]byte, 32<<10),
		sockMnt:   -1, pipeMnt: -1,
	}
}

// Scan reads the whole machine (or Options.PIDs) into a snapshot. Processes
// and fds that vanish or deny access are normal and recorded in the
// snapshot's stats; Scan returns an error only when the scan as a whole
// could not run (the proc root cannot be listed) or ctx was cancelled.
func (s *Scanner) Scan(ctx context.Context) (*graph.Snapshot, error) {
	return s.scan(ctx, nil, false)
}

// Rescan reads again only the given processes, and any process that
// started since the last scan; every other process keeps what the last scan
// (or rescan) read of it, and processes that exited are dropped. Sockets
// are dumped afresh, so states, peers and descriptions are resolved as in a
// full scan, and IDs stay stable exactly as in a series of full scans.
//
// prev must be the last snapshot this Scanner returned; it is used only to
// check that. What a rescan cannot see in the processes it keeps — an fd
// replaced in place by dup2, a position that moved — a full Scan catches.
//
// With BackendBPF, a rescan that reads few fds (fewFDs) reads them from
// /proc, as BackendProcfs does: the iterator's dump costs what the whole
// machine holds (~0.1 s and 8 MB of records for 65,000 fds), /proc what
// the processes read again hold. The kept processes keep the descriptions
// the last dump gave their fds, and kcmp(2) settles the sharing of the
// others.
func (s *Scanner) Rescan(ctx context.Context, prev *graph.Snapshot, pids []int) (*graph.Snapshot, error) {
	if prev == nil || prev != s.last || len(s.opts.PIDs) > 0 {
		return s.Scan(ctx)
	}
	again := make(map[int]bool, len(pids))
	for _, pid := range pids {
		again[pid] = true
	}
	keep := make(map[int]*procRec, len(s.lastProcs))
	read, total := 0, 0
	for _, p := range s.lastProcs {
		total += len(p.fds)
		// A thread with its own table goes with its process, which finds
		// it again when read.
		if !again[p.pid] && (p.tgid == 0 || !again[p.tgid]) {
			keep[p.pid] = p
		} else {
			read += len(p.fds)
			delete(again, p.pid)
		}
	}
	if len(s.lastProcs) > 0 {
		read += len(again) * total / len(s.lastProcs) // new processes: as many as the mean
	}
	few := fewFDs
	if s.fewFDs != nil {
		few = s.fewFDs
	}
	return s.scan(ctx, keep, few(read, total))
}

// fewFDs says whether a rescan that reads read of the total fds the last
// scan read is cheaper from /proc than from a dump: /proc costs ~15 µs an
// fd (an fdinfo read and a readlink), a dump ~1 µs an fd of the machine.
func fewFDs(read, total int) bool {
	return read*16 <= total
}

// scan reads every process but those in keep, whose records from an
// earlier scan are used as they are when the process still exists.
// fromProc says that, with BackendBPF, the processes are read from /proc
// and the kept ones keep the descriptions of their last dump (Rescan).
func (s *Scanner) scan(ctx context.Context, keep map[int]*procRec, fromProc bool) (*graph.Snapshot, error) {
	start := time.Now()
	backend, err := s.backend()
	if err != nil {
		return nil, err
	}
	st := graph.Stats{StartedAt: start, Scanner: string(backend)}
	if s.opts.Backend == BackendAuto && backend == BackendProcfs {
		st.ScannerFallback = s.bpf.fallback
	}
	sockets := &socketTable{
		byInode: map[uint64]*sockRec{}, dumped: map[uint64]bool{},
		tried: map[uint64]bool{}, probed: map[uint64]*socketProbe{},
	}
	var sockWG sync.WaitGroup
	defer sockWG.Wait() // on every return: nothing of the scan outlives it
	socketsEarly := false
	// The dump comes first: its readers' fds are closed before the
	// scanning process's own table is listed.
	dump := &bpfDump{}
	fromProc = fromProc && backend == BackendBPF && keep != nil && s.dumped
	if backend == BackendBPF && !fromProc {
		// In a full scan the sockets of every namespace the processes are
		// in are dumped while the iterator reads the fds.
		var withTasks func([]bpfiter.Task)
		if s.dumper != nil && len(s.opts.PIDs) == 0 {
			withTasks = func(tasks []bpfiter.Task) {
				socketsEarly = true
				sockWG.Go(func() { s.dumpSockets(netnsMembers(tasks), sockets) })
			}
		}
		if dump, err = s.dumpBPF(withTasks); err != nil {
			if s.opts.Backend == BackendBPF {
				return nil, err
			}
			dump = &bpfDump{}
			st.Scanner, st.ScannerFallback = string(BackendProcfs), err.Error()
		}
		s.dumped = dump.byPID != nil
	}
	// The socket dumps hold fds of this process: they are done before it
	// opens the proc root (whose fd number must not move from one scan to
	// the next) and lists its own table.
	sockWG.Wait()
	fs, err := procfs.NewFS(s.opts.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	rootFD, err := openDir(unix.AT_FDCWD, s.opts.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("scan: open %s: %w", s.opts.ProcRoot, err)
	}
	defer unix.Close(rootFD)

	pids := slices.Clone(s.opts.PIDs)
	if len(pids) == 0 && dump.tasks != nil {
		// What the /proc root lists, but for processes started since, and
		// those the iterator missed (missedBy), read from /proc. Without
		// the listing, the dump's alone.
		pids = dump.pids()
		w := newWalker(fs, rootFD)
		if listed, err := procdir.ListNumbers(rootFD, w.direntBuf, nil); err == nil {
			slices.Sort(listed)
			dump.missed = missedBy(pids, listed)
			pids = append(pids, dump.missed...)
		}
	} else if len(pids) == 0 {
		w := newWalker(fs, rootFD)
		if pids, err = procdir.ListNumbers(rootFD, w.direntBuf, nil); err != nil {
			return nil, fmt.Errorf("scan: list %s: %w", s.opts.ProcRoot, err)
		}
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	var kept []*procRec
	if keep != nil {
		read := pids[:0]
		for _, pid := range pids {
			if p := keep[pid]; p != nil {
				kept = append(kept, p)
			} else {
				read = append(read, pid)
			}
		}
		pids = read
		// The threads of kept processes, which no listing names.
		for _, p := range keep {
			if l := keep[p.tgid]; p.tgid != 0 && l != nil && l.startTime == p.leaderStart && slices.Contains(kept, l) {
				kept = append(kept, p)
			}
		}
	}

	self := readSelf(newWalker(fs, rootFD), pids)
	if dump.byPID != nil {
		newWalker(fs, rootFD).leaveOutIter(self.p)
	}

	var errs []error
	var threadsMissing string // why threads' own fd tables could not be found
	var errMu sync.Mutex
	newW := func() *walker { return newWalker(fs, rootFD) }

	// Processes are read in batches, each in two passes, so that the scan
	// holds at most two directory fds per process of one batch however many
	// processes the machine runs.
	const batchSize = 1024
	var fresh []*procRec
	var vanished, vanishedFDs atomic.Int64
	prog := s.progress(len(pids))
	for lo := 0; lo < len(pids); lo += batchSize {
		batch := pids[lo:min(lo+batchSize, len(pids))]

		// Pass 1: every process, its facts and the numbers in its fd table.
		procs := make([]*procRec, len(batch))
		parallel(ctx, s.opts.Workers, len(batch), newW, func(w *walker, i int) {
			defer prog.proc()
			p, gone, err := self.p, self.gone, self.err
			t := dump.task(batch[i])
			if batch[i] != self.pid {
				if t != nil {
					p, gone, err = w.readProcFrom(t, dump.byPID[t.PID])
				} else {
					p, gone, err = w.readProc(batch[i], false)
				}
			}
			switch {
			case gone:
				vanished.Add(1)
			case p != nil && t == nil && dump.wasMissed(p) && !dump.startedBefore(p):
				p.closeDirs() // started since the dump: the next scan reads it
			case err != nil:
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			default:
				procs[i] = p
				if p.ownTables, err = s.ownTables(w, p, t); err != nil {
					errMu.Lock()
					threadsMissing = cmp.Or(threadsMissing, "threads' own fd tables: "+err.Error())
					errMu.Unlock()
				}
			}
		})
		procs = slices.DeleteFunc(procs, func(p *procRec) bool { return p == nil })
		procs = append(procs, s.readThreads(newW(), procs)...)
		for _, p := range procs {
			p.bpfFiles = dump.of(p)
		}

		// Meanwhile, the sockets of the first batch's network namespaces
		// (usually all of them; the rest are dumped at the end).
		if lo == 0 && s.dumper != nil && !socketsEarly {
			sockWG.Go(func() { s.dumpSockets(procs, sockets) })
		}

		// Pass 2: every fd, in chunks so that one huge table spreads over workers.
		s.readFDs(ctx, newW, procs, &vanishedFDs, prog)
		fresh = append(fresh, procs...)
		if err := ctx.Err(); err != nil {
			sockWG.Wait()
			return nil, fmt.Errorf("scan: %w", err)
		}
	}
	st.VanishedProcesses = int(vanished.Load())
	if threadsMissing != "" {
		st.MissingFeatures = append(st.MissingFeatures, threadsMissing)
	}
	// By pid, threads read as processes among them.
	procs := append(kept, fresh...)
	slices.SortFunc(procs, func(a, b *procRec) int { return a.pid - b.pid })
	if !fromProc {
		setDescs(procs, dump)
	}
	nsCount := 0
	if s.dumper != nil {
		nsCount = s.countNetns(procs)
	}
	prog.phase("sockets", 0, 0)
	sockWG.Wait()
	if s.dumper != nil {
		s.dumpSockets(procs, sockets) // namespaces the first batch did not hold
		if s.opts.ProcRoot == "/proc" {
			nsCount += s.probeMissing(procs, sockets)
		}
	}
	addBPFPeers(procs, sockets)
	st.VanishedFDs = int(vanishedFDs.Load())
	st.NetNamespaces = nsCount

	prog.phase("graph", len(procs), len(procs))
	b := &builder{ctx: ctx, scanner: s, procs: procs, sockets: sockets, stats: &st, byDesc: dump.byPID != nil || fromProc, prev: s.lastProcs}
	s.lastProcs = nil
	if !s.opts.Once {
		s.lastProcs = procs
	}
	procs, sockets = nil, nil // the builder's now: see Options.Once
	snap := b.build()
	snap.Stats.Errors = append(snap.Stats.Errors, errorStrings(errs)...)
	snap.Stats.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	s.last = snap
	return snap, nil
}

// ownTables returns the threads of p with an fd table of their own: as
// the dump's task t says, or kcmp(2) on the live /proc (without kcmp they
// are not looked for).
func (s *Scanner) ownTables(w *walker, p *procRec, t *bpfiter.Task) ([]int, error) {
	if t != nil {
		return t.OwnFDTables, nil
	}
	if s.compare == nil || s.opts.ProcRoot != "/proc" {
		return nil, nil
	}
	return w.ownTableThreads(p)
}

// readThreads reads the threads of procs that have an fd table of their
// own, as processes of their own. They are few (most threads share their
// process's table), so one walker reads them.
func (s *Scanner) readThreads(w *walker, procs []*procRec) []*procRec {
	var threads []*procRec
	for _, p := range procs {
		for _, tid := range p.ownTables {
			if t, _, err := w.readThread(p, tid); err == nil && t != nil {
				threads = append(threads, t)
			}
		}
		p.ownTables = nil
	}
	return threads
}

// selfRead is what readSelf read of the scanning process.
type selfRead struct {
	pid  int // 0 when the scan does not cover the scanning process
	p    *procRec
	gone bool
	err  error
}

// readSelf reads the scanning process, if pids holds it, before any other:
// while it lists its own fd table, the scan holds no fds but the proc root
// and the ones readProc leaves out. The proc root's "self" link names the
// process as the root's pid namespace numbers it.
func readSelf(w *walker, pids []int) selfRead {
	link, err := readlinkAt(w.rootFD, "self", w.linkBuf)
	if err != nil {
		return selfRead{}
	}
	pid, err := strconv.Atoi(link)
	if err != nil || !slices.Contains(pids, pid) {
		return selfRead{}
	}
	p, gone, err := w.readProc(pid, true)
	return selfRead{pid: pid, p: p, gone: gone, err: err}
}

// readFDs reads every fd of procs (pass 2) and closes their directories.
func (s *Scanner) readFDs(ctx context.Context, newW func() *walker, procs []*procRec, vanished *atomic.Int64, prog *progress) {
	type chunk struct {
		p      *procRec
		lo, hi int
	}
	const chunkSize = 256
	var chunks []chunk
	for _, p := range procs {
		if p.fdDir < 0 {
			continue
		}
		p.fds = make([]*fdRec, len(p.fdNums))
		prog.moreFDs(len(p.fdNums))
		for lo := 0; lo < len(p.fdNums); lo += chunkSize {
			chunks = append(chunks, chunk{p, lo, min(lo+chunkSize, len(p.fdNums))})
		}
	}
	parallel(ctx, s.opts.Workers, len(chunks), newW, func(w *walker, i int) {
		c := chunks[i]
		recs := make([]fdRec, c.hi-c.lo) // one allocation for the chunk's records
		for j := c.lo; j < c.hi; j++ {
			f, num := &recs[j-c.lo], c.p.fdNums[j]
			read := false
			if r := bpfFile(c.p.bpfFiles, num, j); r != nil {
				read = w.readFDFrom(f, c.p, num, r)
			} else {
				read = w.readFD(f, c.p, num)
			}
			if !read {
				vanished.Add(1)
				f = nil
			}
			c.p.fds[j] = f
		}
		prog.fds(c.hi - c.lo)
	})
	for _, p := range procs {
		p.closeDirs()
		p.bpfFiles = nil
		p.fds = slices.DeleteFunc(p.fds, func(f *fdRec) bool { return f == nil })
		p.fdNums = nil
		slices.SortFunc(p.fds, func(a, b *fdRec) int { return a.num - b.num })
	}
}

// progress reports a scan's progress to Options.Progress; a nil *progress
// (no Progress set) does nothing.
type progress struct {
	report          func(phase string, done, total int)
	procsDone       atomic.Int64
	procs           int
	fdsDone, fdsAll atomic.Int64
}

func (s *Scanner) progress(procs int) *progress {
	if s.opts.Progress == nil {
		return nil
	}
	p := &progress{report: s.opts.Progress, procs: procs}
	p.report("processes", 0, procs)
	return p
}

func (p *progress) proc() {
	if p != nil {
		p.report("processes", int(p.procsDone.Add(1)), p.procs)
	}
}

func (p *progress) moreFDs(n int) {
	if p != nil {
		p.fdsAll.Add(int64(n))
	}
}

func (p *progress) fds(n int) {
	if p != nil {
		p.report("fds", int(p.fdsDone.Add(int64(n))), int(p.fdsAll.Load()))
	}
}

func (p *progress) phase(name string, done, total int) {
	if p != nil {
		p.report(name, done, total)
	}
}

// parallel runs fn(state, i) for i in [0, n) on up to workers goroutines,
// each with a state of its own made by newState; it stops handing out work
// when ctx is done.
func parallel[S any](ctx context.Context, workers, n int, newState func() S, fn func(st S, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			st := newState()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(st, i)
			}
		})
	}
	wg.Wait()
}

// countNetns counts the distinct network namespaces of procs.
func (s *Scanner) countNetns(procs []*procRec) int {
	seen := map[uint64]bool{}
	for _, p := range procs {
		if p.netns != 0 {
			seen[p.netns] = true
		}
	}
	return len(seen)
}

// dumpSockets dumps the sockets of every network namespace that a scanned
// process is in, entering each through the first of its processes whose
// /proc/PID/ns/net can be opened.
func (s *Scanner) dumpSockets(procs []*procRec, into *socketTable) {
	selfNetns, _ := procdir.ThreadNetNS() // 0 if unknown
	members := map[uint64][]*procRec{}
	var order []uint64
	for _, p := range procs {
		if p.netns == 0 {
			continue
		}
		if members[p.netns] == nil {
			order = append(order, p.netns)
		}
		members[p.netns] = append(members[p.netns], p)
	}
	for _, ns := range order {
		if into.tried[ns] {
			continue
		}
		into.tried[ns] = true
		if ns == selfNetns && s.opts.ProcRoot == "/proc" {
			if err := s.dumper.dump(-1, ns, into); err != nil {
				into.missing = append(into.missing, err.Error())
			}
			continue
		}
		var lastErr error
		done := false
		for _, p := range members[ns] {
			fd, ino, err := procdir.OpenNetNS(s.opts.ProcRoot, p.pid)
			if err != nil {
				lastErr = err
				continue
			}
			if ino != ns { // the pid was reused
				unix.Close(fd)
				continue
			}
			err = s.dumper.dump(fd, ns, into)
			unix.Close(fd)
			if err != nil {
				lastErr = err
				continue
			}
			done = true
			break
		}
		if !done && lastErr != nil {
			fallback := fmt.Errorf("no process readable")
			for _, p := range members[ns] {
				if fallback = dumpProcNet(s.opts.ProcRoot, p.pid, ns, into); fallback == nil {
					break
				}
			}
			if fallback == nil {
				into.missing = append(into.missing, fmt.Sprintf("%v (read /proc/PID/net instead: no unix peers)", lastErr))
			} else {
				into.missing = append(into.missing, fmt.Sprintf("sockets of netns %d: %v; %v", ns, lastErr, fallback))
			}
		}
	}
}

// userName returns the name of uid, or its number when it has none.
func (s *Scanner) userName(uid int) string {
	if uid < 0 {
		return ""
	}
	if name, ok := s.users[uid]; ok {
		return name
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	s.users[uid] = name
	return name
}

func errorStrings(errs []error) []string {
	out := make([]string, 0, len(errs))
	for _, err := range errs {
		out = append(out, err.Error())
	}
	return out
}
