//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tool is one command the benchmark measures.
type Tool struct {
	Name string   `json:"name"` // short key: snapshot (snapshot-bpf, snapshot-procfs), lsof, ss-x, ss-tan, floor, nsenter
	Argv []string `json:"argv"` // absolute path first
	// Scanner is a snapshot's --scanner ("" for the snapshot's default).
	Scanner string `json:"scanner,omitempty"`
	// OKExit lists exit codes besides 0 that still mean success.
	OKExit []int `json:"-"`
}

// Sample is one measured run of a tool.
type Sample struct {
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"` // user + system, the tool and nsenter
	// MaxRSSKiB is the larger of the tool's peak RSS and nsenter's; see Run.
	MaxRSSKiB int64 `json:"max_rss_kib"`
}

// Runner runs tools inside the workload's namespaces.
type Runner struct {
	NSEnter string        // path of nsenter
	Target  int           // the namespace's init, as our pid namespace sees it
	Timeout time.Duration // for one run
}

// Run runs t once with nsenter in the target's pid, mount and network
// namespaces, its standard output to out (nil: /dev/null). Either way the
// tool writes to a file, never a pipe, and the benchmark holds none of it.
//
// Wall time is from the monotonic clock, around starting and reaping
// nsenter. CPU time and peak RSS are from the rusage wait4 reports for
// nsenter, which includes the tool it waited for. Peak RSS has a floor: at
// exec the kernel carries the launching process's RSS high-water mark into
// the new program's, so nsenter's own peak is the benchmark's RSS, which the
// "nsenter + true" row shows. Keep the benchmark process small.
func (r Runner) Run(ctx context.Context, t Tool, out *os.File) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	argv := append([]string{"--target", strconv.Itoa(r.Target), "--pid", "--mount", "--net", "--"}, t.Argv...)
	cmd := exec.CommandContext(ctx, r.NSEnter, argv...)
	if out != nil {
		cmd.Stdout = out
	}
	stderr := &tailBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !slices.Contains(t.OKExit, exit.ExitCode()) {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", err, ctx.Err())
			}
			return Sample{}, fmt.Errorf("%s: %w%s", strings.Join(t.Argv, " "), err, stderr.suffix())
		}
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Sample{}, fmt.Errorf("%s: no rusage", strings.Join(t.Argv, " "))
	}
	return Sample{
		Wall:      wall,
		CPU:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		MaxRSSKiB: ru.Maxrss,
	}, nil
}

// Summary sums up the samples of one tool.
type Summary struct {
	WallMS     float64 `json:"wall_ms"` // median
	WallMinMS  float64 `json:"wall_min_ms"`
	WallMaxMS  float64 `json:"wall_max_ms"`
	CPUMS      float64 `json:"cpu_ms"` // median
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// Summarize returns the medians and extremes of samples.
func Summarize(samples []Sample) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	var wall, cpu []float64
	var rss int64
	for _, s := range samples {
		wall = append(wall, ms(s.Wall))
		cpu = append(cpu, ms(s.CPU))
		rss = max(rss, s.MaxRSSKiB)
	}
	return Summary{
		WallMS:     median(wall),
		WallMinMS:  slices.Min(wall),
		WallMaxMS:  slices.Max(wall),
		CPUMS:      median(cpu),
		PeakRSSMiB: float64(rss) / 1024,
	}
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is sorted in place.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}
