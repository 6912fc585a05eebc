//go:build linux

package scan

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

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

// bpfDump is one dump of the iterator, by process.
type bpfDump struct {
	byPID map[int][]bpfiter.File // each sorted by fd number
}

func (s *Scanner) dumpBPF() (*bpfDump, error) {
	files, err := s.bpf.iter.Files()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	d := &bpfDump{byPID: map[int][]bpfiter.File{}}
	for lo := 0; lo < len(files); {
		hi := lo + 1
		for hi < len(files) && files[hi].PID == files[lo].PID {
			hi++
		}
		fs := files[lo:hi:hi]
		slices.SortFunc(fs, func(a, b bpfiter.File) int { return cmp.Compare(a.FD, b.FD) })
		d.byPID[files[lo].PID] = fs
		lo = hi
	}
	return d, nil
}

// of returns the dump's fds of p, nil when the dump did not see p (it
// started later, or its pid is another process's since).
func (d *bpfDump) of(p *procRec) []bpfiter.File {
	fs := d.byPID[p.pid]
	if len(fs) == 0 || fs[0].StartTime != p.startTime {
		return nil
	}
	return fs
}

// bpfFile returns the record of fd num in fs, or nil.
func bpfFile(fs []bpfiter.File, num int) *bpfiter.File {
	i, ok := slices.BinarySearchFunc(fs, num, func(f bpfiter.File, num int) int { return cmp.Compare(f.FD, num) })
	if !ok {
		return nil
	}
	return &fs[i]
}

// readFDFrom reads one fd that the dump holds (r). The dump has what
// fdinfo says of every fd, so fdinfo is read only for anon inodes, pidfds
// and character devices (eventfd ids, epoll targets, inotify watches, pty
// indexes); sockets and pipes need no syscall at all, other files a
// readlink and, for path objects, a stat. It returns false when the fd
// closed meanwhile.
func (w *walker) readFDFrom(f *fdRec, p *procRec, num int, r *bpfiter.File) bool {
	if r.FSMagic == bpfiter.AnonInodeMagic || r.FSMagic == bpfiter.PidfsMagic || r.IMode&unix.S_IFMT == unix.S_IFCHR {
		return w.readFD(f, p, num)
	}
	*f = fdRec{proc: p, num: num, info: fdInfo{
		pos: r.Pos, ino: r.Inode, flags: r.Flags, mntID: int32(r.MntID), scmFDs: int32(r.InFlight),
	}}
	switch r.FSMagic {
	case bpfiter.SockfsMagic:
		f.kind, f.inode = graph.KindSocket, r.Inode
		return true
	case bpfiter.PipefsMagic:
		f.kind, f.inode = graph.KindPipe, r.Inode
		return true
	}
	return w.readTarget(f, p, itoa(num))
}

// setDescs gives every fd of procs its description's number in the dump
// d, or 0 when d does not hold it (then kcmp settles its sharing).
func setDescs(procs []*procRec, d *bpfDump) {
	for _, p := range procs {
		fs := d.of(p)
		for _, f := range p.fds {
			f.desc = 0
			if r := bpfFile(fs, f.num); r != nil {
				f.desc = r.Desc
			}
		}
	}
}

// addBPFPeers fills in the unix peers the socket dumps lacked (a network
// namespace that could not be entered) from the iterator, which reads
// them in every namespace.
func addBPFPeers(procs []*procRec, d *bpfDump, sockets *socketTable) {
	for _, p := range procs {
		for _, r := range d.of(p) {
			if r.Family != unix.AF_UNIX || r.PeerInode == 0 {
				continue
			}
			if s := sockets.byInode[r.Inode]; s != nil && s.unixPeer == 0 {
				s.unixPeer = r.PeerInode
			}
		}
	}
}

// groupByDesc splits fds into descriptions by their dump's numbers; false
// when one of them has none.
func groupByDesc(fds []*fdRec) ([][]*fdRec, bool) {
	for _, f := range fds {
		if f.desc == 0 {
			return nil, false
		}
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
