package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/procfs"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/conntrace"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/history"
	"github.com/fdscope/fdscope/live"
	"github.com/fdscope/fdscope/static"
	"github.com/fdscope/fdscope/web"
)

// shutdownGrace is how long serve waits, after SIGINT or SIGTERM, for
// websocket clients to take their close frame and for requests to finish;
// the process exits within 2 s whatever they do.
const shutdownGrace = 1500 * time.Millisecond

// defaultListen is where serve listens without --listen. When its port is
// taken, serve takes the next free one of listenTries.
const (
	defaultListen = "127.0.0.1:8080"
	listenTries   = 20
)

// runServe runs the dashboard server: one live loop scanning the machine,
// every client served from its snapshots.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "fdscope [serve] [flags]: run the dashboard: scan the machine every --interval and serve the\n"+
		"page, the REST API and the websocket of docs/api.md. Without --listen it serves on\n"+
		defaultListen+", or on the next free port when that one is taken.",
		"fdscope                                   # http://127.0.0.1:8080/ (or the next free port)",
		"fdscope serve --listen 127.0.0.1:9000     # another port",
		"fdscope serve --listen 0.0.0.0:8080       # other machines too: prints the access token to use",
	)
	listen := fs.String("listen", defaultListen, "address to listen on; one not on loopback requires an access token")
	token := fs.String("token", "", "access token for other users (visible to every user: prefer --token-file or $"+TokenEnv+")")
	tokenFile := fs.String("token-file", "", "file holding the access token other users (and clients not on loopback) must send")
	var allowHosts []string
	fs.Func("allow-host", "another name the Host header may carry (repeatable; for a DNS name or a proxy)", func(s string) error {
		allowHosts = append(allowHosts, s)
		return nil
	})
	interval := fs.Duration("interval", live.DefaultInterval, "how often to look for changes (with kernel events: "+live.DefaultEventsInterval.String()+")")
	fullInterval := fs.Duration("full-interval", live.DefaultFullInterval, "how often to scan everything (with kernel events: "+live.DefaultEventsFullInterval.String()+")")
	kernelEvents := fs.String("kernel-events", "auto", "learn from the kernel which processes change (BPF tracepoints; root or CAP_BPF+CAP_PERFMON, kernel BTF): auto, on or off")
	procRoot := fs.String("proc", "/proc", "proc filesystem to read")
	backend := scannerFlag(fs)
	workers := fs.Int("workers", 0, "processes read in parallel (0: 2×GOMAXPROCS)")
	probeSockets := fs.Bool("probe-sockets", true, "dump sockets every interval to see state and queue changes at once (otherwise at full scans)")
	connEvents := fs.String("conn-events", "auto", "record every TCP and unix connection in the history as the kernel makes it, even one shorter than a scan (BPF; root or CAP_BPF+CAP_PERFMON, kernel BTF): auto, on or off")
	procEvents := fs.Bool("proc-events", true, "listen to the kernel's proc connector (root, initial network namespace) to see processes start and exit at once")
	gcPercent := fs.Int("gogc", 50, "Go GC target percentage (GOGC): lower keeps less memory between collections and costs more CPU")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	dataDir := fs.String("data-dir", defaultDataDir(os.Getuid(), os.Getenv), "directory of the history store (docs/history.md)")
	noHistory := fs.Bool("no-history", false, "record no history: no store on disk, no /api/changes, no ?at=")
	historyAge := fs.Duration("history-max-age", history.DefaultMaxAge, "how long history is kept")
	historySize := fs.Int64("history-max-size", history.DefaultMaxSize, "how many bytes of history are kept at most")
	activityOn := fs.Bool("activity", true, "sample what flows on each connection (TCP bytes/s, queues) every --activity-interval (docs/history.md)")
	activityInterval := fs.Duration("activity-interval", activity.DefaultInterval, "how often --activity samples (one sock_diag dump of every TCP socket; of every unix socket, one sample in five)")
	dev := fs.Bool("dev", false, "serve static/ from the working directory (edit and reload) instead of the embedded copy")
	if err := fs.parse(args, stdout); err != nil {
		return helpOrErr(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	if m := *connEvents; m != "auto" && m != "on" && m != "off" {
		return fmt.Errorf("serve: --conn-events %q: want auto, on or off", m)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	events, err := openKernelEvents(*kernelEvents, *procRoot, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if events != nil {
		defer events.Close()
		set := fs.set()
		if !set["interval"] {
			*interval = live.DefaultEventsInterval
		}
		if !set["full-interval"] {
			*fullInterval = live.DefaultEventsFullInterval
		}
	}
	if *interval <= 0 || *fullInterval < *interval {
		return fmt.Errorf("serve: want 0 < --interval (%v) <= --full-interval (%v)", *interval, *fullInterval)
	}
	given, warnings, err := accessToken(*token, *tokenFile, os.Getenv)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	secret := given // never shown in the graph served (Loop.Redact)
	*token = given
	if !api.IsLoopback(*listen) && *token == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("serve: generate a token: %w", err)
		}
		*token = hex.EncodeToString(b[:])
		log.Warn("not listening on loopback: every request needs the access token", "listen", *listen)
	}

	if *gcPercent > 0 {
		debug.SetGCPercent(*gcPercent)
	}
	if self, err := procfs.Self(); err == nil && *procRoot == "/proc" {
		if st, err := self.NewStatus(); err == nil && !readsOthersFDs(st.CapEff) {
			fmt.Fprintln(stderr, "fdscope: not root: other users' processes are listed without their fds (see \"What you see, as which user\" in README.md)")
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := live.NewStore(live.DefaultWindow)
	var sockets live.SocketProber
	var sp *live.SockDiagProber
	if *probeSockets {
		sp = live.NewSockDiagProber(*procRoot)
		defer sp.Close()
		sockets = sp
	}
	scanner := scan.New(scan.Options{ProcRoot: *procRoot, Workers: *workers, Backend: *backend, Progress: store.SetProgress})
	defer scanner.Close()
	loop := &live.Loop{
		// The store shows the first scan's progress on /healthz.
		Scanner:      scanner,
		Prober:       live.NewProcProber(*procRoot, sockets),
		Store:        store,
		Interval:     *interval,
		FullInterval: *fullInterval,
		Log:          log.With("component", "live"),
		Metrics:      live.NewMetrics(reg),
		FreeMemory:   true,
	}
	if events != nil {
		loop.Events = kernelEventsOf(events, store)
		loop.FDTables = live.NewProcFDTables(*procRoot)
		registerKernelEvents(reg, events)
	}
	if *procRoot == "/proc" {
		// The server's fd count and sockets change with every client: its
		// own changes wait for the full scans.
		loop.Self = os.Getpid()
	}
	if secret != "" {
		loop.Redact = []string{secret}
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	var recorder atomic.Pointer[history.Recorder]
	procConnector := false
	defer stopLoop()
	if *procEvents && *procRoot == "/proc" {
		// The history recorder, once it runs, records each exec and exit.
		loop.Execs = &live.PIDSet{}
		sink := func(e live.ProcEvent) {
			if e.Kind == "exec" {
				loop.Execs.Add(e.PID)
			}
			if r := recorder.Load(); r != nil {
				r.ProcEvent(e)
			}
		}
		if wake, err := live.ListenProcEventsTo(loopCtx, sink); err != nil {
			log.Info("process starts and exits show at the next tick", "reason", err)
		} else {
			loop.Wake = wake
			procConnector = true
		}
	}
	hostName, _ := os.Hostname() // "" when unknown: ?host= then names no process
	opts := api.Options{
		Source: store, Listen: *listen, AllowedHosts: allowHosts, Token: *token, HostName: hostName,
		// The assets are tiny and carry no version in their names: no-cache
		// makes a browser fetch the new ones after an upgrade.
		Page: web.Dashboard(), Static: static.FS,
		Registry: reg, Log: log.With("component", "api"),
		Window: live.DefaultWindow / 2,
	}
	if *dev {
		opts.Static = os.DirFS("static")
	}
	explicit := fs.set()["listen"]
	ln, err := listenOn(*listen, explicit, listenTries, stderr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer ln.Close()
	if !explicit {
		opts.Listen = ln.Addr().String()
	}
	var hist *history.DB
	var conns *conntrace.Tracer
	if !*noHistory {
		if hist, err = history.Open(*dataDir); err != nil {
			// The live dashboard works without it.
			log.Warn("no history is recorded (--no-history hides this warning)", "err", err)
			hist = nil
		} else {
			defer hist.Close()
			opts.History = hist
			opts.HistorySources = []string{history.SourceScan}
			if procConnector {
				opts.HistorySources = append(opts.HistorySources, history.SourceProcConnector)
			}
			// Connection events serve the history only.
			if conns, err = openConnEvents(*connEvents, *procRoot, log); err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			if conns != nil {
				defer conns.Close()
				registerConnEvents(reg, conns)
				opts.HistorySources = append(opts.HistorySources, history.SourceKernel)
			}
		}
	} else if *connEvents == "on" {
		return errors.New("serve: --conn-events on records into the history: not with --no-history")
	}
	sampler := newSampler(*activityOn, *procRoot, store, ln, reg)
	if sampler != nil {
		opts.Activity = sampler
	}
	srv, err := api.New(opts)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if sp != nil && *procRoot == "/proc" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			sp.IgnoreLocal(a.AddrPort())
		}
	}
	hs := newHTTPServer(srv, log)
	url := "http://" + displayAddr(ln.Addr().String()) + "/"
	if *token != "" && secret == "" {
		// A token made up here: the address carries it.
		fmt.Fprintf(stdout, "fdscope: serving on %s?token=%s\n", url, *token)
	} else {
		fmt.Fprintf(stdout, "fdscope: serving on %s\n", url)
	}
	log.Info("serving", "addr", ln.Addr().String(), "interval", *interval, "full_interval", *fullInterval, "kernel_events", events != nil)

	var wg sync.WaitGroup
	wg.Go(func() { loop.Run(loopCtx) })
	if sampler != nil {
		wg.Go(func() { runActivity(loopCtx, sampler, *activityInterval, hist, log.With("component", "activity")) })
	}
	if hist != nil {
		rec := &history.Recorder{DB: hist, MaxAge: *historyAge, MaxSize: *historySize,
			Log: log.With("component", "history"), Registry: reg}
		recorder.Store(rec)
		wg.Go(func() { rec.Run(loopCtx, store) })
		if conns != nil {
			wg.Go(func() { recordConns(loopCtx, conns, rec, os.Getpid(), log.With("component", "conntrace")) })
		}
		log.Info("recording history", "path", hist.Path(), "max_age", *historyAge, "max_size", *historySize)
	}
	return serveUntilDone(ctx, "serve", hs, ln, srv, stopLoop, &wg, log)
}

// defaultDataDir is where the history store goes without --data-dir:
// /var/lib/fdscope for root, $XDG_STATE_HOME/fdscope (by default
// ~/.local/state/fdscope) for other users.
func defaultDataDir(uid int, getenv func(string) string) string {
	if uid == 0 {
		return "/var/lib/fdscope"
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "fdscope")
	}
	return filepath.Join(getenv("HOME"), ".local", "state", "fdscope")
}

// The capabilities that let fdscope read the fds of other users'
// processes (README.md, "What you see, as which user").
const (
	capDACReadSearch = 2
	capSysPtrace     = 19
)

// readsOthersFDs reports whether a process whose effective capabilities
// are capEff can read the fds of other users' processes.
func readsOthersFDs(capEff uint64) bool {
	need := uint64(1)<<capDACReadSearch | uint64(1)<<capSysPtrace
	return capEff&need == need
}

// listenOn opens the address to serve on. An explicit address (--listen)
// is taken or is an error that names the flag. Otherwise addr is the
// default, and when its port is in use listenOn says so on stderr and
// takes the next free one, trying tries ports in all.
func listenOn(addr string, explicit bool, tries int, stderr io.Writer) (net.Listener, error) {
	if explicit {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", addr, err)
		}
		return ln, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: bad port", addr)
	}
	for i := range tries {
		a := net.JoinHostPort(host, strconv.Itoa(port+i))
		ln, err := net.Listen("tcp", a)
		if err == nil {
			if i > 0 {
				fmt.Fprintf(stderr, "fdscope: %s is in use; serving on %s instead (choose the address with --listen)\n", addr, a)
			}
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
	}
	return nil, fmt.Errorf("ports %d to %d of %s are all in use: choose an address with --listen", port, port+tries-1, host)
}

// displayAddr turns a listen address into one a browser can open: an
// unspecified host becomes 127.0.0.1.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}
