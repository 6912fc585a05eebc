// Package live keeps a current graph of the machine: a Loop scans on a
// ticker and publishes each snapshot to a Store, which keeps the latest
// versions and the changes between them for the dashboard's clients.
//
// The loop is incremental. With Events (kernel events, package kevents),
// every Interval it takes the processes the kernel marked as changed and
// reads those again. Without, every Interval a Prober takes a cheap look at the
// machine (which processes exist and since when, how many fds each holds,
// the state of every socket) and only the processes where something changed
// are read again (when the scanner is a Rescanner; otherwise the whole
// machine is). Every FullInterval, and whenever the probe fails, the whole
// machine is scanned, which catches what the probe cannot see: an fd
// replaced in place by dup2, a file position that moved.
//
// The package does no scanning of its own: main gives the Loop a scanner
// (package graph/scan), a Prober (ProcProber here) and, where they load,
// Events.
package live

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// Scanner reads the whole machine into a snapshot. *scan.Scanner is one.
type Scanner interface {
	Scan(ctx context.Context) (*graph.Snapshot, error)
}

// Rescanner is a Scanner that can read some processes again: Rescan returns
// prev with every fact about the given processes read afresh (processes
// that have exited removed, new ones added), their peers resolved again, and
// every other node and edge of prev kept. IDs must stay stable exactly as in
// a series of full scans.
type Rescanner interface {
	Scanner
	Rescan(ctx context.Context, prev *graph.Snapshot, pids []int) (*graph.Snapshot, error)
}

// Prober takes the cheap look at the machine that decides what to rescan.
type Prober interface {
	Probe(ctx context.Context) (*Probe, error)
}

// Events tells what changed, from the kernel; main adapts a
// *kevents.Watcher.
type Events interface {
	Changed() (Changed, error)
}

// Changed is what kernel events marked since the last call.
type Changed struct {
	// PIDs are the processes whose fds, sockets or program changed, or
	// that started or exited.
	PIDs []int
	// FDsOnly are processes that only opened or closed fds (or set an fd's
	// flags): changed only if their fd table is not what it was.
	FDsOnly []int
	// Sockets: a TCP socket changed state, maybe in no process's context.
	Sockets bool
	// Lost: some events were dropped; PIDs is not all that changed.
	Lost bool
}

// Probe is what a Prober saw.
type Probe struct {
	// Procs maps each pid to its start time and fd count.
	Procs map[int]ProcState
	// Sockets maps socket inodes to a signature (a hash) of what a snapshot
	// shows of the socket that can change while it lives: its state, queues
	// and peer; nil when sockets were not probed.
	Sockets map[uint64]uint64
}

// ProcState is what a Probe knows of one process.
type ProcState struct {
	Start uint64 // start time in clock ticks after boot
	FDs   int    // open fds (st_size of /proc/PID/fd); -1 if unknown
}

// Defaults for a Loop's zero fields.
const (
	DefaultInterval     = time.Second
	DefaultFullInterval = 10 * time.Second
	// With Events, a tick costs a look at a map when nothing changed: the
	// loop can tick often, and scan everything less often.
	DefaultEventsInterval     = 100 * time.Millisecond
	DefaultEventsFullInterval = time.Minute
	// DefaultSelfEvery is Loop.SelfEvery's default.
	DefaultSelfEvery = 10 * time.Minute
)

