package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
)

// SeqHeader names the response header that carries the version a REST
// answer was computed from, to line it up with the websocket stream.
const SeqHeader = "Fdscope-Seq"

func itoa(n int) string { return strconv.Itoa(n) }

// latest returns the view of the latest version, or writes 503 and returns nil.
func (s *Server) latest(w http.ResponseWriter) *view {
	v := s.hub.views.latest()
	if v == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no scan yet")
		return nil
	}
	w.Header().Set(SeqHeader, strconv.FormatUint(v.seq, 10))
	return v
}

// GET /api/graph: the latest snapshot, in the graph contract of docs/graph.md.
func (s *Server) getGraph(w http.ResponseWriter, r *http.Request) {
	seq, snap := s.opts.Source.Latest()
	if seq == 0 || snap == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no scan yet")
		return
	}
	w.Header().Set(SeqHeader, strconv.FormatUint(seq, 10))
	writeGraph(w, snap)
}

// GET /api/processes: one row per process.
func (s *Server) getProcesses(w http.ResponseWriter, r *http.Request) {
	if v := s.latest(w); v != nil {
		writeJSON(w, http.StatusOK, v.processes())
	}
}

// process resolves {pid} in the latest version: it returns the version's
// index and the pid, or writes 400 (malformed pid), 503 (no scan yet) or
// 404 (no such process) and returns nil.
func (s *Server) process(w http.ResponseWriter, r *http.Request) (*graph.Index, int) {
	p := chi.URLParam(r, "pid")
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad pid %q", p))
		return nil, 0
	}
	v := s.latest(w)
	if v == nil {
		return nil, 0
	}
	if v.index().Process(pid) == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no process with pid %d", pid))
		return nil, 0
	}
	return v.index(), pid
}

// GET /api/processes/{pid}: the focus subgraph of one process.
func (s *Server) getProcess(w http.ResponseWriter, r *http.Request) {
	if x, pid := s.process(w, r); x != nil {
		writeJSON(w, http.StatusOK, x.Focus(pid))
	}
}

// GET /api/processes/{pid}/peers: the flat list of the process's connections.
func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	if x, pid := s.process(w, r); x != nil {
		writeJSON(w, http.StatusOK, x.Peers(pid))
	}
}

// layoutParams reads the diagram options of the layout routes: the
// repeated expand= (group IDs to draw fd by fd) and watches=1 (draw epoll
// and inotify watches). On a bad one it writes 400 and returns false.
func layoutParams(w http.ResponseWriter, r *http.Request) (diagram.Options, bool) {
	q := r.URL.Query()
	ids := q["expand"]
	if _, err := checkExpand(ids); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return diagram.Options{}, false
	}
	o := diagram.Options{ExpandGroups: ids}
	switch v := q.Get("watches"); v {
	case "", "0", "false":
	case "1", "true":
		o.Watches = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad watches %q (want 1 or 0)", v))
		return diagram.Options{}, false
	}
	return o, true
}

// GET /api/processes/{pid}/layout: the diagram layout of the process's
// focus (diagram.Layout JSON), with layoutParams' options.
func (s *Server) getLayout(w http.ResponseWriter, r *http.Request) {
	x, pid := s.process(w, r)
	if x == nil {
		return
	}
	opts, ok := layoutParams(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, diagram.NewLayout(x.Focus(pid), pid, opts))
}

// Search limits.
const (
	MaxSearchQuery     = 256  // bytes of q
	DefaultSearchLimit = 200  // results when limit is not given
	MaxSearchLimit     = 1000 // the largest limit
)

// GET /api/search?q=TEXT&limit=N: the processes matching q (graph.Index.Search).
func (s *Server) getSearch(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	q := query.Get("q")
	switch {
	case strings.TrimSpace(q) == "":
		writeError(w, http.StatusBadRequest, "search: q is required")
		return
	case len(q) > MaxSearchQuery:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("search: q is %d bytes, at most %d", len(q), MaxSearchQuery))
		return
	}
	limit := DefaultSearchLimit
	if l := query.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxSearchLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("search: bad limit %q (want 1 to %d)", l, MaxSearchLimit))
			return
		}
		limit = n
	}
	if v := s.latest(w); v != nil {
		writeJSON(w, http.StatusOK, v.index().Search(q, limit))
	}
}

// GET /api/processes/{pid}/diagram.svg and diagram.txt: the user-space /
// kernel-space diagram of the process's focus, as `fdscope snapshot --pid N
// --format svg|text` draws it. Query: width (cells, default 120), ascii=1,
// theme=light|dark|auto, expand=ID (repeated).
func (s *Server) getDiagram(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, pid := s.process(w, r)
		if x == nil {
			return
		}
		q := r.URL.Query()
		width := 120
		if v := q.Get("width"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 40 || n > 1000 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("bad width %q (want 40 to 1000)", v))
				return
			}
			width = n
		}
		theme := q.Get("theme")
		switch theme {
		case "", "light", "dark", "auto":
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad theme %q (want light, dark or auto)", theme))
			return
		}
		opts, ok := layoutParams(w, r)
		if !ok {
			return
		}
		var buf bytes.Buffer
		var err error
		switch format {
		case "svg":
			l := diagram.NewLayout(x.Focus(pid), pid, opts)
			err = diagram.SVG(l, &buf, diagram.SVGOptions{Theme: theme})
			w.Header().Set("Content-Type", "image/svg+xml")
			// The SVG carries its styles inline and no script.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		default:
			opts.Width = width
			l := diagram.NewLayout(x.Focus(pid), pid, opts)
			err = diagram.Text(l, &buf, diagram.TextOptions{Width: width, ASCII: q.Get("ascii") == "1"})
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		if err != nil {
			w.Header().Del("Content-Security-Policy")
			writeError(w, http.StatusInternalServerError, "diagram: "+err.Error())
			return
		}
		w.Write(buf.Bytes())
	}
}

// Health is the body of /healthz.
type Health struct {
	Status    string    `json:"status"` // "ok", "starting" or "stale"
	Seq       uint64    `json:"seq"`
	ScannedAt time.Time `json:"scanned_at,omitzero"`
	Clients   int       `json:"clients"`
	// Progress is how far the first scan is, while starting (when the
	// Source reports it).
	Progress *Progress `json:"progress,omitempty"`
}

// Progress is how far a scan is: its phase and, in it, how many of how
// many things were done (processes read, then fds read).
type Progress struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// ProgressSource is a Source that can say how far the scan under way is
// (*live.Store is one). ok is false when no scan has reported progress.
type ProgressSource interface {
	ScanProgress() (phase string, done, total int, ok bool)
}

// GET /healthz: 200 while scans are recent, 503 before the first and when
// the latest is older than StaleAfter.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	seq, snap := s.opts.Source.Latest()
	h := Health{Status: "ok", Seq: seq, Clients: s.hub.count()}
	code := http.StatusOK
	switch {
	case seq == 0 || snap == nil:
		h.Status, code = "starting", http.StatusServiceUnavailable
		h.Progress = &Progress{Phase: "starting"}
		if ps, ok := s.opts.Source.(ProgressSource); ok {
			if phase, done, total, ok := ps.ScanProgress(); ok {
				h.Progress = &Progress{Phase: phase, Done: done, Total: total}
			}
		}
	default:
		h.ScannedAt = snap.Stats.StartedAt
		if !h.ScannedAt.IsZero() && time.Since(h.ScannedAt) > s.opts.StaleAfter {
			h.Status, code = "stale", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, h)
}
