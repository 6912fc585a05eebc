package diagram

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SVGOptions tune SVG. The zero value draws the light theme with 9×20 pixel
// cells and a legend.
type SVGOptions struct {
	// Theme is "light" (the default), "dark", or "auto", which follows the
	// viewer's prefers-color-scheme. Colours are CSS custom properties on
	// the root element (class "fdscope"): a page can restyle them.
	Theme string
	// CellWidth and CellHeight are the size of one layout cell in pixels;
	// zero means 9 and 20 (for the 14 px monospace text).
	CellWidth, CellHeight float64
	// NoLegend leaves out the legend of colours below the diagram.
	NoLegend bool
}

// fontStack is a generic monospace stack: no font is embedded or fetched.
const fontStack = `ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace`

const svgStyle = `
.fdscope{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--edge:#59636e;--conn:#8250df;--sep:#0969da;
--process:#ddf4ff;--process-line:#0969da;--ofd:#f6f8fa;--ofd-line:#818b98;--socket:#fbefff;--socket-line:#8250df;
--pipe:#dafbe1;--pipe-line:#1a7f37;--file:#fff8c5;--file-line:#9a6700;--dev:#ffebe9;--dev-line:#cf222e;
--anon:#ffeff7;--anon-line:#bf3989;--group:#f6f8fa;--group-line:#59636e;--unknown:#ffffff;--unknown-line:#d1242f}
.fdscope.theme-dark{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--edge:#9198a1;--conn:#d2a8ff;--sep:#4493f8;
--process:#0c2d6b;--process-line:#4493f8;--ofd:#151b23;--ofd-line:#656c76;--socket:#271052;--socket-line:#ab7df8;
--pipe:#04260f;--pipe-line:#3fb950;--file:#2e2000;--file-line:#d29922;--dev:#3c0b0b;--dev-line:#f85149;
--anon:#3b0d26;--anon-line:#db61a2;--group:#151b23;--group-line:#9198a1;--unknown:#0d1117;--unknown-line:#f85149}
@media (prefers-color-scheme:dark){.fdscope.theme-auto{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--edge:#9198a1;--conn:#d2a8ff;--sep:#4493f8;
--process:#0c2d6b;--process-line:#4493f8;--ofd:#151b23;--ofd-line:#656c76;--socket:#271052;--socket-line:#ab7df8;
--pipe:#04260f;--pipe-line:#3fb950;--file:#2e2000;--file-line:#d29922;--dev:#3c0b0b;--dev-line:#f85149;
--anon:#3b0d26;--anon-line:#db61a2;--group:#151b23;--group-line:#9198a1;--unknown:#0d1117;--unknown-line:#f85149}}
.fdscope .bg{fill:var(--bg)}
.fdscope text{font-family:` + fontStack + `;font-size:14px;fill:var(--fg);white-space:pre}
.fdscope .frame{stroke-width:1.5}
.fdscope .focus>.frame{stroke-width:3}
.fdscope .k-process>.frame{fill:var(--process);stroke:var(--process-line)}
.fdscope .k-ofd>.frame{fill:var(--ofd);stroke:var(--ofd-line)}
.fdscope .k-socket>.frame{fill:var(--socket);stroke:var(--socket-line)}
.fdscope .k-pipe>.frame{fill:var(--pipe);stroke:var(--pipe-line)}
.fdscope .k-file>.frame{fill:var(--file);stroke:var(--file-line)}
.fdscope .k-dev>.frame{fill:var(--dev);stroke:var(--dev-line)}
.fdscope .k-anon>.frame{fill:var(--anon);stroke:var(--anon-line)}
.fdscope .k-group>.frame{fill:var(--group);stroke:var(--group-line);stroke-dasharray:5 3}
.fdscope .k-crowd>.frame{fill:var(--process);stroke:var(--process-line);stroke-dasharray:6 3}
.fdscope .k-unknown>.frame{fill:var(--unknown);stroke:var(--unknown-line)}
.fdscope .k-process>.title,.fdscope .k-crowd>.title{font-weight:bold}
.fdscope .port>rect{fill:var(--bg);stroke:var(--process-line);stroke-width:1}
.fdscope .port.more>rect{stroke-dasharray:3 2}
.fdscope .edge{fill:none;stroke:var(--edge);stroke-width:1.5}
.fdscope .e-peer,.fdscope .e-accepted{stroke:var(--conn);stroke-width:2}
.fdscope .e-watch{stroke:var(--anon-line);stroke-dasharray:5 3}
.fdscope .head{fill:var(--edge)}
.fdscope .head.conn{fill:var(--conn)}
.fdscope .edge-label>rect{fill:var(--bg)}
.fdscope .edge-label>text{fill:var(--conn)}
.fdscope .sep{stroke:var(--sep);stroke-width:1.5}
.fdscope .band{fill:var(--sep);font-style:italic}
.fdscope .legend text{fill:var(--muted);font-size:12px}
`

