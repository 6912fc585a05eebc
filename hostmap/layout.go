package hostmap

import (
	"cmp"
	"math"
	"slices"
)

// Cell sizes of a layout, in character cells: each group's box is
// BoxW×BoxH, in a grid of CellW×CellH (the rest is room for links).
const (
	BoxW  = 22
	BoxH  = 4
	CellW = 28
	CellH = 6
)

// Layout places each group of a map in a cell of a grid, so that no two
// boxes or labels overlap however many groups there are. Groups joined by
// links are placed near each other (breadth-first from the busiest group
// of each connected part); given the layout of the previous version, every
// group that is still there keeps its cell, and new ones take the free
// cell nearest a neighbour.
type Layout struct {
	Columns int        `json:"columns"`
	Rows    int        `json:"rows"`
	Width   int        `json:"width"`  // in character cells: Columns×CellW
	Height  int        `json:"height"` // Rows×CellH
	Nodes   []NodeCell `json:"nodes"`  // by group ID
}

// NodeCell is where a group is drawn: its cell, and its box in character
// cells (X, Y the top left corner).
type NodeCell struct {
	ID  string `json:"id"`
	Col int    `json:"col"`
	Row int    `json:"row"`
	X   int    `json:"x"`
	Y   int    `json:"y"`
	W   int    `json:"w"`
	H   int    `json:"h"`
}

// MaxColumns bounds the grid's width.
const MaxColumns = 12

// NewLayout lays out m; prev (nil for none) is the layout of the
// previous version, whose cells the groups that remain keep. maxColumns
// (0: MaxColumns) bounds the grid's width, for a terminal.
//
// The grid is √(1.6 n) columns wide for n groups, within the bounds; it
// never gets narrower than prev's, so that every cell of prev stays where
// it was, and grows wider when the map has grown.
func NewLayout(m *Map, prev *Layout, maxColumns int) *Layout {
	if maxColumns <= 0 || maxColumns > MaxColumns {
		maxColumns = MaxColumns
	}
	n := len(m.Groups)
	cols := min(maxColumns, max(1, int(math.Ceil(math.Sqrt(1.6*float64(n))))))
	if prev != nil {
		cols = max(cols, prev.Columns)
	}
	type cell struct{ col, row int }
	taken := map[cell]bool{}
	at := map[string]cell{}
	if prev != nil {
		ids := map[string]bool{}
		for _, g := range m.Groups {
			ids[g.ID] = true
		}
		for _, c := range prev.Nodes {
			if ids[c.ID] && c.Col < cols {
				at[c.ID] = cell{c.Col, c.Row}
				taken[cell{c.Col, c.Row}] = true
			}
		}
	}
	// Neighbours and degrees.
	adj := map[string][]string{}
	for _, l := range m.Links {
		adj[l.From] = append(adj[l.From], l.To)
		adj[l.To] = append(adj[l.To], l.From)
	}
	for _, ns := range adj {
		slices.Sort(ns)
	}
	// The order to place in: connected parts by size (largest first), each
	// breadth-first from its busiest group; groups without links last.
	order := make([]string, 0, n)
	seen := map[string]bool{}
	byDegree := make([]string, 0, n)
	for _, g := range m.Groups {
		byDegree = append(byDegree, g.ID)
	}
	slices.SortStableFunc(byDegree, func(a, b string) int { return cmp.Compare(len(adj[b]), len(adj[a])) })
	var parts [][]string
	for _, start := range byDegree {
		if seen[start] {
			continue
		}
		part := []string{start}
		seen[start] = true
		for i := 0; i < len(part); i++ {
			for _, nb := range adj[part[i]] {
				if !seen[nb] {
					seen[nb] = true
					part = append(part, nb)
				}
			}
		}
		parts = append(parts, part)
	}
	slices.SortStableFunc(parts, func(a, b []string) int { return cmp.Compare(len(b), len(a)) })
	for _, p := range parts {
		order = append(order, p...)
	}
	firstFree := func() cell {
		for i := 0; ; i++ {
			c := cell{i % cols, i / cols}
			if !taken[c] {
				return c
			}
		}
	}
	nearest := func(to cell) cell {
		best, bestD := firstFree(), math.MaxInt
		// Search the rings around to until one holds a free cell.
		for r := 1; r < cols+len(order)+2; r++ {
			for dr := -r; dr <= r; dr++ {
				for dc := -r; dc <= r; dc++ {
					if max(abs(dr), abs(dc)) != r {
						continue
					}
					c := cell{to.col + dc, to.row + dr}
					if c.col < 0 || c.col >= cols || c.row < 0 || taken[c] {
						continue
					}
					d := dr*dr + dc*dc
					if d < bestD || d == bestD && (c.row < best.row || c.row == best.row && c.col < best.col) {
						best, bestD = c, d
					}
				}
			}
			if bestD != math.MaxInt {
				return best
			}
		}
		return best
	}
	for _, id := range order {
		if _, ok := at[id]; ok {
			continue
		}
		var c cell
		placed := false
		for _, nb := range adj[id] {
			if nc, ok := at[nb]; ok {
				c, placed = nearest(nc), true
				break
			}
		}
		if !placed {
			c = firstFree()
		}
		at[id] = c
		taken[c] = true
	}
	l := &Layout{Columns: cols, Nodes: make([]NodeCell, 0, n)}
	for _, g := range m.Groups {
		c := at[g.ID]
		l.Rows = max(l.Rows, c.row+1)
		l.Nodes = append(l.Nodes, NodeCell{ID: g.ID, Col: c.col, Row: c.row,
			X: c.col*CellW + (CellW-BoxW)/2, Y: c.row*CellH + (CellH-BoxH)/2, W: BoxW, H: BoxH})
	}
	l.Width, l.Height = cols*CellW, l.Rows*CellH
	return l
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
