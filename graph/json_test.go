package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestWriteJSONMatchesEncodingJSON checks that the streamed form decodes
// to what json.Marshal gives, on snapshots holding every kind of detail and
// strings that need escaping.
func TestWriteJSONMatchesEncodingJSON(t *testing.T) {
	nodes := []*Node{
		{ID: "proc:1:2", Kind: KindProcess, PID: 1, NetNS: 4026531840, Error: "fd table: permission denied",
			Process: &Process{Comm: "we<ird> \"na\\me\"\t\x01", Cmdline: "a\u2028b \xff end", User: "root", StartTime: 2, MntNS: 3, PidNS: 4, Cgroup: "/system.slice/a b.service", Threads: 5, FDCount: 6, Host: "node-1", TGID: 7}},
		{ID: "proc:2:2", Kind: KindProcess, PID: 2, Process: &Process{PPID: 1, UID: -1}},
		fdNode(1, 0, true),
		fdNode(1, 7, false),
		{ID: "ofd:1:2:0", Kind: KindOFD, OFD: &OFD{Mode: "rw", Flags: []string{"O_RDWR", "O_APPEND"}, Pos: -1, MntID: 27, Sharers: 2}},
		{ID: "ofd:1:2:1", Kind: KindOFD, OFD: &OFD{Flags: []string{}}},
		{ID: SocketID(5), Kind: KindSocket, NetNS: 7, Object: &Object{Inode: 5, Name: "socket:[5]", Socket: &Socket{Family: "inet", Type: "stream", Protocol: "tcp", State: "listen", Local: "127.0.0.1:1", RxQueue: 1, TxQueue: 128, InFlight: 2}}},
		{ID: SocketID(6), Kind: KindSocket, Object: &Object{Inode: 6, Name: "socket:[6]", Socket: &Socket{Family: "unix", Local: "@abstract\x00x"}}},
		{ID: "file:8:1:9", Kind: KindFile, Error: "stat failed", Object: &Object{Inode: 9, Dev: "8:1", Name: "/tmp/a & b (deleted)", Path: "/tmp/a & b", Deleted: true}},
		{ID: "chr:0:6:3", Kind: KindChr, Object: &Object{Inode: 3, Dev: "0:6", RDev: "1:3", Name: "/dev/null", Path: "/dev/null"}},
		{ID: "anon:eventfd:x", Kind: KindAnon, Object: &Object{Inode: 26, Name: "anon_inode:[eventfd]", AnonType: "eventfd", Detail: "count 3"}},
	}
	snaps := []*Snapshot{
		New(nil, nil, Stats{}),
		New(nodes, []Edge{{From: "proc:1:2", To: "proc:2:2", Kind: EdgeChild}, {From: "proc:1:2", To: FDID(1, 1, 0), Kind: EdgeFD}},
			Stats{StartedAt: time.Date(2026, 11, 22, 3, 4, 5, 123456789, time.UTC), DurationMS: 12.5, Processes: 2, Sharing: "kcmp",
				MissingFeatures: []string{"kcmp: operation not permitted"}, Errors: []string{"x"}}),
		randomSnapshot(rand.New(rand.NewPCG(3, 4)), 30),
	}
	for i, s := range snaps {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := s.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(got.Bytes(), &a); err != nil {
			t.Fatalf("snapshot %d: WriteJSON wrote invalid JSON: %v", i, err)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("snapshot %d:\nWriteJSON:     %s\nencoding/json: %s", i, got.Bytes(), want)
		}
	}
}

func BenchmarkWriteJSON(b *testing.B) {
	s := randomSnapshot(rand.New(rand.NewPCG(5, 6)), 3000)
	for b.Loop() {
		s.WriteJSON(io.Discard)
	}
}

// TestWriteJSONBytes checks that WriteJSON writes byte for byte what
// encoding/json's Encoder writes for each node and edge.
func TestWriteJSONBytes(t *testing.T) {
	for i, s := range []*Snapshot{New(nil, nil, Stats{}), randomSnapshot(rand.New(rand.NewPCG(7, 8)), 3000), filledSnapshot()} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		want.WriteString(`{"nodes":[`)
		for j, n := range s.Nodes {
			if j > 0 {
				want.WriteByte(',')
			}
			enc.Encode(n)
		}
		want.WriteString(`],"edges":[`)
		for j, e := range s.Edges {
			if j > 0 {
				want.WriteByte(',')
			}
			enc.Encode(e)
		}
		want.WriteString(`],"stats":`)
		enc.Encode(s.Stats)
		want.WriteString("}\n")
		var got bytes.Buffer
		if err := s.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("snapshot %d:\nWriteJSON:     %s\nencoding/json: %s", i, got.Bytes(), want.Bytes())
		}
	}
}

// filledSnapshot holds nodes with every field of every detail struct set
// (by reflection, so that a field added later is covered) and with none
// set, and strings that need escaping.
func filledSnapshot() *Snapshot {
	strs := []string{"", "plain", "we<ird> \"na\\me\"\t\x01\b\f\r\n\x7f&", "a\u2028b\u2029 \xff\xc3 end é 日本"}
	var nodes []*Node
	for i, s := range strs {
		n := &Node{Process: &Process{}, FD: &FD{}, OFD: &OFD{}, Object: &Object{Socket: &Socket{}}}
		fill(reflect.ValueOf(n).Elem(), s, int64(i))
		n.ID = "n" + string(rune('a'+i))
		nodes = append(nodes, n)
		nodes = append(nodes, &Node{ID: "z" + string(rune('a'+i)), Kind: Kind(s)},
			&Node{ID: "y" + string(rune('a'+i)), OFD: &OFD{}, Object: &Object{}})
	}
	return New(nodes, []Edge{{From: "na", To: "nb", Kind: EdgeKind(strs[2])}}, Stats{})
}

// fill sets every settable field of v, following pointers that are set: strings
// to s, numbers to i+1 (negative for signed ones), bools to true, string
// slices to [s, s].
func fill(v reflect.Value, s string, i int64) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fill(v.Elem(), s, i)
		}
	case reflect.Struct:
		for j := range v.NumField() {
			fill(v.Field(j), s, i+int64(j))
		}
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(-(i + 1))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(uint64(i + 1))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		v.Set(reflect.ValueOf([]string{s, s}))
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "<&>", "\x00\x1f\"\\", "\u2028\u2029", "\xff\xfe", "日本\xe6\x97"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, encoding/json: %s", s, got, want)
		}
	})
}
