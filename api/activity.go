package api

import (
	"context"
	"net/http"
	"time"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/history"
)

// ActivitySource is what the server reads activity from: *activity.Sampler
// is one. Implementations must be safe for concurrent use.
type ActivitySource interface {
	// Socket returns the latest samples of the socket with the given inode,
	// false when it has not moved.
	Socket(inode uint64) (activity.Socket, bool)
	// LastSample is when the latest sample was taken (zero before the
	// first), and its CPU time.
	LastSample() (time.Time, time.Duration)
}

// ActivityHistory is a History that also recorded activity
// (*history.DB is one): GET /api/processes/{pid}/activity?since= reads it.
type ActivityHistory interface {
	ActivityOf(ctx context.Context, inode uint64, since, until time.Time) ([]history.Activity, error)
}

// NotMeasured says what the activity of a connection leaves out (more when
// the source cannot sample pipes: see notMeasured).
const NotMeasured = "UDP sockets, and the bytes that pass through unix sockets and pipes (only what waits in their queues)"

// PipeSampler is an ActivitySource that says whether it samples pipes;
// *activity.Sampler is one.
type PipeSampler interface {
	PipesMeasured() (bool, error)
}

// notMeasured is NotMeasured, with pipes when the source cannot sample
// them, and why.
func notMeasured(src ActivitySource) string {
	if ps, ok := src.(PipeSampler); ok {
		if on, why := ps.PipesMeasured(); !on {
			msg := "pipes and FIFOs"
			if why != nil {
				msg += " (" + why.Error() + ")"
			}
			return msg + "; " + NotMeasured
		}
	}
	return NotMeasured
}

// ActivityBody is the answer of GET /api/processes/{pid}/activity.
type ActivityBody struct {
	PID int `json:"pid"`
	// SampledAt is when the latest sample was taken.
	SampledAt time.Time `json:"sampled_at,omitzero"`
	// Sockets are the sockets of the process's focus (its own and those of
	// its peers on the way to it) that moved, by graph node ID.
	Sockets     []ActivitySocket `json:"sockets"`
	NotMeasured string           `json:"not_measured"`
}

// ActivitySocket is one socket's activity.
type ActivitySocket struct {
	ID string `json:"id"` // graph.SocketID
	activity.Socket
	// Recorded is what the history store holds of it between since and
	// until, when since= was given.
	Recorded []history.Activity `json:"recorded,omitempty"`
}

const errNoActivity = "no activity is sampled: the server runs with --no-activity, or not on Linux"

// GET /api/processes/{pid}/activity: what flows through the sockets of a
// process's focus, with the latest samples (and, with since=T&until=T, what
// the history store recorded of them).
func (s *Server) getActivity(w http.ResponseWriter, r *http.Request) {
	if s.opts.Activity == nil {
		writeError(w, http.StatusNotFound, errNoActivity)
		return
	}
	q := r.URL.Query()
	if q.Has("at") {
		writeError(w, http.StatusBadRequest, "activity is live: ask for what was recorded with since= and until=")
		return
	}
	var since, until time.Time
	if v := q.Get("since"); v != "" {
		t, err := ParseTime(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad since: "+err.Error())
			return
		}
		since, until = t, time.Now()
	}
	if v := q.Get("until"); v != "" {
		t, err := ParseTime(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad until: "+err.Error())
			return
		}
		if since.IsZero() {
			writeError(w, http.StatusBadRequest, "until without since")
			return
		}
		until = t
	}
	if !since.IsZero() && until.Before(since) {
		writeError(w, http.StatusBadRequest, "until is before since")
		return
	}
	var hist ActivityHistory
	if !since.IsZero() {
		h, ok := s.opts.History.(ActivityHistory)
		if !ok || s.opts.History == nil {
			writeError(w, http.StatusNotFound, errNoHistory)
			return
		}
		hist = h
	}
	v, ref := s.process(w, r)
	if v == nil {
		return
	}
	body := ActivityBody{PID: ref.pid, Sockets: []ActivitySocket{}, NotMeasured: notMeasured(s.opts.Activity)}
	body.SampledAt, _ = s.opts.Activity.LastSample()
	for _, n := range v.focus(ref).Nodes {
		if !measured(n) {
			continue
		}
		sock, ok := s.opts.Activity.Socket(n.Object.Inode)
		as := ActivitySocket{ID: n.ID, Socket: sock}
		if hist != nil {
			rec, err := hist.ActivityOf(r.Context(), n.Object.Inode, since, until)
			if err != nil {
				s.historyError(w, err)
				return
			}
			as.Recorded = rec
		}
		if ok || len(as.Recorded) > 0 {
			if !ok {
				as.Socket = activity.Socket{Inode: n.Object.Inode, Points: []activity.Point{}}
			}
			body.Sockets = append(body.Sockets, as)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// diagramActivity is the latest activity of the sockets of focus, for
// the diagram, and when it was sampled; nil without a sampler.
func (s *Server) diagramActivity(focus *graph.Snapshot) (map[string]diagram.Activity, time.Time) {
	if s.opts.Activity == nil {
		return nil, time.Time{}
	}
	at, _ := s.opts.Activity.LastSample()
	out := map[string]diagram.Activity{}
	for _, n := range focus.Nodes {
		if !measured(n) {
			continue
		}
		if sock, ok := s.opts.Activity.Socket(n.Object.Inode); ok {
			p := sock.Latest()
			out[n.ID] = diagram.Activity{BytesPerSec: p.Rate(), Queued: p.Queued()}
		}
	}
	return out, at
}

// measured reports whether the activity of node n is sampled: sockets,
// pipes and FIFOs.
func measured(n *graph.Node) bool {
	return n.Object != nil && (n.Kind == graph.KindSocket || n.Kind == graph.KindPipe || n.Kind == graph.KindFIFO)
}

// past says the request asks for the past (at=), where there is no
// activity to draw.
func past(r *http.Request) bool { return r.URL.Query().Get("at") != "" }
