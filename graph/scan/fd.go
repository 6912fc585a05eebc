package scan

import (
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// fdRec is what the scan learned about one fd.
type fdRec struct {
	proc *procRec
	num  int
	name string // readlink target as the kernel wrote it
	tgt  target
	info fdInfo
	st   unix.Stat_t // path and nsfs objects: what the fd leads to
	stOK bool
	err  string // what could not be read about this fd
	// closed is set when the fd turned out to have closed during the scan.
	closed bool

	ofd *ofdRec
	obj string // object node ID
}

// maxFDInfo bounds one fdinfo read: an epoll watching many fds has one line
// per watched fd, so a big server's can reach hundreds of KB.
const maxFDInfo = 16 << 20

// readFD reads one fd: its link, its fdinfo, and for path objects a stat.
// It returns nil when the fd closed meanwhile.
func (w *walker) readFD(p *procRec, num int) (*fdRec, bool) {
	name := itoa(num)
	link, err := readlinkAt(p.fdDir, name, w.linkBuf)
	if err != nil {
		if gone(err) {
			return nil, true
		}
		return &fdRec{proc: p, num: num, err: "readlink: " + errText(err), tgt: target{kind: graph.KindUnknown}}, false
	}
	f := &fdRec{proc: p, num: num, name: link, tgt: parseTarget(link)}
	var data []byte
	data, w.infoBuf, err = readFileAt(p.infoDir, name, w.infoBuf, maxFDInfo)
	if err != nil {
		if gone(err) {
			return nil, true
		}
		f.err = "fdinfo: " + errText(err)
	} else if f.info, err = parseFDInfo(data); err != nil {
		f.err = "fdinfo: " + err.Error()
	}
	switch f.tgt.kind {
	case "", graph.KindNsfs:
		if err := statAt(p.fdDir, name, &f.st); err == nil {
			f.stOK = true
		} else if gone(err) {
			return nil, true
		}
	}
	return f, false
}
