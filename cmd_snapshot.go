package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/fdscope/fdscope/graph/scan"
)

// runSnapshot prints one scan of the machine.
func runSnapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "json", "output format: json")
	procRoot := fs.String("proc", "/proc", "proc filesystem to read")
	workers := fs.Int("workers", 0, "processes read in parallel (0: 2×GOMAXPROCS)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the scan to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	snap, err := scan.New(scan.Options{ProcRoot: *procRoot, Workers: *workers}).Scan(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	switch *format {
	case "json":
		return snap.WriteJSON(stdout)
	default:
		return fmt.Errorf("snapshot: unknown format %q (want json)", *format)
	}
}
