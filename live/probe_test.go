package live

import (
	"context"
	"os"
	"testing"

	"github.com/fdscope/fdscope/internal/procdir"
)

type countingSockets struct {
	netns map[uint64]int
}

func (c *countingSockets) ProbeSockets(_ context.Context, netns map[uint64]int) (map[uint64]uint64, error) {
	c.netns = netns
	return map[uint64]uint64{1: 42}, nil
}

// TestProcProberLive probes the real /proc: this process is there with the
// start time its stat shows, and opening files raises its fd count.
func TestProcProberLive(t *testing.T) {
	socks := &countingSockets{}
	p := NewProcProber("", socks)
	ctx := context.Background()
	before, err := p.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	st, ok := before.Procs[self]
	if !ok {
		t.Fatalf("probe lacks this process (%d)", self)
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := procdir.ParseStartTime(b); st.Start != want {
		t.Errorf("start = %d, want %d", st.Start, want)
	}
	if st.FDs < 3 {
		t.Errorf("fd count = %d, want at least 3", st.FDs)
	}
	var files []*os.File
	for range 10 {
		f, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	after, err := p.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Procs[self].FDs; got != st.FDs+10 {
		t.Errorf("fd count after opening 10 files = %d, want %d", got, st.FDs+10)
	}
	if len(socks.netns) == 0 || after.Sockets[1] != 42 {
		t.Errorf("socket prober got namespaces %v and gave %v", socks.netns, after.Sockets)
	}
	if _, err := NewProcProber(t.TempDir()+"/missing", nil).Probe(ctx); err == nil {
		t.Error("probing a missing root succeeded")
	}
}
