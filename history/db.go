package history

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/fdscope/fdscope/graph"
)

// FileName is the database's name in the data directory.
const FileName = "history.db"

// schema is the store's layout, documented in docs/history.md. Times are
// Unix nanoseconds.
const schema = `
PRAGMA auto_vacuum = INCREMENTAL;
CREATE TABLE IF NOT EXISTS events (
	id INTEGER PRIMARY KEY,
	t INTEGER NOT NULL,
	kind TEXT NOT NULL,
	pid INTEGER NOT NULL,
	comm TEXT NOT NULL,
	fd INTEGER NOT NULL,
	name TEXT NOT NULL,
	inode INTEGER NOT NULL,
	addr TEXT NOT NULL,
	peer_pid INTEGER NOT NULL,
	peer_comm TEXT NOT NULL,
	peer_fd INTEGER NOT NULL,
	peer_inode INTEGER NOT NULL,
	peer_addr TEXT NOT NULL,
	via TEXT NOT NULL,
	source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_t ON events (t);
CREATE INDEX IF NOT EXISTS events_pid ON events (pid, t);
CREATE INDEX IF NOT EXISTS events_peer_pid ON events (peer_pid, t);
CREATE TABLE IF NOT EXISTS snapshots (
	id INTEGER PRIMARY KEY,
	t INTEGER NOT NULL,
	graph BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_t ON snapshots (t);
CREATE TABLE IF NOT EXISTS diffs (
	id INTEGER PRIMARY KEY,
	t INTEGER NOT NULL,
	changes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS diffs_t ON diffs (t);
CREATE TABLE IF NOT EXISTS activity (
	id INTEGER PRIMARY KEY,
	t INTEGER NOT NULL,
	inode INTEGER NOT NULL,
	via TEXT NOT NULL,
	seconds REAL NOT NULL,
	sent INTEGER NOT NULL,
	received INTEGER NOT NULL,
	max_queue INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_t ON activity (t);
CREATE INDEX IF NOT EXISTS activity_inode ON activity (inode, t);
`

// DB is the on-disk store of history: an SQLite database. Its methods are
// safe for concurrent use.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens (creating it and dir if need be) the store in dir.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("history: data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// Created readable by its owner only (SQLite gives its -wal and -shm
	// files the same mode): it holds what fdscope saw of every user's
	// processes.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f.Close()
	// WAL: readers (the API) do not wait for the writer; synchronous=NORMAL
	// loses at most the last transactions on a power cut, none on a crash.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: %s: %w", path, err)
	}
	var ok string
	if err := db.QueryRow("PRAGMA quick_check").Scan(&ok); err != nil || ok != "ok" {
		db.Close()
		if err == nil {
			err = errors.New(ok)
		}
		return nil, fmt.Errorf("history: %s is damaged (move it away to start a new history): %w", path, err)
	}
	return &DB{db: db, path: path}, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close closes the store.
func (d *DB) Close() error { return d.db.Close() }

// batch is what the writer writes in one transaction.
type batch struct {
	t       time.Time
	events  []Event
	changes []*graph.Changes // the versions' diffs, in order
	snap    *graph.Snapshot  // a full snapshot, after the changes
}

// write writes b in one transaction.
func (d *DB) write(ctx context.Context, b *batch) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: begin: %w", err)
	}
	defer tx.Rollback()
	t := b.t.UnixNano()
	if len(b.events) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (t, kind, pid, comm, fd, name, inode, addr,
			peer_pid, peer_comm, peer_fd, peer_inode, peer_addr, via, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("history: prepare: %w", err)
		}
		defer st.Close()
		for _, e := range b.events {
			if _, err := st.ExecContext(ctx, e.Time.UnixNano(), e.Kind, e.PID, e.Comm, e.FD, e.Name, int64(e.Inode), e.Addr,
				e.PeerPID, e.PeerComm, e.PeerFD, int64(e.PeerInode), e.PeerAddr, e.Via, e.Source); err != nil {
				return fmt.Errorf("history: insert event: %w", err)
			}
		}
	}
	for _, c := range b.changes {
		blob, err := compress(c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO diffs (t, changes) VALUES (?, ?)`, t, blob); err != nil {
			return fmt.Errorf("history: insert diff: %w", err)
		}
	}
	if b.snap != nil {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if err := b.snap.WriteJSON(zw); err != nil {
			return fmt.Errorf("history: encode snapshot: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("history: compress snapshot: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO snapshots (t, graph) VALUES (?, ?)`, t, buf.Bytes()); err != nil {
			return fmt.Errorf("history: insert snapshot: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: commit: %w", err)
	}
	return nil
}

