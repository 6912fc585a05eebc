package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/graph"
	"golang.org/x/time/rate"
)

// hub serves /api/ws. It follows "notify, then pull": the Source wakes each
// client's goroutine through a capacity-1 channel (never blocking the scan
// loop), and the goroutine sends what brings its client from the version it
// has to the latest one: for the whole graph, each version's diff in turn
// while the Source still holds them (and the client is at most Window
// versions behind), otherwise a fresh snapshot; for a focus or the process
// list, one diff from what the client has to the latest. A client's only
// queue is therefore the window of recent diffs, shared by all clients; a
// client whose write does not finish within the write timeout is dropped.
//
// A focus client that asked for layouts (layout=1) gets a layout message
// after each focus snapshot or non-empty diff, and after each change of its
// expanded groups. The focus subgraph of a pid and its layouts are computed
// once per version for all clients (views). A client that asked for the
// map of the host (map=1) gets it, laid out, on each version that changes it.
type hub struct {
	src     Source
	views   *views
	metrics *metrics
	log     *slog.Logger
	opts    *Options
	ownUID  uint32

	mu      sync.Mutex
	clients map[*client]struct{}
	// Connections counted against the limits (registered or about to be),
	// of the server's own user and of the others, and per other user.
	own, others int
	perUser     map[string]int
	closed      bool
	wg          sync.WaitGroup
}

func newHub(opts *Options, m *metrics) *hub {
	return &hub{
		ownUID: uint32(os.Geteuid()),
		src:    opts.Source, views: newViews(opts.Source, opts.Window), metrics: m, log: opts.Log, opts: opts,
		clients: map[*client]struct{}{}, perUser: map[string]int{},
	}
}

// userKey names whom a connection counts against: "" for the server's own
// user (who has a pool of its own), "uid N" for another local user, "ip A"
// for a client not on loopback.
func (h *hub) userKey(r *http.Request, p *peer, own uint32) string {
	switch {
	case p.known && p.uid == own:
		return ""
	case p.known:
		return "uid " + strconv.FormatUint(uint64(p.uid), 10)
	}
	return "ip " + remoteIP(r)
}

// admit counts a new connection of user (a userKey), or says why it cannot
// be taken.
func (h *hub) admit(user string) (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return http.StatusServiceUnavailable, "server shutting down"
	case user == "" && h.own >= h.opts.MaxClients:
		return http.StatusServiceUnavailable, fmt.Sprintf("too many clients (%d)", h.opts.MaxClients)
	case user == "":
		h.own++
		return 0, ""
	case h.others >= h.opts.MaxClients:
		return http.StatusServiceUnavailable, fmt.Sprintf("too many clients (%d)", h.opts.MaxClients)
	case h.perUser[user] >= h.opts.MaxClientsPerUser:
		return http.StatusTooManyRequests, fmt.Sprintf("too many connections of %s (%d)", user, h.opts.MaxClientsPerUser)
	}
	h.perUser[user]++
	h.others++
	return 0, ""
}

// release uncounts a connection of user.
func (h *hub) release(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if user == "" {
		h.own--
		return
	}
	h.others--
	if h.perUser[user]--; h.perUser[user] <= 0 {
		delete(h.perUser, user)
	}
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	sub, err := parseSubscription(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "ws: "+err.Error())
		return
	}
	sub.host = h.opts.graphHost(sub.host)
	user := h.userKey(r, peerOf(r, h.opts.Identify), h.ownUID)
	if code, why := h.admit(user); code != 0 {
		h.metrics.refused.WithLabelValues("limit").Inc()
		writeError(w, code, why)
		return
	}
	defer h.release(user)
	// Accept checks the Origin again (the guard already did): a browser
	// page of another origin cannot open this websocket.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		h.log.Debug("ws: accept failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	conn.SetReadLimit(h.opts.ReadLimit)
	c := &client{h: h, conn: conn, want: sub, poke: make(chan struct{}, 1), remote: r.RemoteAddr}
	if !h.register(c) {
		conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.unregister(c)
	c.run()
}

