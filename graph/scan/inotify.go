//go:build linux

package scan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// An inotify watch pins an inode, not an open file: the watched file or
// directory often is open in no process, and then no fd leads to it. Its
// fdinfo line names it by device and inode, and, where the filesystem can
// encode one, by a file handle, which open_by_handle_at(2) turns back into
// the file (it needs CAP_DAC_READ_SEARCH, and an fd of the filesystem).
// The scanner opens the handle with O_PATH, stats it and reads its path,
// so that the object has the ID an open of it would give; where that
// cannot be done, the object is still made, known by device and inode.
//
// An inode and its handle say the same of it as long as it lives (a reused
// inode number comes with a new generation in the handle), so what was
// learned is kept across scans by (device, inode, handle): a process
// watching ten thousand directories costs ten thousand opens once, not at
// every scan. Only the watches of the last scan are kept.

// watchKey identifies a watched inode as an inotify fdinfo line names it.
type watchKey struct {
	sdev       uint32
	ino        uint64
	handleType int32
	handle     string
}

// watchedInode is what the scan learned of an inode that an inotify
// instance watches and no scanned fd holds.
type watchedInode struct {
	st    *fileStat // nil when the handle could not be opened
	name  string    // the path, as readlink of the opened handle shows it
	err   string    // why it could not be opened
	retry bool      // the failure may pass (no mount could be opened): not kept for the next scan
}

// addUnheldWatched adds an object for every inode watched by an inotify
// instance of a scanned process that is not already an object of the
// graph, so that addWatches finds it. It must run after every description
// and process has added its objects.
func (b *builder) addUnheldWatched() {
	var opener *handleOpener
	defer func() {
		if opener != nil {
			opener.close()
		}
	}()
	seen := map[watchKey]*watchedInode{}
	for _, p := range b.procs {
		for _, f := range p.fds {
			if f.kind != graph.KindAnon || f.info.extra == nil || len(f.info.extra.watches) == 0 || f.ofd == nil || f.ofd.members[0] != f {
				continue
			}
			for _, w := range f.info.extra.watches {
				if b.byKernelDevIno(w.sdev, w.ino) != noNode {
					continue // held, or added for an earlier watch
				}
				k := watchKey{w.sdev, w.ino, w.handleType, w.handle}
				wi := seen[k]
				if wi == nil {
					wi = b.scanner.watched[k]
				}
				if wi == nil {
					if opener == nil {
						opener = b.newHandleOpener()
					}
					wi = opener.open(p, w)
				}
				if !wi.retry {
					seen[k] = wi
				}
				b.watchedObject(w, wi)
			}
		}
	}
	b.scanner.watched = seen
}

// watchedObject adds the object of a watched inode and records it under
// the watch's device and inode.
func (b *builder) watchedObject(w inotifyWatch, wi *watchedInode) {
	major, minor := kernelDev(w.sdev)
	key := devIno{unix.Mkdev(major, minor), w.ino}
	if wi.st != nil {
		b.byDevIno[key] = b.pathObject("", wi.name, parseTarget(wi.name), wi.st, -1)
		return
	}
	dev := graph.DevString(major, minor)
	name := "inode " + strconv.FormatUint(w.ino, 10) + " on dev " + dev
	id := "unknown:" + name
	b.byDevIno[key] = b.addObject(&graph.Node{ID: id, Kind: graph.KindUnknown, Error: wi.err, Object: &graph.Object{
		Inode: w.ino, Dev: dev, Name: name, Detail: "watched by inotify, open in no scanned process",
	}})
}

// handleOpener opens watched inodes by their file handles during one
// scan. It keeps one fd per filesystem (per mount namespace) open until close.
type handleOpener struct {
	procRoot string
	live     bool                 // ProcRoot is the live /proc: system calls may be made
	mounts   map[mountKey]int     // an open directory of each filesystem, -1 if none could be opened
	infos    map[uint64][]mountFS // the mounts of each mount namespace read so far
	refused  error                // open_by_handle_at was refused (no CAP_DAC_READ_SEARCH): do not try again
	linkBuf  []byte
}

