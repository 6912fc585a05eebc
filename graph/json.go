package graph

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSON writes s in its JSON form, the graph contract of docs/graph.md.
// It streams node by node, so that a busy host's hundred thousand nodes are
// never held in memory twice; the result decodes to what json.Marshal(s)
// gives.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	bw.WriteString(`{"nodes":[`)
	for i, n := range s.Nodes {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(n); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
	}
	bw.WriteString(`],"edges":[`)
	for i, e := range s.Edges {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("edge %s→%s: %w", e.From, e.To, err)
		}
	}
	bw.WriteString(`],"stats":`)
	if err := enc.Encode(s.Stats); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
