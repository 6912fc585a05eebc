// Package api serves fdscope's dashboard over HTTP: the REST endpoints
// (/api/graph, /api/processes, ...), the websocket stream of diffs
// (/api/ws), /metrics and /healthz, the page and its static assets (handed
// in by main), and the security middleware in front of them all.
// docs/api.md documents the protocol.
//
// The package reads the graph through the small Source interface (package
// live's Store is one) and never scans anything itself; it imports neither
// graph/scan nor web. Nothing it serves changes the system: every route is
// a GET.
//
// # Security
//
// The data shows every process on the machine. Every request passes the
// guard: the Host header must name this server (a loopback name, the listen
// address or an allowed name), which defeats DNS rebinding; a request with
// an Origin header must come from the page's own origin, and so must every
// websocket; on loopback, the kernel says which user owns the client's
// socket, and only the server's own user and root are served without the
// access token; a server not on loopback requires the token of every
// client (New refuses to build one without it). Responses carry a Content-Security-Policy
// without inline script and with frame-ancestors 'none', and nosniff.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/fdscope/fdscope/graph"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is where the server reads the graph: a series of versions, each a
// snapshot with a sequence number one above the one before, of which the
// Source keeps the latest whole and the changes that made the recent ones.
// *live.Store is one. Implementations must be safe for concurrent use.
type Source interface {
	// Latest returns the sequence number of the latest version and the
	// latest snapshot (whose stats may be newer than the version's);
	// 0 and nil before the first one.
	Latest() (uint64, *graph.Snapshot)
	// Changes returns the changes from version seq-1 to seq while the Source holds them.
	Changes(seq uint64) (*graph.Changes, bool)
	// Notify returns a channel that receives a value (without the Source
	// ever blocking) after each new version, and a function that stops it.
	Notify() (<-chan struct{}, func())
}

// Options configure a Server. Source and Listen are required; zero values
// of the rest take the defaults shown.
type Options struct {
	Source Source
	// History, when set, answers GET /api/changes and the ?at= of the
	// graph and process routes (docs/history.md); nil: they say that no
	// history is recorded.
	History History
	// Activity, when set, serves GET /api/processes/{pid}/activity and
	// draws what flows on the connections of the diagram exports (package
	// activity); nil: the route says that nothing is sampled.
	Activity ActivitySource
	// HistorySources says how History's changes are seen (history.SourceScan,
	// history.SourceProcConnector, history.SourceKernel), as GET
	// /api/changes reports; default scan.
	HistorySources []string
	// Listen is the address the server listens on ("127.0.0.1:8080"); the
	// Host check allows its host.
	Listen string
	// HostName is the name of the host the server runs on (os.Hostname):
	// the ?host= of a focus may name it. A hub leaves it empty: its
	// processes carry their hosts' names.
	HostName string
	// AllowedHosts are more names the Host header may carry (for a server
	// reached through a DNS name or a proxy).
	AllowedHosts []string
	// Token, when set, lets users other than the server's own (and root)
	// in: they send it as Authorization: Bearer, or as the cookie set by
	// opening a page with ?token=. Without one, only the server's own user
	// and root are served. New refuses an empty Token when Listen is not a
	// loopback address.
	Token string
	// Identify returns the uid owning a loopback client's socket; nil asks
	// the kernel (sock_diag, or /proc/net/tcp). Tests set it to pose as
	// another user.
	Identify IdentifyFunc

	// Page serves GET / and GET /process/{pid} (the dashboard); nil serves a 404.
	Page http.Handler
	// Static is served under /static/; nil serves nothing there.
	Static fs.FS
	// StaticMaxAge is the Cache-Control max-age of static files; 0 means no-cache.
	StaticMaxAge time.Duration

	// Registry receives the server's metrics and is served on /metrics;
	// nil makes a new one.
	Registry *prometheus.Registry
	// Log receives request and client logs; nil discards them.
	Log *slog.Logger

	// Window is how many versions behind a client may be and still get
	// diffs rather than a new snapshot; default 16. Keep it at most the
	// Source's own window of changes.
	Window int
	// MaxClients is the most websocket clients at once of users other
	// than the server's own; default 256. The server's own user has as
	// many more of its own, so that others cannot lock it out.
	MaxClients int
	// MaxClientsPerUser is the most websocket clients of one other user
	// (by the uid owning the client's socket; by address for a client not
	// on loopback); default 16.
	MaxClientsPerUser int
	// ReadLimit is the largest message a client may send; default 16 KiB
	// (room for a focus request with a long list of expanded groups).
	ReadLimit int64
	// MaxRequestsPerSecond is how many messages a client may send per
	// second on average (a token bucket holding two seconds' worth)
	// before it is disconnected; default 20.
	MaxRequestsPerSecond int
	// WriteTimeout bounds each websocket write and ping; a client that does
	// not take a message within it is dropped. Default 5 s.
	WriteTimeout time.Duration
	// Heartbeat is the period of websocket pings; default 30 s.
	Heartbeat time.Duration
	// StaleAfter is how old the latest scan may be before /healthz reports
	// it unhealthy; default 30 s.
	StaleAfter time.Duration
	// ResponseTimeout bounds the writing of each REST answer, from its
	// first byte: a client that does not take it within that time is cut
	// off. (What the server computes before, such as a past graph from
	// the history, does not count.) Default 15 s.
	ResponseTimeout time.Duration
	// MaxHeavyResponses is how many heavy answers (the whole graph, the
	// process list, a focus, layouts and diagrams) may be under way at once;
	// more get 503 with Retry-After. Each is encoded once per version and
	// shared, so this bounds the versions that slow clients keep alive.
	// Default 4.
	MaxHeavyResponses int
}

