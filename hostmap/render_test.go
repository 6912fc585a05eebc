package hostmap

import (
	"encoding/xml"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestTextAndSVG(t *testing.T) {
	m := host().build()
	l := NewLayout(m, nil, 0)
	txt := Text(m, l)
	for _, want := range []string{"nginx.service", "3 procs :80", "cat | grep", "clients from 203.0.…", "links:", "3 unix"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text map lacks %q:\n%s", want, txt)
		}
	}
	svg := SVG(m, l, "light")
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("SVG map is not XML: %v\n%s", err, svg)
	}
	for _, g := range m.Groups {
		if !strings.Contains(svg, `data-group="`+g.ID+`"`) {
			t.Errorf("SVG map lacks group %s", g.ID)
		}
	}
	if n := strings.Count(svg, `class="link"`); n != len(m.Links) {
		t.Errorf("SVG map draws %d links, want %d", n, len(m.Links))
	}
}

// TestLayoutNoOverlap: every group has a cell of its own, at 100+ groups too.
func TestLayoutNoOverlap(t *testing.T) {
	for _, m := range []*Map{host().build(), Build(indexOf(Big(301, 20)))} {
		l := NewLayout(m, nil, 0)
		if len(l.Nodes) != len(m.Groups) {
			t.Fatalf("%d cells for %d groups", len(l.Nodes), len(m.Groups))
		}
		seen := map[[2]int]string{}
		for _, c := range l.Nodes {
			k := [2]int{c.Col, c.Row}
			if o, ok := seen[k]; ok {
				t.Errorf("%s and %s share cell %v", o, c.ID, k)
			}
			seen[k] = c.ID
			if c.Col >= l.Columns || c.Row >= l.Rows || c.X+c.W > l.Width || c.Y+c.H > l.Height {
				t.Errorf("%s at %+v is outside the %dx%d layout", c.ID, c, l.Width, l.Height)
			}
		}
	}
}

// TestLayoutStable: given the previous layout, groups that remain keep
// their cells, and a new group takes a free one.
func TestLayoutStable(t *testing.T) {
	before := host()
	m0 := before.build()
	l0 := NewLayout(m0, nil, 0)
	if again := NewLayout(m0, nil, 0); !equalCells(l0, again) {
		t.Errorf("two layouts of one map differ")
	}
	after := host()
	after.proc(99, 1, "cron", "/system.slice/cron.service", 4026531840)
	after.pair(99, 3, 33, 9, unix(), unix())
	m1 := after.build()
	l1 := NewLayout(m1, l0, 0)
	old := map[string]NodeCell{}
	for _, c := range l0.Nodes {
		old[c.ID] = c
	}
	for _, c := range l1.Nodes {
		if o, ok := old[c.ID]; ok && (o.Col != c.Col || o.Row != c.Row) {
			t.Errorf("%s moved from %d,%d to %d,%d", c.ID, o.Col, o.Row, c.Col, c.Row)
		}
	}
	if len(l1.Nodes) != len(l0.Nodes)+1 {
		t.Errorf("%d cells after cron started, want %d", len(l1.Nodes), len(l0.Nodes)+1)
	}
}

func equalCells(a, b *Layout) bool {
	if len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		if a.Nodes[i] != b.Nodes[i] {
			return false
		}
	}
	return true
}

// TestMapCSS: the page draws the map with the colours of the SVG export.
func TestMapCSS(t *testing.T) {
	b, err := os.ReadFile("../static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), mapCSS) {
		t.Errorf("static/app.css lacks hostmap.mapCSS: copy it over")
	}
}

// TestLayoutGrows: a map that grows gets a wider grid, its groups keeping
// their cells; a terminal's width bounds the columns.
func TestLayoutGrows(t *testing.T) {
	m := &Map{Groups: []Group{{ID: "a"}, {ID: "b"}}, Links: []Link{{From: "a", To: "b", Count: 1}}}
	l0 := NewLayout(m, nil, 0)
	big := &Map{Links: m.Links}
	for i := range 150 {
		big.Groups = append(big.Groups, Group{ID: fmt.Sprintf("g%03d", i)})
	}
	big.Groups = append(big.Groups, m.Groups...)
	l1 := NewLayout(big, l0, 0)
	if l1.Columns <= l0.Columns || l1.Rows > 2*l1.Columns {
		t.Errorf("150 groups after 2: %d columns × %d rows (before: %d columns)", l1.Columns, l1.Rows, l0.Columns)
	}
	for _, c := range l0.Nodes {
		if i := slices.IndexFunc(l1.Nodes, func(n NodeCell) bool { return n.ID == c.ID }); l1.Nodes[i].Col != c.Col || l1.Nodes[i].Row != c.Row {
			t.Errorf("%s moved", c.ID)
		}
	}
	if l := NewLayout(big, nil, 4); l.Columns != 4 || l.Width > 4*CellW {
		t.Errorf("at most 4 columns: %d (%d cells wide)", l.Columns, l.Width)
	}
}
