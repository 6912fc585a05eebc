//go:build linux

package web_test

// The focus view judged on real software: nginx, redis, a shell pipeline,
// a prefork server and a client among many siblings, started on loopback
// by internal/realproc, scanned by the live loop, drawn in Chromium. For
// each, the process it talks to must be on the first screen (1280×800),
// the process boxes few, and a crowd of processes that merely share its
// stdio summarised with its size.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fdscope/fdscope/api"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/hostmap"
	"github.com/fdscope/fdscope/internal/realproc"
)

// onFirstScreenJS is true when the box of process pid is drawn and at
// least partly inside both the diagram's area and the browser's viewport,
// with the view as it opened (no scrolling, no zoom).
const onFirstScreenJS = `(pid => {
	const b = document.querySelector('#diagram ` + processBox + `[data-pid="' + pid + '"]');
	if (!b) return false;
	const r = b.getBoundingClientRect(), d = document.getElementById('diagram').getBoundingClientRect();
	return r.width > 0 && r.right > Math.max(d.left, 0) && r.left < Math.min(d.right, innerWidth) &&
		r.bottom > Math.max(d.top, 0) && r.top < Math.min(d.bottom, innerHeight);
})`

// drawnPIDsJS lists the pids of the processes drawn one by one.
const drawnPIDsJS = `[...new Set([...document.querySelectorAll('#diagram ` + processBox + `[data-pid]')].map(b => Number(b.dataset.pid)))]`

// processBoxesJS counts the processes drawn one by one (a box that fades
// out after an update has lost its pid already).
const processBoxesJS = `new Set([...document.querySelectorAll('#diagram ` + processBox + `[data-pid]')].map(b => b.dataset.pid)).size`

// envBoxes is the room left for the test's environment: every process a
// test starts inherits the fds its runner leaked to the test binary (a
// harness's pipe that it reads to see when all of them have exited, a
// /dev/null every process of the session holds), so the runner and the
// session's other processes can be drawn as peers too. maxBoxes counts the
// processes of the scenario (those the test started and their
// descendants); envBoxes bounds the others.
const envBoxes = 4

// realCase is one focus view of real software and what it must show.
type realCase struct {
	name       string
	focus      int
	conns      []realPeer // its connections, each drawn
	onScreen   int        // how many of them at least on the first screen (0: all)
	drawn      []int      // processes drawn one by one (beside focus and connections)
	roots      []int      // the processes of the scenario, with their descendants
	maxBoxes   int        // processes of the scenario drawn one by one, at most (see envBoxes)
	crowd      string     // a crowd box's label must contain it ("": no crowd)
	headline   string     // the focus header must contain it
	screenshot string     // the file name under -screenshots ("": none)
}

type realPeer struct {
	pid int
	via graph.Via
}

