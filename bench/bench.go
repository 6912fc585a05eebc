//go:build linux

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// MinSeenFraction is the share of the workload's fds a snapshot must see for
// the benchmark to count at all.
const MinSeenFraction = 0.95

// Config configures one benchmark.
type Config struct {
	Scale float64 // workload scale: 1 is the full workload
	Runs  int     // measured runs of each tool, after one warm-up
	// Tools to measure, from AllTools(); empty means all.
	Tools []string
	// Threaded keeps the workers multi-threaded (see Plan.Threaded).
	Threaded bool
	// Scanners are the snapshots' --scanner (auto, bpf or procfs): one
	// snapshot row each, side by side. None: one snapshot with its
	// default. A bpf snapshot that cannot run (no BTF) is left out, with a
	// note.
	Scanners []string
	// Enforce makes Run fail when a target fails, not only report it.
	Enforce bool
	// Hold builds the workload, prints how to enter its namespaces and
	// keeps it until ctx ends, measuring nothing: for profiling by hand.
	Hold bool
	// Self is the fdscope binary; empty means the running one.
	Self string
	// BuildTimeout bounds building the workload; RunTimeout one tool run.
	BuildTimeout, RunTimeout time.Duration
	// Progress gets a line per step; nil discards.
	Progress io.Writer
}

func (c *Config) defaults() error {
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Runs == 0 {
		c.Runs = 5
	}
	if c.Runs < 0 {
		return fmt.Errorf("bench: runs %d: want at least 1", c.Runs)
	}
	if len(c.Tools) == 0 {
		c.Tools = AllTools()
	}
	for _, t := range c.Tools {
		if !slices.Contains(AllTools(), t) {
			return fmt.Errorf("bench: unknown tool %q (want %s)", t, strings.Join(AllTools(), ", "))
		}
	}
	if c.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own executable: %w", err)
		}
		c.Self = self
	}
	if c.BuildTimeout == 0 {
		c.BuildTimeout = 5 * time.Minute
	}
	if c.RunTimeout == 0 {
		c.RunTimeout = 2 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// Run builds the workload, measures every tool on it and returns the result.
// It fails when the workload or a tool fails, or when the snapshot saw less
// than MinSeenFraction of the workload's fds; with Enforce, also when a
// target fails. The result is returned whenever the measurement completed,
// with or without an error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	paths, err := lookTools()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("bench: must run as root: it builds its workload in new pid and network namespaces (try sudo)")
	}
	plan, err := NewPlan(cfg.Scale)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	plan.Threaded = cfg.Threaded
	exp := plan.Expect()
	fmt.Fprintf(cfg.Progress, "building the workload: %s processes, ~%s fds, %s unix sockets, %s TCP connections...\n",
		num(exp.Processes), num(exp.FDs), num(exp.UnixSockets), num(exp.TCPConns))
	w, err := StartWorkload(ctx, cfg.Self, paths["unshare"], plan, cfg.BuildTimeout)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if cfg.Hold {
		fmt.Fprintf(cfg.Progress, "built: %d processes, %d fds; holding it until interrupted. Enter it with:\n  %s --target %d --pid --mount --net -- COMMAND\n",
			w.Built.Processes, w.Built.FDs, paths["nsenter"], w.InitPID)
		<-ctx.Done()
		if err := w.Stop(); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		return nil, nil
	}
	res, err := measure(ctx, cfg, paths, w)
	err = errors.Join(err, w.Stop())
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return res, res.Check(cfg.Enforce)
}

