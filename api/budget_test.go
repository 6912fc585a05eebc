package api

import (
	"testing"
	"time"
)

// compliantSchedule turns fuzz bytes into the times a well-behaved client
// sends its messages (never more than perSecond in any second: a message
// that would break the rule waits until it does not) and the times the
// server reads them (each at most a second late, in order).
func compliantSchedule(data []byte, perSecond int) (reads []time.Time) {
	t0 := time.Unix(1e9, 0)
	var sent []time.Time
	at, lastRead := t0, t0
	for i := 0; i+1 < len(data); i += 2 {
		at = at.Add(time.Duration(data[i]) * time.Millisecond)
		if n := len(sent); n >= perSecond {
			if earliest := sent[n-perSecond].Add(time.Second); at.Before(earliest) {
				at = earliest
			}
		}
		sent = append(sent, at)
		read := at.Add(time.Duration(data[i+1]) * time.Second / 255)
		if read.Before(lastRead) {
			read = lastRead
		}
		reads, lastRead = append(reads, read), read
	}
	return reads
}

// FuzzRequestBudget: a client that sends at most the limit in any second
// is never cut off, however its messages bunch up and however late (up to
// a second) the server reads them.
func FuzzRequestBudget(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 255, 0, 255, 0, 255})
	f.Add([]byte{50, 255, 50, 255, 50, 0, 50, 0, 70, 10, 66, 200})
	burst := make([]byte, 400) // 15/s for 13 s, all read a second late
	for i := 0; i < len(burst); i += 2 {
		burst[i], burst[i+1] = 66, 255
	}
	f.Add(burst)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, perSecond := range []int{1, 5, 20} {
			b := requestBudget(perSecond)
			for i, at := range compliantSchedule(data, perSecond) {
				if !b.AllowN(at, 1) {
					t.Fatalf("limit %d/s: message %d, read at +%v, refused", perSecond, i, at.Sub(time.Unix(1e9, 0)))
				}
			}
		}
	})
}

// TestRequestBudgetCutsFloods: a client that keeps sending faster than the
// limit is cut off within a few seconds' worth of messages.
func TestRequestBudgetCutsFloods(t *testing.T) {
	const perSecond = 20
	for _, rate := range []int{perSecond + 5, 2 * perSecond, 1000} {
		b := requestBudget(perSecond)
		at := time.Unix(1e9, 0)
		n := 0
		for b.AllowN(at, 1) {
			n++
			at = at.Add(time.Second / time.Duration(rate))
			if n > 10*perSecond*rate {
				t.Fatalf("%d/s against a limit of %d/s: never cut off", rate, perSecond)
			}
		}
		// The bucket holds 2×perSecond; it drains at rate-perSecond a second.
		if want := 2*perSecond*rate/(rate-perSecond) + 1; n > want+1 {
			t.Errorf("%d/s: cut off after %d messages, want at most %d", rate, n, want+1)
		}
	}
}
