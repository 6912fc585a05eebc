//go:build linux

package scan

import (
	"testing"

	"github.com/fdscope/fdscope/graph"
)

// TestIDArena makes enough IDs to fill several blocks and checks each
// against the graph package's own, after all are made (an ID must not
// change when later ones are appended).
func TestIDArena(t *testing.T) {
	var a idArena
	type made struct{ got, want string }
	var all []made
	for i := range 2000 {
		pid, start := 1000+i, uint64(1)<<40+uint64(i)
		all = append(all,
			made{a.fdID(pid, start, i), graph.FDID(pid, start, i)},
			made{a.ofdID(pid, start, i), graph.OFDID(pid, start, i)},
			made{a.socketID(uint64(i) << 33), graph.SocketID(uint64(i) << 33)})
	}
	for _, m := range all {
		if m.got != m.want {
			t.Fatalf("got %q, want %q", m.got, m.want)
		}
	}
	if cap(a.buf) != idArenaBlock {
		t.Errorf("last block %d bytes, want %d", cap(a.buf), idArenaBlock)
	}
}
