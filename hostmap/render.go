package hostmap

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Label returns the two lines drawn in a group's box, each at most width
// characters: its name, and what it is (how many processes, the ports it
// listens on; a remote endpoint's kind).
func Label(g *Group, width int) (string, string) {
	sub := g.Kind
	if g.Kind != KindRemote {
		sub = strconv.Itoa(len(g.PIDs)) + " proc"
		if len(g.PIDs) != 1 {
			sub += "s"
		}
		var ports []string
		for _, l := range g.Listen {
			if i := strings.LastIndexByte(l, ':'); i >= 0 {
				ports = append(ports, l[i:])
			}
		}
		if len(ports) > 0 {
			sub += " " + strings.Join(ports, " ")
		}
	}
	return clip(g.Name, width), clip(sub, width)
}

// clip shortens s to at most n characters, ending it with "…" when cut,
// and replaces control characters (a process names itself).
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// LinkLabel says what a link carries: "3 tcp, unix".
func LinkLabel(l *Link) string {
	via := make([]string, len(l.Via))
	for i, v := range l.Via {
		via[i] = string(v)
	}
	return strconv.Itoa(l.Count) + " " + strings.Join(via, ", ")
}

// Text draws the map as text art: the groups' boxes in their cells, each
// numbered, and then the links between the numbers, one a line.
func Text(m *Map, l *Layout) string {
	if len(m.Groups) == 0 {
		return "(no processes)\n"
	}
	grid := make([][]rune, l.Height)
	for i := range grid {
		grid[i] = []rune(strings.Repeat(" ", l.Width))
	}
	put := func(x, y int, s string) {
		for _, r := range s {
			if y >= 0 && y < len(grid) && x >= 0 && x < len(grid[y]) {
				grid[y][x] = r
			}
			x++
		}
	}
	num := map[string]int{}
	cells := map[string]NodeCell{}
	for _, c := range l.Nodes {
		cells[c.ID] = c
	}
	for i := range m.Groups {
		g := &m.Groups[i]
		num[g.ID] = i + 1
		c, ok := cells[g.ID]
		if !ok {
			continue
		}
		tag := "─" + strconv.Itoa(i+1) + "─"
		put(c.X, c.Y, "┌"+tag+strings.Repeat("─", c.W-2-utf8.RuneCountInString(tag))+"┐")
		a, b := Label(g, c.W-2)
		put(c.X, c.Y+1, "│"+pad(a, c.W-2)+"│")
		put(c.X, c.Y+2, "│"+pad(b, c.W-2)+"│")
		put(c.X, c.Y+3, "└"+strings.Repeat("─", c.W-2)+"┘")
	}
	var sb strings.Builder
	for _, row := range grid {
		sb.WriteString(strings.TrimRight(string(row), " "))
		sb.WriteByte('\n')
	}
	if len(m.Links) > 0 {
		sb.WriteString("\nlinks:\n")
	}
	name := map[string]string{}
	for i := range m.Groups {
		name[m.Groups[i].ID] = clip(m.Groups[i].Name, 40)
	}
	for i := range m.Links {
		lk := &m.Links[i]
		fmt.Fprintf(&sb, "  %d %s ── %d %s: %s\n", num[lk.From], name[lk.From], num[lk.To], name[lk.To], LinkLabel(lk))
	}
	return sb.String()
}

func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

// Pixels per character cell of an SVG map.
const (
	PxX = 8
	PxY = 16
)

// SVG draws the map as an SVG document: each group a <g data-group="ID">
// with its box and labels, each link a line between box centres, thicker
// the more connections it carries. theme is light, dark or auto.
func SVG(m *Map, l *Layout, theme string) string {
	var sb strings.Builder
	w, h := max(l.Width, 1)*PxX, max(l.Height, 1)*PxY
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" class="hostmap theme-%s" viewBox="0 0 %d %d" width="%d" height="%d" font-family="ui-monospace, monospace" font-size="12">`+"\n",
		html.EscapeString(theme), w, h, w, h)
	sb.WriteString("<style>" + mapCSS + "</style>\n")
	cells := map[string]NodeCell{}
	for _, c := range l.Nodes {
		cells[c.ID] = c
	}
	center := func(id string) (float64, float64) {
		c := cells[id]
		return float64(c.X*PxX) + float64(c.W*PxX)/2, float64(c.Y*PxY) + float64(c.H*PxY)/2
	}
	sb.WriteString(`<g class="links">` + "\n")
	for i := range m.Links {
		lk := &m.Links[i]
		x1, y1 := center(lk.From)
		x2, y2 := center(lk.To)
		fmt.Fprintf(&sb, `<line class="link" data-from="%s" data-to="%s" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke-width="%.1f"><title>%s</title></line>`+"\n",
			html.EscapeString(lk.From), html.EscapeString(lk.To), x1, y1, x2, y2, 1+math.Log2(float64(lk.Count)), html.EscapeString(LinkLabel(lk)))
	}
	sb.WriteString("</g>\n")
	for i := range m.Groups {
		g := &m.Groups[i]
		c := cells[g.ID]
		a, b := Label(g, c.W-2)
		x, y := c.X*PxX, c.Y*PxY
		fmt.Fprintf(&sb, `<g class="group kind-%s" data-group="%s"><title>%s</title>`, html.EscapeString(g.Kind), html.EscapeString(g.ID), html.EscapeString(g.Name+" ("+g.Detail+")"))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`, x, y, c.W*PxX, c.H*PxY)
		fmt.Fprintf(&sb, `<text class="name" x="%d" y="%d">%s</text>`, x+PxX, y+PxY+PxY/2, html.EscapeString(a))
		fmt.Fprintf(&sb, `<text class="sub" x="%d" y="%d">%s</text></g>`+"\n", x+PxX, y+2*PxY+PxY/2+2, html.EscapeString(b))
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// mapCSS colours an SVG map; the page uses the same classes (static/map.css).
const mapCSS = `
.hostmap { --bg: #fff; --fg: #1f2328; --muted: #59636e; --box: #f6f8fa; --line: #8c959f; --unit: #0969da; --container: #8250df; --remote: #bc4c00; --netns: #1a7f37; }
.hostmap.theme-dark { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --box: #161b22; --line: #6e7681; --unit: #4493f8; --container: #ab7df8; --remote: #db6d28; --netns: #3fb950; }
@media (prefers-color-scheme: dark) { .hostmap.theme-auto { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --box: #161b22; --line: #6e7681; --unit: #4493f8; --container: #ab7df8; --remote: #db6d28; --netns: #3fb950; } }
.hostmap { background: var(--bg); }
.hostmap .link { stroke: var(--line); stroke-opacity: .7; }
.hostmap .group rect { fill: var(--box); stroke: var(--muted); stroke-width: 1.5; }
.hostmap .kind-unit rect { stroke: var(--unit); }
.hostmap .kind-container rect { stroke: var(--container); }
.hostmap .kind-netns rect { stroke: var(--netns); }
.hostmap .kind-remote rect { stroke: var(--remote); stroke-dasharray: 4 3; }
.hostmap text { fill: var(--fg); }
.hostmap text.sub { fill: var(--muted); font-size: 11px; }
`
