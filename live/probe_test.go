package live

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    uint64
		wantErr bool
	}{
		{"plain", "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100 18446744073709551615", 42, false},
		{"comm with spaces and parens", "77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0", 123456789, false},
		{"no paren", "77 init S 1", 0, true},
		{"short", "77 (x) S 1 2 3", 0, true},
		{"not a number", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 zz 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartTime([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStartTime = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errStat) {
				t.Errorf("error %v does not wrap errStat", err)
			}
		})
	}
}

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
	if want, _ := parseStartTime(b); st.Start != want {
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

func FuzzParseStartTime(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100 18446744073709551615"))
	f.Add([]byte("77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0\n"))
	f.Add([]byte("77 (x) S 1 2 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseStartTime(b)
		if err != nil && !errors.Is(err, errStat) {
			t.Fatalf("error %v does not wrap errStat", err)
		}
		if err != nil && v != 0 {
			t.Fatalf("value %d with an error", v)
		}
	})
}
