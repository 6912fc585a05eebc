package api

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/hostmap"
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
	if s.getGraphAt(w, r) {
		return
	}
	seq, snap := s.opts.Source.Latest()
	if seq == 0 || snap == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "no scan yet")
		return
	}
	w.Header().Set(SeqHeader, strconv.FormatUint(seq, 10))
	e := s.hub.views.graphJSON(snap)
	writeBytes(w, http.StatusOK, "application/json", e.b)
	runtime.KeepAlive(e) // held until written: see views.graphJSON
}

// writeBytes writes a shared, already encoded answer.
func writeBytes(w http.ResponseWriter, code int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b) // the client went away or did not read in time: nothing to do
}

// writeShared writes the answer of v named key, encoded once for all
// clients by compute, or a 500 if compute fails.
func writeShared(w http.ResponseWriter, v *view, key, contentType string, compute func() ([]byte, error)) {
	b, err := v.response(key, compute)
	if err != nil {
		w.Header().Del("Content-Security-Policy")
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBytes(w, http.StatusOK, contentType, b)
}

// jsonLine encodes v as writeJSON does.
func jsonLine(v any) ([]byte, error) { return append(mustJSON(v), '\n'), nil }

// GET /api/processes: one row per process.
func (s *Server) getProcesses(w http.ResponseWriter, r *http.Request) {
	if v := s.latest(w); v != nil {
		writeShared(w, v, "processes", "application/json", func() ([]byte, error) { return jsonLine(v.processes()) })
	}
}

// GET /api/map: the map of the host (MapMessage), computed once per version.
func (s *Server) getMap(w http.ResponseWriter, r *http.Request) {
	if v := s.viewFor(w, r); v != nil {
		writeShared(w, v, "map", "application/json", func() ([]byte, error) {
			return append(slices.Clip(v.hostMapVersion().msg), '\n'), nil
		})
	}
}

// GET /api/map.svg and /api/map.txt: the map of the host drawn as SVG
// (?theme=light|dark|auto) or text art, with the layout of the map
// messages: what fdscope snapshot --format map-svg|map prints.
func (s *Server) getMapDrawing(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		theme := r.URL.Query().Get("theme")
		if theme == "" {
			theme = "light"
		}
		if err := CheckTheme(theme); err != nil {
			writeError(w, http.StatusBadRequest, "bad theme: "+err.Error())
			return
		}
		v := s.viewFor(w, r)
		if v == nil {
			return
		}
		contentType := "text/plain; charset=utf-8"
		if format == "svg" {
			contentType = "image/svg+xml"
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		}
		writeShared(w, v, "map."+format+" "+theme, contentType, func() ([]byte, error) {
			mv := v.hostMapVersion()
			if format == "svg" {
				return []byte(hostmap.SVG(mv.m, mv.layout, theme)), nil
			}
			return []byte(hostmap.Text(mv.m, mv.layout)), nil
		})
	}
}

