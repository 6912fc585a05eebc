//go:build linux

package main

// The memory soak of issue "bounded in memory": the server's RSS at rest on
// a busy host, and its peak while clients ask for the whole graph and never
// read it. Opt-in (minutes, root):
//
//	FDSCOPE_SERVE_SOAK=1 go test -run TestServeSoak -v -timeout 30m .   (task soak)
//
// FDSCOPE_SERVE_SOAK_ARGS adds flags to serve (say "--kernel-events off").
//
// FDSCOPE_SERVE_SOAK_SCALE sets the workload scale (default 0.62: about
// 40k fds), FDSCOPE_SERVE_SOAK_CLIENTS the non-reading clients (default 30),
// FDSCOPE_SERVE_SOAK_SECONDS how long they keep asking (default 60),
// FDSCOPE_SERVE_SOAK_CHURN_SECONDS how long the host is kept busy, a new
// version every tick, before the clients come (default 60),
// FDSCOPE_SERVE_SOAK_BIN another build of the server to measure. Like
// TestServeBench, it builds the bench workload in its own namespaces, runs
// `fdscope serve` there, and runs the clients there too (this test binary
// in the role "soak-client"). The server's RSS is read from
// /proc/PID/status: VmRSS sampled, and VmHWM (the peak) reset with
// clear_refs before the clients start.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/bench"
)

// soakRole is the role of the soak's client. Its init runs before the one
// of cmd_serve_test.go (files are initialised in name order).
const soakRole = "soak-client"

func init() {
	f := strings.Fields(os.Getenv(serveRoleEnv))
	if len(f) != 4 || f[0] != soakRole {
		return
	}
	n, err1 := strconv.Atoi(f[2])
	d, err2 := time.ParseDuration(f[3])
	err := err1
	if err == nil {
		err = err2
	}
	if err == nil {
		err = runSoakClient(f[1], n, d)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak client:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// soakResult is what the soak client prints.
type soakResult struct {
	Requests int     // GET /api/graph sent and never read
	Busy     float64 // of them, answered 503 (fdscope_http_refused_total{reason="busy"})
	FDs      int     // in the server's snapshot
	Bytes    int     // of /api/graph
}

// runSoakClient waits for the server at base to settle, prints "settled",
// waits for a line on stdin, then keeps n clients asking for /api/graph
// without ever reading, each on a connection with the smallest receive
// buffer, reconnecting every 20 s (the server cuts them off after its 15 s
// response timeout), for d; then prints a soakResult.
func runSoakClient(base string, n int, d time.Duration) error {
	for deadline := time.Now().Add(5 * time.Minute); ; {
		m, err := scrape(base)
		if err == nil && m[`fdscope_ticks_total{outcome="full"}`] >= 2 && m[`fdscope_ticks_total{outcome="idle"}`] >= 3 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not settle: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Println("settled")
	in := bufio.NewReader(os.Stdin)
	for {
		cmd, err := in.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(cmd, "churn ") {
			// A busy host: this process opens or closes a pipe every 300 ms,
			// so every tick rescans it and makes a version.
			d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(cmd, "churn ")))
			if err != nil {
				return err
			}
			var held []*os.File
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
				if len(held) < 2 {
					r, w, err := os.Pipe()
					if err != nil {
						return err
					}
					held = append(held, r, w)
				} else {
					for _, f := range held {
						f.Close()
					}
					held = held[:0]
				}
			}
			fmt.Println("churned")
			continue
		}
		break // "go"
	}
	m0, _ := scrape(base)
	host := strings.TrimPrefix(base, "http://")
	dialer := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1) })
	}}
	var requests atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range n {
		wg.Go(func() {
			for time.Now().Before(end) {
				c, err := dialer.Dial("tcp", host)
				if err != nil {
					time.Sleep(time.Second)
					continue
				}
				io.WriteString(c, "GET /api/graph HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
				requests.Add(1)
				time.Sleep(min(20*time.Second, time.Until(end)))
				c.Close()
			}
		})
	}
	wg.Wait()
	m1, err := scrape(base)
	if err != nil {
		return err
	}
	var g struct {
		Stats struct {
			FDs int `json:"fds"`
		} `json:"stats"`
	}
	_, body, err := getURL(base + "/api/graph")
	if err == nil {
		json.Unmarshal(body, &g)
	}
	busy := `fdscope_http_refused_total{reason="busy"}`
	return json.NewEncoder(os.Stdout).Encode(soakResult{Requests: int(requests.Load()), Busy: m1[busy] - m0[busy], FDs: g.Stats.FDs, Bytes: len(body)})
}

