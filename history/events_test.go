package history

import (
	"testing"
	"time"

	"github.com/fdscope/fdscope/live/livetest"
)

// TestReplacedFD: an fd whose number names another object in the next
// version (closed and opened again between two scans, or dup2) is
// recorded as closed, with its old object, and opened, with its new one.
func TestReplacedFD(t *testing.T) {
	w := livetest.NewWorld()
	pid := w.Start(1, "server")
	before := stateOf(w.Snapshot(), nil)
	ino := w.ReplaceWithSocket(pid, 1)
	evs := diffStates(before, stateOf(w.Snapshot(), nil), time.Now())
	var closed, opened bool
	for _, ev := range evs {
		if ev.PID != pid || ev.FD != 1 {
			continue
		}
		switch ev.Kind {
		case FDClose:
			closed = ev.Inode != ino
		case FDOpen:
			opened = ev.Inode == ino
		}
	}
	if !closed || !opened {
		t.Errorf("fd 1 replaced by socket:[%d]: want its old object closed and the socket opened; events %+v", ino, evs)
	}
	if again := diffStates(stateOf(w.Snapshot(), nil), stateOf(w.Snapshot(), nil), time.Now()); len(again) != 0 {
		t.Errorf("two states of one snapshot differ: %+v", again)
	}
}