// Server is the HTTP side of fdscope. Create it with New, serve its
// Handler, and call Shutdown before the http.Server's own Shutdown (which
// does not know about websockets). Safe for concurrent use.
type Server struct {
	opts    Options
	heavy   chan struct{} // a slot per heavy answer under way
	owners  *socketOwners // nil when Options.Identify was given
	hub     *hub
	metrics *metrics
	guard   *guard
	handler http.Handler
}

// New checks the options and builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("api: no Source")
	}
	if opts.Listen == "" {
		return nil, errors.New("api: no Listen address")
	}
	if !IsLoopback(opts.Listen) && opts.Token == "" {
		return nil, errors.New("api: listening on " + opts.Listen + ", not loopback, needs an access token")
	}
	setDefault(&opts.Window, 16)
	setDefault(&opts.MaxClients, 256)
	setDefault(&opts.MaxClientsPerUser, 16)
	setDefault(&opts.ReadLimit, 16<<10)
	setDefault(&opts.MaxRequestsPerSecond, 20)
	setDefault(&opts.WriteTimeout, 5*time.Second)
	setDefault(&opts.Heartbeat, 30*time.Second)
	setDefault(&opts.StaleAfter, 30*time.Second)
	setDefault(&opts.ResponseTimeout, 15*time.Second)
	setDefault(&opts.MaxHeavyResponses, 4)
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, heavy: make(chan struct{}, opts.MaxHeavyResponses)}
	if s.opts.Identify == nil {
		s.owners = &socketOwners{procRoot: "/proc"}
		s.opts.Identify = s.owners.owner
	}
	s.metrics = newMetrics(opts.Registry, func() float64 {
		seq, _ := opts.Source.Latest()
		return float64(seq)
	})
	s.hub = newHub(&s.opts, s.metrics)
	s.guard = newGuard(opts.Listen, opts.AllowedHosts, opts.Token, func(reason string) {
		s.metrics.refused.WithLabelValues(reason).Inc()
	})
	s.guard.identify = s.opts.Identify
	s.handler = s.routes()
	return s, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Handler returns the handler of every route, behind the guard.
func (s *Server) Handler() http.Handler { return s.handler }

// Clients returns the number of websocket clients connected now.
func (s *Server) Clients() int { return s.hub.count() }

