package api

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/hostmap"
)

// views caches what is derived from the graph, so that one scan costs one
// index, one process list and one encoding of each shared message however
// many clients there are.
//
// Only the latest version is kept whole (its snapshot, index and
// messages, in cur); of the versions before, the encoded diffs and the
// process lists that were computed, for the last keep versions. That is
// what lets a client a few versions behind catch up with diffs, and it
// weighs kilobytes where a busy host's snapshot weighs tens of megabytes.
// The encodings of the whole graph (the websocket's snapshot message, GET
// /api/graph) weigh as much as the snapshot: they are shared while
// clients write them and held weakly, so that nobody keeps them at rest.
type views struct {
	src  Source
	keep uint64
	// encodes counts the heavy responses encoded (graph, responses): tests
	// check that each is encoded once per version, whatever the clients.
	encodes atomic.Int64

	mu    sync.Mutex
	cur   *view
	rows  map[uint64][]graph.ProcessRow // by seq
	diffs map[uint64][]byte             // encoded "diff" messages, by seq

	// graph is the encoding of the latest snapshot (GET /api/graph; the
	// snapshot may be newer than cur's when a scan changed only its stats),
	// held weakly: the requests writing it hold it, and once the last is
	// done the collector may take it back, so that a server at rest does
	// not keep tens of megabytes for the next request that may never come.
	// The snapshot it encodes is named weakly too: the name must not keep
	// an old snapshot alive.
	// lastMap is the map of the latest version that computed one: the
	// next is laid out after it (hostmap.NewLayout's prev), and shares it
	// when nothing changed.
	lastMap *mapVersion

	graphMu   sync.Mutex
	graphSnap weak.Pointer[graph.Snapshot]
	graph     weak.Pointer[encoded]
}

// encoded is an encoded answer; hold it while writing its bytes.
type encoded struct{ b []byte }

// maxResponses bounds the REST responses a view keeps encoded (by route,
// pid and query); more are computed for their request alone.
const maxResponses = 64

type onceResponse struct {
	once sync.Once
	b    []byte
	err  error
}

// view is what is derived from one version. Each field is computed once, on
// first use, under its sync.Once or mu.
type view struct {
	seq  uint64
	snap *graph.Snapshot
	vs   *views

	rowsOnce sync.Once
	rows     []graph.ProcessRow

	mu       sync.Mutex
	snapMsg  weak.Pointer[encoded] // held weakly, as views.graph
	rowsMsg  []byte
	rowsDiff map[uint64]*graph.RowChanges // from the process list of an earlier version
	focuses  map[focusRef]*onceFocus
	layouts  map[layoutKey]*onceLayout
	// responses are encoded REST answers of this version, by route, pid and query.
	responses map[string]*onceResponse

	summaryOnce sync.Once
	summary     *Summary

	mapOnce sync.Once
	hostMap *mapVersion
}

// mapVersion is a map of the host with its layout and message. Versions
// whose map is the same share one.
type mapVersion struct {
	m      *hostmap.Map
	layout *hostmap.Layout
	seq    uint64 // the version it was computed from
	msg    []byte
}

// focusRef names the process of a focus: its pid and, in a hub's merged
// graph, its host ("": the process with the pid that started last, as
// graph.Index.Process).
type focusRef struct {
	pid  int
	host string
}

// key names the focus in the keys of shared responses.
func (f focusRef) key() string {
	if f.host == "" {
		return itoa(f.pid)
	}
	return itoa(f.pid) + "@" + f.host
}

// String says which process it is, for error messages.
func (f focusRef) String() string {
	if f.host == "" {
		return fmt.Sprintf("pid %d", f.pid)
	}
	return fmt.Sprintf("pid %d on host %q", f.pid, f.host)
}

type onceFocus struct {
	once sync.Once
	f    *graph.Snapshot
}

// layoutKey names one layout of a version: clients that follow the same
// focus with the same expanded groups were sent the same layouts before,
// so they share Prev too, and each new version's layout is computed once.
type layoutKey struct {
	ref     focusRef
	width   int
	screen  int
	watches bool
	expand  string
	prev    *diagram.Layout
}

