package api

import (
	"net/url"
	"testing"
)

func TestParseSubscription(t *testing.T) {
	for _, tt := range []struct {
		query   string
		want    subscription
		wantErr bool
	}{
		{"", subscription{graph: GraphAll}, false},
		{"graph=none&processes=1", subscription{graph: GraphNone, processes: true}, false},
		{"pid=7", subscription{graph: GraphFocus, pid: 7}, false},
		{"graph=focus&pid=7&processes=1", subscription{graph: GraphFocus, pid: 7, processes: true}, false},
		{"graph=focus&pid=7&processes=true", subscription{}, true},
		{"pid=7&watches=yes", subscription{}, true},
		{"pid=+7", subscription{}, true},
		{"pid=07x", subscription{}, true},
		{"pid=0x10", subscription{}, true},
		{"pid=4194305", subscription{}, true},
		{"graph=focus", subscription{}, true},
		{"graph=all&pid=3", subscription{}, true},
		{"pid=-1", subscription{}, true},
		{"pid=x", subscription{}, true},
		{"graph=everything", subscription{}, true},
		{"processes=maybe", subscription{}, true},
		{"pid=7&layout=1", subscription{graph: GraphFocus, pid: 7, layout: true}, false},
		{"pid=7&layout=1&expand=group:a&expand=group:b", subscription{graph: GraphFocus, pid: 7, layout: true, expand: "group:a\x00group:b"}, false},
		{"graph=none&expand=group:a", subscription{graph: GraphNone}, false},
		{"pid=7&expand=fd:1", subscription{}, true},
		{"layout=2", subscription{}, true},
		{"pid=7&layout=1&width=160", subscription{graph: GraphFocus, pid: 7, layout: true, width: 160}, false},
		{"pid=7&width=0", subscription{graph: GraphFocus, pid: 7}, false},
		{"pid=7&width=39", subscription{}, true},
		{"pid=7&width=2001", subscription{}, true},
		{"pid=7&width=wide", subscription{}, true},
		{"pid=7&layout=1&width=300&screen=222", subscription{graph: GraphFocus, pid: 7, layout: true, width: 300, screen: 222}, false},
		{"pid=7&screen=39", subscription{}, true},
		{"pid=7&screen=-1", subscription{}, true},
		{"pid=7&layout=1&watches=1", subscription{graph: GraphFocus, pid: 7, layout: true, watches: true}, false},
		{"pid=7&watches=2", subscription{}, true},
	} {
		q, _ := url.ParseQuery(tt.query)
		got, err := parseSubscription(q)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("%q: %+v, %v; want %+v, error %v", tt.query, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestApplyRequest(t *testing.T) {
	yes, no := true, false
	start := subscription{graph: GraphNone, processes: true}
	for _, tt := range []struct {
		name       string
		from       subscription
		req        Request
		want       subscription
		wantResync bool
		wantErr    bool
	}{
		{"resync", start, Request{Type: TypeResync}, start, true, false},
		{"focus", start, Request{Type: TypeFocus, PID: 9}, subscription{graph: GraphFocus, pid: 9, processes: true}, false, false},
		{"focus without pid", start, Request{Type: TypeFocus}, start, false, true},
		{"subscribe all", start, Request{Type: TypeSubscribe, Graph: GraphAll, Processes: &no}, subscription{graph: GraphAll}, false, false},
		{"subscribe keeps the focus pid", subscription{graph: GraphFocus, pid: 9}, Request{Type: TypeSubscribe, Processes: &yes},
			subscription{graph: GraphFocus, pid: 9, processes: true}, false, false},
		{"subscribe none drops the pid", subscription{graph: GraphFocus, pid: 9}, Request{Type: TypeSubscribe, Graph: GraphNone},
			subscription{graph: GraphNone}, false, false},
		{"subscribe focus without pid", start, Request{Type: TypeSubscribe, Graph: GraphFocus}, start, false, true},
		{"unknown", start, Request{Type: "reboot"}, start, false, true},
		{"focus with expand", start, Request{Type: TypeFocus, PID: 9, Expand: []string{"group:a", "group:b"}},
			subscription{graph: GraphFocus, pid: 9, processes: true, expand: "group:a\x00group:b"}, false, false},
		{"focus drops the expansion", subscription{graph: GraphFocus, pid: 9, expand: "group:a"}, Request{Type: TypeFocus, PID: 9},
			subscription{graph: GraphFocus, pid: 9}, false, false},
		{"focus with a bad expand", start, Request{Type: TypeFocus, PID: 9, Expand: []string{"x"}}, start, false, true},
		{"expand", subscription{graph: GraphFocus, pid: 9, layout: true}, Request{Type: TypeExpand, Expand: []string{"group:a"}},
			subscription{graph: GraphFocus, pid: 9, layout: true, expand: "group:a"}, false, false},
		{"expand nothing", subscription{graph: GraphFocus, pid: 9, expand: "group:a"}, Request{Type: TypeExpand},
			subscription{graph: GraphFocus, pid: 9}, false, false},
		{"expand without focus", start, Request{Type: TypeExpand, Expand: []string{"group:a"}}, start, false, true},
		{"subscribe layout", subscription{graph: GraphFocus, pid: 9, expand: "group:a"}, Request{Type: TypeSubscribe, Layout: &yes},
			subscription{graph: GraphFocus, pid: 9, layout: true, expand: "group:a"}, false, false},
		{"subscribe another pid drops the expansion", subscription{graph: GraphFocus, pid: 9, expand: "group:a"}, Request{Type: TypeSubscribe, PID: 10},
			subscription{graph: GraphFocus, pid: 10}, false, false},
	} {
		got, resync, err := tt.from.apply(tt.req)
		if (err != nil) != tt.wantErr || got != tt.want || resync != tt.wantResync {
			t.Errorf("%s: %+v, %v, %v; want %+v, %v, error %v", tt.name, got, resync, err, tt.want, tt.wantResync, tt.wantErr)
		}
	}
}