// legend names the colour classes, in the order the legend shows them.
var legend = [][2]string{{"process", "process"}, {"ofd", "open file description"}, {"socket", "socket"},
	{"pipe", "pipe, fifo"}, {"file", "file"}, {"dev", "device"}, {"anon", "anon inode"}, {"group", "group"}, {"crowd", "processes that share"}, {"unknown", "unknown"}}

// SVG writes the layout as a standalone SVG document: styles inlined, no
// script, no external resource. Every process box carries data-pid, every
// fd port data-fd (data-fds lists all the fds of a grouped port), and every
// drawn node data-node-id, its graph ID (groups list theirs in data-members).
func SVG(l *Layout, w io.Writer, opts SVGOptions) error {
	g := l.Geometry
	if g.CellWidth <= 0 || g.CellHeight <= 0 {
		g = DefaultGeometry()
	}
	cw, ch := opts.CellWidth, opts.CellHeight
	if cw <= 0 {
		cw = g.CellWidth
	}
	if ch <= 0 {
		ch = g.CellHeight
	}
	theme := opts.Theme
	switch theme {
	case "dark", "auto":
	default:
		theme = "light"
	}
	pad := g.Pad
	// Cell centres.
	cx := func(x int) float64 { return pad + (float64(x)+0.5)*cw }
	cy := func(y int) float64 { return pad + (float64(y)+0.5)*ch }
	base := func(y int) float64 { return cy(y) + g.Baseline } // text baseline in row y
	width := 2*pad + float64(l.Width)*cw
	height := 2*pad + float64(l.Height)*ch
	classes := map[string]bool{}
	for _, b := range l.Boxes {
		classes[b.Class] = true
	}
	legendH := 0.0
	if !opts.NoLegend && len(classes) > 0 {
		legendH = 28
	}
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" class="fdscope theme-%s" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s" font-size="14" data-focus-pid="%d" data-focus-id="%s">`+"\n",
		theme, num(width), num(height+legendH), num(width), num(height+legendH), esc(fontStack), l.Focus, esc(l.FocusID))
	p("<style>%s</style>\n", svgStyle)
	p(`<defs><marker id="fdscope-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path class="head" d="M0,0L10,5L0,10z"/></marker>`)
	p(`<marker id="fdscope-arrow-conn" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path class="head conn" d="M0,0L10,5L0,10z"/></marker></defs>` + "\n")
	p(`<rect class="bg" x="0" y="0" width="%s" height="%s"/>`+"\n", num(width), num(height+legendH))

	// The user space / kernel space lines.
	p(`<g class="bands">`)
	for _, t := range l.Tiers {
		y := cy(t.Separator)
		for _, d := range []float64{-2, 2} {
			p(`<line class="sep" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(pad), num(y+d), num(width-pad), num(y+d))
		}
	}
	for _, lb := range l.Labels {
		p(`<text class="band" x="%s" y="%s">%s</text>`, num(pad+float64(lb.X)*cw), num(base(lb.Y)), esc(lb.Text))
	}
	p("</g>\n")

	// Boxes.
	p(`<g class="boxes">` + "\n")
	for _, bx := range l.Boxes {
		r := bx.Rect
		cls := "box k-" + bx.Class
		if bx.Focus {
			cls += " focus"
		}
		p(`<g class="%s" data-box-id="%s" data-kind="%s"`, cls, esc(bx.ID), esc(bx.Kind))
		if bx.NodeID != "" {
			p(` data-node-id="%s"`, esc(bx.NodeID))
		}
		if bx.PID != 0 {
			p(` data-pid="%d"`, bx.PID)
		}
		if len(bx.Members) > 0 {
			p(` data-members="%s"`, esc(strings.Join(bx.Members, " ")))
		}
		p(">")
		if bx.Title != "" {
			p("<title>%s</title>", esc(bx.Title))
		}
		p(`<rect class="frame" x="%s" y="%s" width="%s" height="%s" rx="4"/>`,
			num(cx(r.X)), num(cy(r.Y)), num(float64(r.W-1)*cw), num(float64(r.H-1)*ch))
		for i, s := range bx.Label {
			cls := "label"
			if (bx.Kind == "process" || bx.Kind == KindCrowd) && i == 0 {
				cls = "title"
			}
			p(`<text class="%s" x="%s" y="%s">%s</text>`, cls, num(pad+float64(r.X+2)*cw), num(base(r.Y+1+i)), esc(s))
		}
		for _, pt := range bx.Ports {
			pr := pt.Rect
			p(`<g class="port %s" data-port-id="%s"`, esc(pt.Kind), esc(pt.ID))
			if len(pt.FDs) > 0 {
				fds := make([]string, len(pt.FDs))
				for i, fd := range pt.FDs {
					fds[i] = strconv.Itoa(fd)
				}
				p(` data-fd="%d" data-fds="%s" data-node-id="%s" data-node-ids="%s"`, pt.FDs[0], strings.Join(fds, " "),
					esc(pt.NodeIDs[0]), esc(strings.Join(pt.NodeIDs, " ")))
			}
			p(">")
			if pt.Title != "" {
				p("<title>%s</title>", esc(pt.Title))
			}
			p(`<rect x="%s" y="%s" width="%s" height="%s" rx="3"/><text x="%s" y="%s">%s</text></g>`,
				num(pad+float64(pr.X)*cw-4), num(cy(pr.Y)-ch*0.4), num(float64(pr.W)*cw+8), num(ch*0.8),
				num(pad+float64(pr.X)*cw), num(base(pr.Y)), esc(pt.Label))
		}
		p("</g>\n")
	}
	p("</g>\n")

	// Edges, over the boxes; then their labels, over everything.
	p(`<g class="edges">` + "\n")
	for _, e := range l.Edges {
		if len(e.Points) < 2 {
			continue
		}
		var d strings.Builder
		for i, pt := range e.Points {
			op := "L"
			if i == 0 {
				op = "M"
			}
			fmt.Fprintf(&d, "%s%s,%s", op, num(cx(pt.X)), num(cy(pt.Y)))
		}
		busy := ""
		if e.Activity != nil {
			// The heavier the busier; data-rate for scripts and tests.
			// (An inline style: the stylesheet, and so every drawing
			// without activity, stays as it is.)
			busy = fmt.Sprintf(` busy w%d" style="stroke-width:%s" data-rate="%s`, e.Activity.Weight(), num(1.5+float64(e.Activity.Weight())), num(e.Activity.BytesPerSec))
		}
		p(`<path class="edge e-%s%s" data-edge-id="%s" data-from="%s" data-to="%s" d="%s"`,
			esc(e.Kind), busy, esc(e.ID), esc(e.From), esc(e.To), d.String())
		if e.Arrow {
			marker := "fdscope-arrow"
			if e.Kind == EdgePeer || e.Kind == EdgeAccepted {
				marker = "fdscope-arrow-conn"
			}
			p(` marker-end="url(#%s)"`, marker)
		}
		if e.Title != "" {
			p("><title>%s</title></path>\n", esc(e.Title))
		} else {
			p("/>\n")
		}
	}
	for _, e := range l.Edges {
		if e.LabelRect == nil {
			continue
		}
		r := e.LabelRect
		p(`<g class="edge-label" data-edge-id="%s"><rect x="%s" y="%s" width="%s" height="%s"/><text x="%s" y="%s">%s</text></g>`+"\n",
			esc(e.ID), num(pad+float64(r.X)*cw-cw/2), num(cy(r.Y)-ch*0.4), num(float64(r.W+1)*cw), num(ch*0.8),
			num(pad+float64(r.X)*cw), num(base(r.Y)), esc(shorten(e.Label, r.W)))
	}
	p("</g>\n")

	if legendH > 0 {
		p(`<g class="legend">`)
		x := pad
		y := height
		for _, c := range legend {
			if !classes[c[0]] {
				continue
			}
			p(`<g class="box k-%s"><rect class="frame" x="%s" y="%s" width="14" height="10" rx="2"/></g><text x="%s" y="%s">%s</text>`,
				c[0], num(x), num(y), num(x+20), num(y+10), esc(c[1]))
			x += 20 + float64(utf8.RuneCountInString(c[1]))*7.5 + 16
		}
		p("</g>\n")
	}
	p("</svg>\n")
	return b.Flush()
}

// num formats a coordinate with at most two decimals.
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// esc escapes text for XML content and attributes, replacing what XML 1.0
// cannot hold (control characters, invalid UTF-8) and what would make a
// name read as another (bidi and invisible characters, unsafeRune) with
// U+FFFD.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r == '\n':
			b.WriteString("&#10;")
		case r == '\t':
			b.WriteString("&#9;")
		case unsafeRune(r), r >= 0xFFFE && r <= 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
