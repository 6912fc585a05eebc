//go:build linux

package main

// The server benchmark of docs/performance-server.md. It is opt-in (it
// takes minutes and needs root):
//
//	FDSCOPE_SERVE_BENCH=1 go test -run TestServeBench -v -timeout 30m .
//
// FDSCOPE_SERVE_BENCH_SCALE sets the workload scale (default 1: ~500
// processes, ~65k fds), FDSCOPE_SERVE_BENCH_IDLE the idle window (default
// 60s), FDSCOPE_SERVE_BENCH_ARGS more flags for serve (say "--gogc 25").
// It builds the bench workload (package bench) in its own pid, mount and
// network namespaces, runs `fdscope serve` inside them with nsenter, and
// runs a client inside them too (this test binary in the role
// "bench-client"), which measures what the server costs at rest and how
// fast a new connection reaches it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/bench"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/internal/procdir"
)

// benchResult is what the bench client measures, as JSON on its stdout.
type benchResult struct {
	Processes, FDs int // in the server's latest snapshot

	IdleSeconds float64
	// Ticks in the idle window by outcome, with their mean wall and CPU time.
	Ticks    map[string]float64
	TickWall map[string]float64 // seconds per tick
	TickCPU  map[string]float64 // seconds per tick
	// ServerCPU is the server's CPU seconds per second over the idle window.
	ServerCPU float64
	// RSS of the server with this one client connected, at the end of the
	// idle window; and sampled every 500 ms through it (median and max).
	RSSBytes          float64
	RSSMedian, RSSMax float64
	// IdleBytesIn and IdleBytesOut are the bytes the client's TCP
	// connection received and sent in the idle window (frames, headers and
	// all), scaled to one minute; IdleMessages counts the messages by type.
	IdleBytesIn, IdleBytesOut float64
	IdleMessages              map[string]int
	// IdleChanges names what the messages at rest changed: node IDs, and
	// process rows as "row PID COMM".
	IdleChanges []string
	// FirstBytes is what the client received on connecting (its focus
	// snapshot and the process list).
	FirstBytes int64
	// Latencies from connect(2) to the diff that adds the new socket, seconds.
	Latencies []float64
	// Interval is the server's tick period, seconds.
	Interval float64
	// Rescans during the latency trials: how many, and their mean wall
	// and CPU time (the incremental tick that carries a new connection).
	Rescans, RescanWall, RescanCPU float64
}

