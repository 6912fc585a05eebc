package api

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/fdscope/fdscope/graph"
)

// The whole graph is the heaviest thing the server writes (tens of
// megabytes on a busy host), so /api/graph and the websocket's snapshot
// messages encode it with graph's own encoder, Snapshot.WriteJSON, rather
// than through encoding/json's reflection. The JSON is the same but for the
// whitespace: a newline after every node and edge.

// graphJSON encodes snap, as /api/graph answers it (with a final newline).
func graphJSON(snap *graph.Snapshot) []byte {
	var b bytes.Buffer
	b.Grow(128*len(snap.Nodes) + 64*len(snap.Edges))
	if err := snap.WriteJSON(&b); err != nil {
		// A bytes.Buffer takes every write: this cannot fail.
		panic(fmt.Sprintf("api: encode the graph: %v", err))
	}
	return b.Bytes()
}

// snapshotJSON encodes SnapshotMessage{Type: TypeSnapshot, Seq: seq,
// Focus: focus, Graph: g}.
func snapshotJSON(seq uint64, focus int, g *graph.Snapshot) []byte {
	var b bytes.Buffer
	// Roughly what a node and an edge take, to spare most of the buffer's
	// regrowth (the JSON of a busy host is tens of megabytes); as graphJSON.
	b.Grow(128*len(g.Nodes) + 64*len(g.Edges))
	b.WriteString(`{"type":"` + TypeSnapshot + `","seq":`)
	b.WriteString(strconv.FormatUint(seq, 10))
	if focus != 0 {
		b.WriteString(`,"focus":`)
		b.WriteString(strconv.Itoa(focus))
	}
	b.WriteString(`,"graph":`)
	if err := g.WriteJSON(&b); err != nil {
		// A bytes.Buffer takes every write: this cannot fail.
		panic(fmt.Sprintf("api: encode a snapshot: %v", err))
	}
	b.Truncate(b.Len() - 1) // WriteJSON's final newline
	b.WriteByte('}')
	return b.Bytes()
}
