// Package diagram draws the focus view of a process — the process, its file
// descriptors, the open file descriptions and kernel objects behind them, and
// the peer processes at the other ends — as the "user space / kernel space"
// figure of the classic "everything is a file" articles.
//
// There is one layout and several renderers. Layout places the focus
// subgraph (graph.Index.Focus) on a grid of character cells, in bands from top
// to bottom:
//
//	user space     process boxes, their fds as numbered ports
//	═══════════    the user space / kernel space line
//	kernel space   open file descriptions (one box, several fds into it when shared)
//	               objects: sockets, pipes, files, devices, anon inodes
//	               connections: the peer and accepted edges that join objects
//
// Text renders a Layout as box-drawing characters (or plain ASCII), SVG as a
// self-contained, themeable SVG document; the browser draws the Layout's JSON
// form. A Layout is plain data: renderers only draw what it says.
//
// Everything is deterministic: the same snapshot (and Options, Prev
// included) gives the same layout, byte for byte. The package uses the standard library and package graph only and
// keeps no global mutable state; its functions are safe for concurrent use.
package diagram

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/fdscope/fdscope/graph"
)

// A Layout is a diagram placed on a grid of character cells: x grows to the
// right, y downwards, one unit is one cell (a character in Text, a cell of
// SVGOptions.CellWidth × CellHeight pixels in SVG). A box's border lies on its
// outermost cells; edges run through cell centres.
//
// A Layout is not modified by the renderers and may be shared between them.
type Layout struct {
	// Focus is the pid of the process the view is about, FocusID its node ID
	// ("" when the snapshot has no such process).
	Focus   int    `json:"focus"`
	FocusID string `json:"focus_id"`
	// Headline says in one line what the focus is connected to and what it
	// shares with how many processes: "1 connection · fd 0–2 shared with
	// 23 processes" ("" without a focus process).
	Headline string `json:"headline,omitempty"`
	// Width and Height are the extent of the diagram in cells.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Tiers are the horizontal strips the diagram was wrapped into to fit
	// Options.Width, top to bottom; there is one unless it was wrapped. Each
	// has its own user space / kernel space line.
	Tiers []Tier `json:"tiers"`
	// Boxes are processes, open file descriptions, objects and collapsed
	// groups, sorted by tier, then top to bottom, then left to right.
	Boxes []Box `json:"boxes"`
	// Edges are sorted as they should be drawn.
	Edges []Edge `json:"edges"`
	// Labels are free text: the band names.
	Labels []Label `json:"labels"`
	// Geometry is how a renderer drawing in pixels (SVG, the browser)
	// turns cells into pixels.
	Geometry Geometry `json:"geometry"`
}

// Geometry turns cells into pixels: a cell is CellWidth × CellHeight
// pixels, the diagram has Pad pixels around it, and a row's text has its
// baseline Baseline pixels below the row's centre.
type Geometry struct {
	CellWidth  float64 `json:"cell_width"`
	CellHeight float64 `json:"cell_height"`
	Pad        float64 `json:"pad"`
	Baseline   float64 `json:"baseline"`
}

// DefaultGeometry is the geometry of 14 px monospace text, which SVG and
// the dashboard draw with.
func DefaultGeometry() Geometry { return Geometry{CellWidth: 9, CellHeight: 20, Pad: 12, Baseline: 5} }

// A Tier is one strip of a wrapped diagram.
type Tier struct {
	Y      int `json:"y"`      // first row
	Height int `json:"height"` // rows
	Width  int `json:"width"`  // columns 0 to Width-1
	// Separator is the row of the user space / kernel space line, which
	// spans the tier's width.
	Separator int `json:"separator"`
}

// Rect is a rectangle of cells: columns X to X+W-1, rows Y to Y+H-1.
type Rect struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Point is the centre of one cell.
type Point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// Box kinds besides the graph's node kinds (process, ofd, socket, pipe,
// file, chr, anon, ...).
const (
	// KindGroup is a collapsed group: many fds' descriptions, or their
	// objects, drawn as one box. Members lists the graph nodes it stands for.
	KindGroup = "group"
)

