package diagram

import "testing"

func TestGroupID(t *testing.T) {
	for _, c := range []struct {
		id      string
		want    GroupID
		expands string // "" for none
	}{
		{"group:stdio:proc:2554:5000", GroupID{Kind: GroupStdio, Owner: "proc:2554:5000"}, "group:stdio:proc:2554:5000"},
		{"group:fd:proc:5000:100:anon:eventfd", GroupID{GroupFDs, "proc:5000:100", "anon:eventfd"}, "group:fd:proc:5000:100:anon:eventfd"},
		{"group:ofd:proc:5000:100:file", GroupID{GroupOFDs, "proc:5000:100", "file"}, "group:fd:proc:5000:100:file"},
		{"group:obj:proc:5000:100:socket:unix:stream:", GroupID{GroupObjects, "proc:5000:100", "socket:unix:stream:"}, "group:fd:proc:5000:100:socket:unix:stream:"},
		{"group:more:proc:1:2", GroupID{Kind: GroupMore, Owner: "proc:1:2"}, ""},
		{"group:crowd:proc:9941:60201", GroupID{Kind: GroupCrowd, Owner: "proc:9941:60201"}, "group:crowd:proc:9941:60201"},
		{"group:crowdport:proc:9941:60201:ofd:9940:60200:0", GroupID{GroupCrowdPort, "proc:9941:60201", "ofd:9940:60200:0"}, "group:crowd:proc:9941:60201"},
		{"group:crowdofd:proc:9941:60201:pipe:[7000]", GroupID{GroupCrowdOFDs, "proc:9941:60201", "pipe:[7000]"}, "group:crowd:proc:9941:60201"},
	} {
		g, err := ParseGroupID(c.id)
		if err != nil || g != c.want {
			t.Errorf("ParseGroupID(%q) = %+v, %v; want %+v", c.id, g, err, c.want)
			continue
		}
		if g.String() != c.id {
			t.Errorf("%+v.String() = %q, want %q", g, g.String(), c.id)
		}
		if got := expandOf(c.id); got != c.expands {
			t.Errorf("expandOf(%q) = %q, want %q", c.id, got, c.expands)
		}
	}
	for _, bad := range []string{"", "group:", "group:fd", "group:fd:", "group::proc:1:2", "group:fd:proc:1", "group:fd:fd:1:2:3", "proc:1:2", "socket:[12]"} {
		if g, err := ParseGroupID(bad); err == nil {
			t.Errorf("ParseGroupID(%q) = %+v, want an error", bad, g)
		}
	}
}

func FuzzParseGroupID(f *testing.F) {
	for _, s := range []string{"group:stdio:proc:2554:5000", "group:fd:proc:5000:100:anon:eventfd", "group:crowdport:proc:1:2:ofd:3:4:5", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGroupID(s)
		if err != nil {
			return
		}
		if back, err := ParseGroupID(g.String()); err != nil || back != g {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, g, g.String(), back, err)
		}
	})
}
