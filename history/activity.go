package history

import (
	"context"
	"fmt"
	"time"
)

// Activity is what one socket carried over an interval, as the activity
// sampler (package activity) counted it: a row of the table activity.
type Activity struct {
	T       time.Time `json:"t"`       // the end of the interval
	Inode   uint64    `json:"inode"`   // the socket (events.inode, events.peer_inode)
	Via     string    `json:"via"`     // tcp or unix
	Seconds float64   `json:"seconds"` // the interval's length
	// Sent and Received are bytes (TCP; 0 for unix sockets).
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	// MaxQueue is the most bytes seen waiting in the socket's queues.
	MaxQueue uint64 `json:"max_queue"`
}

// WriteActivity records rows in one transaction.
func (d *DB) WriteActivity(ctx context.Context, rows []Activity) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: activity: begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO activity (t, inode, via, seconds, sent, received, max_queue) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("history: activity: %w", err)
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.T.UnixNano(), int64(r.Inode), r.Via, r.Seconds, int64(r.Sent), int64(r.Received), int64(r.MaxQueue)); err != nil {
			return fmt.Errorf("history: activity: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: activity: commit: %w", err)
	}
	return nil
}

// ActivityOf returns the recorded activity of the socket with the given
// inode between since and until (inclusive), in time order.
func (d *DB) ActivityOf(ctx context.Context, inode uint64, since, until time.Time) ([]Activity, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT t, via, seconds, sent, received, max_queue FROM activity
		WHERE inode = ? AND t BETWEEN ? AND ? ORDER BY t, id`, int64(inode), since.UnixNano(), until.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("history: activity of %d: %w", inode, err)
	}
	defer rows.Close()
	out := []Activity{}
	for rows.Next() {
		a := Activity{Inode: inode}
		var t, sent, recv, q int64
		if err := rows.Scan(&t, &a.Via, &a.Seconds, &sent, &recv, &q); err != nil {
			return nil, fmt.Errorf("history: activity of %d: %w", inode, err)
		}
		a.T, a.Sent, a.Received, a.MaxQueue = time.Unix(0, t).UTC(), uint64(sent), uint64(recv), uint64(q)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: activity of %d: %w", inode, err)
	}
	return out, nil
}