func TestRealSoftware(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it reads the fds of nginx's workers (user nobody) and of redis")
	}
	chromium(t)
	// Everything first (each waits until it serves), then one live server
	// and one browser for all the views.
	var cases []realCase

	// nginx: a master, two workers, and a keep-alive client of one of them.
	ngx := realproc.StartNginx(t, 2)
	ka, kaAddr := realproc.KeepAlive(t, ngx.Addr)
	worker := realproc.HolderOf(t, ngx.Workers, kaAddr)
	cases = append(cases, realCase{name: "nginx", focus: worker, conns: []realPeer{{ka.PID, graph.ViaTCP}},
		drawn: []int{ngx.Master.PID}, roots: []int{ngx.Master.PID, ka.PID}, maxBoxes: 4, headline: "connection", screenshot: "nginx.png"})

	// redis-server with two redis-cli clients waiting on a channel.
	rds := realproc.StartRedis(t)
	port := strconv.Itoa(rds.Port)
	cli1 := realproc.Shell(t, "exec redis-cli -p "+port+" subscribe news", nil)
	cli2 := realproc.Shell(t, "exec redis-cli -p "+port+" subscribe weather", nil)
	cases = append(cases, realCase{name: "redis", focus: rds.PID,
		conns: []realPeer{{cli1.PID, graph.ViaTCP}, {cli2.PID, graph.ViaTCP}}, onScreen: 1, roots: []int{rds.PID, cli1.PID, cli2.PID}, maxBoxes: 4,
		headline: "2 connections", screenshot: "redis.png"})

	// A shell pipeline whose members write their errors to the shell's log.
	log, err := os.Create(filepath.Join(t.TempDir(), "pipeline.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	sh := realproc.Shell(t, "sleep 1000 | cat | sort", log)
	member := func(comm string) int { return realproc.WaitChildren(t, sh.PID, 1, comm)[0] }
	cases = append(cases, realCase{name: "pipeline", focus: member("cat"),
		conns: []realPeer{{member("sleep"), graph.ViaPipe}, {member("sort"), graph.ViaPipe}},
		roots: []int{sh.PID}, maxBoxes: 4, headline: "2 connections"})

	// A prefork server: the master and its four workers share the listener.
	pf := realproc.StartPrefork(t, 4)
	pc, pcAddr := realproc.KeepAlive(t, pf.Addr)
	pw := realproc.HolderOf(t, pf.Workers, pcAddr)
	var others []int
	for _, w := range pf.Workers {
		if w != pw {
			others = append(others, w)
		}
	}
	cases = append(cases, realCase{name: "prefork", focus: pw, conns: []realPeer{{pc.PID, graph.ViaTCP}},
		drawn: append(others, pf.Master.PID), roots: []int{pf.Master.PID, pc.PID}, maxBoxes: 6, headline: "1 connection"})

	// A client among 24 siblings that share its stdin, a pipe, of a redis of its own.
	rds2 := realproc.StartRedis(t)
	// (An asynchronous command of sh reads /dev/null unless told otherwise:
	// fd 3 hands each the pipe.)
	siblings := realproc.Shell(t, "sleep 1000 | { exec 3<&0; for i in $(seq 24); do sleep 1000 <&3 3<&- & done; "+
		"redis-cli -p "+strconv.Itoa(rds2.Port)+" subscribe jobs <&3 3<&- & wait; }", nil)
	writer := realproc.WaitChildren(t, siblings.PID, 1, "sleep")[0]
	sub := realproc.WaitChildren(t, realproc.WaitChildren(t, siblings.PID, 1, "sh")[0], 25, "")
	var client int
	for _, pid := range sub {
		if realproc.Comm(pid) == "redis-cli" {
			client = pid
		}
	}
	if client == 0 {
		t.Fatalf("no redis-cli among the children %v of the subshell", sub)
	}
	cases = append(cases, realCase{name: "siblings", focus: client,
		conns: []realPeer{{rds2.PID, graph.ViaTCP}, {writer, graph.ViaPipe}}, roots: []int{rds2.PID, siblings.PID}, maxBoxes: 4,
		crowd: "shared with 25 processes", headline: "shared with"})

	s := startLive(t)
	var missing []string
	defer func() {
		if t.Failed() && len(missing) > 0 {
			t.Logf("connections not seen: %s", strings.Join(missing, "; "))
		}
	}()
	s.waitGraph(t, "every connection of the real software", func(x *graph.Index) bool {
		missing = nil
		for _, c := range cases {
			for _, p := range c.conns {
				if !connected(c.focus, p.pid, p.via)(x) {
					missing = append(missing, fmt.Sprintf("%s: %d → %d over %s (peers: %+v)", c.name, c.focus, p.pid, p.via, x.Peers(c.focus)))
				}
			}
		}
		return len(missing) == 0
	})
	p := newPage(t, s.URL, screenshotDir(t))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.t = t
			p.navigate(fmt.Sprintf("/process/%d", c.focus))
			p.wait(c.name+": the diagram", diagramReady(c.focus))
			var pids []string
			for _, peer := range c.conns {
				p.wait(fmt.Sprintf("%s: pid %d (%s) drawn", c.name, peer.pid, peer.via), fmt.Sprintf(`document.querySelector('#diagram %s[data-pid="%d"]')`, processBox, peer.pid))
				pids = append(pids, strconv.Itoa(peer.pid))
			}
			p.shot(c.name)
			want := c.onScreen
			if want == 0 {
				want = len(c.conns)
			}
			p.wait(fmt.Sprintf("%s: %d of %v on the first screen", c.name, want, pids),
				fmt.Sprintf("[%s].filter(%s).length >= %d", strings.Join(pids, ","), onFirstScreenJS, want))
			for _, pid := range c.drawn {
				p.wait(fmt.Sprintf("%s: pid %d drawn", c.name, pid), fmt.Sprintf(`document.querySelector('#diagram %s[data-pid="%d"]')`, processBox, pid))
			}
			scenario := map[int]bool{}
			for _, r := range c.roots {
				scenario[r] = true
				for _, d := range realproc.Descendants(r) {
					scenario[d] = true
				}
			}
			ours, others := 0, 0
			for _, pid := range eval[[]int](p, drawnPIDsJS) {
				if scenario[pid] {
					ours++
				} else {
					others++
				}
			}
			if ours > c.maxBoxes || others > envBoxes {
				p.fail("%s: %d processes of the scenario drawn one by one (want at most %d) and %d others (at most %d)",
					c.name, ours, c.maxBoxes, others, envBoxes)
			}
			if c.crowd != "" {
				p.wait(c.name+": the crowd", fmt.Sprintf(`[...document.querySelectorAll('#diagram g.box.crowd')].some(b => b.textContent.includes(%q))`, c.crowd))
				// A click on the crowd draws its processes one by one; collapse folds them back.
				id := eval[string](p, fmt.Sprintf(`[...document.querySelectorAll('#diagram g.box.crowd')].find(b => b.textContent.includes(%q)).dataset.boxId`, c.crowd))
				crowd := fmt.Sprintf(`#diagram g.box.crowd[data-box-id=%q]`, id)
				p.click(c.name+": fit", `#zoom-fit`)
				p.click(c.name+": the crowd", crowd)
				p.wait(c.name+": the crowd drawn one by one", fmt.Sprintf(`!document.querySelector(%q) && %s >= 25`, crowd, processBoxesJS))
				if bad := eval[[]string](p, `[...document.querySelectorAll('#diagram `+processBox+`:not([data-pid]):not(.gone)')].map(b => b.getAttribute('class'))`); len(bad) > 0 {
					t.Errorf("process boxes without a pid: %v", bad)
				}
				p.click(c.name+": collapse", `#expanded button`)
				p.wait(c.name+": the crowd again", `document.querySelector('#diagram g.box.crowd')`)
			}
			p.wait(c.name+": the header", fmt.Sprintf(`document.getElementById('focus-headline').textContent.includes(%q)`, c.headline))
			if c.screenshot != "" && *screenshotsFlag != "" {
				b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(*screenshotsFlag, c.screenshot), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			note := eval[string](p, `document.getElementById('focus-headline').textContent`)
			t.Logf("%s (pid %d): %s; %d processes drawn", c.name, c.focus, strings.TrimSpace(note), eval[int](p, processBoxesJS))
		})
	}

	// The map of the host: nginx's master and workers are one group, linked
	// by TCP to the keep-alive client's; redis to each redis-cli; the
	// pipeline's members one group. The screenshot is docs/screenshots/map.png.
	t.Run("map", func(t *testing.T) {
		p.t = t
		var m api.MapMessage
		groupOf := func(pid int) *hostmap.Group {
			for i, g := range m.Groups {
				if slices.Contains(g.PIDs, pid) {
					return &m.Groups[i]
				}
			}
			return nil
		}
		linked := func(a, b *hostmap.Group) bool {
			return a != nil && b != nil && slices.ContainsFunc(m.Links, func(l hostmap.Link) bool {
				return l.From == min(a.ID, b.ID) && l.To == max(a.ID, b.ID)
			})
		}
		pipeline := realproc.Children(sh.PID)
		defer func() {
			if t.Failed() {
				ng := groupOf(ngx.Master.PID)
				t.Logf("nginx group %+v; keep-alive %+v; redis %+v, clis %+v %+v; pipeline %v: %+v %+v; %d groups, %d links",
					ng, groupOf(ka.PID), groupOf(rds.PID), groupOf(cli1.PID), groupOf(cli2.PID), pipeline,
					groupOf(firstOr(pipeline)), groupOf(lastOr(pipeline)), len(m.Groups), len(m.Links))
			}
		}()
		s.waitMap(t, &m, "the real software's groups and links", func() bool {
			ngxGroup := groupOf(ngx.Master.PID)
			return ngxGroup != nil && slices.Contains(ngxGroup.PIDs, ngx.Workers[0]) && slices.Contains(ngxGroup.PIDs, ngx.Workers[1]) &&
				linked(ngxGroup, groupOf(ka.PID)) && linked(groupOf(rds.PID), groupOf(cli1.PID)) && linked(groupOf(rds.PID), groupOf(cli2.PID)) &&
				len(pipeline) == 3 && groupOf(pipeline[0]) != nil && groupOf(pipeline[0]) == groupOf(pipeline[2])
		})
		p.navigate("/?theme=light&chrome=0")
		p.wait("the map", fmt.Sprintf(`document.querySelector('#map g.group[data-group=%q]')`, groupOf(ngx.Master.PID).ID))
		p.shot("map")
		if *screenshotsFlag != "" {
			b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(*screenshotsFlag, "map.png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("map: %d groups, %d links", len(m.Groups), len(m.Links))
	})
}

func firstOr(pids []int) int {
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

func lastOr(pids []int) int {
	if len(pids) == 0 {
		return 0
	}
	return pids[len(pids)-1]
}
