//go:build linux

package scan

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// ErrParse is wrapped by every error about malformed /proc content.
var ErrParse = errors.New("malformed proc file")

// fdInfo is what /proc/PID/fdinfo/N says about one fd. A scan keeps one per
// fd, so what only a few kinds of fd have is kept out of line, in extra.
type fdInfo struct {
	pos    int64
	ino    uint64
	flags  uint32 // octal in the file; includes O_CLOEXEC, which belongs to the fd
	mntID  int32
	scmFDs int32    // unix socket: fds in flight
	extra  *fdExtra // nil unless one of its lines was seen
}

// fdExtra holds the fdinfo lines of eventfds, epolls, inotify instances,
// pidfds, pty masters, timerfds and signalfds.
type fdExtra struct {
	eventfdID int64 // eventfd: eventfd-id, -1 if absent
	ttyIndex  int   // pty master: tty-index, -1 if absent
	pidfdPid  int   // pidfd: Pid (-1 if the process is gone), 0 if absent
	detail    string

	tfds    []epollTarget  // eventpoll: one per watched fd
	watches []inotifyWatch // inotify: one per watch
}

// noExtra is what an fdinfo without any of fdExtra's lines says of them.
func noExtra() fdExtra { return fdExtra{eventfdID: -1, ttyIndex: -1} }

// more returns info's extra lines, allocating them on first use.
func (info *fdInfo) more() *fdExtra {
	if info.extra == nil {
		e := noExtra()
		info.extra = &e
	}
	return info.extra
}

// rare returns a copy of info's extra lines, defaults when it has none.
func (info *fdInfo) rare() fdExtra {
	if info.extra == nil {
		return noExtra()
	}
	return *info.extra
}

// eventfdID is the eventfd-id line, -1 if absent.
func (info *fdInfo) eventfdID() int64 {
	if info.extra == nil {
		return -1
	}
	return info.extra.eventfdID
}

// ttyIndex is the tty-index line of a pty master, -1 if absent.
func (info *fdInfo) ttyIndex() int {
	if info.extra == nil {
		return -1
	}
	return info.extra.ttyIndex
}

// epollTarget is one "tfd:" line of an epoll fdinfo: a watched fd number (in
// the process that added it) and the inode and device of its file.
type epollTarget struct {
	fd    int
	ino   uint64
	sdev  uint32 // kernel-internal dev_t: major<<20 | minor
	event uint32
}

// inotifyWatch is one "inotify wd:" line: the watched inode and device,
// and the file handle that opens the inode with open_by_handle_at(2).
type inotifyWatch struct {
	ino        uint64
	sdev       uint32
	mask       uint32
	handleType int32  // fhandle-type; meaningful only with a handle
	handle     string // f_handle's bytes; "" when the filesystem gives none
}

// parseFDInfo parses the content of /proc/PID/fdinfo/N. Unknown lines are
// ignored; known lines with bad values are errors wrapping ErrParse.
func parseFDInfo(b []byte) (fdInfo, error) {
	var info fdInfo
	var seen int
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		var err error
		switch string(key) {
		case "pos":
			info.pos, err = strconv.ParseInt(string(val), 10, 64)
			seen |= 1
		case "flags":
			var f uint64
			f, err = strconv.ParseUint(string(val), 8, 32)
			info.flags = uint32(f)
			seen |= 2
		case "mnt_id":
			var n int64
			n, err = strconv.ParseInt(string(val), 10, 32)
			info.mntID = int32(n)
		case "ino":
			info.ino, err = strconv.ParseUint(string(val), 10, 64)
		case "scm_fds":
			var n int64
			n, err = strconv.ParseInt(string(val), 10, 32)
			info.scmFDs = int32(n)
		case "eventfd-id":
			info.more().eventfdID, err = strconv.ParseInt(string(val), 10, 64)
		case "eventfd-count":
			info.more().detail = "count " + string(val)
		case "tty-index":
			info.more().ttyIndex, err = strconv.Atoi(string(val))
		case "Pid":
			info.more().pidfdPid, err = strconv.Atoi(string(val))
		case "clockid":
			info.more().detail = "clockid " + string(val)
		case "sigmask":
			info.more().detail = "sigmask " + string(val)
		case "tfd":
			var t epollTarget
			t, err = parseEpollTarget(val)
			e := info.more()
			e.tfds = append(e.tfds, t)
		case "inotify wd":
			var w inotifyWatch
			w, err = parseInotifyWatch(val)
			e := info.more()
			e.watches = append(e.watches, w)
		}
		if err != nil {
			return info, fmt.Errorf("%w: fdinfo line %q: %w", ErrParse, line, err)
		}
	}
	if seen != 3 {
		return info, fmt.Errorf("%w: fdinfo without pos and flags", ErrParse)
	}
	return info, nil
}