func getURL(url string) (int, []byte, error) {
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// procStatusKB reads a field (VmRSS, VmHWM) of /proc/PID/status, in KiB.
func procStatusKB(pid int, field string) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// rssSampler samples a process's VmRSS until stopped.
func rssSampler(pid int, every time.Duration) (stop func() (median, max float64)) {
	var mu sync.Mutex
	var xs []float64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			mu.Lock()
			xs = append(xs, float64(procStatusKB(pid, "VmRSS"))/1024)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() (float64, float64) {
		close(done)
		wg.Wait()
		m := 0.0
		for _, x := range xs {
			m = max(m, x)
		}
		return median(xs), m
	}
}

func TestServeSoak(t *testing.T) {
	if os.Getenv("FDSCOPE_SERVE_SOAK") == "" {
		t.Skip("set FDSCOPE_SERVE_SOAK=1 to run the memory soak (minutes, root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the soak needs root (namespaces)")
	}
	env := func(name string, def float64) float64 {
		if s := os.Getenv(name); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
		return def
	}
	scale := env("FDSCOPE_SERVE_SOAK_SCALE", 0.62)
	clients := int(env("FDSCOPE_SERVE_SOAK_CLIENTS", 30))
	seconds := env("FDSCOPE_SERVE_SOAK_SECONDS", 60)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	bin, unshare, nsenter := buildForWorkload(ctx, t)
	plan, err := bench.NewPlan(scale)
	if err != nil {
		t.Fatal(err)
	}
	w, err := bench.StartWorkload(ctx, bin, unshare, plan, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	enter := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, nsenter, append([]string{"--target", strconv.Itoa(w.InitPID), "--pid", "--mount", "--net", "--"}, args...)...)
	}
	// FDSCOPE_SERVE_SOAK_BIN runs another build of the server (an older
	// one, to compare); the workload is always built by this tree's.
	serveBin := bin
	if b := os.Getenv("FDSCOPE_SERVE_SOAK_BIN"); b != "" {
		serveBin = b
	}
	serveArgs := []string{serveBin, "serve", "--listen", "127.0.0.1:8080", "--log-level", "warn"}
	if serveBin == bin {
		// History is recorded, as by default, but never into the host's store.
		serveArgs = append(serveArgs, "--data-dir", t.TempDir())
	}
	serveArgs = append(serveArgs, strings.Fields(os.Getenv("FDSCOPE_SERVE_SOAK_ARGS"))...) // more flags for serve
	srv := enter(serveArgs...)
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
	// nsenter forks the server into the pid namespace: it is its child.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", srv.Process.Pid, srv.Process.Pid))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == 0 {
		t.Fatalf("the server's pid (children of nsenter %d: %q): %v", srv.Process.Pid, b, err)
	}

	cli := enter(os.Args[0])
	cli.Env = append(os.Environ(), fmt.Sprintf("%s=%s http://127.0.0.1:8080 %d %s", serveRoleEnv, soakRole, clients, time.Duration(seconds*float64(time.Second))))
	cli.Stderr = os.Stderr
	stdin, _ := cli.StdinPipe()
	cout, _ := cli.StdoutPipe()
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(cout)
	if line, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "settled" {
		t.Fatalf("soak client: %q %v", line, err)
	}
	stop := rssSampler(pid, 250*time.Millisecond)
	time.Sleep(15 * time.Second)
	restMedian, restMax := stop()
	// A busy host: a version every tick for churn seconds (more than the
	// 32 versions of the window of changes).
	churn := time.Duration(env("FDSCOPE_SERVE_SOAK_CHURN_SECONDS", 60) * float64(time.Second))
	stop = rssSampler(pid, 250*time.Millisecond)
	io.WriteString(stdin, "churn "+churn.String()+"\n")
	if line, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "churned" {
		t.Fatalf("soak client: %q %v", line, err)
	}
	busyMedian, busyMax := stop()

	// The peak from here on: clear_refs 5 resets VmHWM to the current RSS.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Logf("reset the peak: %v", err)
	}
	stop = rssSampler(pid, 100*time.Millisecond)
	io.WriteString(stdin, "go\n")
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("soak client: %v", err)
	}
	floodMedian, floodMax := stop()
	peak := float64(procStatusKB(pid, "VmHWM")) / 1024
	cli.Wait()
	var r soakResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("soak client said %q: %v", line, err)
	}
	stop = rssSampler(pid, 250*time.Millisecond)
	time.Sleep(15 * time.Second)
	afterMedian, afterMax := stop()

	t.Logf("\nworkload: %d fds in the server's snapshot (scale %v); /api/graph %.1f MiB\n"+
		"| phase | RSS median | RSS max |\n|---|---|---|\n"+
		"| at rest, 15 s | %.0f MiB | %.0f MiB |\n"+
		"| busy: a version every tick, %.0f s | %.0f MiB | %.0f MiB |\n"+
		"| %d clients asking for /api/graph and never reading, %.0f s (%d requests, %.0f answered 503) | %.0f MiB | %.0f MiB (VmHWM %.0f MiB) |\n"+
		"| at rest after, 15 s | %.0f MiB | %.0f MiB |",
		r.FDs, scale, float64(r.Bytes)/(1<<20), restMedian, restMax, churn.Seconds(), busyMedian, busyMax, clients, seconds, r.Requests, r.Busy, floodMedian, floodMax, peak, afterMedian, afterMax)
	if lim := env("FDSCOPE_SERVE_SOAK_MAX_PEAK_MIB", 0); lim > 0 && peak > lim {
		t.Errorf("peak RSS %.0f MiB, above %.0f MiB", peak, lim)
	}
	if lim := env("FDSCOPE_SERVE_SOAK_MAX_REST_MIB", 0); lim > 0 && max(restMedian, busyMedian) > lim {
		t.Errorf("RSS at rest %.0f MiB, busy %.0f MiB, above %.0f MiB", restMedian, busyMedian, lim)
	}
}