type onceLayout struct {
	once sync.Once
	l    *diagram.Layout
	msg  []byte
}

func newViews(src Source, keep int) *views {
	if keep < 1 {
		keep = 1
	}
	return &views{src: src, keep: uint64(keep), rows: map[uint64][]graph.ProcessRow{}, diffs: map[uint64][]byte{}}
}

// latest returns the view of the latest version, or nil before the first.
func (vs *views) latest() *view {
	seq, snap := vs.src.Latest()
	if seq == 0 || snap == nil {
		return nil
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.cur != nil && vs.cur.seq >= seq {
		return vs.cur
	}
	vs.cur = &view{seq: seq, snap: snap, vs: vs, rowsDiff: map[uint64]*graph.RowChanges{},
		focuses: map[focusRef]*onceFocus{}, layouts: map[layoutKey]*onceLayout{}, responses: map[string]*onceResponse{}}
	for s := range vs.rows {
		if s+vs.keep < seq {
			delete(vs.rows, s)
		}
	}
	for s := range vs.diffs {
		if s+vs.keep < seq {
			delete(vs.diffs, s)
		}
	}
	return vs.cur
}

// graphJSON returns the JSON of snap (the latest snapshot), encoded once
// for every client that asks while it is the latest and the encoding is in
// use: a client that reads slowly, or never, holds a reference to shared
// bytes, not a copy.
func (vs *views) graphJSON(snap *graph.Snapshot) *encoded {
	vs.graphMu.Lock()
	defer vs.graphMu.Unlock()
	ws := weak.Make(snap)
	if e := vs.graph.Value(); e != nil && vs.graphSnap == ws {
		return e
	}
	vs.encodes.Add(1)
	e := &encoded{b: graphJSON(snap)}
	vs.graph, vs.graphSnap = weak.Make(e), ws
	return e
}

// response returns the REST answer of this version named key (route, pid
// and query), computed once for all clients by compute; past maxResponses
// distinct keys, for the request alone.
func (v *view) response(key string, compute func() ([]byte, error)) ([]byte, error) {
	v.mu.Lock()
	o := v.responses[key]
	if o == nil && len(v.responses) < maxResponses {
		o = &onceResponse{}
		v.responses[key] = o
	}
	v.mu.Unlock()
	if o == nil {
		v.vs.encodes.Add(1)
		return compute()
	}
	o.once.Do(func() {
		v.vs.encodes.Add(1)
		o.b, o.err = compute()
	})
	return o.b, o.err
}

// diffMessage returns the encoded diff from version seq-1 to seq, or nil if
// the Source no longer holds it.
func (vs *views) diffMessage(seq uint64) []byte {
	vs.mu.Lock()
	b, ok := vs.diffs[seq]
	vs.mu.Unlock()
	if ok {
		return b
	}
	d, ok := vs.src.Changes(seq)
	if !ok {
		return nil
	}
	b = mustJSON(DiffMessage{Type: TypeDiff, Seq: seq, Base: seq - 1, Changes: d})
	vs.mu.Lock()
	if vs.cur == nil || seq+vs.keep >= vs.cur.seq {
		vs.diffs[seq] = b
	}
	vs.mu.Unlock()
	return b
}

// rowsAt returns the process list of version seq, if it was computed and is
// still kept.
func (vs *views) rowsAt(seq uint64) ([]graph.ProcessRow, bool) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	r, ok := vs.rows[seq]
	return r, ok
}

// index is the version's index, shared with the live loop and the
// history recorder (graph.Snapshot.Index).
func (v *view) index() *graph.Index {
	return v.snap.Index()
}

func (v *view) processes() []graph.ProcessRow {
	v.rowsOnce.Do(func() {
		v.rows = v.index().Processes()
		v.vs.mu.Lock()
		v.vs.rows[v.seq] = v.rows
		v.vs.mu.Unlock()
	})
	return v.rows
}

