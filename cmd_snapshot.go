package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/hostmap"
)

// runSnapshot prints one scan of the machine, or with --pid the focus view
// of one process: its subgraph as JSON, or its diagram as text art, SVG or
// the layout's JSON (docs/diagram.md).
func runSnapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snapshot", "fdscope snapshot [flags]: print one scan of the machine as JSON (docs/graph.md), or with\n"+
		"--pid the focus of one process: its subgraph as JSON, or its diagram as text art, SVG or\n"+
		"the layout's JSON (docs/diagram.md). Find a pid with pgrep, ps, or the dashboard's list.",
		"fdscope snapshot > graph.json                                 # the whole machine",
		"fdscope snapshot --pid \"$(pgrep -n bash)\" --format text       # the diagram of the newest bash",
		"fdscope snapshot --pid $$ --format text --ascii --width 80    # this shell, in plain ASCII",
		"fdscope snapshot --pid $$ --format svg --theme dark > sh.svg",
		"fdscope snapshot --format map                                 # the map of the host: who talks to whom",
		"fdscope snapshot --format map-svg > host.svg",
	)
	format := fs.String("format", "json", "output format: json; map, map-svg or map-json (the map of the host, docs/map.md); or with --pid also text, svg or layout (the diagram's layout as JSON)")
	var pid int
	fs.Func("pid", "focus on process `PID`: its fds, what they lead to and its peers (the scan still covers the machine)", func(s string) error {
		n, err := api.ParsePID(s)
		pid = n
		return err
	})
	ascii := fs.Bool("ascii", false, "text: plain ASCII (+-|) instead of box-drawing characters")
	width := fs.Int("width", 0, fmt.Sprintf("text, map: the widest a line may be, %d to %d (0: the terminal's width, or %d); svg, layout: wrap to this many cells, %d to %d (0: no wrapping)",
		api.MinTextWidth, api.MaxTextWidth, defaultTerminalWidth, api.MinLayoutWidth, api.MaxLayoutWidth))
	theme := fs.String("theme", "light", "svg, map-svg: light, dark or auto (follows the viewer's colour scheme)")
	expand := fs.Bool("expand", false, "text, svg, layout: one port per fd, no grouped stdio or collapsed fds")
	watches := fs.Bool("watches", false, "text, svg, layout: draw what epoll and inotify instances watch")
	procRoot := fs.String("proc", "/proc", "proc filesystem to read")
	backend := scannerFlag(fs)
	workers := fs.Int("workers", 0, "processes read in parallel (0: 2×GOMAXPROCS)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the scan to this file")
	if err := fs.parse(args, stdout); err != nil {
		return helpOrErr(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("snapshot: unexpected arguments %q", fs.Args())
	}
	if err := checkSnapshotFlags(fs.set(), *format, pid, *width, *theme); err != nil {
		return fmt.Errorf("snapshot: %w", err)
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
	defer tuneSnapshotGC(*procRoot)()
	sc := scan.New(scan.Options{ProcRoot: *procRoot, Workers: *workers, Backend: *backend, Once: true})
	snap, err := sc.Scan(ctx)
	if cerr := sc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if n := snap.Stats.DeniedProcesses; n > 0 {
		procs := strconv.Itoa(n) + " processes"
		if n == 1 {
			procs = "1 process"
		}
		fmt.Fprintf(stderr, "fdscope: the fds of %s could not be read (stats.denied_processes; see \"What you see, as which user\" in README.md)\n", procs)
	}
	if strings.HasPrefix(*format, "map") {
		m := hostmap.Build(graph.NewIndex(snap))
		cols := 0 // map-svg, map-json: as the page lays it out
		if *format == "map" {
			w := *width
			if w == 0 {
				w = min(max(terminalWidth(stdout), api.MinTextWidth), api.MaxTextWidth)
			}
			cols = max(1, w/hostmap.CellW)
		}
		l := hostmap.NewLayout(m, nil, cols)
		switch *format {
		case "map":
			_, err = io.WriteString(stdout, hostmap.Text(m, l))
		case "map-svg":
			_, err = io.WriteString(stdout, hostmap.SVG(m, l, *theme))
		default: // map-json
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", " ")
			err = enc.Encode(api.MapMessage{Map: m, Layout: l})
		}
		return err
	}
	if pid == 0 {
		return snap.WriteJSON(stdout)
	}
	focus := graph.NewIndex(snap).Focus(pid)
	if focus == nil {
		return fmt.Errorf("snapshot: no process %d (find one with pgrep or ps)", pid)
	}
	opts := diagram.Options{Width: *width, Expand: *expand, Watches: *watches}
	switch *format {
	case "json":
		return focus.WriteJSON(stdout)
	case "text":
		if opts.Width == 0 {
			opts.Width = min(max(terminalWidth(stdout), api.MinTextWidth), api.MaxTextWidth)
		}
		return diagram.Text(diagram.NewLayout(focus, pid, opts), stdout, diagram.TextOptions{Width: opts.Width, ASCII: *ascii})
	case "svg":
		return diagram.SVG(diagram.NewLayout(focus, pid, opts), stdout, diagram.SVGOptions{Theme: *theme})
	default: // layout
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(diagram.NewLayout(focus, pid, opts))
	}
}

// scannerFlag adds --scanner, the scan backend, to fs.
func scannerFlag(fs *flags) *scan.Backend {
	b := scan.BackendAuto
	fs.Var(&b, "scanner", "how fds are read: `auto` (bpf where the kernel and privileges allow, else procfs), "+
		"bpf (a BPF iterator: kernel ≥ 5.8 with BTF, root or CAP_BPF+CAP_PERFMON) or procfs (/proc alone); stats.scanner says which ran")
	return &b
}

// defaultTerminalWidth is the width of a text diagram when neither the
// terminal nor $COLUMNS says one.
const defaultTerminalWidth = 100

// checkSnapshotFlags checks the flags of snapshot together, with the
// bounds the API uses for the same parameters: set holds the flags given.
func checkSnapshotFlags(set map[string]bool, format string, pid, width int, theme string) error {
	// Which formats each format-specific flag applies to.
	applies := map[string][]string{
		"ascii":   {"text"},
		"theme":   {"svg", "map-svg"},
		"width":   {"text", "svg", "layout", "map"},
		"expand":  {"text", "svg", "layout"},
		"watches": {"text", "svg", "layout"},
	}
	switch format {
	case "json":
	case "map", "map-svg", "map-json":
		if pid != 0 {
			return fmt.Errorf("--format %s draws the whole host: no --pid", format)
		}
	case "text", "svg", "layout":
		if pid == 0 {
			return fmt.Errorf("--format %s draws one process: give --pid (find one with pgrep or ps)", format)
		}
	default:
		return fmt.Errorf("--format %q: unknown format (want json, map, map-svg, map-json, text, svg or layout)", format)
	}
	for _, name := range []string{"ascii", "theme", "width", "expand", "watches"} {
		if set[name] && !slices.Contains(applies[name], format) {
			return fmt.Errorf("--%s applies to --format %s only, not %s", name, strings.Join(applies[name], ", "), format)
		}
	}
	if err := api.CheckTheme(theme); err != nil {
		return fmt.Errorf("--theme: %w", err)
	}
	switch {
	case (format == "text" || format == "map") && width != 0 && api.CheckTextWidth(width) != nil:
		return fmt.Errorf("--width %d: out of range (want %d to %d cells, or 0 for the terminal's width)", width, api.MinTextWidth, api.MaxTextWidth)
	case format != "text" && format != "map" && api.CheckLayoutWidth(width) != nil:
		return fmt.Errorf("--width %d: out of range (want %d to %d cells, or 0 for no wrapping)", width, api.MinLayoutWidth, api.MaxLayoutWidth)
	}
	return nil
}

// terminalWidth is the width of the terminal w writes to, else $COLUMNS,
// else defaultTerminalWidth.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return defaultTerminalWidth
}