func TestServeBench(t *testing.T) {
	if os.Getenv("FDSCOPE_SERVE_BENCH") == "" {
		t.Skip("set FDSCOPE_SERVE_BENCH=1 to run the server benchmark (minutes, root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the benchmark needs root (namespaces)")
	}
	scale := 1.0
	if s := os.Getenv("FDSCOPE_SERVE_BENCH_SCALE"); s != "" {
		var err error
		if scale, err = strconv.ParseFloat(s, 64); err != nil {
			t.Fatal(err)
		}
	}
	idle := 60 * time.Second
	if s := os.Getenv("FDSCOPE_SERVE_BENCH_IDLE"); s != "" {
		var err error
		if idle, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	// FDSCOPE_SERVE_BENCH_BIN runs another build of the server (one with
	// net/http/pprof, say); the workload is always built by this tree's.
	bin, unshare, nsenter := buildForWorkload(ctx, t)
	serveBin := bin
	if b := os.Getenv("FDSCOPE_SERVE_BENCH_BIN"); b != "" {
		serveBin = b
	}
	plan, err := bench.NewPlan(scale)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("building the workload at scale %v", scale)
	w, err := bench.StartWorkload(ctx, bin, unshare, plan, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	t.Logf("workload built; its init is pid %d", w.InitPID)
	enter := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, nsenter, append([]string{"--target", strconv.Itoa(w.InitPID), "--pid", "--mount", "--net", "--"}, args...)...)
	}

	// A full snapshot, as `fdscope snapshot` takes it, for comparison.
	var snapWall, snapCPU []float64
	for i := range 4 {
		cmd := enter(bin, "snapshot", "--format", "json")
		cmd.Stdout = nil
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		if i == 0 {
			continue // warm-up
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		snapWall = append(snapWall, time.Since(start).Seconds())
		snapCPU = append(snapCPU, time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds())
	}

	// The server's own defaults: with kernel events (root here) it ticks
	// every 100 ms and scans everything every minute; without, every 1 s and
	// 10 s. FDSCOPE_SERVE_BENCH_ARGS="--kernel-events off" measures the latter.
	args := []string{serveBin, "serve", "--listen", "127.0.0.1:8080", "--log-level", "warn"}
	if serveBin == bin {
		// History is recorded, as by default, but never into the host's store.
		args = append(args, "--data-dir", t.TempDir())
	}
	args = append(args, strings.Fields(os.Getenv("FDSCOPE_SERVE_BENCH_ARGS"))...) // more flags for serve
	srv := enter(args...)
	srv.Stderr = os.Stderr
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.Contains(line, "serving on") {
		t.Fatalf("serve: %q %v", line, err)
	}
	cli := enter(os.Args[0])
	cli.Env = append(os.Environ(), serveRoleEnv+"=bench-client http://127.0.0.1:8080 "+idle.String())
	cli.Stderr = os.Stderr
	b, err := cli.Output()
	if err != nil {
		t.Fatalf("bench client: %v\n%s", err, b)
	}
	var r benchResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bench client said %q: %v", b, err)
	}
	t.Logf("\n%s", benchTable(&r, median(snapWall), median(snapCPU)))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func benchTable(r *benchResult, snapWall, snapCPU float64) string {
	var b strings.Builder
	ms := func(s float64) string { return strconv.FormatFloat(s*1000, 'f', 1, 64) + " ms" }
	fmt.Fprintf(&b, "workload as the server sees it: %d processes, %d fds\n", r.Processes, r.FDs)
	fmt.Fprintf(&b, "| what | wall | CPU |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| `fdscope snapshot` (separate process, median of 3) | %s | %s |\n", ms(snapWall), ms(snapCPU))
	for _, o := range []string{"full", "rescan", "idle"} {
		if r.Ticks[o] > 0 {
			fmt.Fprintf(&b, "| server tick, %s (mean of %.0f in the idle window) | %s | %s |\n", o, r.Ticks[o], ms(r.TickWall[o]), ms(r.TickCPU[o]))
		}
	}
	if r.TickWall["full"] > 0 && r.TickWall["idle"] > 0 {
		fmt.Fprintf(&b, "\nidle tick / full tick: wall 1/%.0f, CPU 1/%.0f\n", r.TickWall["full"]/r.TickWall["idle"], r.TickCPU["full"]/max(r.TickCPU["idle"], 1e-9))
	}
	slices.Sort(r.Latencies)
	var lat []string
	for _, l := range r.Latencies {
		lat = append(lat, ms(l))
	}
	fmt.Fprintf(&b, "new connection → diff at the client (interval %.2f s): median %s, max %s (%d trials: %s)\n",
		r.Interval, ms(median(r.Latencies)), ms(r.Latencies[len(r.Latencies)-1]), len(r.Latencies), strings.Join(lat, ", "))
	fmt.Fprintf(&b, "incremental ticks during those trials: %.0f, mean %s wall, %s CPU\n", r.Rescans, ms(r.RescanWall), ms(r.RescanCPU))
	fmt.Fprintf(&b, "server CPU at rest with one client: %.2f%% of a core\n", r.ServerCPU*100)
	fmt.Fprintf(&b, "server RSS with one client: %.1f MiB at the end; every 500 ms at rest: median %.1f MiB, max %.1f MiB\n",
		r.RSSBytes/(1<<20), r.RSSMedian/(1<<20), r.RSSMax/(1<<20))
	fmt.Fprintf(&b, "client connection at rest: %.0f bytes/min in, %.0f bytes/min out; messages %v; on connecting %d bytes\n",
		r.IdleBytesIn, r.IdleBytesOut, r.IdleMessages, r.FirstBytes)
	if len(r.IdleChanges) > 0 {
		fmt.Fprintf(&b, "what changed at rest: %.600s\n", strings.Join(r.IdleChanges, " "))
	}
	return b.String()
}

// countingConn counts the bytes through a connection.
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// scrape reads a Prometheus text page into name{labels} → value.
func scrape(base string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// runBenchClient is the bench-client role: it runs inside the workload's
// namespaces, next to the server at base, and prints a benchResult.
func runBenchClient(base string, idle time.Duration) error {
	ctx := context.Background()
	// Wait for the server to have scanned fully and settled.
	var m0 map[string]float64
	for deadline := time.Now().Add(5 * time.Minute); ; {
		var err error
		m0, err = scrape(base)
		if err == nil && m0[`fdscope_ticks_total{outcome="full"}`] >= 2 && m0[`fdscope_ticks_total{outcome="idle"}`] >= 3 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not settle: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var in, out atomic.Int64
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &in, &out}, nil
	}}}
	self := os.Getpid()
	ws := "ws" + strings.TrimPrefix(base, "http") + "/api/ws?graph=focus&pid=" + strconv.Itoa(self) + "&processes=1"
	c, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)

	type arrival struct {
		at  time.Time
		msg wireMsg
	}
	var mu sync.Mutex
	var got []arrival
	counts := map[string]int{}
	arrived := make(chan struct{}, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m wireMsg
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			mu.Lock()
			got = append(got, arrival{time.Now(), m})
			counts[m.Type]++
			mu.Unlock()
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}()
	// The first messages: the focus snapshot and the process list.
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no first messages")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	r := benchResult{FirstBytes: in.Load(), IdleSeconds: idle.Seconds()}

	// At rest.
	mu.Lock()
	clear(counts)
	idleFrom := len(got)
	mu.Unlock()
	in0, out0 := in.Load(), out.Load()
	m0, err = scrape(base)
	if err != nil {
		return err
	}
	serverPID := findServe()
	var rss []float64
	for end := time.Now().Add(idle); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if v := rssOf(serverPID); v > 0 {
			rss = append(rss, v)
		}
	}
	if len(rss) > 0 {
		r.RSSMedian, r.RSSMax = median(rss), slices.Max(rss)
	}
	m1, err := scrape(base)
	if err != nil {
		return err
	}
	perMin := 60 / idle.Seconds()
	r.IdleBytesIn = float64(in.Load()-in0) * perMin
	r.IdleBytesOut = float64(out.Load()-out0) * perMin
	mu.Lock()
	r.IdleMessages = copyCounts(counts)
	for _, a := range got[idleFrom:] {
		for _, n := range slices.Concat(a.msg.NodesAdded, a.msg.NodesChanged) {
			r.IdleChanges = append(r.IdleChanges, n.ID)
		}
		r.IdleChanges = append(r.IdleChanges, a.msg.NodesRemoved...)
		for _, row := range a.msg.Changed {
			r.IdleChanges = append(r.IdleChanges, "row "+strconv.Itoa(row.PID)+" "+row.Comm)
		}
	}
	mu.Unlock()
	r.Ticks, r.TickWall, r.TickCPU = map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, o := range []string{"full", "rescan", "idle"} {
		n := m1[`fdscope_ticks_total{outcome="`+o+`"}`] - m0[`fdscope_ticks_total{outcome="`+o+`"}`]
		r.Ticks[o] = n
		if n > 0 {
			r.TickWall[o] = (m1[`fdscope_tick_duration_seconds_sum{outcome="`+o+`"}`] - m0[`fdscope_tick_duration_seconds_sum{outcome="`+o+`"}`]) / n
			r.TickCPU[o] = (m1[`fdscope_tick_cpu_seconds_total{outcome="`+o+`"}`] - m0[`fdscope_tick_cpu_seconds_total{outcome="`+o+`"}`]) / n
		}
	}
	if n := r.Ticks["full"] + r.Ticks["rescan"] + r.Ticks["idle"]; n > 0 {
		r.Interval = idle.Seconds() / n // the tick period, as the ticks counted it
	}
	r.ServerCPU = (m1["process_cpu_seconds_total"] - m0["process_cpu_seconds_total"]) / idle.Seconds()
	r.RSSBytes = m1["process_resident_memory_bytes"]
	r.Processes = int(m1[`fdscope_graph_nodes{kind="process"}`])
	r.FDs = int(m1[`fdscope_graph_nodes{kind="fd"}`])

	// New connections: connect(2) to a listener of this process, then wait
	// for the focus diff that adds the new socket.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	time.Sleep(3 * time.Second) // let the listener itself reach the graph
	l0, err := scrape(base)
	if err != nil {
		return err
	}
	for range 10 {
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		mu.Lock()
		from := len(got)
		mu.Unlock()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		start := time.Now()
		peer, err := ln.Accept()
		if err != nil {
			return err
		}
		var ino uint64
		rc, _ := conn.(*net.TCPConn).SyscallConn()
		rc.Control(func(fd uintptr) {
			var st unix.Stat_t
			unix.Fstat(int(fd), &st)
			ino = st.Ino
		})
		want := graph.SocketID(ino)
		seen := time.Time{}
		for deadline := start.Add(30 * time.Second); seen.IsZero(); {
			select {
			case <-arrived:
			case <-time.After(time.Until(deadline)):
				return fmt.Errorf("no diff adding %s within 30 s", want)
			}
			mu.Lock()
			for _, a := range got[from:] {
				for _, n := range a.msg.NodesAdded {
					if n.ID == want {
						seen = a.at
					}
				}
			}
			mu.Unlock()
		}
		r.Latencies = append(r.Latencies, seen.Sub(start).Seconds())
		conn.Close()
		peer.Close()
		time.Sleep(2500 * time.Millisecond) // the close reaches the graph too
	}
	l1, err := scrape(base)
	if err != nil {
		return err
	}
	const rk = `{outcome="rescan"}`
	if r.Rescans = l1["fdscope_ticks_total"+rk] - l0["fdscope_ticks_total"+rk]; r.Rescans > 0 {
		r.RescanWall = (l1["fdscope_tick_duration_seconds_sum"+rk] - l0["fdscope_tick_duration_seconds_sum"+rk]) / r.Rescans
		r.RescanCPU = (l1["fdscope_tick_cpu_seconds_total"+rk] - l0["fdscope_tick_cpu_seconds_total"+rk]) / r.Rescans
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// findServe returns the pid of the `fdscope serve` process in this pid
// namespace, 0 if none.
func findServe() int {
	pids, _ := procdir.PIDs("/proc")
	for _, pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if args := strings.Split(string(b), "\x00"); len(args) > 1 && args[1] == "serve" {
			return pid
		}
	}
	return 0
}

// rssOf returns the resident set size of pid in bytes, 0 if unknown.
func rssOf(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

// buildForWorkload builds this tree's fdscope into a temporary directory
// and finds the tools the bench workload needs, skipping the test without
// them.
func buildForWorkload(ctx context.Context, t *testing.T) (bin, unshare, nsenter string) {
	t.Helper()
	unshare, err1 := exec.LookPath("unshare")
	nsenter, err2 := exec.LookPath("nsenter")
	goBin, err3 := exec.LookPath("go")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Skip("needs unshare, nsenter and go")
	}
	bin = filepath.Join(t.TempDir(), "fdscope")
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin, unshare, nsenter
}