// Loop scans the machine on a ticker and publishes to a Store. Set the
// fields, then call Run once; the fields must not change afterwards.
type Loop struct {
	Scanner Scanner
	// Prober finds what changed between ticks; nil makes every tick a full
	// scan (unless Events is set).
	Prober Prober
	// Events, when not nil, says from the kernel which processes changed
	// since the last tick (package kevents): a tick reads those again and
	// does not look at every process. The Prober then looks only at full
	// scans and when the events say that TCP sockets changed state (a
	// peer's FIN or reset changes a socket in no process's context), at
	// most every SocketInterval; events that were lost make the tick a full
	// scan. Full scans still run every FullInterval, for what no event
	// marks: file positions, queues, fds sent in flight.
	Events Events
	// SocketInterval bounds how often, with Events, the Prober looks at the
	// sockets; default DefaultInterval.
	SocketInterval time.Duration
	// FDTables, with Events, tells whether a process that only opened or
	// closed fds changed (Changed.FDsOnly); nil reads every such process
	// again.
	FDTables FDTables
	Store    *Store
	// Interval is the tick period; FullInterval the period of full scans.
	Interval     time.Duration
	FullInterval time.Duration
	// Wake, when not nil, makes the loop tick at once (ListenProcEvents
	// sends on it when a process starts, execs or exits), though never
	// sooner than MinGap after the last tick.
	Wake <-chan struct{}
	// Execs, when not nil, holds the processes that exec'd since the last
	// tick (the proc connector's exec events): they are read again though
	// their start time and fd count may not have changed.
	Execs *PIDSet
	// MinGap bounds how often Wake can make the loop tick; default the
	// smaller of Interval/4 and 250 ms.
	MinGap time.Duration
	// Log receives one debug line per tick and a warning per failed scan; nil discards.
	Log *slog.Logger
	// Metrics, when not nil, records every tick.
	Metrics *Metrics
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// FreeMemory, when set, returns freed memory to the operating system
	// after each full scan (debug.FreeOSMemory). A full scan of a busy
	// host briefly holds two snapshots and the garbage of building one,
	// and the Go runtime would otherwise keep that peak as resident memory
	// until its scavenger catches up. The cost is one extra collection per
	// full scan, and the page faults of the next scan's first writes to
	// the memory given back. Rescans do not give memory back: they carry
	// new connections to the browser, and on the bench workload writing
	// again to pages returned after a burst of rescans made the next
	// rescan ~130 ms slower (docs/performance-server.md).
	FreeMemory bool
	// Self is a process left out of the per-tick work: its own changes,
	// and its being at the far end of a changed connection, wait for the
	// next full scan. The server sets its own pid, whose fd count changes
	// with every client it has, so that its clients do not slow its scans.
	// 0: none.
	Self int
	// SelfEvery is how often a full scan reads Self again
	// (DefaultSelfEvery if 0). The full scans in between read every other
	// process and keep what the last one read of Self: the server's own
	// fds (its clients, its netlink sockets, the scanner's dumps) change
	// at every scan, and each change would be a version that every client
	// receives and the history records (with the default minute between
	// full scans, ~1.7 s of CPU a minute on the bench workload).
	SelfEvery time.Duration
	// Redact are secrets (the server's access token) never to be shown:
	// wherever one appears in a process's command line (fdscope's own
	// --token, a client's curl -H), the published snapshot shows
	// "[redacted]" instead.
	Redact []string

	// state between ticks, owned by Run
	snap      *graph.Snapshot
	probe     *Probe
	lastFull  time.Time
	lastSelf  time.Time     // of the last full scan that read Self
	fullTook  time.Duration // how long the last full scan took
	fullAgain bool
	// Sockets the probe saw appear since the last full scan and no scan
	// has found yet, and those the last full scan found in no process
	// (held by processes it cannot see, or by none: in flight).
	newSockets []uint64
	unheld     map[uint64]bool
	// With Events: when the Prober last looked, and whether the events said
	// that sockets changed since.
	lastProbe      time.Time
	socketsPending bool
	// With FDTables: the fingerprint of each process's fd table when it
	// was last marked; and the processes of ownTablesOf's threads with an
	// fd table of their own, which a fingerprint of the process's table
	// does not see.
	prints      map[int]uint64
	ownTables   map[int]bool
	ownTablesOf *graph.Snapshot
	// With Events: processes to read again that wait for quietUntil, the
	// end of the pause after the last scan (see tick).
	pending    []int
	quietUntil time.Time
}

// Tick outcomes, as the Metrics count them.
const (
	TickIdle   = "idle"   // the probe found nothing to do
	TickRescan = "rescan" // some processes were read again
	TickFull   = "full"   // the whole machine was scanned
	TickFailed = "failed" // the scan failed; the previous snapshot stays
)

