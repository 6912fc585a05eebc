//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/fdscope/fdscope/bench"
	"github.com/fdscope/fdscope/graph/scan"
)

// runBench measures a full snapshot against lsof and ss on a synthetic
// workload (package bench). `bench worker`, `bench floor` and `bench pagetouch` are hidden
// subcommands the benchmark runs itself.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "worker":
			return bench.RunWorker(ctx, args[1:], stdout, stderr)
		case "floor":
			return bench.RunFloor(ctx, args[1:], stdout, stderr)
		case "pagetouch":
			return bench.RunPageTouch(stdout)
		}
	}
	fs := newFlags("bench", "fdscope bench [flags]: build a synthetic workload (processes with sockets, pipes and files;\n"+
		"root for the network namespaces) and time a full snapshot of it against lsof and ss\n"+
		"(docs/performance.md). Targets that fail are reported, and fail the command with --enforce.",
		"fdscope bench --scale 0.02 --runs 1    # a quick, small run (task bench:ci)",
		"fdscope bench --json-file result.json  # the full benchmark: ~500 processes, ~65k fds (minutes)",
	)
	scale := fs.Float64("scale", 1, "workload scale: 1 is ~500 processes and ~65k fds; CI uses 0.02")
	runs := fs.Int("runs", 5, "measured runs of each tool, after one warm-up; the table shows medians")
	asJSON := fs.Bool("json", false, "print the result as JSON instead of a table")
	jsonFile := fs.String("json-file", "", "also write the result as JSON to this file")
	scanner := fs.String("scanner", "bpf,procfs", "the snapshots' --scanner, comma-separated, one row each: auto, bpf, procfs (a bpf snapshot that cannot run is left out, with a note)")
	threaded := fs.Bool("threaded", false, "keep the workload's processes multi-threaded Go programs (lsof then lists every fd once per thread)")
	enforce := fs.Bool("enforce", false, "exit non-zero when a target fails, not only report it")
	tools := fs.String("tools", strings.Join(bench.AllTools(), ","), "tools to measure, comma-separated")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	hold := fs.Bool("hold", false, "build the workload and keep it until interrupted, printing how to enter it; measure nothing")
	if err := fs.parse(args, stdout); err != nil {
		return helpOrErr(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	var scanners []string
	for _, sc := range strings.Split(*scanner, ",") {
		if sc == "" {
			continue
		}
		if _, err := scan.ParseBackend(sc); err != nil {
			return fmt.Errorf("bench: --scanner: %w", err)
		}
		if slices.Contains(scanners, sc) {
			return fmt.Errorf("bench: --scanner: %s twice", sc)
		}
		scanners = append(scanners, sc)
	}
	cfg := bench.Config{Scale: *scale, Runs: *runs, Threaded: *threaded, Scanners: scanners, Enforce: *enforce, Hold: *hold, Tools: strings.Split(*tools, ","), Progress: stderr}
	if *quiet {
		cfg.Progress = nil
	}
	res, err := bench.Run(ctx, cfg)
	if res != nil {
		var werr error
		if *asJSON {
			werr = res.WriteJSON(stdout)
		} else {
			werr = res.WriteTable(stdout)
		}
		if werr == nil && *jsonFile != "" {
			werr = writeJSONFile(*jsonFile, res)
		}
		if werr != nil && err == nil {
			err = werr
		}
		if failed := res.FailedTargets(); failed > 0 && !*enforce && err == nil {
			fmt.Fprintf(stderr, "fdscope: bench: %d of %d targets failed; reported only, not an error (--enforce makes it one)\n", failed, len(res.Targets))
		}
	}
	return err
}

func writeJSONFile(path string, res *bench.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := res.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
