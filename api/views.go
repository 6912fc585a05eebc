package api

import (
	"sync"

	"github.com/fdscope/fdscope/graph"
)

// views caches what is derived from each version of the graph, so that one
// scan costs one index, one process list and one encoding of each message
// however many clients there are. It keeps the views of the last keep
// versions; the whole-graph messages (big on a busy host) only for the
// newest.
type views struct {
	src  Source
	keep uint64

	mu     sync.Mutex
	m      map[uint64]*view
	newest uint64
}

// view is what is derived from one version. Each field is computed once, on
// first use, under its sync.Once or bigMu.
type view struct {
	seq  uint64
	snap *graph.Snapshot
	vs   *views

	idxOnce sync.Once
	idx     *graph.Index

	rowsOnce sync.Once
	rows     []graph.ProcessRow

	bigMu   sync.Mutex
	dropped bool // no longer the newest: the big messages are not kept
	snapMsg []byte
	rowsMsg []byte

	diffOnce sync.Once
	diffMsg  []byte // the "diff" message from seq-1; nil if the Source no longer has it

	rowsDiffOnce sync.Once
	rowsDiff     *graph.RowChanges // from seq-1; nil if unknown
}

func newViews(src Source, keep int) *views {
	if keep < 2 {
		keep = 2
	}
	return &views{src: src, keep: uint64(keep), m: make(map[uint64]*view)}
}

// get returns the view of version seq, or nil if the Source no longer holds it.
func (vs *views) get(seq uint64) *view {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if v := vs.m[seq]; v != nil {
		return v
	}
	snap, ok := vs.src.At(seq)
	if !ok || snap == nil {
		return nil
	}
	v := &view{seq: seq, snap: snap, vs: vs, dropped: seq < vs.newest}
	vs.m[seq] = v
	if seq > vs.newest {
		vs.newest = seq
		for s, old := range vs.m {
			switch {
			case s+vs.keep <= seq:
				delete(vs.m, s)
			case s != seq:
				old.dropBig()
			}
		}
	}
	return v
}

// dropBig forgets the whole-graph messages of a version that is no longer
// the newest: a client that needs a whole graph is sent the newest, so they
// would only take memory.
func (v *view) dropBig() {
	v.bigMu.Lock()
	v.dropped, v.snapMsg, v.rowsMsg = true, nil, nil
	v.bigMu.Unlock()
}

func (v *view) index() *graph.Index {
	v.idxOnce.Do(func() { v.idx = graph.NewIndex(v.snap) })
	return v.idx
}

func (v *view) processes() []graph.ProcessRow {
	v.rowsOnce.Do(func() { v.rows = v.index().Processes() })
	return v.rows
}

// snapshotMessage returns the encoded whole-graph snapshot message, kept
// for the next client while this version is the newest.
func (v *view) snapshotMessage() []byte {
	v.bigMu.Lock()
	defer v.bigMu.Unlock()
	if v.snapMsg != nil {
		return v.snapMsg
	}
	b := mustJSON(SnapshotMessage{Type: TypeSnapshot, Seq: v.seq, Graph: v.snap})
	if !v.dropped {
		v.snapMsg = b
	}
	return b
}

// processesMessage returns the encoded whole-process-list message, kept
// for the next client while this version is the newest.
func (v *view) processesMessage() []byte {
	v.bigMu.Lock()
	defer v.bigMu.Unlock()
	if v.rowsMsg != nil {
		return v.rowsMsg
	}
	b := mustJSON(ProcessesMessage{Type: TypeProcesses, Seq: v.seq, Processes: v.processes()})
	if !v.dropped {
		v.rowsMsg = b
	}
	return b
}

// diffMessage returns the encoded diff from version seq-1, or nil if the
// Source no longer holds that diff.
func (v *view) diffMessage() []byte {
	v.diffOnce.Do(func() {
		d, ok := v.vs.src.Changes(v.seq)
		if !ok {
			return
		}
		v.diffMsg = mustJSON(DiffMessage{Type: TypeDiff, Seq: v.seq, Base: v.seq - 1, Changes: d})
	})
	return v.diffMsg
}

// processesDiff returns the changes to the process list from version seq-1,
// or nil if that version is gone.
func (v *view) processesDiff() *graph.RowChanges {
	v.rowsDiffOnce.Do(func() {
		prev := v.vs.get(v.seq - 1)
		if prev == nil {
			return
		}
		v.rowsDiff = graph.DiffRows(prev.processes(), v.processes())
	})
	return v.rowsDiff
}