// Run scans once, publishes, then ticks until ctx is done; it returns
// ctx.Err(). A failed scan is logged and retried at the next tick: the
// previous snapshot stays published meanwhile.
func (l *Loop) Run(ctx context.Context) error {
	if l.Interval <= 0 {
		l.Interval = DefaultInterval
	}
	if l.FullInterval <= 0 {
		l.FullInterval = DefaultFullInterval
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.MinGap <= 0 {
		l.MinGap = min(l.Interval/4, 250*time.Millisecond)
	}
	if l.SocketInterval <= 0 {
		l.SocketInterval = DefaultInterval
	}
	l.fullAgain = true
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for {
		if _, err := l.Tick(ctx); err != nil && ctx.Err() == nil {
			l.Log.Warn("scan failed", "err", err)
		}
		last := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-l.Wake:
			if gap := l.MinGap - time.Since(last); gap > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(gap):
				}
			}
		}
	}
}

// Tick runs one tick and returns its outcome (TickIdle, TickRescan,
// TickFull or TickFailed). Run calls it; tests and benchmarks call it
// directly after setting the fields.
func (l *Loop) Tick(ctx context.Context) (string, error) {
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	start := l.Now()
	var cpu0 time.Duration
	if l.Metrics != nil {
		cpu0 = cpuTime()
	}
	outcome, pids, err := l.tick(ctx, start)
	if l.Metrics != nil {
		l.Metrics.tick(outcome, len(pids), l.Now().Sub(start), cpuTime()-cpu0, l.snap)
	}
	l.Log.Debug("tick", "outcome", outcome, "rescanned", len(pids), "took", l.Now().Sub(start))
	return outcome, err
}

func (l *Loop) tick(ctx context.Context, now time.Time) (outcome string, pids []int, err error) {
	full := l.snap == nil || l.fullAgain || (l.Prober == nil && l.Events == nil) || now.Sub(l.lastFull) >= l.FullInterval
	var probe *Probe
	if l.Events != nil {
		full, probe, pids, err = l.fromEvents(ctx, now, full)
	} else {
		full, probe, pids, err = l.fromProbe(ctx, now, full)
	}
	if err != nil {
		return TickFailed, nil, err
	}
	if l.Events != nil && !full {
		// Scans take at most a third of the time: on a host where
		// something changes at every tick, what changed waits for the
		// pause after the last scan to end (twice that scan's length).
		pids = append(l.pending, pids...)
		l.pending = nil
		if len(pids) > 0 && now.Before(l.quietUntil) {
			slices.Sort(pids)
			l.pending = slices.Compact(pids)
			return TickIdle, nil, nil
		}
		slices.Sort(pids)
		pids = slices.Compact(pids)
	}
	if !full && len(pids) == 0 {
		l.probe = probe
		if len(l.pending) == 0 {
			l.Store.Checked(now)
		}
		return TickIdle, nil, nil
	}
	var snap *graph.Snapshot
	rs, incremental := l.Scanner.(Rescanner)
	switch {
	case !full && incremental:
		outcome = TickRescan
		snap, err = rs.Rescan(ctx, l.snap, pids)
	case incremental && l.keepsSelf(now):
		// A full scan of every process but Self (see SelfEvery).
		outcome = TickFull
		snap, err = rs.Rescan(ctx, l.snap, allBut(l.snap, l.Self))
		pids = nil
	default:
		outcome = TickFull
		pids = nil
		snap, err = l.Scanner.Scan(ctx)
		l.lastSelf = now
	}
	if err != nil {
		// Scan again next tick, and scan everything: a failed rescan may
		// have left the scanner's memory of IDs behind.
		l.fullAgain = true
		return TickFailed, pids, fmt.Errorf("%s scan: %w", outcome, err)
	}
	took := l.Now().Sub(now)
	l.quietUntil = now.Add(3 * took)
	if outcome == TickFull {
		l.lastFull, l.fullAgain, l.fullTook = now, false, took
		l.unheld, l.newSockets = unheldSockets(probe, snap), l.newSockets[:0]
		l.pending = nil
	}
	snap = redact(snap, l.Redact)
	l.snap, l.probe = snap, probe
	l.Store.Publish(snap)
	l.Store.Checked(now)
	if outcome == TickFull && l.FreeMemory {
		debug.FreeOSMemory()
	}
	return outcome, pids, nil
}

