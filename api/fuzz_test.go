package api

import (
	"encoding/json"
	"net/url"
	"testing"
)

// A hostile client chooses the query of /api/ws: whatever it sends, the
// server answers with a subscription that makes sense or an error.
func FuzzParseSubscription(f *testing.F) {
	for _, q := range []string{"", "graph=none&processes=1", "pid=7&layout=1&width=300&watches=1&expand=group:a",
		"graph=focus", "pid=-1", "width=39", "expand=%00", "processes=maybe", "pid=99999999999999999999"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		s, err := parseSubscription(q)
		if err != nil {
			return
		}
		checkSubscription(t, s)
	})
}

// So does every message it sends on the socket: a request is applied or
// refused, and a refused one leaves the subscription as it was.
func FuzzApplyRequest(f *testing.F) {
	for _, m := range []string{`{"type":"resync"}`, `{"type":"focus","pid":9,"expand":["group:a"]}`, `{"type":"expand","expand":[]}`,
		`{"type":"subscribe","graph":"all","processes":false}`, `{"type":"focus","pid":-3}`, `{"type":"expand","expand":["fd:1"]}`,
		`{"type":"reboot"}`, `{"type":"subscribe","graph":"focus"}`} {
		f.Add(m)
	}
	start := subscription{graph: GraphFocus, pid: 7, processes: true, layout: true}
	f.Fuzz(func(t *testing.T, msg string) {
		var r Request
		if json.Unmarshal([]byte(msg), &r) != nil {
			return
		}
		s, _, err := start.apply(r)
		if err != nil {
			if s != start {
				t.Fatalf("refused %q, and the subscription changed: %+v", msg, s)
			}
			return
		}
		checkSubscription(t, s)
	})
}

func checkSubscription(t *testing.T, s subscription) {
	t.Helper()
	if err := s.check(); err != nil {
		t.Fatalf("accepted a subscription that does not check: %+v: %v", s, err)
	}
	if s.width != 0 && (s.width < MinLayoutWidth || s.width > MaxLayoutWidth) {
		t.Fatalf("accepted width %d", s.width)
	}
	if _, err := checkExpand(s.expandList()); err != nil {
		t.Fatalf("accepted expand %q: %v", s.expand, err)
	}
}
