//go:build linux

package web_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/hostmap"
	"github.com/fdscope/fdscope/live"
)

// groupSel selects the box of a group on the map.
func groupSel(id string) string { return fmt.Sprintf(`#map g.group[data-group=%q]`, id) }

// TestBrowserMap drives the map of the host, the landing view: the groups
// and links the server computed, search, click a group → click a process
// → the focus view → back to the map; a new version keeps the groups in
// place and marks the new ones; documentation mode.
func TestBrowserMap(t *testing.T) {
	t.Parallel()
	chromium(t)
	first := diagramtest.UnixEcho()
	m := hostmap.Build(graph.NewIndex(first))
	if len(m.Groups) < 2 || len(m.Links) == 0 {
		t.Fatalf("the seed's map has %d groups and %d links", len(m.Groups), len(m.Links))
	}
	server, client := m.Links[0].From, m.Links[0].To
	var serverPID int
	for _, g := range m.Groups {
		if g.ID == server {
			serverPID = g.PIDs[0]
		}
	}
	store := live.NewStore(live.DefaultWindow)
	store.Publish(first)
	s := startServer(t, store)
	p := newPage(t, s.URL, screenshotDir(t))
	p.navigate("/")

	p.wait("the map", `!document.getElementById('map-pane').hidden && document.getElementById('map').dataset.state === 'ready'`)
	p.wait("every group drawn", fmt.Sprintf(`document.querySelectorAll('#map g.group[data-group]').length === %d`, len(m.Groups)))
	p.wait("the link", fmt.Sprintf(`document.querySelector('#map line.link[data-from=%q][data-to=%q]')`, server, client))
	p.shot("map")

	// Search highlights the matching groups.
	clientName := m.Groups[slices.IndexFunc(m.Groups, func(g hostmap.Group) bool { return g.ID == client })].Name
	p.run("search", chromedp.SendKeys(chromedp.CSS("#search"), clientName))
	p.wait("the client's group highlighted", fmt.Sprintf(`document.querySelector(%q).classList.contains('match') && !document.querySelector(%q).classList.contains('match')`, groupSel(client), groupSel(server)))
	p.run("clear the search", chromedp.Evaluate[chromedp.Void](`(s => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.getElementById('search'))`))
	p.wait("no highlight", `!document.querySelector('#map svg.searching')`)

	// Click a group: its processes; click one: its focus view; back: the map.
	before := eval[string](p, fmt.Sprintf(`document.querySelector('%s rect').getAttribute('x') + ',' + document.querySelector('%s rect').getAttribute('y')`, groupSel(server), groupSel(server)))
	p.click("the server's group", groupSel(server))
	p.wait("the group's processes", fmt.Sprintf(`document.querySelector('#map svg.opened g.proc[data-pid="%d"]') && !document.getElementById('map-back').hidden`, serverPID))
	p.shot("map-group")
	p.click("the server process", fmt.Sprintf(`#map g.proc[data-pid="%d"]`, serverPID))
	p.wait("the focus view", diagramReady(serverPID))
	if path := eval[string](p, `location.pathname`); path != fmt.Sprintf("/process/%d", serverPID) {
		t.Errorf("after clicking the process: %s", path)
	}
	p.run("back", chromedp.NavigateBack())
	p.wait("the map again", fmt.Sprintf(`location.pathname === '/' && !document.getElementById('map-pane').hidden && document.getElementById('focus').hidden && !document.querySelector('#map svg.opened') && document.querySelector(%q)`, groupSel(server)))

	// A new version: the pipe pair's groups come, the echo pair's stay put.
	second := overlay(first, diagramtest.Pipe(), first.Stats)
	m2 := hostmap.Build(graph.NewIndex(second))
	var fresh []string
	for _, g := range m2.Groups {
		if !slices.ContainsFunc(m.Groups, func(o hostmap.Group) bool { return o.ID == g.ID }) {
			fresh = append(fresh, g.ID)
		}
	}
	if len(fresh) == 0 {
		t.Fatal("the pipe pair adds no group to the map")
	}
	store.Publish(second)
	p.wait("the new groups, marked", fmt.Sprintf(`document.querySelector('%s.fresh')`, groupSel(fresh[0])))
	after := eval[string](p, fmt.Sprintf(`document.querySelector('%s rect').getAttribute('x') + ',' + document.querySelector('%s rect').getAttribute('y')`, groupSel(server), groupSel(server)))
	if after != before {
		t.Errorf("the server's group moved from %s to %s", before, after)
	}
	p.wait("the mark gone after a moment", fmt.Sprintf(`!document.querySelector('%s.fresh')`, groupSel(fresh[0])))

	// Documentation mode: the map alone.
	p.navigate("/?theme=light&chrome=0")
	p.wait("the map in documentation mode", fmt.Sprintf(`document.body.classList.contains('chromeless') && document.querySelector(%q) && getComputedStyle(document.querySelector('#map-pane .toolbar')).display === 'none'`, groupSel(server)))
	p.shot("map-doc")
}