// parseEpollTarget parses what follows "tfd:" in an epoll fdinfo:
//
//	5 events:       1f data:                5  pos:0 ino:22ed sdev:9
func parseEpollTarget(val []byte) (epollTarget, error) {
	var t epollTarget
	fields := bytes.Fields(val)
	if len(fields) == 0 {
		return t, errors.New("empty tfd")
	}
	fd, err := strconv.Atoi(string(fields[0]))
	if err != nil {
		return t, fmt.Errorf("tfd: %w", err)
	}
	t.fd = fd
	var have int
	for i := 1; i < len(fields); i++ {
		k, v, inline := bytes.Cut(fields[i], []byte(":"))
		if inline && len(v) == 0 && i+1 < len(fields) { // "events:   1f"
			i++
			v = fields[i]
		}
		switch string(k) {
		case "events":
			e, err := strconv.ParseUint(string(v), 16, 32)
			if err != nil {
				return t, fmt.Errorf("events: %w", err)
			}
			t.event = uint32(e)
		case "ino":
			if t.ino, err = strconv.ParseUint(string(v), 16, 64); err != nil {
				return t, fmt.Errorf("ino: %w", err)
			}
			have |= 1
		case "sdev":
			d, err := strconv.ParseUint(string(v), 16, 32)
			if err != nil {
				return t, fmt.Errorf("sdev: %w", err)
			}
			t.sdev = uint32(d)
			have |= 2
		}
	}
	if have != 3 {
		return t, errors.New("tfd without ino and sdev")
	}
	return t, nil
}

// parseInotifyWatch parses what follows "inotify wd:":
//
//	1 ino:3c4a3 sdev:fe00000 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a3c4030000000000
//
// The three fhandle fields are absent where the filesystem cannot encode one.
func parseInotifyWatch(val []byte) (inotifyWatch, error) {
	var w inotifyWatch
	var have int
	handleBytes := -1
	for _, f := range bytes.Fields(val) {
		k, v, _ := bytes.Cut(f, []byte(":"))
		var err error
		var n uint64
		switch string(k) {
		case "fhandle-bytes":
			n, err = strconv.ParseUint(string(v), 16, 8)
			handleBytes = int(n)
		case "fhandle-type":
			var t int64
			t, err = strconv.ParseInt(string(v), 16, 32)
			w.handleType = int32(t)
		case "f_handle":
			var h []byte
			h, err = hex.AppendDecode(nil, v)
			w.handle = string(h)
		case "ino":
			n, err = strconv.ParseUint(string(v), 16, 64)
			w.ino = n
			have |= 1
		case "sdev":
			n, err = strconv.ParseUint(string(v), 16, 32)
			w.sdev = uint32(n)
			have |= 2
		case "mask":
			n, err = strconv.ParseUint(string(v), 16, 32)
			w.mask = uint32(n)
		}
		if err != nil {
			return w, fmt.Errorf("%s: %w", k, err)
		}
	}
	if have != 3 {
		return w, errors.New("inotify watch without ino and sdev")
	}
	if handleBytes >= 0 && handleBytes != len(w.handle) {
		return w, fmt.Errorf("fhandle-bytes %d, but f_handle has %d", handleBytes, len(w.handle))
	}
	return w, nil
}

// kernelDev splits a kernel-internal dev_t (major<<20 | minor), as fdinfo
// prints it, into "maj:min".
func kernelDev(d uint32) (major, minor uint32) {
	return d >> 20, d & (1<<20 - 1)
}
