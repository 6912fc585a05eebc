//go:build linux

package live

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/fdscope/fdscope/graph/sockdiag"
)

// procEvent builds a proc connector datagram holding one event.
func procEvent(what uint32, data ...uint32) []byte {
	ev := make([]byte, sizeofCnMsg+sizeofProcEventHdr+4*len(data))
	ne := binary.NativeEndian
	ne.PutUint32(ev[sizeofCnMsg:], what)
	for i, d := range data {
		ne.PutUint32(ev[sizeofCnMsg+sizeofProcEventHdr+4*i:], d)
	}
	return sockdiag.AppendMessage(nil, netlink.Header{Type: netlink.Done}, ev)
}

func TestProcessEvent(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"process fork", procEvent(procEventFork, 1, 1, 50, 50), true},
		{"thread clone", procEvent(procEventFork, 1, 1, 51, 50), false},
		{"exec", procEvent(procEventExec, 50, 50, 0, 0), true},
		{"process exit", procEvent(procEventExit, 50, 50, 0, 0), true},
		{"thread exit", procEvent(procEventExit, 51, 50, 0, 0), false},
		{"uid change", procEvent(0x4, 50, 50, 0, 0), false},
		{"short", procEvent(procEventExec), false},
		{"thread exit, then exec", append(procEvent(procEventExit, 51, 50, 0, 0), procEvent(procEventExec, 50, 50, 0, 0)...), true},
		{"a bad length, then exec", append([]byte{1, 0, 0, 0}, procEvent(procEventExec, 50, 50, 0, 0)...), false},
		{"empty", nil, false},
	} {
		if got := processEvent(tt.b); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestListenProcEvents starts a process and expects to hear of it.
func TestListenProcEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the proc connector needs root")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := ListenProcEvents(ctx)
	if err != nil {
		t.Skipf("no proc connector here: %v", err)
	}
	// Drain what happened before.
	select {
	case <-ch:
	case <-time.After(50 * time.Millisecond):
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no event for a process that started and exited")
	}
}

// TestParseProcEvents checks the events handed to a sink: the process's
// pid (its tgid), the exit status, and nothing for threads.
func TestParseProcEvents(t *testing.T) {
	b := append(procEvent(procEventExec, 51, 50, 0, 0), procEvent(procEventExit, 52, 50, 0, 0)...) // a thread exits
	b = append(b, procEvent(procEventExit, 50, 50, 3<<8, 17)...)
	b = append(b, procEvent(procEventFork, 1, 1, 60, 60)...)
	var got []ProcEvent
	if !parseProcEvents(b, func(e ProcEvent) { got = append(got, e) }) {
		t.Fatal("no process event found")
	}
	if len(got) != 2 || got[0].Kind != "exec" || got[0].PID != 50 || got[1].Kind != "exit" || got[1].PID != 50 || got[1].ExitStatus != 3<<8 {
		t.Errorf("events: %+v, want the exec and the exit of pid 50 (status 3<<8)", got)
	}
}
