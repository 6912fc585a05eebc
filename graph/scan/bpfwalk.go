//go:build linux

package scan

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/bpfiter"
)

// The BPF walk. Where the backend is bpf, a scan first dumps every fd of
// the pid namespace with the BPF iterator; the /proc walk then takes from
// the dump what fdinfo and kcmp would have told it (flags, position,
// mount, inode, fds in flight, sharing) and reads /proc only for what the
// dump lacks: the process facts, the fd names, the stat of path objects,
// and the fdinfo of the kinds whose extra lines the graph uses. Both walks
// fill the same records, which one builder turns into the graph.

// bpfState is a Scanner's BPF iterator: loaded at the first scan that
// wants it, kept until Close.
type bpfState struct {
	iter *bpfiter.Iterator
	// fallback is why the iterator could not be loaded; loading is then
	// not tried again.
	fallback string
}

// backend decides, once, which backend the scans run, loading the
// iterator if it is wanted. It returns an error only when bpf was asked
// for and cannot run.
func (s *Scanner) backend() (Backend, error) {
	want := s.opts.Backend
	if want == "" || want == BackendProcfs {
		return BackendProcfs, nil
	}
	if s.bpf.iter == nil && s.bpf.fallback == "" {
		s.bpf.iter, s.bpf.fallback = s.openIter()
	}
	if s.bpf.iter != nil {
		return BackendBPF, nil
	}
	if want == BackendBPF {
		return "", fmt.Errorf("scan: bpf scanner: %s", s.bpf.fallback)
	}
	return BackendProcfs, nil
}

// openIter loads the iterator, or says why it cannot.
func (s *Scanner) openIter() (*bpfiter.Iterator, string) {
	if s.opts.ProcRoot != "/proc" {
		return nil, "the proc root is " + s.opts.ProcRoot + ", not /proc"
	}
	// The iterator numbers processes as the reader's pid namespace does;
	// /proc must be that namespace's.
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, "/proc belongs to another pid namespace"
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, "the kernel has no BTF (/sys/kernel/btf/vmlinux): " + errText(errors.Unwrap(err))
	}
	it, err := bpfiter.Open()
	if err != nil {
		return nil, err.Error()
	}
	return it, ""
}

// Close releases what the Scanner holds in the kernel: the BPF iterator,
// if a scan loaded it. A Scanner may scan again after Close (and loads
// the iterator again).
func (s *Scanner) Close() error {
	it := s.bpf.iter
	s.bpf = bpfState{}
	if it == nil {
		return nil
	}
	return it.Close()
}

// bpfDump is one dump of the iterators: the processes, and their fds by
// fd table: a process's by its pid, a thread's with a table of its own by
// its thread id.
type bpfDump struct {
	tasks []bpfiter.Task         // by pid
	byPID map[int][]bpfiter.File // each sorted by fd number
	// startTicks is when the dump began, in clock ticks since boot (the
	// unit of a process's start time).
	startTicks uint64
	// missed are processes that /proc lists, that the iterator did not
	// visit, and that the scan reads from /proc (see missedBy).
	missed []int
}

// dumpBPF reads the processes, hands them to withTasks (if not nil), and
// then reads their fds.
func (s *Scanner) dumpBPF(withTasks func([]bpfiter.Task)) (*bpfDump, error) {
	startTicks := bootTicks()
	tasks, err := s.bpf.iter.Tasks()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if withTasks != nil {
		withTasks(tasks)
	}
	files, err := s.bpf.iter.Files()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	// The iterator reads one task's table at a time.
	d := &bpfDump{tasks: tasks, byPID: map[int][]bpfiter.File{}, startTicks: startTicks}
	for lo := 0; lo < len(files); {
		hi := lo + 1
		for hi < len(files) && files[hi].TID == files[lo].TID {
			hi++
		}
		fs := files[lo:hi:hi]
		slices.SortFunc(fs, func(a, b bpfiter.File) int { return cmp.Compare(a.FD, b.FD) })
		d.byPID[files[lo].TID] = fs
		lo = hi
	}
	// The scanning process's own table changes while the scan runs (the
	// dump's readers, the socket dumps' netlink sockets and namespaces):
	// it is read from /proc, as the procfs walk reads it.
	delete(d.byPID, os.Getpid())
	return d, nil
}

