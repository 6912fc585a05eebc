package hub

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestParseAgents(t *testing.T) {
	got, err := ParseAgents([]string{"http://10.0.0.1:8080", " web=https://web.example:9000/ ", "http://10.0.0.2:8080", "http://10.0.0.2:8081", ""})
	if err != nil {
		t.Fatal(err)
	}
	want := []Agent{{"10.0.0.1", "http://10.0.0.1:8080"}, {"web", "https://web.example:9000"},
		{"10.0.0.2:8080", "http://10.0.0.2:8080"}, {"10.0.0.2:8081", "http://10.0.0.2:8081"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, bad := range [][]string{
		{"10.0.0.1:8080"}, {"ftp://x"}, {"http://"}, {"http://x/api"}, {"http://u:p@x"}, {"http://x?a=1"},
		{"a/b=http://x"}, {"a=http://x", "a=http://y"},
	} {
		if got, err := ParseAgents(bad); err == nil {
			t.Errorf("ParseAgents(%q) = %v, want an error", bad, got)
		}
	}
}

func TestDiscover(t *testing.T) {
	lookup := func(ctx context.Context, name string) ([]netip.Addr, error) {
		if name != "fdscope-agents.fdscope.svc.cluster.local" {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr("10.1.0.7"), netip.MustParseAddr("::ffff:10.1.0.3"), netip.MustParseAddr("fd00::5")}, nil
	}
	got, err := Discover(context.Background(), lookup, "fdscope-agents.fdscope.svc.cluster.local", "http", 8080)
	if err != nil {
		t.Fatal(err)
	}
	want := []Agent{{"10.1.0.3", "http://10.1.0.3:8080"}, {"10.1.0.7", "http://10.1.0.7:8080"}, {"fd00::5", "http://[fd00::5]:8080"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if _, err := Discover(context.Background(), lookup, "nope", "http", 8080); err == nil {
		t.Error("an unknown name resolved")
	}
}
