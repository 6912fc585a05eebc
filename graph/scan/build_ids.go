//go:build linux

package scan

import (
	"unsafe"

	"github.com/fdscope/fdscope/graph"
)

// idArena makes node IDs in shared blocks of memory: one allocation for
// up to some hundreds of IDs, where formatting each on its own takes
// several. A block lives as long as any of its IDs (a live scanner keeps
// the IDs of fds that survive), so blocks start small and double up to
// idArenaBlock: at most about half of what an arena holds is unused.
// Bytes are only ever appended to a block, never rewritten, so the
// strings made from it never change. An idArena is for one goroutine.
type idArena struct {
	buf []byte
}

// idArenaBlock is the largest size of a block; maxIDLen is more than any
// ID the arena makes ("ofd:" and three 20-digit numbers).
const (
	idArenaBlock = 16 << 10
	maxIDLen     = 80
)

// fdID returns graph.FDID(pid, startTime, fd).
func (a *idArena) fdID(pid int, startTime uint64, fd int) string {
	i := a.room()
	a.buf = graph.AppendFDID(a.buf, pid, startTime, fd)
	return a.since(i)
}

// ofdID returns graph.OFDID(pid, startTime, fd).
func (a *idArena) ofdID(pid int, startTime uint64, fd int) string {
	i := a.room()
	a.buf = graph.AppendOFDID(a.buf, pid, startTime, fd)
	return a.since(i)
}

// socketID returns graph.SocketID(inode).
func (a *idArena) socketID(inode uint64) string {
	i := a.room()
	a.buf = graph.AppendSocketID(a.buf, inode)
	return a.since(i)
}

// room makes sure the block has room for one more ID and returns where it
// will start.
func (a *idArena) room() int {
	if cap(a.buf)-len(a.buf) < maxIDLen {
		a.buf = make([]byte, 0, min(max(2*cap(a.buf), 4*maxIDLen), idArenaBlock))
	}
	return len(a.buf)
}

// since returns the ID appended from i on.
func (a *idArena) since(i int) string {
	if i == len(a.buf) {
		return ""
	}
	return unsafe.String(&a.buf[i], len(a.buf)-i)
}