// netnsMembers returns the dumped processes as far as dumpSockets needs
// them: their pids and network namespaces.
func netnsMembers(tasks []bpfiter.Task) []*procRec {
	procs := make([]*procRec, 0, len(tasks))
	for i := range tasks {
		if t := &tasks[i]; t.NetNS != 0 {
			procs = append(procs, &procRec{pid: t.PID, startTime: t.StartTime, netns: t.NetNS})
		}
	}
	return procs
}

// bootTicks is the time since boot in clock ticks (USER_HZ, 100 a second
// on every architecture Linux runs Go on), 0 if the clock cannot be read.
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano()) / (1e9 / 100)
}

// missedBy returns the pids of listed (a listing of /proc) that dumped,
// the dump's pids, lacks; both in order. Most are processes started since
// the dump, which the next scan reads; but the kernel's task iterator can
// also skip a process that /proc shows (this machine's pid 1, a sandbox's
// init: /proc lists it, every child's ppid names it, the iterator never
// visits it), and a process missing from the graph is worse than one read
// the slower way. The scan reads them from /proc and keeps those that
// started before the dump (see startedBefore).
func missedBy(dumped, listed []int) []int {
	var missed []int
	for _, pid := range listed {
		if _, ok := slices.BinarySearch(dumped, pid); !ok {
			missed = append(missed, pid)
		}
	}
	return missed
}

// wasMissed says whether p is one of the processes the dump missed.
func (d *bpfDump) wasMissed(p *procRec) bool {
	_, ok := slices.BinarySearch(d.missed, p.pid)
	return ok
}

// startedBefore says whether p, a process the dump missed and the scan
// read from /proc, was there when the dump began: one started since is
// left to the next scan, as the processes started after the listing of a
// procfs scan are, since the fds it shares with dumped processes would not
// be known as shared.
func (d *bpfDump) startedBefore(p *procRec) bool {
	return p.startTime < d.startTicks
}

// pids returns the pids of the dump's processes, in order.
func (d *bpfDump) pids() []int {
	pids := make([]int, len(d.tasks))
	for i := range d.tasks {
		pids[i] = d.tasks[i].PID
	}
	return pids
}

// task returns the dump's process pid, or nil.
func (d *bpfDump) task(pid int) *bpfiter.Task {
	i, ok := slices.BinarySearchFunc(d.tasks, pid, func(t bpfiter.Task, pid int) int { return cmp.Compare(t.PID, pid) })
	if !ok {
		return nil
	}
	return &d.tasks[i]
}

