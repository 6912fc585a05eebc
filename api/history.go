package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
)

// History is the recorded past the server answers ?at= and /api/changes
// from; *history.DB is one.
type History interface {
	Changes(ctx context.Context, q history.Query) ([]history.Event, error)
	At(ctx context.Context, t time.Time) (*graph.Snapshot, error)
	Begin(ctx context.Context) (time.Time, bool, error)
}

// AtHeader names the response header that carries the time a ?at= answer
// shows, as asked.
const AtHeader = "Fdscope-At"

// DefaultChangesWindow is how far back GET /api/changes looks without since=.
const DefaultChangesWindow = time.Hour

// MaxChanges is the most events one GET /api/changes returns.
const MaxChanges = 10000

// ChangesBody is the answer of GET /api/changes.
type ChangesBody struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Begins is when the history kept begins (zero when nothing is recorded yet).
	Begins time.Time `json:"begins"`
	// Truncated says that more changes than MaxChanges fell in the range:
	// ask again from the time of the last one.
	Truncated bool            `json:"truncated"`
	Changes   []history.Event `json:"changes"`
	// Sources says how changes are seen: "scan" (what each scan shows
	// differs from the one before; a connection that opens and closes
	// between two scans is not seen) and, when the server listens to the
	// kernel's proc connector, "proc_connector" (every exec and exit);
	// with connection events (BPF), "kernel" (every TCP and unix
	// connection, even one shorter than a scan).
	Sources []string `json:"sources"`
}

var errNoHistory = "no history is recorded: the server runs with --no-history, or its store could not be opened (see its log)"

// ParseTime reads a time parameter: RFC 3339, with or without fractional
// seconds.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2006-01-02T15:04:05Z)", s)
	}
	return t, nil
}

// GET /api/changes?since=T&until=T&pid=N: the recorded changes in time order.
func (s *Server) getChanges(w http.ResponseWriter, r *http.Request) {
	if s.opts.History == nil {
		writeError(w, http.StatusNotFound, errNoHistory)
		return
	}
	q := r.URL.Query()
	until := time.Now()
	if v := q.Get("until"); v != "" {
		t, err := ParseTime(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad until: "+err.Error())
			return
		}
		until = t
	}
	since := until.Add(-DefaultChangesWindow)
	if v := q.Get("since"); v != "" {
		t, err := ParseTime(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad since: "+err.Error())
			return
		}
		since = t
	}
	if until.Before(since) {
		writeError(w, http.StatusBadRequest, "until is before since")
		return
	}
	pid := 0
	if v := q.Get("pid"); v != "" {
		p, err := ParsePID(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad pid: "+err.Error())
			return
		}
		pid = p
	}
	evs, err := s.opts.History.Changes(r.Context(), history.Query{Since: since, Until: until, PID: pid, Limit: MaxChanges + 1})
	if err != nil {
		s.historyError(w, err)
		return
	}
	body := ChangesBody{Since: since.UTC(), Until: until.UTC(), Changes: evs, Sources: s.opts.HistorySources}
	if len(body.Sources) == 0 {
		body.Sources = []string{history.SourceScan}
	}
	if len(evs) > MaxChanges {
		body.Changes, body.Truncated = evs[:MaxChanges], true
	}
	if begin, ok, err := s.opts.History.Begin(r.Context()); err == nil && ok {
		body.Begins = begin.UTC()
	}
	writeJSON(w, http.StatusOK, body)
}

// historyError writes the answer to a failed question about the past.
func (s *Server) historyError(w http.ResponseWriter, err error) {
	var oor *history.OutOfRangeError
	if errors.As(err, &oor) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.opts.Log.Warn("history", "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

// pastView returns the view of the graph as it was at the time in the
// request's at= parameter: past is false when there is none (the caller
// answers from the latest version), v nil when the answer, an error, is
// written.
func (s *Server) pastView(w http.ResponseWriter, r *http.Request) (v *view, past bool) {
	at := r.URL.Query().Get("at")
	if at == "" {
		return nil, false
	}
	if s.opts.History == nil {
		writeError(w, http.StatusBadRequest, "bad at: "+errNoHistory)
		return nil, true
	}
	t, err := ParseTime(at)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad at: "+err.Error())
		return nil, true
	}
	if t.After(time.Now().Add(time.Second)) {
		writeError(w, http.StatusBadRequest, "bad at: "+at+" is in the future")
		return nil, true
	}
	snap, err := s.opts.History.At(r.Context(), t)
	if err != nil {
		s.historyError(w, err)
		return nil, true
	}
	w.Header().Set(AtHeader, t.UTC().Format(time.RFC3339Nano))
	// A views of its own: what a past view computes (its map, say) must
	// not become the live views' reference for the next version.
	return &view{snap: snap, vs: newViews(s.opts.Source, 1), rowsDiff: map[uint64]*graph.RowChanges{},
		focuses: map[focusRef]*onceFocus{}, layouts: map[layoutKey]*onceLayout{}, responses: map[string]*onceResponse{}}, true
}

// viewFor returns the view a request asks for: the one of its at= time,
// or the latest; nil when the answer, an error, is written.
func (s *Server) viewFor(w http.ResponseWriter, r *http.Request) *view {
	if v, past := s.pastView(w, r); past {
		return v
	}
	return s.latest(w)
}

// GET /api/graph?at=T: the graph as it was at T.
func (s *Server) getGraphAt(w http.ResponseWriter, r *http.Request) bool {
	v, past := s.pastView(w, r)
	if !past {
		return false
	}
	if v != nil {
		writeJSON(w, http.StatusOK, v.snap)
	}
	return true
}