type mountKey struct {
	mntns uint64
	sdev  uint32
}

// mountFS is one mount point and the device of its filesystem.
type mountFS struct {
	dev        string // "maj:min" of the superblock
	root       bool   // the mount shows the filesystem's root
	mountPoint string
}

func (b *builder) newHandleOpener() *handleOpener {
	return &handleOpener{
		procRoot: b.scanner.opts.ProcRoot,
		live:     b.scanner.opts.ProcRoot == "/proc",
		mounts:   map[mountKey]int{},
		infos:    map[uint64][]mountFS{},
		linkBuf:  make([]byte, 4096+64),
	}
}

func (o *handleOpener) close() {
	for _, fd := range o.mounts {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// open opens the inode of watch w of process p by its handle, and says
// what it is.
func (o *handleOpener) open(p *procRec, w inotifyWatch) *watchedInode {
	switch {
	case w.handle == "":
		return &watchedInode{err: "no file handle: the filesystem cannot encode one"}
	case !o.live:
		return &watchedInode{err: "not opened: not the live /proc"}
	case o.refused != nil:
		return &watchedInode{err: o.refused.Error()}
	}
	mnt, err := o.mountFD(p, w.sdev)
	if err != nil {
		return &watchedInode{err: err.Error(), retry: true}
	}
	fd, err := unix.OpenByHandleAt(mnt, unix.NewFileHandle(w.handleType, []byte(w.handle)), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		err = fmt.Errorf("open_by_handle_at: %w", err)
		if errors.Is(err, unix.EPERM) {
			o.refused = err
		}
		return &watchedInode{err: err.Error()}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &watchedInode{err: fmt.Sprintf("stat of the opened handle: %v", err), retry: true}
	}
	if st.Ino != w.ino {
		// The fd is of another filesystem (one mounted over the mount point).
		return &watchedInode{err: fmt.Sprintf("the handle opened inode %d, not %d", st.Ino, w.ino), retry: true}
	}
	name, err := readlinkAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), o.linkBuf)
	if err != nil {
		name = ""
	}
	return &watchedInode{st: newFileStat(&st), name: name}
}

// mountFD returns an open directory on the filesystem sdev (a kernel dev_t)
// as process p's mount namespace mounts it, opened through p's root.
func (o *handleOpener) mountFD(p *procRec, sdev uint32) (int, error) {
	k := mountKey{p.mntns, sdev}
	if fd, ok := o.mounts[k]; ok {
		if fd < 0 {
			return -1, errors.New("no mount of its filesystem could be opened")
		}
		return fd, nil
	}
	o.mounts[k] = -1
	mounts, ok := o.infos[p.mntns]
	if !ok {
		mounts = readMounts(o.procRoot, p.pid)
		o.infos[p.mntns] = mounts
	}
	dev := graph.DevString(kernelDev(sdev))
	root := o.procRoot + "/" + strconv.Itoa(p.pid) + "/root"
	var lastErr error = errors.New("its filesystem is not mounted in the watcher's mount namespace")
	for _, whole := range []bool{true, false} { // a mount of the filesystem's root first
		for _, m := range mounts {
			if m.dev != dev || m.root != whole {
				continue
			}
			// A directory only: opening a device or fifo mounted on a file could act on it.
			fd, err := unix.Open(root+m.mountPoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
			if err != nil {
				lastErr = fmt.Errorf("open mount %s: %w", m.mountPoint, err)
				continue
			}
			o.mounts[k] = fd
			return fd, nil
		}
	}
	return -1, lastErr
}

// readMounts reads the mounts of process pid's mount namespace; none when
// they cannot be read.
func readMounts(procRoot string, pid int) []mountFS {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil
	}
	proc, err := fs.Proc(pid)
	if err != nil {
		return nil
	}
	infos, err := proc.MountInfo()
	if err != nil {
		return nil
	}
	out := make([]mountFS, 0, len(infos))
	for _, m := range infos {
		out = append(out, mountFS{dev: m.MajorMinorVer, root: m.Root == "/", mountPoint: unescapeMount(m.MountPoint)})
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 for a space, \011, \012,
// \134) that mountinfo writes in paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