// Box is one drawn node: a process (with ports), an open file description,
// an object, or a group.
type Box struct {
	// ID is unique in the layout. It is the graph node ID, except for a
	// process drawn again in a later tier (ID "NODE#2", ...), a listening
	// socket drawn again in tier T (counted from 1) for the sockets
	// accepted from it there ("NODE#T"), and groups ("group:...").
	ID string `json:"id"`
	// NodeID is the graph node ID ("" for a group).
	NodeID string `json:"node_id"`
	// Kind is the graph kind of the node (process, ofd, socket, ...) or KindGroup.
	Kind string `json:"kind"`
	// Class is the colour class renderers use: process, ofd, socket, pipe,
	// file, dev, anon, group or unknown.
	Class string `json:"class"`
	// Focus marks the focus process.
	Focus bool `json:"focus,omitempty"`
	// PID is set on process boxes.
	PID int `json:"pid,omitempty"`
	// Label is the text drawn inside the box, one line each, already
	// shortened to fit (Rect.W-4 cells); Label[i] goes on row Rect.Y+1+i,
	// starting at column Rect.X+2.
	Label []string `json:"label"`
	// Title is the full description, for a tooltip.
	Title string `json:"title,omitempty"`
	Rect  Rect   `json:"rect"`
	// Ports are a process's fds, left to right, on row Rect.Y+Rect.H-2.
	Ports []Port `json:"ports,omitempty"`
	// Members are the graph nodes a group stands for (fds, descriptions
	// or objects), sorted.
	Members []string `json:"members,omitempty"`
	// Tier is the index of the tier the box is in.
	Tier int `json:"tier"`
	// Expand is, for a group or crowd box, the group ID to give
	// Options.ExpandGroups (expand= on the API) to draw what it stands for
	// one by one.
	Expand string `json:"expand,omitempty"`
}

// Port kinds.
const (
	PortFD    = "fd"    // one fd
	PortStdio = "stdio" // fds 0, 1 and 2 on one object, as one port "0 1 2"
	PortGroup = "group" // a collapsed run of fds of one kind with no peer
	PortMore  = "more"  // fds of a peer process that are not on a path to the focus
	PortNone  = "none"  // a process with no fd to show
)

// Port is an fd (or a group of fds) of a process box, where edges start.
type Port struct {
	// ID is unique in the layout: the fd's node ID for a single fd,
	// "group:..." otherwise.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// FDs are the fd numbers the port stands for, NodeIDs their graph IDs,
	// in the same order.
	FDs     []int    `json:"fds"`
	NodeIDs []string `json:"node_ids"`
	// Label is drawn in Rect (one row, Rect.W cells).
	Label string `json:"label"`
	Title string `json:"title,omitempty"`
	Rect  Rect   `json:"rect"`
	// Expand is, for a group port (stdio, a collapsed run, a crowd's), the
	// group ID that draws its fds or processes one by one.
	Expand string `json:"expand,omitempty"`
}

// Edge kinds: the graph's edge kind each drawn edge stands for.
const (
	EdgeOFD      = "ofd"      // port → open file description
	EdgeObject   = "object"   // open file description → object
	EdgePeer     = "peer"     // object ⇄ object: the two ends of a connection
	EdgeAccepted = "accepted" // listening socket → accepted socket
	EdgeWatch    = "watch"    // epoll or inotify instance → what it watches (Options.Watches)
)

// Edge is an orthogonal polyline: consecutive points share X or Y. The first
// point lies on the border of the box (or process box, for a port) the edge
// leaves, the last on the border of the box it enters.
type Edge struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// From and To are a port or box ID.
	From string `json:"from"`
	To   string `json:"to"`
	// Arrow says the edge is directed: draw an arrow head at its end.
	Arrow  bool    `json:"arrow"`
	Points []Point `json:"points"`
	// Label names a connection ("unix stream /tmp/server.sock", "tcp
	// 127.0.0.1:56946 ⇄ 127.0.0.1:22222"); LabelRect is where it is drawn
	// (one row, on the edge's horizontal segment), absent when there is
	// no room; the label is then only in Title.
	Label     string `json:"label,omitempty"`
	LabelRect *Rect  `json:"label_rect,omitempty"`
	Title     string `json:"title,omitempty"`
	// Activity is what flows on a connection (Options.Activity), nil when
	// nothing was measured; its rate then ends the label ("· 12 KB/s").
	Activity *Activity `json:"activity,omitempty"`
}

