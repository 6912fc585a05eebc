//go:build linux

package scan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/bpfiter"
	"github.com/fdscope/fdscope/internal/procdir"
)

// procRec is what the scan learned about one process.
type procRec struct {
	pid       int
	startTime uint64
	node      int32 // its node's index in the build
	stat      procfs.ProcStat
	uid       int
	cmdline   string
	netns     uint64
	mntns     uint64
	pidns     uint64
	cgroup    string // see parseCgroup; "" when unknown
	fdCount   int
	err       string // why the fd table could not be read

	// Open /proc/PID/fd and /proc/PID/fdinfo, -1 when closed; the bpf walk
	// opens fdinfo only for a table with fds whose fdinfo it reads.
	fdDir, infoDir int
	fdNums         []int
	fds            []*fdRec
	bpfFiles       []bpfiter.File // what the scan's BPF dump holds of the process, until its fds are read

	cwd, root, exe *pathObject

	// tgid is, for a thread with an fd table of its own (read as a process
	// of its own, with its thread id as pid), its process's pid, and
	// leaderStart its process's start time; 0 for a process.
	tgid        int
	leaderStart uint64
	// ownTables are the process's threads with an fd table of their own,
	// found by the first pass.
	ownTables []int
}

// pathObject is a path a process holds outside its fd table (cwd, root, exe).
type pathObject struct {
	name string
	st   *fileStat
}

// readProc reads the facts of one process and lists its fd table, leaving
// the table's directories open for the fd pass. vanished is true when the
// process went away; err is an unexpected failure.
//
// self says that pid is the scanning process itself: the directories the
// scan opens for it while it lists the table (/proc/PID and /proc/PID/fd)
// are then left out of it, so that two scans of a process at rest agree.
// The caller must make sure that no other fd of the scan is open meanwhile
// but the proc root's, which stays in the table: opened first, it has the
// same number and directory in every scan of a process at rest.
func (w *walker) readProc(pid int, self bool) (p *procRec, vanished bool, err error) {
	proc, err := w.fs.Proc(pid)
	if err != nil {
		return nil, true, nil
	}
	st, err := proc.Stat()
	if err != nil {
		if gone(err) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("pid %d: %w", pid, err)
	}
	p = &procRec{pid: pid, startTime: st.Starttime, stat: st, uid: -1, fdDir: -1, infoDir: -1}
	if status, err := proc.NewStatus(); err == nil {
		p.uid = int(status.UIDs[1])
	} else if gone(err) {
		return nil, true, nil
	}
	if args, err := proc.CmdLine(); err == nil {
		p.cmdline = strings.Join(args, " ")
	}
	procDir, err := openDir(w.rootFD, itoa(pid))
	if err != nil {
		if gone(err) {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("pid %d: open proc dir: %w", pid, err)
	}
	defer unix.Close(procDir)
	// 0 when unknown.
	p.netns, _ = procdir.NamespaceAt(procDir, "net")
	p.mntns, _ = procdir.NamespaceAt(procDir, "mnt")
	p.pidns, _ = procdir.NamespaceAt(procDir, "pid")
	w.readLinks(p, procDir)

	if opened, vanished := p.openFDDir(procDir); !opened {
		if vanished {
			return nil, true, nil
		}
		return p, false, nil
	}
	var fdStat unix.Stat_t
	if unix.Fstat(p.fdDir, &fdStat) == nil {
		p.fdCount = int(fdStat.Size) // the number of open fds (Linux ≥ 6.2)
	}
	p.fdNums, err = procdir.ListNumbers(p.fdDir, w.direntBuf, nil)
	if err != nil {
		p.closeDirs()
		if gone(err) {
			return nil, true, nil
		}
		p.err = "fd table: " + errText(err)
		return p, false, nil
	}
	if self {
		p.leaveOut(procDir, p.fdDir)
	}
	if len(p.fdNums) > p.fdCount {
		p.fdCount = len(p.fdNums)
	}
	if len(p.fdNums) == 0 {
		p.closeDirs()
		return p, false, nil
	}
	return w.openFDInfo(p, procDir, true)
}

// readThread reads thread tid of the process p, which has an fd table of
// its own, as a process of its own: /proc/TID has the thread's stat, fd
// table and links (hidden from the listing of /proc, it can be opened).
func (w *walker) readThread(p *procRec, tid int) (t *procRec, vanished bool, err error) {
	t, vanished, err = w.readProc(tid, false)
	if t != nil {
		t.tgid, t.leaderStart = p.pid, p.startTime
	}
	return t, vanished, err
}

// ownTableThreads returns the threads of p whose fd table is not p's (it
// was cloned without CLONE_FILES, or unshared it), asking kcmp(2)
// KCMP_FILES of each thread; err says why it could not be asked.
func (w *walker) ownTableThreads(p *procRec) ([]int, error) {
	if p.stat.NumThreads <= 1 || p.err != "" {
		return nil, nil
	}
	dir, err := openDir(w.rootFD, itoa(p.pid)+"/task")
	if err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("pid %d: open task dir: %w", p.pid, err)
	}
	defer unix.Close(dir)
	tids, err := procdir.ListNumbers(dir, w.direntBuf, nil)
	if err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("pid %d: list tasks: %w", p.pid, err)
	}
	var own []int
	for _, tid := range tids {
		if tid == p.pid {
			continue
		}
		switch shared, err := kcmpFiles(p.pid, tid); {
		case err == nil && !shared:
			own = append(own, tid)
		case err != nil && !gone(err):
			return nil, fmt.Errorf("kcmp KCMP_FILES: %w", err)
		}
	}
	return own, nil
}