// Shutdown sends every websocket client a close frame (1001, going away),
// refuses new ones, and waits until they are gone or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hub.shutdown(ctx)
	if s.owners != nil {
		s.owners.close()
	}
	return err
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, s.guard.wrap)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: the API is read-only (GET)")
	})
	if s.opts.Page != nil {
		// /process/{pid} is the page's permalink of a focus; the page reads the pid.
		r.Method(http.MethodGet, "/", s.opts.Page)
		r.Method(http.MethodGet, "/process/{pid}", s.opts.Page)
	}
	if s.opts.Static != nil {
		r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static/", staticHandler(s.opts.Static, s.opts.StaticMaxAge)))
	}
	r.Get("/healthz", s.healthz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	r.Route("/api", func(r chi.Router) {
		// The websocket route stays out of any timeout or compression
		// middleware: they break the upgrade.
		r.Get("/ws", s.hub.serveWS)
		r.Group(func(r chi.Router) {
			r.Use(noStore, s.deadline)
			r.With(s.limitHeavy).Get("/graph", s.getGraph)
			r.With(s.limitHeavy).Get("/processes", s.getProcesses)
			r.With(s.limitHeavy).Get("/processes/{pid}", s.getProcess)
			r.Get("/processes/{pid}/peers", s.getPeers)
			r.Get("/processes/{pid}/activity", s.getActivity)
			r.With(s.limitHeavy).Get("/processes/{pid}/diagram.svg", s.getDiagram("svg"))
			r.With(s.limitHeavy).Get("/processes/{pid}/diagram.txt", s.getDiagram("txt"))
			r.With(s.limitHeavy).Get("/processes/{pid}/layout", s.getLayout)
			r.Get("/search", s.getSearch)
			r.Get("/summary", s.getSummary)
			r.With(s.limitHeavy).Get("/changes", s.getChanges)
			r.With(s.limitHeavy).Get("/map", s.getMap)
			r.With(s.limitHeavy).Get("/map.svg", s.getMapDrawing("svg"))
			r.With(s.limitHeavy).Get("/map.txt", s.getMapDrawing("txt"))
		})
	})
	return r
}

// deadline gives the answer ResponseTimeout to be written from its first
// byte: a client that stops reading is cut off then, and what it held is
// let go.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, timeout: s.opts.ResponseTimeout}, r)
	})
}

// deadlineWriter sets its connection's write deadline when the answer
// starts.
type deadlineWriter struct {
	http.ResponseWriter
	timeout time.Duration
	started bool
}

func (d *deadlineWriter) start() {
	if !d.started {
		d.started = true
		// An error means the ResponseWriter cannot: nothing to bound.
		_ = http.NewResponseController(d.ResponseWriter).SetWriteDeadline(time.Now().Add(d.timeout))
	}
}

func (d *deadlineWriter) WriteHeader(code int) {
	d.start()
	d.ResponseWriter.WriteHeader(code)
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.start()
	return d.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the ResponseWriter underneath.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// limitHeavy lets MaxHeavyResponses heavy answers be under way at once and
// refuses more with 503 and Retry-After, at once: a request never waits
// for a slot (waiting clients would hold their connections and the server
// its goroutines).
func (s *Server) limitHeavy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.heavy <- struct{}{}:
			defer func() { <-s.heavy }()
			next.ServeHTTP(w, r)
		default:
			s.metrics.refused.WithLabelValues("busy").Inc()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: %d large answers under way; retry in a second", cap(s.heavy)))
		}
	})
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// staticHandler serves fsys without directory listings.
func staticHandler(fsys fs.FS, maxAge time.Duration) http.Handler {
	files := http.FileServerFS(fsys)
	cache := "no-cache"
	if maxAge > 0 {
		cache = "public, max-age=" + itoa(int(maxAge.Seconds()))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		if name == "" || name[len(name)-1] == '/' {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		if st, err := fs.Stat(fsys, name); err != nil || st.IsDir() {
			writeError(w, http.StatusNotFound, "not found: /static/"+name)
			return
		}
		w.Header().Set("Cache-Control", cache)
		files.ServeHTTP(w, r)
	})
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away: nothing to do
}
