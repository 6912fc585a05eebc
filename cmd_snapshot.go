package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
)

// runSnapshot prints one scan of the machine, or with --pid the focus view
// of one process: its subgraph as JSON, or its diagram as text art, SVG or
// the layout's JSON (docs/diagram.md).
func runSnapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "json", "output format: json, or with --pid also text, svg or layout (the diagram's layout as JSON)")
	pid := fs.Int("pid", 0, "focus on this process: its fds, what they lead to and its peers (the scan still covers the machine)")
	ascii := fs.Bool("ascii", false, "text: plain ASCII (+-|) instead of box-drawing characters")
	width := fs.Int("width", 0, "text: the widest a line may be (0: the terminal's width, or 100); svg, layout: wrap to this many cells")
	theme := fs.String("theme", "light", "svg: light, dark or auto (follows the viewer's colour scheme)")
	expand := fs.Bool("expand", false, "text, svg, layout: one port per fd, no grouped stdio or collapsed fds")
	watches := fs.Bool("watches", false, "text, svg, layout: draw what epoll and inotify instances watch")
	procRoot := fs.String("proc", "/proc", "proc filesystem to read")
	workers := fs.Int("workers", 0, "processes read in parallel (0: 2×GOMAXPROCS)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the scan to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *format {
	case "json":
	case "text", "svg", "layout":
		if *pid <= 0 {
			return fmt.Errorf("snapshot: --format %s draws one process: give --pid", *format)
		}
	default:
		return fmt.Errorf("snapshot: unknown format %q (want json, text, svg or layout)", *format)
	}
	switch *theme {
	case "light", "dark", "auto":
	default:
		return fmt.Errorf("snapshot: unknown theme %q (want light, dark or auto)", *theme)
	}
	if *width < 0 {
		return fmt.Errorf("snapshot: --width %d: must not be negative", *width)
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
	if *pid <= 0 {
		return snap.WriteJSON(stdout)
	}
	focus := graph.NewIndex(snap).Focus(*pid)
	if focus == nil {
		return fmt.Errorf("snapshot: no process %d", *pid)
	}
	opts := diagram.Options{Width: *width, Expand: *expand, Watches: *watches}
	switch *format {
	case "json":
		return focus.WriteJSON(stdout)
	case "text":
		if opts.Width == 0 {
			opts.Width = terminalWidth(stdout)
		}
		return diagram.Text(diagram.NewLayout(focus, *pid, opts), stdout, diagram.TextOptions{Width: opts.Width, ASCII: *ascii})
	case "svg":
		return diagram.SVG(diagram.NewLayout(focus, *pid, opts), stdout, diagram.SVGOptions{Theme: *theme})
	default: // layout
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(diagram.NewLayout(focus, *pid, opts))
	}
}

// terminalWidth is the width of the terminal w writes to, else $COLUMNS,
// else 100.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 100
}