// Label is free text on the grid.
type Label struct {
	Kind string `json:"kind"` // "band"
	Text string `json:"text"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
}

// Options tune Layout. The zero value is ready to use.
type Options struct {
	// Host, when set, is the host of the focus process (graph.Process.Host)
	// in a hub's merged graph, where pids repeat across hosts; "" makes
	// the focus the process with the pid that started last.
	Host string
	// Width, when positive, is the widest the diagram should be, in cells:
	// a wider one is wrapped into tiers, each with the focus process and
	// some of its connections. A single connection wider than Width stays
	// wider (Text then folds it). A listener is drawn again in the tiers
	// of the sockets accepted from it, so that every accepted edge is drawn.
	Width int
	// Screen, when positive, is how wide (in cells) the part of the
	// diagram a viewer sees first is: the dashboard's window at the least
	// zoom it shows a whole diagram at. A wrapped diagram (Width) wider
	// than Screen gives the focus's own connections the first tiers to
	// themselves, so that the processes it talks to are on that first
	// screen; zero means Width.
	Screen int
	// Collapse is how many fds of one kind with no peer a process may show
	// one by one; more are collapsed into one group port. Zero means 12.
	Collapse int
	// Expand draws every fd as its own port: no "0 1 2" stdio port, no
	// collapsed groups.
	Expand bool
	// MaxLabel is the longest a line of a label may be, in cells; longer
	// ones are shortened with "…". Zero means 40.
	MaxLabel int
	// ExpandGroups lists port IDs of groups ("group:stdio:PROCID",
	// "group:fd:PROCID:KEY") to draw fd by fd, as Expand does for every
	// group; the other groups stay. Unknown IDs are ignored.
	ExpandGroups []string
	// Watches draws the watch edges of the focus subgraph — an epoll
	// instance to the objects of the fds it watches, inotify to watched
	// inodes that are drawn — as dashed arrows below the objects. Off by
	// default: every Go program's runtime, for one, has an epoll instance
	// watching its sockets, which would crowd the figures of the articles.
	// Watch edges do not hold a component together when wrapping, so one
	// whose ends fall in different tiers is not drawn.
	Watches bool
	// Headroom is how many spare rows to leave in each channel between the
	// kernel layers, so that a live view can take a new connection without
	// moving its boxes down. With Prev, rows never move up, and move down
	// only when the channel above them runs out of rows (taking Headroom
	// spare rows again). Zero (exports, text art) leaves none.
	Headroom int
	// Prev is the layout drawn before this one of the same focus process
	// (ignored when its Focus is another pid). Boxes and ports that are in
	// both, by ID, keep their order (processes, each process's ports,
	// descriptions, objects) and, in the same tier, their column unless
	// new items before them need the room, when they move right; new
	// processes come after the old ones; nothing moves left to close the
	// gap a removed item leaves. Wrapped, a component stays out of the
	// tiers before the one it was in. With Prev the layout of a snapshot
	// depends on Prev too; a layout given itself as Prev is unchanged.
	Prev *Layout
	// Activity is what flows through sockets, and waits in pipes and
	// FIFOs, by the object's node ID (package activity measures it). A
	// connection drawn between two sockets takes the busier end's, shows
	// its rate (or queue) at the end of its label and in Edge.Activity,
	// and the SVG draws its line the heavier the busier it is; a pipe or
	// FIFO with bytes waiting says so in its box. Nil draws no activity.
	Activity map[string]Activity
}

// Activity is what flows through a socket: bytes per second both ways
// (TCP) and the bytes waiting in its queues.
type Activity struct {
	BytesPerSec float64 `json:"bytes_per_sec"`
	Queued      uint64  `json:"queued,omitempty"`
}

// Text is how a label shows it: "12 KB/s", "1.5 MB/s", "4 KB queued" for
// a connection with bytes waiting and no measured rate, "" for none.
func (a Activity) Text() string {
	switch {
	case a.BytesPerSec >= 0.5:
		return FormatBytes(a.BytesPerSec) + "/s"
	case a.Queued > 0:
		return FormatBytes(float64(a.Queued)) + " queued"
	}
	return ""
}

// Weight is how heavy a connection's line is drawn: 0 for none, then 1 to
// 4 for each thousandfold of bytes per second from 1 KB/s (or a queue).
func (a Activity) Weight() int {
	switch r := a.BytesPerSec; {
	case r >= 1e9:
		return 4
	case r >= 1e6:
		return 3
	case r >= 1e3:
		return 2
	case r >= 0.5 || a.Queued > 0:
		return 1
	}
	return 0
}

// FormatBytes writes a byte count with an SI unit and at most three
// significant digits: "512 B", "12 KB", "1.5 MB".
func FormatBytes(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n >= 999.5 && i < len(units)-1 {
		n /= 1000
		i++
	}
	switch {
	case i == 0 || n >= 9.95:
		return strconv.FormatFloat(math.Round(n), 'f', 0, 64) + " " + units[i]
	default:
		return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[i]
	}
}

func (o Options) collapse() int {
	if o.Collapse <= 0 {
		return 12
	}
	return o.Collapse
}

func (o Options) maxLabel() int {
	if o.MaxLabel <= 0 {
		return 40
	}
	return max(o.MaxLabel, 8)
}

// NewLayout lays out focus, the focus subgraph of the process with the given
// pid (graph.Index.Focus), deterministically. Given a whole snapshot, it
// draws every process in it. A nil snapshot gives an empty layout.
func NewLayout(focus *graph.Snapshot, pid int, opts Options) *Layout {
	m := build(focus, pid, opts)
	l := &Layout{Focus: pid, Tiers: []Tier{}, Boxes: []Box{}, Edges: []Edge{}, Labels: []Label{}, Geometry: DefaultGeometry()}
	if m.focus != nil {
		l.FocusID = m.focus.node.ID
		l.Headline = m.rel.headline()
	}
	comps := m.components()
	if len(comps) == 0 {
		return l
	}
	seen := map[*proc]int{}
	var tiers []*tierOut
	accept := func(t *tierOut) {
		tiers = append(tiers, t)
		for _, p := range t.procs {
			seen[p]++
		}
	}
	// With Prev, the tier each component was in before (-1: none), and the
	// previous tier a new one takes the place of: that of its first
	// component drawn before, else its own index.
	was := make([]int, len(comps))
	for i, c := range comps {
		was[i] = m.prev.tierOf(c)
	}
	prevTier := func(i, j int) int {
		for _, t := range was[i:j] {
			if t >= 0 {
				return t
			}
		}
		return len(tiers)
	}
	if opts.Width <= 0 {
		accept(m.placeTier(comps, seen, 0, 0))
	} else {
		for i := 0; i < len(comps); {
			best, j := m.placeTier(comps[i:i+1], seen, len(tiers), prevTier(i, i+1)), i+1
			for ; j < len(comps) && best.width <= opts.Width; j++ {
				if was[j] > prevTier(i, j) {
					break // it was in a later tier: keep it apart
				}
				if m.connComp[comps[i][0].comp] && !m.connComp[comps[j][0].comp] {
					// The focus's own connections have the first tiers to
					// themselves (its box there holds their ports only, and
					// the peers sit next to it), unless all the rest fits
					// in this tier too.
					if slices.ContainsFunc(was[j:], func(t int) bool { return t > prevTier(i, j) }) {
						break
					}
					first := opts.Width
					if opts.Screen > 0 {
						first = min(first, opts.Screen)
					}
					if all := m.placeTier(comps[i:], seen, len(tiers), prevTier(i, len(comps))); all.width <= first {
						best, j = all, len(comps)
					}
					break
				}
				next := m.placeTier(comps[i:j+1], seen, len(tiers), prevTier(i, j+1))
				if next.width > opts.Width {
					break
				}
				best = next
			}
			accept(best)
			i = j
		}
	}
	y := 0
	for i, t := range tiers {
		l.Tiers = append(l.Tiers, Tier{Y: y, Height: t.height, Width: t.width, Separator: y + t.sep})
		for _, b := range t.boxes {
			b.Tier = i
			b.Rect.Y += y
			for j := range b.Ports {
				b.Ports[j].Rect.Y += y
			}
			l.Boxes = append(l.Boxes, b)
		}
		rank := map[string]int{EdgeOFD: 0, EdgeObject: 1, EdgeAccepted: 2, EdgePeer: 3, EdgeWatch: 4}
		slices.SortStableFunc(t.edges, func(a, b Edge) int {
			return cmp.Or(cmp.Compare(rank[a.Kind], rank[b.Kind]), cmp.Compare(a.ID, b.ID))
		})
		for _, e := range t.edges {
			for j := range e.Points {
				e.Points[j].Y += y
			}
			if e.LabelRect != nil {
				e.LabelRect.Y += y
			}
			l.Edges = append(l.Edges, e)
		}
		for _, lb := range t.labels {
			lb.Y += y
			l.Labels = append(l.Labels, lb)
		}
		l.Width = max(l.Width, t.width)
		y += t.height + tierGap
	}
	l.Height = y - tierGap
	slices.SortStableFunc(l.Boxes, func(a, b Box) int {
		return cmp.Or(cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.Rect.Y, b.Rect.Y), cmp.Compare(a.Rect.X, b.Rect.X), cmp.Compare(a.ID, b.ID))
	})
	return l
}
