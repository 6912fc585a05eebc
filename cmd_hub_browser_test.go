//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browseAcrossHosts opens the hub's page on the client's focus (on alpha),
// checks that its diagram shows the server on beta as its peer, clicks the
// server, and checks that the page follows it to beta: the address, the
// websocket's focus and the diagram. Chromium runs in the test's own
// namespace and reaches the hub through hubURL (forward: the loopback
// listener whose connections go into hubhost). A short driver of its own:
// the web package's helpers are in its tests.
func browseAcrossHosts(t *testing.T, hubURL string, client, server int) {
	t.Helper()
	exe := os.Getenv("FDSCOPE_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if exe == "" {
			exe, _ = exec.LookPath(name)
		}
	}
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium (apt-get install chromium, or set FDSCOPE_CHROMIUM); CI=true requires the browser check")
		}
		t.Log("no Chromium: the page across hosts is not checked")
		return
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	const bound = 30 * time.Second
	wait := func(what, expr string) {
		t.Helper()
		c, done := context.WithTimeout(ctx, bound)
		defer done()
		if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void]("!!("+expr+")", chromedp.WithPollingTimeout(bound))); err != nil {
			now, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.getElementById('diagram').outerHTML.slice(0, 2000)`))
			t.Fatalf("page: waiting for %s (%s): %v\n%s", what, expr, err, now)
		}
	}
	box := func(focus bool, host string, pid int) string {
		cls := "peer"
		if focus {
			cls = "focus"
		}
		return fmt.Sprintf(`#diagram g.box.process.%s[data-node-id^="%s/proc:%d:"]`, cls, host, pid)
	}
	ready := func(pid int) string {
		return fmt.Sprintf(`(d => d.dataset.state === 'ready' && d.dataset.focus === '%d')(document.getElementById('diagram'))`, pid)
	}

	if _, err := chromedp.Run(ctx, chromedp.Navigate(fmt.Sprintf("%s/process/%d?host=alpha", hubURL, client))); err != nil {
		t.Fatalf("page: open the client's focus: %v", err)
	}
	wait("the client's diagram", ready(client))
	wait("the client in focus on alpha", "document.querySelector('"+box(true, "alpha", client)+"')")
	wait("the server on beta as the client's peer", "document.querySelector('"+box(false, "beta", server)+"')")
	// The host is visible: each box says it, and so do the focus's title and the list's rows.
	wait("the server's box saying beta", "document.querySelector('"+box(false, "beta", server)+"').textContent.includes('on beta')")
	wait("the client's box saying alpha", "document.querySelector('"+box(true, "alpha", client)+"').textContent.includes('on alpha')")
	wait("the title saying alpha", "document.getElementById('focus-title').textContent.endsWith(' on alpha')")
	wait("the client's row saying alpha", fmt.Sprintf(`(r => r && r.textContent.includes(' on alpha'))(document.querySelector('#process-list [data-node-id^="alpha/proc:%d:"]'))`, client))

	// A mouse click in the middle of an element.
	click := func(what, sel string) {
		t.Helper()
		type point struct{ X, Y float64 }
		pt, err := chromedp.Run(ctx, chromedp.Evaluate[point](`(el => {
			el.scrollIntoView({block: 'center', inline: 'center'});
			const r = el.getBoundingClientRect();
			return {x: r.x + r.width / 2, y: r.y + r.height / 2};
		})(document.querySelector(`+strconv.Quote(sel)+`))`))
		if err == nil {
			_, err = chromedp.Run(ctx, chromedp.MouseClickXY(pt.X, pt.Y))
		}
		if err != nil {
			t.Fatalf("page: click %s: %v", what, err)
		}
	}
	click("the server", box(false, "beta", server))
	wait("the address of the server on beta", fmt.Sprintf(`location.pathname === '/process/%d' && location.search === '?host=beta'`, server))
	wait("the server's diagram", ready(server))
	wait("the server in focus on beta", "document.querySelector('"+box(true, "beta", server)+"')")
	wait("the client on alpha as the server's peer", "document.querySelector('"+box(false, "alpha", client)+"')")

	// The process list holds both hosts' processes, pids shared or not: a
	// click on the client's row goes back to alpha.
	row := fmt.Sprintf(`#process-list [data-node-id^="alpha/proc:%d:"]`, client)
	wait("the client's row in the list", "document.querySelector('"+row+"')")
	click("the client's row", row)
	wait("the address of the client on alpha", fmt.Sprintf(`location.pathname === '/process/%d' && location.search === '?host=alpha'`, client))
	wait("the client in focus on alpha again", "document.querySelector('"+box(true, "alpha", client)+"')")
}
