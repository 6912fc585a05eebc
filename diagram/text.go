package diagram

import (
	"bufio"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextOptions tune Text. The zero value draws box-drawing characters with no
// width limit.
type TextOptions struct {
	// Width, when positive, is the longest a line may be, in characters. A
	// layout wider than that (see Options.Width, which should be the same)
	// is folded: printed in panels of columns, one below the other.
	Width int
	// ASCII draws with + - | = v ^ < > only: every byte of the output is
	// ASCII, labels included (other characters become '?').
	ASCII bool
}

// Line directions of a cell.
const (
	up uint8 = 1 << iota
	down
	left
	right
)

type cell struct {
	r      rune  // text, or 0
	cont   bool  // the second cell of a wide rune: prints nothing
	arrow  rune  // an arrow head, or 0
	mask   uint8 // line directions
	hd, vd bool  // double horizontal / vertical lines
}

type grid struct {
	w, h  int
	cells []cell
	ascii bool
}

func (g *grid) at(x, y int) *cell {
	if x < 0 || y < 0 || x >= g.w || y >= g.h {
		return nil
	}
	return &g.cells[y*g.w+x]
}

func (g *grid) line(x, y int, bits uint8, double bool) {
	c := g.at(x, y)
	if c == nil {
		return
	}
	c.mask |= bits
	if double && bits&(left|right) != 0 {
		c.hd = true
	}
	if double && bits&(up|down) != 0 {
		c.vd = true
	}
}

// segment draws a line between two cells in a row or a column, both ends
// included.
func (g *grid) segment(a, b Point, double bool) {
	switch {
	case a.Y == b.Y:
		lo, hi := min(a.X, b.X), max(a.X, b.X)
		for x := lo; x <= hi; x++ {
			var bits uint8
			if x > lo {
				bits |= left
			}
			if x < hi {
				bits |= right
			}
			g.line(x, a.Y, bits, double)
		}
	case a.X == b.X:
		lo, hi := min(a.Y, b.Y), max(a.Y, b.Y)
		for y := lo; y <= hi; y++ {
			var bits uint8
			if y > lo {
				bits |= up
			}
			if y < hi {
				bits |= down
			}
			g.line(a.X, y, bits, double)
		}
	}
}

func (g *grid) text(x, y int, s string, maxW int) {
	if g.ascii {
		s = toASCII(s)
	}
	i := 0
	for _, r := range s {
		if unsafeRune(r) {
			r = '?' // control, bidi and invisible characters, invalid UTF-8: see unsafeRune
		}
		rw := 1
		if !g.ascii {
			rw = runeWidth(r)
		}
		if i+rw > maxW {
			return
		}
		if c := g.at(x+i, y); c != nil {
			c.r = r
		}
		if rw == 2 {
			if c := g.at(x+i+1, y); c != nil {
				c.r, c.cont = 0, true
			}
		}
		i += rw
	}
}

// draw paints a layout on a grid.
func draw(l *Layout, ascii bool) *grid {
	g := &grid{w: l.Width, h: l.Height, cells: make([]cell, l.Width*l.Height), ascii: ascii}
	for _, t := range l.Tiers {
		g.segment(Point{0, t.Separator}, Point{t.Width - 1, t.Separator}, true)
	}
	for _, b := range l.Boxes {
		r := b.Rect
		x1, y1 := r.X+r.W-1, r.Y+r.H-1
		double := b.Focus
		g.segment(Point{r.X, r.Y}, Point{x1, r.Y}, double)
		g.segment(Point{r.X, y1}, Point{x1, y1}, double)
		g.segment(Point{r.X, r.Y}, Point{r.X, y1}, double)
		g.segment(Point{x1, r.Y}, Point{x1, y1}, double)
		for i, s := range b.Label {
			g.text(r.X+2, r.Y+1+i, s, r.W-4)
		}
		for _, p := range b.Ports {
			g.text(p.Rect.X, p.Rect.Y, p.Label, p.Rect.W)
		}
	}
	for _, e := range l.Edges {
		pts := e.Points
		n := len(pts)
		if n < 2 {
			continue
		}
		for i := 0; i+1 < n-1; i++ {
			g.segment(pts[i], pts[i+1], false)
		}
		a, b := pts[n-2], pts[n-1]
		if !e.Arrow {
			g.segment(a, b, false)
			continue
		}
		// The arrow head sits in the cell before the end, which is on the
		// target's border.
		dx, dy := sign(b.X-a.X), sign(b.Y-a.Y)
		head := Point{b.X - dx, b.Y - dy}
		g.segment(a, head, false)
		if c := g.at(head.X, head.Y); c != nil {
			switch {
			case dy > 0:
				c.arrow = '▼'
			case dy < 0:
				c.arrow = '▲'
			case dx > 0:
				c.arrow = '▶'
			default:
				c.arrow = '◀'
			}
		}
	}
	for _, e := range l.Edges {
		if e.LabelRect == nil {
			continue
		}
		r := e.LabelRect
		g.text(r.X-1, r.Y, " "+shorten(e.Label, r.W)+" ", r.W+2)
	}
	for _, lb := range l.Labels {
		g.text(lb.X, lb.Y, lb.Text, width(lb.Text))
	}
	return g
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// Box-drawing characters by line directions, in the order of boxOrder, for
// each mix of light and double lines.
var boxOrder = [...]uint8{left | right, up | down, down | right, down | left, up | right, up | left,
	up | down | right, up | down | left, left | right | down, left | right | up, up | down | left | right}

// boxChars is indexed by [double horizontal][double vertical].
var boxChars = [2][2][len(boxOrder)]rune{
	{[11]rune([]rune("─│┌┐└┘├┤┬┴┼")), [11]rune([]rune("─║╓╖╙╜╟╢╥╨╫"))},
	{[11]rune([]rune("═│╒╕╘╛╞╡╤╧╪")), [11]rune([]rune("═║╔╗╚╝╠╣╦╩╬"))},
}

var asciiArrows = map[rune]rune{'▼': 'v', '▲': '^', '▶': '>', '◀': '<'}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c cell) rune(ascii bool) rune {
	switch {
	case c.cont:
		return 0
	case c.r != 0:
		return c.r
	case c.arrow != 0:
		if ascii {
			return asciiArrows[c.arrow]
		}
		return c.arrow
	case c.mask == 0:
		return ' '
	}
	m := c.mask
	if m == up || m == down {
		m = up | down
	}
	if m == left || m == right {
		m = left | right
	}
	if ascii {
		switch m {
		case left | right:
			if c.hd {
				return '='
			}
			return '-'
		case up | down:
			return '|'
		}
		return '+'
	}
	for i, o := range boxOrder {
		if o == m {
			return boxChars[b2i(c.hd)][b2i(c.vd)][i]
		}
	}
	return '┼'
}

// asciiText replaces what is not ASCII, cell for cell.
var asciiText = strings.NewReplacer(" ⇄ ", "<->", "⇄", "=", "…", "~", "–", "-", "×", "x", "→", ">", "←", "<")

func toASCII(s string) string {
	s = asciiText.Replace(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// Text writes the layout as text art, one line per row, with no trailing
// spaces.
func Text(l *Layout, w io.Writer, opts TextOptions) error {
	g := draw(l, opts.ASCII)
	rows := make([][]rune, g.h)
	for y := range g.h {
		row := make([]rune, g.w)
		for x := range g.w {
			row[x] = g.at(x, y).rune(opts.ASCII)
		}
		rows[y] = row
	}
	bw := bufio.NewWriter(w)
	emit := func(row []rune) {
		var line strings.Builder
		for _, r := range row {
			if r != 0 { // the second cell of a wide rune
				line.WriteRune(r)
			}
		}
		bw.WriteString(strings.TrimRight(line.String(), " "))
		bw.WriteByte('\n')
	}
	// Each tier on its own: one wider than Width is folded into panels of
	// columns, cut where the fewest rows have something on both sides.
	marker := []rune("┄┄ continued ┄┄")
	if opts.ASCII {
		marker = []rune("-- continued --")
	}
	y := 0
	for _, t := range l.Tiers {
		for ; y < t.Y; y++ {
			emit(nil)
		}
		tr := rows[t.Y : t.Y+t.Height]
		y = t.Y + t.Height
		if opts.Width <= 0 || t.Width <= opts.Width {
			for _, row := range tr {
				emit(row[:t.Width])
			}
			continue
		}
		for c0, panel := 0, 0; c0 < t.Width; panel++ {
			c1 := t.Width
			if t.Width-c0 > opts.Width {
				best := -1
				for c := c0 + opts.Width; c > c0+opts.Width/2; c-- {
					clean := 0
					if slices.ContainsFunc(tr, func(row []rune) bool { return row[c] == 0 }) {
						continue // never between the two cells of a wide rune
					}
					for _, row := range tr {
						if row[c-1] == ' ' || row[c] == ' ' {
							clean++
						}
					}
					if clean > best {
						best, c1 = clean, c
					}
				}
			}
			if panel > 0 {
				emit(marker[:min(len(marker), opts.Width)])
			}
			blank := 0
			for i, row := range tr {
				part := row[c0:c1]
				if strings.Trim(string(part), " \x00") == "" && panel > 0 {
					// A continuation keeps one blank row of each run.
					if blank++; blank > 1 || i == len(tr)-1 {
						continue
					}
				} else {
					blank = 0
				}
				emit(part)
			}
			c0 = c1
		}
	}
	return bw.Flush()
}

// unsafeRune reports whether r must not reach a text output as it is:
// control characters and invalid UTF-8 (they garble a terminal), and the
// invisible format characters (Unicode category Cf: bidirectional overrides
// and isolates such as U+202E, zero-width spaces and joiners such as
// U+200B, the BOM) and line and paragraph separators, which make a name
// read as another one or reorder what follows it.
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError ||
		r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}