// process resolves {pid} (and ?host=, the process's host in a hub's merged
// graph) in the latest version: it returns the version's view and the
// process, or writes 400 (malformed pid or host), 503 (no scan yet) or 404
// (no such process) and returns nil.
func (s *Server) process(w http.ResponseWriter, r *http.Request) (*view, focusRef) {
	pid, err := ParsePID(chi.URLParam(r, "pid"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad pid: "+err.Error())
		return nil, focusRef{}
	}
	ref := focusRef{pid: pid}
	if q := r.URL.Query(); q.Has("host") {
		if err := CheckHost(q.Get("host")); err != nil {
			writeError(w, http.StatusBadRequest, "bad host: "+err.Error())
			return nil, focusRef{}
		}
		ref.host = s.opts.graphHost(q.Get("host"))
	}
	v, past := s.pastView(w, r) // ?at=: as it was then
	if !past {
		v = s.latest(w)
	}
	if v == nil {
		return nil, focusRef{}
	}
	if v.index().ProcessOn(ref.host, pid) == nil {
		if past {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no process with %s at %s", ref, r.URL.Query().Get("at")))
			return nil, focusRef{}
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no process with %s", ref))
		return nil, focusRef{}
	}
	return v, ref
}

// hostOf returns the host a focus names, as the graph names it: the
// server's own host name (Options.HostName) is every process of a server
// that is not a hub, whose process nodes carry no host.
func (o *Options) graphHost(host string) string {
	if host == o.HostName {
		return ""
	}
	return host
}

// GET /api/processes/{pid}: the focus subgraph of one process.
func (s *Server) getProcess(w http.ResponseWriter, r *http.Request) {
	if v, ref := s.process(w, r); v != nil {
		writeShared(w, v, "focus "+ref.key(), "application/json", func() ([]byte, error) { return jsonLine(v.focus(ref)) })
	}
}

// GET /api/processes/{pid}/peers: the flat list of the process's connections.
func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) {
	if v, ref := s.process(w, r); v != nil {
		writeShared(w, v, "peers "+ref.key(), "application/json", func() ([]byte, error) { return jsonLine(v.index().PeersOn(ref.host, ref.pid)) })
	}
}

// layoutParams reads the diagram options of the layout routes: the
// repeated expand= (group IDs to draw fd by fd) and watches=1 or 0 (draw
// epoll and inotify watches). On a bad one it writes 400 and returns false.
func layoutParams(w http.ResponseWriter, r *http.Request) (diagram.Options, bool) {
	q := r.URL.Query()
	ids := q["expand"]
	if _, err := checkExpand(ids); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return diagram.Options{}, false
	}
	watches, err := ParseSwitch(q.Get("watches"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad watches: "+err.Error())
		return diagram.Options{}, false
	}
	return diagram.Options{ExpandGroups: ids, Watches: watches}, true
}

// GET /api/processes/{pid}/layout: the diagram layout of the process's
// focus (diagram.Layout JSON), with layoutParams' options.
func (s *Server) getLayout(w http.ResponseWriter, r *http.Request) {
	v, ref := s.process(w, r)
	if v == nil {
		return
	}
	opts, ok := layoutParams(w, r)
	if !ok {
		return
	}
	opts.Host = ref.host
	writeShared(w, v, "layout "+ref.key()+" "+r.URL.RawQuery, "application/json", func() ([]byte, error) {
		return jsonLine(diagram.NewLayout(v.focus(ref), ref.pid, opts))
	})
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
// --format svg|text` draws it. Query: width (cells, default 120), ascii=1
// or 0, theme=light|dark|auto, watches=1 or 0, expand=ID (repeated).
func (s *Server) getDiagram(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ref := s.process(w, r)
		if v == nil {
			return
		}
		q := r.URL.Query()
		width := DefaultTextWidth
		if v := q.Get("width"); v != "" {
			n, err := strconv.Atoi(v)
			if err == nil {
				err = CheckTextWidth(n)
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("bad width %q (want %d to %d)", v, MinTextWidth, MaxTextWidth))
				return
			}
			width = n
		}
		theme := q.Get("theme")
		if theme != "" {
			if err := CheckTheme(theme); err != nil {
				writeError(w, http.StatusBadRequest, "bad theme: "+err.Error())
				return
			}
		}
		ascii, err := ParseSwitch(q.Get("ascii"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad ascii: "+err.Error())
			return
		}
		opts, ok := layoutParams(w, r)
		if !ok {
			return
		}
		opts.Host = ref.host
		// Drawn once per version, pid and query for all clients.
		contentType := "text/plain; charset=utf-8"
		if format == "svg" {
			contentType = "image/svg+xml"
			// The SVG carries its styles inline and no script.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		}
		// What flows on the connections, as last sampled: the drawing is
		// shared until the next sample.
		key := format + " " + ref.key() + " " + r.URL.RawQuery
		if !past(r) {
			var at time.Time
			opts.Activity, at = s.diagramActivity(v.focus(ref))
			if len(opts.Activity) > 0 {
				key += " @" + at.Format(time.RFC3339Nano)
			}
		}
		writeShared(w, v, key, contentType, func() ([]byte, error) {
			var buf bytes.Buffer
			var err error
			switch format {
			case "svg":
				l := diagram.NewLayout(v.focus(ref), ref.pid, opts)
				err = diagram.SVG(l, &buf, diagram.SVGOptions{Theme: theme})
			default:
				opts.Width = width
				l := diagram.NewLayout(v.focus(ref), ref.pid, opts)
				err = diagram.Text(l, &buf, diagram.TextOptions{Width: width, ASCII: ascii})
			}
			if err != nil {
				return nil, fmt.Errorf("diagram: %w", err)
			}
			return buf.Bytes(), nil
		})
	}
}

// Health is the body of /healthz.
type Health struct {
	Status    string    `json:"status"` // "ok", "starting" or "stale"
	Seq       uint64    `json:"seq"`
	ScannedAt time.Time `json:"scanned_at,omitzero"`
	// CheckedAt is when a tick last found the graph current without a
	// scan (kernel events, or a probe, saw nothing change), when later
	// than ScannedAt.
	CheckedAt time.Time `json:"checked_at,omitzero"`
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

// CheckedSource is a Source that knows when the latest version was last
// found current without a new one; *live.Store is one.
type CheckedSource interface {
	CheckedAt() time.Time
}

// GET /healthz: 200 while scans (or ticks that found nothing changed) are
// recent, 503 before the first and when the latest is older than
// StaleAfter.
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
		current := h.ScannedAt
		if cs, ok := s.opts.Source.(CheckedSource); ok {
			if t := cs.CheckedAt(); t.After(current) {
				h.CheckedAt, current = t, t
			}
		}
		if !current.IsZero() && time.Since(current) > s.opts.StaleAfter {
			h.Status, code = "stale", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, h)
}
