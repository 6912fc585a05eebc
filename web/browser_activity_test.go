//go:build linux

package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/scan"
	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/live"
)

// startSampled runs the live loop and an activity sampler over the real
// machine, as fdscope serve does, and serves them.
func startSampled(t testing.TB) *testServer {
	t.Helper()
	store := live.NewStore(live.DefaultWindow)
	sp := live.NewSockDiagProber("/proc")
	loop := &live.Loop{
		Scanner:      scan.New(scan.Options{}),
		Prober:       live.NewProcProber("/proc", sp),
		Store:        store,
		Interval:     200 * time.Millisecond,
		FullInterval: 2 * time.Second,
	}
	sampler := &activity.Sampler{NetNS: func() map[uint64]int { _, s := store.Latest(); return activity.NetNSOf(s) }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { loop.Run(ctx) })
	wg.Go(func() { sampler.Run(ctx, 250*time.Millisecond) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sampler.IgnoreLocal = ln.Addr().(*net.TCPAddr).AddrPort()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sp.Close()
	})
	return serveAPI(t, ln, api.Options{Source: store, Activity: sampler})
}

// TestBrowserActivity keeps a TCP connection to a real echo server busy
// and checks that the server's focus view draws its rate on the
// connection's line, heavier, and that the details of its fd show a
// sparkline of the rate.
func TestBrowserActivity(t *testing.T) {
	t.Parallel()
	chromium(t)
	srv := proctest.Start(t, proctest.Spec{Name: "tcp-server", Role: "stream-server", Args: []string{"tcp", "127.0.0.1:0"}})
	c, err := net.Dial("tcp", srv.Facts().Listen)
	if err != nil {
		t.Fatal(err)
	}
	conn := srv.WaitConns(1).Conns[0]
	// Busy: 64 KiB out and back every 50 ms, until the test ends.
	stop := make(chan struct{})
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); c.Close(); <-pumped })

	s := startSampled(t)
	s.waitGraph(t, "the busy connection", func(ix *graph.Index) bool {
		return ix.Process(srv.PID) != nil && ix.Snapshot().Node(graph.SocketID(conn.Inode)) != nil
	})
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/process/" + strconv.Itoa(srv.PID))
	p.wait("the server's diagram", diagramReady(srv.PID))
	sock := graph.SocketID(conn.Inode)
	edge := fmt.Sprintf(`document.querySelector('#diagram path.edge[data-kind="peer"][data-from=%q], #diagram path.edge[data-kind="peer"][data-to=%q]')`, sock, sock)
	p.wait("the busy connection's line drawn heavier", edge+`?.classList.contains('busy') && Number(`+edge+`.dataset.rate) > 0 && parseFloat(`+edge+`.style.strokeWidth) > 1.5`)
	rate := waitValue[string](p, "the rate on the line",
		`[...document.querySelectorAll('#diagram text.edge-rate')].map(t => t.textContent).find(s => / [KMG]?B\/s$/.test(s))`)
	t.Logf("the connection's rate: %s", rate)
	p.shot("busy-connection")

	p.click("the server's fd of the connection", fmt.Sprintf(`#diagram g.port[data-pid="%d"][data-fd="%d"]`, srv.PID, conn.FD))
	n := waitValue[int](p, "a sparkline with samples in the details",
		`(s => s && Number(s.dataset.samples) >= 2 && Number(s.dataset.max) > 0 && Number(s.dataset.samples))(document.querySelector('#details svg.sparkline'))`)
	if got := eval[string](p, `document.getElementById('details').textContent`); !containsAll(got, "activity", "sent", "received", "/s") {
		t.Errorf("details of the busy fd: %q", got)
	}
	t.Logf("the sparkline has %d samples", n)
	p.shot("details-sparkline")
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