func (h *hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	h.wg.Add(1)
	h.metrics.clients.Inc()
	h.metrics.connected.Inc()
	return true
}

func (h *hub) unregister(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.metrics.clients.Dec()
	h.wg.Done()
}

// count returns the number of connected clients.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// shutdown sends every client a close frame (1001, going away) and waits
// for their goroutines until ctx is done; new connections are refused.
func (h *hub) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		go c.conn.Close(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ws: %d clients still closing: %w", h.count(), ctx.Err())
	}
}

// client is one websocket connection. Its writer goroutine (run) owns the
// stream state; the reader goroutine only updates want/resync/errMsg under mu.
type client struct {
	h      *hub
	conn   *websocket.Conn
	remote string
	poke   chan struct{}

	mu     sync.Mutex
	want   subscription
	resync bool
	errMsg string

	// owned by run
	have     subscription
	started  bool
	graphSeq uint64          // seq of the last graph-stream message sent; 0: none yet
	focus    *graph.Snapshot // the focus subgraph as last sent
	rowsSeq  uint64          // seq of the last process-list message sent; 0: none yet
	rowsAt   uint64          // the version the client's process list reflects
	mapSeq   uint64          // seq of the last map message sent; 0: none yet
	// layout is the layout last sent for the focus pid (diagram.Options.Prev
	// of the next); nil after the focus pid changed.
	layout     *diagram.Layout
	needLayout bool // the focus changed since the last layout sent
	// missing is the focus the client was told does not exist (yet);
	// its focus starts with a snapshot once the process appears.
	missing focusRef
}

// errDrop marks an error after which the client is dropped, with the reason.
type errDrop struct {
	reason string
	err    error
}

func (e *errDrop) Error() string { return e.reason + ": " + e.err.Error() }
func (e *errDrop) Unwrap() error { return e.err }

func (c *client) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.readLoop(ctx, cancel)
	wake, stop := c.h.src.Notify()
	defer stop()
	beat := time.NewTicker(c.h.opts.Heartbeat)
	defer beat.Stop()
	c.h.log.Debug("ws: client connected", "remote", c.remote)
	for {
		err := c.sync(ctx)
		if err == nil {
			select {
			case <-ctx.Done():
			case <-wake:
				continue
			case <-c.poke:
				continue
			case <-beat.C:
				pctx, pcancel := context.WithTimeout(ctx, c.h.opts.WriteTimeout)
				err = c.conn.Ping(pctx)
				if err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
					err = &errDrop{"heartbeat", err}
				}
				pcancel()
			}
		}
		if err == nil && ctx.Err() == nil {
			continue
		}
		var drop *errDrop
		if errors.As(err, &drop) {
			c.h.metrics.dropped.WithLabelValues(drop.reason).Inc()
			c.h.log.Info("ws: client dropped", "remote", c.remote, "reason", drop.reason, "err", drop.err)
		} else {
			c.h.log.Debug("ws: client gone", "remote", c.remote, "err", err)
		}
		c.conn.CloseNow()
		return
	}
}

// readLoop reads the client's requests until the connection ends, then cancels ctx.
func (c *client) readLoop(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	budget := requestBudget(c.h.opts.MaxRequestsPerSecond)
	for {
		typ, b, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		if !budget.Allow() {
			c.h.metrics.dropped.WithLabelValues("requests").Inc()
			c.conn.Close(websocket.StatusPolicyViolation, "too many requests")
			return
		}
		var req Request
		var msg string
		if typ != websocket.MessageText {
			msg = "requests are JSON text messages"
		} else if err := json.Unmarshal(b, &req); err != nil {
			msg = "bad request: " + err.Error()
		}
		c.mu.Lock()
		if msg == "" {
			next, resync, err := c.want.apply(req)
			if err != nil {
				msg = err.Error()
			} else {
				next.host = c.h.opts.graphHost(next.host)
				c.want, c.resync = next, c.resync || resync
			}
		}
		if msg != "" {
			c.errMsg = msg
		}
		c.mu.Unlock()
		select {
		case c.poke <- struct{}{}:
		default:
		}
	}
}

