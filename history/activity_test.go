package history

import (
	"context"
	"testing"
	"time"
)

// TestActivity writes activity rows, reads one socket's back in time
// order after a reopen, and checks that retention prunes them with the
// rest.
func TestActivity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for m := 0; m <= 30; m += 10 {
		at := t0.Add(time.Duration(m) * time.Minute)
		if err := db.write(ctx, &batch{t: at, snap: snapshotOf(3)}); err != nil {
			t.Fatal(err)
		}
		rows := []Activity{
			{T: at.Add(time.Minute), Inode: 7, Via: "tcp", Seconds: 10, Sent: uint64(1000 * (m + 1)), Received: 1 << 40},
			{T: at.Add(time.Minute), Inode: 8, Via: "unix", Seconds: 10, MaxQueue: 4096},
		}
		if err := db.WriteActivity(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.WriteActivity(ctx, nil); err != nil {
		t.Errorf("WriteActivity of nothing: %v", err)
	}
	db.Close()
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.ActivityOf(ctx, 7, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d rows of inode 7, want 4: %+v", len(got), got)
	}
	for i, a := range got {
		want := Activity{T: t0.Add(time.Duration(10*i+1) * time.Minute), Inode: 7, Via: "tcp", Seconds: 10, Sent: uint64(1000 * (10*i + 1)), Received: 1 << 40}
		if a != want {
			t.Errorf("row %d = %+v, want %+v", i, a, want)
		}
	}
	if got, _ := db.ActivityOf(ctx, 8, t0, t0.Add(15*time.Minute)); len(got) != 2 || got[0].MaxQueue != 4096 {
		t.Errorf("inode 8 until 10:15: %+v, want 2 rows with a queue of 4096", got)
	}
	// Keep from 10:25: history begins at 10:20, and so does activity.
	if err := db.Prune(ctx, t0.Add(25*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ActivityOf(ctx, 7, t0, t0.Add(time.Hour)); len(got) != 2 || !got[0].T.Equal(t0.Add(21*time.Minute)) {
		t.Errorf("after pruning to 10:20, inode 7 has %+v, want the rows of 10:21 and 10:31", got)
	}
}