// measure warms every tool up once, then runs them round-robin.
func measure(ctx context.Context, cfg Config, paths map[string]string, w *Workload) (*Result, error) {
	res := &Result{Machine: readMachine(ctx, cfg.Self), Plan: w.Plan, Expected: w.Expected, Built: w.Built, Runs: cfg.Runs}
	fmt.Fprintf(cfg.Progress, "built in %.1f s: %s processes, %s fds; warming up...\n",
		w.Built.BuildMS/1000, num(w.Built.Processes), num(w.Built.FDs))
	runner := Runner{NSEnter: paths["nsenter"], Target: w.InitPID, Timeout: cfg.RunTimeout}
	tools := makeTools(cfg.Self, cfg.Scanners, paths, cfg.Tools)
	byName := make(map[string]*ToolResult)
	out, err := os.CreateTemp(w.dir, "output-")
	if err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	measured := tools[:0]
	for _, t := range tools {
		tr := &ToolResult{Name: t.Name, Label: toolLabel(t), Command: toolCommand(t), Argv: t.Argv, Scanner: t.Scanner}
		if err := warmUp(ctx, runner, t, out, tr, res, w.Built.FDs); err != nil {
			if t.Scanner == "bpf" && len(cfg.Scanners) > 1 {
				// Where the kernel or the privileges do not allow it, the
				// other scanners are measured without it.
				res.Notes = append(res.Notes, fmt.Sprintf("%s left out: %v", tr.Command, err))
				continue
			}
			return nil, fmt.Errorf("warm-up of %s: %w", t.Name, err)
		}
		res.Tools = append(res.Tools, tr)
		byName[t.Name] = tr
		measured = append(measured, t)
	}
	tools = measured
	for r := range cfg.Runs {
		fmt.Fprintf(cfg.Progress, "run %d of %d\n", r+1, cfg.Runs)
		for j := range tools {
			t := tools[(r+j)%len(tools)] // rotate, so that no tool always follows the same one
			s, err := runner.Run(ctx, t, nil)
			if err != nil {
				return nil, fmt.Errorf("run %d: %w", r+1, err)
			}
			byName[t.Name].Samples = append(byName[t.Name].Samples, s)
		}
	}
	if !w.Running() {
		return nil, fmt.Errorf("the workload ended during the measurement%s", w.stderr.suffix())
	}
	for _, tr := range res.Tools {
		tr.Summary = Summarize(tr.Samples)
	}
	res.evaluate()
	return res, nil
}

// warmUp runs t once with its output to the file out, notes the output's
// size in tr, and what the snapshot and the floor saw in res.
func warmUp(ctx context.Context, runner Runner, t Tool, out *os.File, tr *ToolResult, res *Result, workloadFDs int) error {
	if err := out.Truncate(0); err != nil {
		return err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := runner.Run(ctx, t, out); err != nil {
		return err
	}
	fi, err := out.Stat()
	if err != nil {
		return err
	}
	tr.OutputKiB = float64(fi.Size()) / 1024
	switch {
	case IsSnapshot(t.Name):
		st, err := snapshotStats(out, fi.Size())
		if err != nil {
			return err
		}
		seen := newSeen(st, workloadFDs)
		tr.Saw = &seen
		if res.Seen == nil {
			res.Seen = &seen
		}
	case t.Name == ToolFloor:
		b, err := io.ReadAll(io.NewSectionReader(out, 0, min(fi.Size(), 4096)))
		if err != nil {
			return err
		}
		var f FloorStats
		if _, err := fmt.Sscanf(string(b), "processes %d fds %d readlinks %d", &f.Processes, &f.FDs, &f.Readlinks); err != nil {
			return fmt.Errorf("floor printed %q: %w", b, err)
		}
		res.Floor = &f
	}
	return nil
}

// snapshotStats reads the stats of a snapshot's JSON from the end of the
// file, where they are, without loading the graph: the benchmark must stay
// small (see Runner.Run).
func snapshotStats(f *os.File, size int64) (graph.Stats, error) {
	// Inside a JSON string a quote is escaped, so this can only be a key.
	key := []byte(`"stats":`)
	for _, n := range []int64{256 << 10, 16 << 20} {
		off := max(0, size-n)
		tail := make([]byte, size-off)
		if _, err := f.ReadAt(tail, off); err != nil {
			return graph.Stats{}, fmt.Errorf("read the snapshot: %w", err)
		}
		i := bytes.LastIndex(tail, key)
		if i < 0 {
			if off == 0 {
				break
			}
			continue
		}
		var st graph.Stats
		if err := json.NewDecoder(bytes.NewReader(tail[i+len(key):])).Decode(&st); err != nil {
			return graph.Stats{}, fmt.Errorf("decode the snapshot's stats: %w", err)
		}
		return st, nil
	}
	return graph.Stats{}, fmt.Errorf("the snapshot's output (%d bytes) ends with no stats", size)
}

// newSeen is what a snapshot's stats say it saw of a workload of workloadFDs.
func newSeen(st graph.Stats, workloadFDs int) Seen {
	seen := Seen{
		Processes: st.Processes, FDs: st.FDs, OFDs: st.OFDs, Sockets: st.Sockets,
		DeniedFDs: st.DeniedFDs, ScanMS: st.DurationMS, Sharing: st.Sharing,
		Scanner: st.Scanner, ScannerFallback: st.ScannerFallback,
		MissingFeatures: st.MissingFeatures, Errors: st.Errors,
	}
	if workloadFDs > 0 {
		seen.Fraction = float64(st.FDs) / float64(workloadFDs)
	}
	return seen
}