// openFDDir opens p's fd directory; where it cannot, vanished says that
// the process went away, or p.err why.
func (p *procRec) openFDDir(procDir int) (opened, vanished bool) {
	fd, err := openDir(procDir, "fd")
	switch {
	case err == nil:
		p.fdDir = fd
		return true, false
	case gone(err):
		return false, true
	}
	p.err = "fd table: " + errText(err)
	return false, false
}

// openFDInfo checks that p's fd table, listed and open, can be read, and
// opens its fdinfo directory when want says that it is needed. vanished
// is true when the process went away.
func (w *walker) openFDInfo(p *procRec, procDir int, want bool) (_ *procRec, vanished bool, _ error) {
	// Some processes list their fd table but refuse every readlink, even to
	// root: find out once, on the first fd, rather than once per fd.
	if _, err := readlinkAt(p.fdDir, itoa(p.fdNums[0]), w.linkBuf); denied(err) {
		p.closeDirs()
		p.err = "fd table: " + errText(err)
		return p, false, nil
	}
	if !want {
		return p, false, nil
	}
	var err error
	p.infoDir, err = openDir(procDir, "fdinfo")
	if err != nil {
		p.closeDirs()
		if gone(err) {
			return nil, true, nil
		}
		p.err = "fdinfo: " + errText(err)
		return p, false, nil
	}
	return p, false, nil
}

// readLinks reads what a process's directory says besides its fd table
// and the facts of stat, status and ns/: its cgroup, and cwd, root and exe.
func (w *walker) readLinks(p *procRec, procDir int) {
	var cg []byte
	var err error
	if cg, w.infoBuf, err = readFileAt(procDir, "cgroup", w.infoBuf, maxCgroupFile); err == nil {
		p.cgroup = parseCgroup(cg)
	}
	p.cwd = w.readPathObject(procDir, "cwd")
	p.root = w.readPathObject(procDir, "root")
	p.exe = w.readPathObject(procDir, "exe")
}

// readPathObject reads one of a process's own links (cwd, root, exe); nil
// when it cannot be read, which is normal for kernel threads and for other
// users' processes.
func (w *walker) readPathObject(procDir int, name string) *pathObject {
	target, err := readlinkAt(procDir, name, w.linkBuf)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if statAt(procDir, name, &st) != nil {
		return nil
	}
	return &pathObject{name: target, st: newFileStat(&st)}
}

// leaveOut removes fds the scan itself holds from the listed fd table and
// from its count.
func (p *procRec) leaveOut(own ...int) {
	n := len(p.fdNums)
	p.fdNums = slices.DeleteFunc(p.fdNums, func(fd int) bool { return slices.Contains(own, fd) })
	p.fdCount -= n - len(p.fdNums)
}

func (p *procRec) closeDirs() {
	if p.fdDir >= 0 {
		unix.Close(p.fdDir)
		p.fdDir = -1
	}
	if p.infoDir >= 0 {
		unix.Close(p.infoDir)
		p.infoDir = -1
	}
}

// errText describes a syscall error briefly: "permission denied".
func errText(err error) string {
	if errno, ok := err.(unix.Errno); ok {
		return errno.Error()
	}
	return err.Error()
}