// readProcFrom is readProc for a process the dump holds (t, and its fds
// fs): the facts of stat, status and ns/ come from the dump, and so does
// the list of its fds, so that /proc is read only for its cmdline and
// cgroup, cwd, root and exe, and opened for the fds that need a readlink
// or their fdinfo.
func (w *walker) readProcFrom(t *bpfiter.Task, fs []bpfiter.File) (p *procRec, vanished bool, err error) {
	p = &procRec{
		pid: t.PID, startTime: t.StartTime, uid: t.EUID,
		stat:  procfs.ProcStat{PID: t.PID, PPID: t.PPID, Comm: t.Comm, NumThreads: t.Threads, Starttime: t.StartTime},
		netns: t.NetNS, mntns: t.MntNS, pidns: t.PidNS, fdDir: -1, infoDir: -1,
	}
	procDir, err := openDir(w.rootFD, itoa(t.PID))
	if err != nil {
		if gone(err) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("pid %d: open proc dir: %w", t.PID, err)
	}
	defer unix.Close(procDir)
	if t.KernelThread {
		// /proc adds to a kernel thread's comm (a kworker's workqueue).
		proc, err := w.fs.Proc(t.PID)
		if err == nil {
			var st procfs.ProcStat
			if st, err = proc.Stat(); err == nil {
				p.stat.Comm = st.Comm
			}
		}
		if gone(err) {
			return nil, true, nil
		}
	}
	// A longer cmdline is cut at maxCmdline, as the procfs library cuts it.
	var cmdline []byte
	if cmdline, w.infoBuf, err = readFileAt(procDir, "cmdline", w.infoBuf, maxCmdline); err == nil || errors.Is(err, ErrParse) {
		cmdline = cmdline[:min(len(cmdline), maxCmdline)]
		p.cmdline = strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " ")
	}
	w.readLinks(p, procDir)

	// Open the fd directory even when the table is empty: where it cannot
	// be, the /proc walk says why.
	if opened, vanished := p.openFDDir(procDir); !opened {
		if vanished {
			return nil, true, nil
		}
		return p, false, nil
	}
	if len(fs) == 0 {
		p.closeDirs()
		return p, false, nil
	}
	p.fdCount = len(fs)
	p.fdNums = make([]int, len(fs))
	info := false
	for i := range fs {
		p.fdNums[i] = fs[i].FD
		info = info || needsFDInfo(&fs[i])
	}
	return w.openFDInfo(p, procDir, info)
}

// maxCmdline bounds a cmdline read, as the procfs library's.
const maxCmdline = 1 << 20

// needsFDInfo says whether the fdinfo of r must be read: for the lines the
// dump lacks (eventfd ids, epoll targets, inotify watches, pty indexes,
// pidfd pids, timerfd clocks, signalfd masks), or the name of an anon
// inode it did not hold.
func needsFDInfo(r *bpfiter.File) bool {
	switch {
	case r.FSMagic == bpfiter.AnonInodeMagic:
		return !anonNamed(r) || anonWithInfo[r.AnonName]
	case r.FSMagic == bpfiter.PidfsMagic:
		return true
	}
	return r.IMode&unix.S_IFMT == unix.S_IFCHR
}

// anonWithInfo are the anon inodes whose fdinfo has lines the graph uses.
var anonWithInfo = map[string]bool{
	"[eventfd]": true, "[eventpoll]": true, "inotify": true,
	"[timerfd]": true, "[signalfd]": true, "[pidfd]": true,
}

// anonNamed says whether r holds its anon inode's whole name: one that
// fills the record's field may have been cut.
func anonNamed(r *bpfiter.File) bool {
	return r.AnonName != "" && len(r.AnonName) < bpfiter.AnonNameMax
}

// of returns the dump's fds of p, nil when the dump did not see p (it
// started later, or its pid is another process's since). A thread read
// as a process has its own table's (the dump gives them its process's
// start time).
func (d *bpfDump) of(p *procRec) []bpfiter.File {
	fs := d.byPID[p.pid]
	start := p.startTime
	if p.tgid != 0 {
		start = p.leaderStart
	}
	if len(fs) == 0 || fs[0].StartTime != start || fs[0].PID != cmp.Or(p.tgid, p.pid) {
		return nil
	}
	return fs
}

// bpfFile returns the record of fd num in fs, or nil; hint is where it
// likely is (the bpf walk lists a table in the dump's order).
func bpfFile(fs []bpfiter.File, num, hint int) *bpfiter.File {
	if hint >= 0 && hint < len(fs) && fs[hint].FD == num {
		return &fs[hint]
	}
	i, ok := slices.BinarySearchFunc(fs, num, func(f bpfiter.File, num int) int { return cmp.Compare(f.FD, num) })
	if !ok {
		return nil
	}
	return &fs[i]
}

