//go:build linux

package scan

import (
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// fdRec is what the scan learned about one fd. A scan keeps one per fd, so
// it holds nothing it can derive: what the link leads to beyond its kind and
// inode is parsed again from name when needed (target), and the fdinfo
// lines only a few kinds of fd have are kept out of line (fdInfo.extra).
type fdRec struct {
	proc *procRec
	num  int
	// closed is set when the fd turned out to have closed during the scan.
	closed bool
	name   string     // readlink target as the kernel wrote it; "" for sockets and pipes known by mount
	kind   graph.Kind // what the link leads to: socket, pipe, anon, nsfs, unknown, or "" for a path
	inode  uint64     // socket, pipe, nsfs, some anon: the inode in the link's brackets
	info   fdInfo
	st     *fileStat // path and nsfs objects: what the fd leads to; nil if not stat'ed
	err    string    // what could not be read about this fd
	// desc numbers the fd's open file description in the scan's BPF dump;
	// 0 when the scan has none or the dump does not hold the fd. peer is
	// a unix socket's peer's inode as the dump read it, in every network
	// namespace (0 if none).
	desc, peer uint64

	id  string // the fd node's ID, once made
	ofd *ofdRec
}

// target returns what f's link leads to, as parseTarget read it.
func (f *fdRec) target() target {
	if f.name == "" {
		return target{kind: f.kind, inode: f.inode}
	}
	return parseTarget(f.name)
}

// setTarget records what f's link leads to.
func (f *fdRec) setTarget(t target) {
	f.kind, f.inode = t.kind, t.inode
}

// fileStat is the part of a stat(2) the graph uses.
type fileStat struct {
	dev, ino, rdev uint64
	mode           uint32
}

func newFileStat(st *unix.Stat_t) *fileStat {
	return &fileStat{dev: st.Dev, ino: st.Ino, rdev: st.Rdev, mode: st.Mode}
}

// linkName returns what readlink shows for f.
func (f *fdRec) linkName() string {
	if f.name != "" {
		return f.name
	}
	switch f.kind {
	case graph.KindSocket:
		return graph.SocketID(f.inode)
	case graph.KindPipe:
		return graph.PipeID(f.inode)
	}
	return ""
}

// maxFDInfo bounds one fdinfo read: an epoll watching many fds has one line
// per watched fd, so a big server's can reach hundreds of KB.
const maxFDInfo = 16 << 20

// readFD reads one fd into f: its fdinfo, its link, and for path objects a
// stat. It returns false when the fd closed meanwhile.
//
// The fdinfo comes first because it names the mount the file is on: every
// socket lives on the kernel's one internal sockfs mount and every pipe on
// its pipefs mount, so once the walker has seen one of each (by readlink),
// later sockets and pipes are known from their fdinfo's mnt_id and ino
// without a readlink — for most fds of a busy host, half the syscalls.
func (w *walker) readFD(f *fdRec, p *procRec, num int) bool {
	name := itoa(num)
	*f = fdRec{proc: p, num: num}
	if !w.readInfo(f, p, name) {
		return false
	}
	if f.err == "" && f.info.mntID != 0 {
		switch f.info.mntID {
		case w.sockMnt:
			f.kind, f.inode = graph.KindSocket, f.info.ino
			return true
		case w.pipeMnt:
			f.kind, f.inode = graph.KindPipe, f.info.ino
			return true
		}
	}
	return w.readTarget(f, p, name)
}

// readInfo reads the fdinfo of fd name of p into f.info, or what kept it
// from it into f.err. It returns false when the fd closed meanwhile.
func (w *walker) readInfo(f *fdRec, p *procRec, name string) bool {
	var data []byte
	var err error
	data, w.infoBuf, err = readFileAt(p.infoDir, name, w.infoBuf, maxFDInfo)
	switch {
	case gone(err):
		return false
	case err != nil:
		f.err = "fdinfo: " + errText(err)
	default:
		if f.info, err = parseFDInfo(data); err != nil {
			f.err = "fdinfo: " + err.Error()
		}
	}
	return true
}

// readTarget reads what fd name of p leads to into f: its link, and for
// path objects a stat. It returns false when the fd closed meanwhile.
func (w *walker) readTarget(f *fdRec, p *procRec, name string) bool {
	link, err := readlinkAt(p.fdDir, name, w.linkBuf)
	if err != nil {
		if gone(err) {
			return false
		}
		f.err = "readlink: " + errText(err)
		f.kind = graph.KindUnknown
		return true
	}
	f.name = link
	f.setTarget(parseTarget(link))
	switch f.kind {
	case graph.KindSocket:
		if f.err == "" && f.info.ino == f.inode {
			w.sockMnt = f.info.mntID
		}
	case graph.KindPipe:
		if f.err == "" && f.info.ino == f.inode {
			w.pipeMnt = f.info.mntID
		}
	case "", graph.KindNsfs:
		var st unix.Stat_t
		if err := statAt(p.fdDir, name, &st); err == nil {
			f.st = newFileStat(&st)
		} else if gone(err) {
			return false
		}
	}
	return true
}
