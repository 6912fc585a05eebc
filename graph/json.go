package graph

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// WriteJSON writes s in its JSON form, the graph contract of docs/graph.md.
// The result decodes to what json.Marshal(s) gives, but it is written in
// chunks of nodes and edges encoded in parallel, so that a busy host's
// hundred thousand nodes are encoded on every core and never held in
// memory as one document.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"nodes":[`)
	if err := writeChunked(bw, s.Nodes); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	bw.WriteString(`],"edges":[`)
	if err := writeChunked(bw, s.Edges); err != nil {
		return fmt.Errorf("edges: %w", err)
	}
	bw.WriteString(`],"stats":`)
	if err := json.NewEncoder(bw).Encode(s.Stats); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// writeChunked writes the JSON forms of items separated by commas,
// encoding one round of chunks in parallel and writing them in order.
func writeChunked[T any](w io.Writer, items []T) error {
	const chunk = 2048
	workers := runtime.GOMAXPROCS(0)
	bufs := make([]bytes.Buffer, workers)
	errs := make([]error, workers)
	for round := 0; round < len(items); round += chunk * workers {
		var wg sync.WaitGroup
		for k := range workers {
			lo := round + k*chunk
			if lo >= len(items) {
				break
			}
			hi := min(lo+chunk, len(items))
			wg.Go(func() {
				b := &bufs[k]
				b.Reset()
				enc := json.NewEncoder(b)
				for i := lo; i < hi; i++ {
					if i > 0 {
						b.WriteByte(',')
					}
					if err := enc.Encode(items[i]); err != nil {
						errs[k] = fmt.Errorf("item %d: %w", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for k := range workers {
			if errs[k] != nil {
				return errs[k]
			}
			if round+k*chunk < len(items) {
				if _, err := w.Write(bufs[k].Bytes()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