// readFDFrom reads one fd that the dump holds (r). The dump has what
// fdinfo says of every fd and the name of anon inodes, so fdinfo is read
// only where needsFDInfo says, a readlink only for files that are not
// sockets, pipes or named anon inodes, and a stat for path objects. It
// returns false when the fd closed meanwhile.
func (w *walker) readFDFrom(f *fdRec, p *procRec, num int, r *bpfiter.File) bool {
	named := r.FSMagic == bpfiter.AnonInodeMagic && anonNamed(r)
	if !named && needsFDInfo(r) {
		return w.readFD(f, p, num)
	}
	*f = fdRec{proc: p, num: num, info: fdInfo{
		pos: r.Pos, ino: r.Inode, flags: r.Flags, mntID: int32(r.MntID), scmFDs: int32(r.InFlight),
	}}
	switch {
	case r.FSMagic == bpfiter.SockfsMagic:
		f.kind, f.inode = graph.KindSocket, r.Inode
		return true
	case r.FSMagic == bpfiter.PipefsMagic:
		f.kind, f.inode = graph.KindPipe, r.Inode
		return true
	case named:
		if anonWithInfo[r.AnonName] && !w.readInfo(f, p, itoa(num)) {
			return false
		}
		f.name = "anon_inode:" + r.AnonName
		f.setTarget(parseTarget(f.name))
		return true
	}
	return w.readTarget(f, p, itoa(num))
}

// setDescs gives every fd of procs its description's number in the dump
// d, or 0 when d does not hold it (then kcmp settles its sharing).
func setDescs(procs []*procRec, d *bpfDump) {
	for _, p := range procs {
		fs := d.of(p)
		for i, f := range p.fds {
			f.desc, f.peer = 0, 0
			if r := bpfFile(fs, f.num, i); r != nil {
				f.desc = r.Desc
				if r.Family == unix.AF_UNIX {
					f.peer = r.PeerInode
				}
			}
		}
	}
}

// addBPFPeers fills in the unix peers the socket dumps lacked (a network
// namespace that could not be entered) from the iterator, which reads
// them in every namespace.
func addBPFPeers(procs []*procRec, sockets *socketTable) {
	for _, p := range procs {
		for _, f := range p.fds {
			if f.peer == 0 || f.kind != graph.KindSocket {
				continue
			}
			if s := sockets.byInode[f.inode]; s != nil && s.unixPeer == 0 {
				s.unixPeer = f.peer
			}
		}
	}
}

// groupByDesc splits fds into descriptions by their dump's numbers; false
// when one of them has none.
func groupByDesc(fds []*fdRec) ([][]*fdRec, bool) {
	one := true // most groups are one description (inherited stdio, a socket)
	for _, f := range fds {
		if f.desc == 0 {
			return nil, false
		}
		one = one && f.desc == fds[0].desc
	}
	if one {
		return [][]*fdRec{fds}, true
	}
	sorted := slices.Clone(fds)
	slices.SortFunc(sorted, func(a, b *fdRec) int {
		return cmp.Or(cmp.Compare(a.desc, b.desc), cmp.Compare(a.proc.pid, b.proc.pid), cmp.Compare(a.num, b.num))
	})
	var groups [][]*fdRec
	for i, f := range sorted {
		if i > 0 && f.desc == sorted[i-1].desc {
			groups[len(groups)-1] = append(groups[len(groups)-1], f)
			continue
		}
		groups = append(groups, []*fdRec{f})
	}
	return groups, true
}

// ownBPFLinks are the links of the fds the iterator holds in the scanning
// process: its program, its link, and the program's BTF.
var ownBPFLinks = []string{"anon_inode:bpf-prog", "anon_inode:bpf_link", "anon_inode:btf"}

// leaveOutIter removes from the scanning process's listed fd table the
// fds its BPF iterator holds, as the scan's own directories are.
func (w *walker) leaveOutIter(p *procRec) {
	if p == nil || p.fdDir < 0 {
		return
	}
	var own []int
	for _, num := range p.fdNums {
		if link, err := readlinkAt(p.fdDir, itoa(num), w.linkBuf); err == nil && slices.Contains(ownBPFLinks, link) {
			own = append(own, num)
		}
	}
	p.leaveOut(own...)
}