func (c *client) write(ctx context.Context, typ string, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, c.h.opts.WriteTimeout)
	defer cancel()
	if err := c.conn.Write(wctx, websocket.MessageText, b); err != nil {
		if errors.Is(wctx.Err(), context.DeadlineExceeded) {
			return &errDrop{"slow", err}
		}
		return err
	}
	c.h.metrics.messages.WithLabelValues(typ).Inc()
	c.h.metrics.bytes.Add(float64(len(b)))
	return nil
}

// sync sends what brings the client up to the latest version.
func (c *client) sync(ctx context.Context) error {
	c.mu.Lock()
	want, resync, errMsg := c.want, c.resync, c.errMsg
	c.resync, c.errMsg = false, ""
	c.mu.Unlock()
	if errMsg != "" {
		if err := c.write(ctx, TypeError, mustJSON(ErrorMessage{Type: TypeError, Error: errMsg})); err != nil {
			return err
		}
	}
	if resync && c.started {
		c.h.metrics.resyncs.WithLabelValues("request").Inc()
	}
	if resync || want.graph != c.have.graph || want.ref() != c.have.ref() {
		c.graphSeq, c.focus, c.missing = 0, nil, focusRef{}
	}
	if want.graph != GraphFocus || want.ref() != c.have.ref() || !want.layout {
		c.layout = nil // Prev resets with the focus pid
	}
	if want.expand != c.have.expand || (want.layout && !c.have.layout) {
		c.needLayout = true
	}
	if resync || want.processes != c.have.processes {
		c.rowsSeq, c.rowsAt = 0, 0
	}
	if resync || want.hostMap != c.have.hostMap {
		c.mapSeq = 0
	}
	c.have = want
	v := c.h.views.latest()
	if v == nil {
		return nil // nothing scanned yet: the first version wakes us
	}
	c.started = true
	if err := c.syncGraph(ctx, v); err != nil {
		return err
	}
	if err := c.syncLayout(ctx, v); err != nil {
		return err
	}
	if err := c.syncRows(ctx, v); err != nil {
		return err
	}
	return c.syncMap(ctx, v)
}

// syncMap sends the map of the host if the client asked for it and it
// changed since the one last sent.
func (c *client) syncMap(ctx context.Context, latest *view) error {
	if !c.have.hostMap {
		return nil
	}
	mv := latest.hostMapVersion()
	if mv.seq == c.mapSeq {
		return nil
	}
	if err := c.write(ctx, TypeMap, mv.msg); err != nil {
		return err
	}
	c.mapSeq = mv.seq
	return nil
}

// syncLayout sends the layout of the focus as the client has it, if it
// asked for layouts and the focus or the expanded groups changed since the
// last one.
func (c *client) syncLayout(ctx context.Context, latest *view) error {
	if !c.needLayout || !c.have.layout || c.have.graph != GraphFocus || c.graphSeq == 0 || c.focus == nil {
		return nil
	}
	// The layout is shared through the latest view when the client's focus
	// is that view's; a client whose focus is older (an expand request on a
	// focus unchanged for a while) gets one of its own. Clients keep no
	// view: an idle one must not pin an old snapshot.
	at := latest
	if latest.seq != c.graphSeq {
		at = nil
	}
	msg, l := c.h.views.layoutMessage(at, c.graphSeq, c.have.ref(), c.focus, c.have.layoutOptions(), c.layout)
	if err := c.write(ctx, TypeLayout, msg); err != nil {
		return err
	}
	c.layout, c.needLayout = l, false
	return nil
}

func (c *client) window() uint64 { return uint64(c.h.opts.Window) }

func (c *client) syncGraph(ctx context.Context, latest *view) error {
	switch c.have.graph {
	case GraphAll:
		return c.syncAll(ctx, latest)
	case GraphFocus:
		return c.syncFocus(ctx, latest)
	}
	return nil
}