func compress(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, fmt.Errorf("history: encode: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("history: compress: %w", err)
	}
	return buf.Bytes(), nil
}

func decompress(b []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("history: decompress: %w", err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("history: decode: %w", err)
	}
	return nil
}

// Size is the bytes the store's data takes (free pages not counted).
func (d *DB) Size(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := d.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, fmt.Errorf("history: size: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
		return 0, fmt.Errorf("history: size: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return 0, fmt.Errorf("history: size: %w", err)
	}
	return (pages - free) * size, nil
}

// Prune deletes what is older than cutoff (but the snapshot the graph at
// cutoff is built from), then the oldest snapshots (and what only they
// make sense of) while the store is larger than maxSize (0: no bound on
// size). History always begins at a snapshot: events and diffs older than
// the oldest snapshot kept go with it. The newest snapshot is never
// deleted.
func (d *DB) Prune(ctx context.Context, cutoff time.Time, maxSize int64) error {
	if err := d.pruneBefore(ctx, cutoff.UnixNano()); err != nil {
		return err
	}
	for maxSize > 0 {
		size, err := d.Size(ctx)
		if err != nil {
			return err
		}
		if size <= maxSize {
			break
		}
		// The second oldest snapshot becomes the first.
		var next int64
		err = d.db.QueryRowContext(ctx, `SELECT t FROM snapshots ORDER BY t LIMIT 1 OFFSET 1`).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return fmt.Errorf("history: prune: %w", err)
		}
		if err := d.pruneBefore(ctx, next); err != nil {
			return err
		}
	}
	if _, err := d.db.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
		return fmt.Errorf("history: vacuum: %w", err)
	}
	return nil
}

// pruneBefore deletes the snapshots older than the newest one at or
// before t (which the graph at t needs), then whatever is older than the
// oldest snapshot left.
func (d *DB) pruneBefore(ctx context.Context, t int64) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: prune: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM snapshots WHERE t < (SELECT max(t) FROM snapshots WHERE t <= ?)`, t); err != nil {
		return fmt.Errorf("history: prune snapshots: %w", err)
	}
	var first sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(t) FROM snapshots`).Scan(&first); err != nil {
		return fmt.Errorf("history: prune: %w", err)
	}
	if first.Valid {
		for _, table := range []string{"events", "diffs", "activity"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE t < ?`, first.Int64); err != nil {
				return fmt.Errorf("history: prune %s: %w", table, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: prune: %w", err)
	}
	return nil
}

// Begin returns when the history kept begins (the oldest snapshot), and
// false when the store holds none yet.
func (d *DB) Begin(ctx context.Context) (time.Time, bool, error) {
	var first sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT min(t) FROM snapshots`).Scan(&first); err != nil {
		return time.Time{}, false, fmt.Errorf("history: %w", err)
	}
	if !first.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, first.Int64), true, nil
}

// OutOfRangeError says that a time asked about is before the history kept.
type OutOfRangeError struct {
	At, Begin time.Time
	Empty     bool // nothing is recorded yet
}