// processesDiff returns the changes from the process list of version from
// (which must be kept) to this version's.
func (v *view) processesDiff(from []graph.ProcessRow, fromSeq uint64) *graph.RowChanges {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d := v.rowsDiff[fromSeq]; d != nil {
		return d
	}
	d := graph.DiffRows(from, v.processes())
	v.rowsDiff[fromSeq] = d
	return d
}

// snapshotMessage returns the encoded whole-graph snapshot message.
// The encoding is shared by the clients writing it and let go after them,
// as views.graphJSON's: hold it while writing its bytes.
func (v *view) snapshotMessage() *encoded {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e := v.snapMsg.Value(); e != nil {
		return e
	}
	e := &encoded{b: snapshotJSON(v.seq, 0, v.snap)}
	v.snapMsg = weak.Make(e)
	return e
}

// processesMessage returns the encoded whole-process-list message.
func (v *view) processesMessage() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rowsMsg == nil {
		v.rowsMsg = mustJSON(ProcessesMessage{Type: TypeProcesses, Seq: v.seq, Processes: v.processes()})
	}
	return v.rowsMsg
}

// focus returns the focus subgraph of ref in this version, computed once
// for all clients; an empty graph (with the version's stats) when there is
// no such process.
func (v *view) focus(ref focusRef) *graph.Snapshot {
	v.mu.Lock()
	o := v.focuses[ref]
	if o == nil {
		o = &onceFocus{}
		v.focuses[ref] = o
	}
	v.mu.Unlock()
	o.once.Do(func() {
		o.f = v.index().FocusOn(ref.host, ref.pid)
		if o.f == nil {
			o.f = graph.New(nil, nil, v.snap.Stats)
		}
	})
	return o.f
}

// layoutMessage returns the encoded layout message of focus (the focus
// subgraph of pid, as of version seq) and the layout, laid out with opts
// (its ExpandGroups, Width and Watches; Prev and Headroom are set here).
// When at is the view of version seq (whose focus(pid) focus is), the
// layout is computed once per (pid, options, prev) for all clients.
func (vs *views) layoutMessage(at *view, seq uint64, ref focusRef, focus *graph.Snapshot, opts diagram.Options, prev *diagram.Layout) ([]byte, *diagram.Layout) {
	opts.Prev, opts.Headroom, opts.Host = prev, LayoutHeadroom, ref.host
	compute := func() ([]byte, *diagram.Layout) {
		l := diagram.NewLayout(focus, ref.pid, opts)
		return mustJSON(LayoutMessage{Type: TypeLayout, Seq: seq, Focus: ref.pid, Layout: l}), l
	}
	if at == nil || at.seq != seq {
		return compute()
	}
	key := layoutKey{ref: ref, width: opts.Width, screen: opts.Screen, watches: opts.Watches, expand: strings.Join(opts.ExpandGroups, expandSep), prev: prev}
	at.mu.Lock()
	o := at.layouts[key]
	if o == nil {
		o = &onceLayout{}
		at.layouts[key] = o
	}
	at.mu.Unlock()
	o.once.Do(func() { o.msg, o.l = compute() })
	return o.msg, o.l
}

// hostMapVersion returns the map of the host of this version, computed
// once: the previous map when the groups and links are the same, else a
// new one laid out after it, so that groups keep their places.
func (v *view) hostMapVersion() *mapVersion {
	v.mapOnce.Do(func() {
		m := hostmap.Build(v.index())
		v.vs.mu.Lock()
		last := v.vs.lastMap
		v.vs.mu.Unlock()
		if last != nil && last.seq <= v.seq && reflect.DeepEqual(last.m, m) {
			v.hostMap = last
			return
		}
		var prev *hostmap.Layout
		if last != nil {
			prev = last.layout
		}
		l := hostmap.NewLayout(m, prev, 0)
		mv := &mapVersion{m: m, layout: l, seq: v.seq, msg: mustJSON(MapMessage{Type: TypeMap, Seq: v.seq, Map: m, Layout: l})}
		v.vs.mu.Lock()
		if v.vs.lastMap == nil || v.vs.lastMap.seq < v.seq {
			v.vs.lastMap = mv
		}
		v.vs.mu.Unlock()
		v.hostMap = mv
	})
	return v.hostMap
}