func (c *client) syncAll(ctx context.Context, latest *view) error {
	if c.graphSeq >= latest.seq {
		return nil
	}
	if c.graphSeq != 0 && latest.seq-c.graphSeq <= c.window() {
		for s := c.graphSeq + 1; s <= latest.seq; s++ {
			msg := c.h.views.diffMessage(s)
			if msg == nil {
				break // the Source no longer holds it: snapshot below
			}
			if err := c.write(ctx, TypeDiff, msg); err != nil {
				return err
			}
			c.graphSeq = s
		}
		if c.graphSeq == latest.seq {
			return nil
		}
	}
	if c.graphSeq != 0 {
		c.h.metrics.resyncs.WithLabelValues("gap").Inc()
	}
	msg := latest.snapshotMessage()
	err := c.write(ctx, TypeSnapshot, msg.b)
	runtime.KeepAlive(msg) // shared while written: see snapshotMessage
	if err != nil {
		return err
	}
	c.graphSeq = latest.seq
	return nil
}

func (c *client) syncFocus(ctx context.Context, latest *view) error {
	ref, pid := c.have.ref(), c.have.pid
	if c.graphSeq != 0 && latest.seq == c.graphSeq {
		return nil
	}
	if c.graphSeq == 0 && latest.index().ProcessOn(ref.host, pid) == nil {
		// An unknown pid: an error, once, and nothing else until a
		// version holds the process (then its snapshot).
		if c.missing == ref {
			return nil
		}
		msg := mustJSON(ErrorMessage{Type: TypeError, Error: fmt.Sprintf("focus: no process with %s (yet)", ref)})
		if err := c.write(ctx, TypeError, msg); err != nil {
			return err
		}
		c.missing = ref
		return nil
	}
	f := latest.focus(ref)
	if c.graphSeq == 0 {
		c.missing = focusRef{}
		if err := c.write(ctx, TypeSnapshot, snapshotJSON(latest.seq, pid, f)); err != nil {
			return err
		}
		c.graphSeq, c.focus, c.needLayout = latest.seq, f, true
		return nil
	}
	d := graph.Diff(c.focus, f)
	if d.Empty() {
		// The client's focus is the same graph: keep the one it was sent,
		// whose layout is the one the client has.
		return nil
	}
	msg := mustJSON(DiffMessage{Type: TypeDiff, Seq: latest.seq, Base: c.graphSeq, Focus: pid, Changes: d})
	if err := c.write(ctx, TypeDiff, msg); err != nil {
		return err
	}
	c.graphSeq, c.focus, c.needLayout = latest.seq, f, true
	return nil
}

func (c *client) syncRows(ctx context.Context, latest *view) error {
	if !c.have.processes || c.rowsAt >= latest.seq {
		return nil
	}
	if c.rowsSeq != 0 && latest.seq-c.rowsAt <= c.window() {
		if prev, ok := c.h.views.rowsAt(c.rowsAt); ok {
			d := latest.processesDiff(prev, c.rowsAt)
			if !d.Empty() {
				msg := mustJSON(ProcessesDiffMessage{Type: TypeProcessesDiff, Seq: latest.seq, Base: c.rowsSeq, RowChanges: d})
				if err := c.write(ctx, TypeProcessesDiff, msg); err != nil {
					return err
				}
				c.rowsSeq = latest.seq
			}
			c.rowsAt = latest.seq
			return nil
		}
	}
	if c.rowsSeq != 0 {
		c.h.metrics.resyncs.WithLabelValues("gap").Inc()
	}
	if err := c.write(ctx, TypeProcesses, latest.processesMessage()); err != nil {
		return err
	}
	c.rowsSeq, c.rowsAt = latest.seq, latest.seq
	return nil
}

// requestBudget is the token bucket of one client's messages: perSecond on
// average, and bursts of up to two seconds' worth. A client that sends at
// most perSecond messages in any second is never cut off, even when the
// server reads a second's worth late and in one go (the messages wait in
// the socket while a write to the client is under way).
func requestBudget(perSecond int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), 2*perSecond)
}
