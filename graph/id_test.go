package graph

import "testing"

// TestIDs pins the ID formats of docs/graph.md: clients and stored links
// rely on them.
func TestIDs(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ProcessID(42, 123456), "proc:42:123456"},
		{FDID(42, 123456, 3), "fd:42:123456:3"},
		{OFDID(42, 123456, 3), "ofd:42:123456:3"},
		{NthOFDID(42, 123456, 3, 2), "ofd:42:123456:3~2"},
		{SocketID(28728), "socket:[28728]"},
		{string(AppendFDID([]byte("x"), 42, 123456, 3)), "xfd:42:123456:3"},
		{string(AppendOFDID(nil, 42, 123456, 3)), "ofd:42:123456:3"},
		{string(AppendSocketID(nil, 28728)), "socket:[28728]"},
		{PipeID(9), "pipe:[9]"},
		{AnonID("eventfd", OFDID(42, 123456, 5)), "anon:eventfd:ofd:42:123456:5"},
		{InodeID(KindFile, DevString(254, 1), 77), "file:254:1:77"},
		{PathID("/gone/file"), "path:/gone/file"},
		{UnknownID("weird:[1]"), "unknown:weird:[1]"},
		{PtyMasterID("0:5", 2, 7), "ptmx:0:5:2:7"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