func (e *OutOfRangeError) Error() string {
	if e.Empty {
		return fmt.Sprintf("%s is outside the history kept: nothing is recorded yet", e.At.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s is outside the history kept, which begins at %s", e.At.Format(time.RFC3339), e.Begin.UTC().Format(time.RFC3339Nano))
}

// inRange returns an *OutOfRangeError when t is before the history kept.
func (d *DB) inRange(ctx context.Context, t time.Time) error {
	begin, ok, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return &OutOfRangeError{At: t, Empty: true}
	}
	if t.Before(begin) {
		return &OutOfRangeError{At: t, Begin: begin}
	}
	return nil
}

// Query selects events.
type Query struct {
	Since, Until time.Time // Until zero: no bound
	PID          int       // 0: every process; else events where it is either end
	Limit        int       // 0: 10000
}

// Changes returns the events of q in time order (and in the order
// recorded within one time). A range that ends before the history kept
// is an *OutOfRangeError; one that begins before it gets what is kept.
func (d *DB) Changes(ctx context.Context, q Query) ([]Event, error) {
	if !q.Until.IsZero() {
		if err := d.inRange(ctx, q.Until); err != nil {
			var oor *OutOfRangeError
			if !errors.As(err, &oor) || !oor.Empty {
				return nil, err
			}
		}
	}
	until := int64(1<<63 - 1)
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	query := `SELECT t, kind, pid, comm, fd, name, inode, addr, peer_pid, peer_comm, peer_fd, peer_inode, peer_addr, via, source
		FROM events WHERE t >= ? AND t <= ?`
	args := []any{q.Since.UnixNano(), until}
	if q.PID != 0 {
		query += ` AND (pid = ? OR peer_pid = ?)`
		args = append(args, q.PID, q.PID)
	}
	query += ` ORDER BY t, id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("history: changes: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var t, inode, peerInode int64
		if err := rows.Scan(&t, &e.Kind, &e.PID, &e.Comm, &e.FD, &e.Name, &inode, &e.Addr,
			&e.PeerPID, &e.PeerComm, &e.PeerFD, &peerInode, &e.PeerAddr, &e.Via, &e.Source); err != nil {
			return nil, fmt.Errorf("history: changes: %w", err)
		}
		e.Time, e.Inode, e.PeerInode = time.Unix(0, t).UTC(), uint64(inode), uint64(peerInode)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: changes: %w", err)
	}
	return out, nil
}

// At returns the graph as it was at t: the newest snapshot at or before t
// with the diffs recorded after it up to t applied. A t before the history
// kept is an *OutOfRangeError.
func (d *DB) At(ctx context.Context, t time.Time) (*graph.Snapshot, error) {
	if err := d.inRange(ctx, t); err != nil {
		return nil, err
	}
	var st int64
	var blob []byte
	err := d.db.QueryRowContext(ctx, `SELECT t, graph FROM snapshots WHERE t <= ? ORDER BY t DESC, id DESC LIMIT 1`, t.UnixNano()).Scan(&st, &blob)
	if err != nil {
		return nil, fmt.Errorf("history: snapshot at %s: %w", t.Format(time.RFC3339), err)
	}
	snap := new(graph.Snapshot)
	if err := decompress(blob, snap); err != nil {
		return nil, err
	}
	// The diffs are applied to maps, each in time proportional to its
	// size, and the snapshot is built once: graph.Apply, which builds one
	// per diff, would cost a pass over the graph for each.
	nodes := make(map[string]*graph.Node, len(snap.Nodes))
	for _, n := range snap.Nodes {
		nodes[n.ID] = n
	}
	edges := make(map[graph.Edge]bool, len(snap.Edges))
	for _, e := range snap.Edges {
		edges[e] = true
	}
	rows, err := d.db.QueryContext(ctx, `SELECT changes FROM diffs WHERE t > ? AND t <= ? ORDER BY id`, st, t.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("history: diffs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&blob); err != nil {
			return nil, fmt.Errorf("history: diffs: %w", err)
		}
		var c graph.Changes
		if err := decompress(blob, &c); err != nil {
			return nil, err
		}
		for _, id := range c.NodesRemoved {
			delete(nodes, id)
		}
		for _, n := range c.NodesChanged {
			nodes[n.ID] = n
		}
		for _, n := range c.NodesAdded {
			nodes[n.ID] = n
		}
		for _, e := range c.EdgesRemoved {
			delete(edges, e)
		}
		for _, e := range c.EdgesAdded {
			edges[e] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: diffs: %w", err)
	}
	ns := make([]*graph.Node, 0, len(nodes))
	for _, n := range nodes {
		ns = append(ns, n)
	}
	es := make([]graph.Edge, 0, len(edges))
	for e := range edges {
		es = append(es, e)
	}
	// NewOwned sorts them, and drops the edges whose ends are gone as
	// Apply does.
	return graph.NewOwned(ns, es, snap.Stats), nil
}