// keepsSelf says whether a full scan at now keeps what the last one read of
// Self rather than read it again.
func (l *Loop) keepsSelf(now time.Time) bool {
	every := l.SelfEvery
	if every <= 0 {
		every = DefaultSelfEvery
	}
	return l.Self != 0 && l.snap != nil && !l.fullAgain && now.Sub(l.lastSelf) < every
}

// allBut returns the pids of the processes of snap but pid, in order.
// Threads with a table of their own are left out: a rescan reads them
// with their process.
func allBut(snap *graph.Snapshot, pid int) []int {
	var pids []int
	for _, n := range snap.Nodes {
		if n.Kind == graph.KindProcess && n.PID != pid && (n.Process == nil || n.Process.TGID == 0) {
			pids = append(pids, n.PID)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// fromProbe decides a tick of a loop without events: the Prober looks at
// every process and socket, and the processes that changed since its last
// look are read again. full says whether the tick is already a full scan;
// the error is ctx's.
func (l *Loop) fromProbe(ctx context.Context, now time.Time, full bool) (bool, *Probe, []int, error) {
	var probe *Probe
	if l.Prober != nil {
		// Probe before scanning: whatever changes after the probe is seen by
		// the next one, so nothing falls between two ticks.
		var err error
		probe, err = l.Prober.Probe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return full, nil, nil, ctx.Err()
			}
			l.Log.Warn("probe failed; scanning everything", "err", err)
			probe, full = nil, true
		}
	}
	var pids []int
	if full {
		l.withExecs(nil) // drop them: everything is read
	} else {
		pids = l.withExecs(changedPIDs(l.probe, probe, l.snap, l.Self))
		if l.strangers(probe, now) && len(pids) == 0 {
			full = true
		}
	}
	l.newSockets = appearedSockets(l.probe, probe, l.newSockets)
	return full, probe, pids, nil
}

// fromEvents decides a tick of a loop with events: the processes they
// marked are read again, with the holders of the sockets whose state
// changed when the events say that sockets did and the Prober looked. The
// probe returned is the last one (l.probe) when the Prober did not look.
func (l *Loop) fromEvents(ctx context.Context, now time.Time, full bool) (bool, *Probe, []int, error) {
	changed, err := l.Events.Changed()
	if err != nil {
		if ctx.Err() != nil {
			return full, nil, nil, ctx.Err()
		}
		l.Log.Warn("kernel events failed; scanning everything", "err", err)
		full = true
	}
	if changed.Lost && !full {
		l.Log.Debug("kernel events were lost; scanning everything")
		full = true
	}
	l.socketsPending = l.socketsPending || changed.Sockets
	old, probe := l.probe, l.probe
	if l.Prober != nil && (full || l.socketsPending && now.Sub(l.lastProbe) >= l.SocketInterval) {
		p, err := l.Prober.Probe(ctx)
		switch {
		case err == nil:
			probe, l.lastProbe, l.socketsPending = p, now, false
		case ctx.Err() != nil:
			return full, nil, nil, ctx.Err()
		default:
			l.Log.Warn("probe failed; scanning everything", "err", err)
			full = true
		}
	}
	if full {
		l.withExecs(nil) // drop them: everything is read
		return true, probe, nil, nil
	}
	marked := l.tablesChanged(changed)
	if probe == old { // the Prober did not look: no sockets to compare
		return false, probe, l.withExecs(markedPIDs(marked, nil, nil, l.snap, l.Self)), nil
	}
	return false, probe, l.withExecs(markedPIDs(marked, old, probe, l.snap, l.Self)), nil
}

// tablesChanged returns the processes of changed to read again: its PIDs,
// and those of its FDsOnly whose fd table is not as it was when last
// marked (every one without FDTables). It remembers the fingerprints of
// all of them, and forgets the processes that are gone.
func (l *Loop) tablesChanged(changed Changed) []int {
	if l.FDTables == nil {
		return slices.Concat(changed.PIDs, changed.FDsOnly)
	}
	if l.prints == nil || len(l.prints) > maxPrints {
		l.prints = map[int]uint64{} // lost exits may leave some behind
	}
	pids := changed.PIDs
	for _, pid := range changed.PIDs {
		if pid == l.Self {
			continue
		}
		if fp, ok := l.FDTables.Fingerprint(pid); ok {
			l.prints[pid] = fp
		} else {
			delete(l.prints, pid)
		}
	}
	for _, pid := range changed.FDsOnly {
		if pid == l.Self {
			continue
		}
		if l.hasOwnTableThreads(pid) {
			pids = append(pids, pid) // the fds may be a thread's
			continue
		}
		fp, ok := l.FDTables.Fingerprint(pid)
		if was, known := l.prints[pid]; ok && known && was == fp {
			continue // a file opened and closed again
		}
		if ok {
			l.prints[pid] = fp
		} else {
			delete(l.prints, pid)
		}
		pids = append(pids, pid)
	}
	return pids
}

// hasOwnTableThreads reports whether the current snapshot shows threads
// of process pid with an fd table of their own.
func (l *Loop) hasOwnTableThreads(pid int) bool {
	if l.ownTablesOf != l.snap {
		l.ownTables, l.ownTablesOf = map[int]bool{}, l.snap
		if l.snap != nil {
			for _, n := range l.snap.Nodes {
				if n.Kind == graph.KindProcess && n.Process != nil && n.Process.TGID != 0 {
					l.ownTables[n.Process.TGID] = true
				}
			}
		}
	}
	return l.ownTables[pid]
}

// maxPrints bounds a Loop's fingerprints.
const maxPrints = 1 << 17

// withExecs adds to pids the processes the proc connector saw exec since
// the last tick (not Self), sorted and without repeats.
func (l *Loop) withExecs(pids []int) []int {
	if l.Execs == nil {
		return pids
	}
	for _, pid := range l.Execs.Take() {
		if pid != l.Self {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// changedPIDs compares two probes and returns the processes to read again:
// new ones, gone ones, those whose fd count changed, the holders of every
// socket whose state or queues changed, and the processes at the far end of
// the connections of all of these in the current snapshot (a socket's far
// end changes state when the near end closes). Sharers of a pipe or of a
// description are not added: what they hold does not change when another
// holder closes its fd. The process self (if not 0) is never returned.
func changedPIDs(old, cur *Probe, snap *graph.Snapshot, self int) []int {
	if old == nil || cur == nil {
		return nil
	}
	set := map[int]bool{}
	for pid, st := range cur.Procs {
		if o, ok := old.Procs[pid]; (!ok || o != st) && pid != self {
			set[pid] = true
		}
	}
	for pid := range old.Procs {
		if _, ok := cur.Procs[pid]; !ok && pid != self {
			set[pid] = true
		}
	}
	return withFarEnds(set, changedSockets(old, cur), snap, self)
}

// markedPIDs is changedPIDs for a loop with kernel events: the processes
// they marked, the holders of the sockets whose state changed between old
// and cur (when the sockets were probed: both not nil), and the far ends of
// the connections of all of these.
func markedPIDs(marked []int, old, cur *Probe, snap *graph.Snapshot, self int) []int {
	set := map[int]bool{}
	for _, pid := range marked {
		if pid != self {
			set[pid] = true
		}
	}
	var sockets []uint64
	if old != nil && cur != nil {
		sockets = changedSockets(old, cur)
	}
	return withFarEnds(set, sockets, snap, self)
}

// changedSockets returns the sockets in both probes whose signature
// changed.
func changedSockets(old, cur *Probe) []uint64 {
	var changed []uint64
	if old.Sockets != nil && cur.Sockets != nil {
		for ino, sig := range cur.Sockets {
			if o, ok := old.Sockets[ino]; ok && o != sig {
				changed = append(changed, ino)
			}
		}
	}
	return changed
}

// withFarEnds returns, sorted, the processes of set, the holders of the
// given sockets in snap, and the processes at the far end of the
// connections of all of these; never self.
func withFarEnds(set map[int]bool, sockets []uint64, snap *graph.Snapshot, self int) []int {
	if len(set) == 0 && len(sockets) == 0 {
		return nil
	}
	// The snapshot's index is built once per version and shared with the
	// server's clients and the history recorder, which need it too.
	idx := snap.Index()
	for _, ino := range sockets {
		for _, pid := range idx.HolderPIDs(graph.SocketID(ino)) {
			set[pid] = pid != self
		}
	}
	direct := make([]int, 0, len(set))
	for pid, ok := range set {
		if ok {
			direct = append(direct, pid)
		}
	}
	for _, pid := range direct {
		for _, p := range idx.SocketPeerPIDs(pid) {
			set[p] = p != self
		}
	}
	out := make([]int, 0, len(set))
	for pid, ok := range set {
		if ok {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// strangers reports whether a socket that appeared at an earlier tick is
// still there and in no process of the snapshot, while no process changed
// its fd count: a process closed an fd and opened a socket that took its
// number, or exec'd with as many fds as before, between two probes, which
// only a full scan finds. Such a tick scans in full, though not sooner than
// twice the interval or ten times the last full scan's length after the
// last one; sockets of processes no scan can see (remembered after a full
// scan, in unheld) are not looked for again. It drops from l.newSockets
// the sockets that are gone or found.
func (l *Loop) strangers(cur *Probe, now time.Time) bool {
	if cur == nil || cur.Sockets == nil || l.snap == nil {
		l.newSockets = l.newSockets[:0]
		return false
	}
	keep := l.newSockets[:0]
	for _, ino := range l.newSockets {
		if _, ok := cur.Sockets[ino]; ok && !l.unheld[ino] && l.snap.Node(graph.SocketID(ino)) == nil {
			keep = append(keep, ino)
		}
	}
	l.newSockets = keep
	return len(keep) > 0 && now.Sub(l.lastFull) >= max(2*l.Interval, 10*l.fullTook)
}

// appearedSockets appends to out the sockets in cur that were not in old.
func appearedSockets(old, cur *Probe, out []uint64) []uint64 {
	if old == nil || cur == nil || old.Sockets == nil || cur.Sockets == nil {
		return out
	}
	for ino := range cur.Sockets {
		if _, ok := old.Sockets[ino]; !ok && ino != 0 {
			out = append(out, ino)
		}
	}
	return out
}

// unheldSockets returns the sockets of the probe that snap shows in no
// process.
func unheldSockets(p *Probe, snap *graph.Snapshot) map[uint64]bool {
	if p == nil || p.Sockets == nil {
		return nil
	}
	out := map[uint64]bool{}
	for ino := range p.Sockets {
		if snap.Node(graph.SocketID(ino)) == nil {
			out[ino] = true
		}
	}
	return out
}

// Redacted replaces a secret in what a snapshot shows.
const Redacted = "[redacted]"

// redact returns snap with every secret in a process's command line (and
// name) replaced by Redacted. Nodes are never modified: a process that shows a
// secret gets a new node, in place in snap's node list (which snap owns:
// it was just scanned), with the same ID, so the order holds.
func redact(snap *graph.Snapshot, secrets []string) *graph.Snapshot {
	if len(secrets) == 0 {
		return snap
	}
	for i, n := range snap.Nodes {
		if n.Process == nil {
			continue
		}
		cmd, comm := n.Process.Cmdline, n.Process.Comm
		for _, s := range secrets {
			if s != "" {
				cmd, comm = strings.ReplaceAll(cmd, s, Redacted), strings.ReplaceAll(comm, s, Redacted)
			}
		}
		if cmd == n.Process.Cmdline && comm == n.Process.Comm {
			continue
		}
		c, p := *n, *n.Process
		p.Cmdline, p.Comm = cmd, comm
		c.Process = &p
		snap.Nodes[i] = &c
	}
	return snap
}
