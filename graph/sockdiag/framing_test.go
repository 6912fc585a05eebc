package sockdiag

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

func TestAppendMessage(t *testing.T) {
	if ne.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the expected bytes are little-endian")
	}
	h := netlink.Header{Type: 20, Flags: netlink.Request | netlink.Dump, Sequence: 7, PID: 99}
	b := AppendMessage([]byte{0xaa, 0xbb, 0xcc, 0xdd}, h, []byte{1, 2, 3, 4, 5})
	want := []byte{
		0xaa, 0xbb, 0xcc, 0xdd, // what was there
		21, 0, 0, 0, // length: header and data, without the padding
		20, 0, // type
		0x01, 0x03, // flags: NLM_F_REQUEST | NLM_F_DUMP (0x300)
		7, 0, 0, 0, // sequence
		99, 0, 0, 0, // port ID
		1, 2, 3, 4, 5, 0, 0, 0, // data, padded to 4 bytes
	}
	if !bytes.Equal(b, want) {
		t.Errorf("AppendMessage = % x\nwant            % x", b, want)
	}
	// What netlink.Message marshals, AppendMessage appends, but for the
	// length: the library counts the padding in (the kernel takes either).
	h.Length = HeaderLen + 8
	lib, err := (&netlink.Message{Header: h, Data: []byte{1, 2, 3, 4, 5}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[8:], lib[4:]) {
		t.Errorf("AppendMessage = % x\nnetlink.Message.MarshalBinary = % x", b[4:], lib)
	}
}

func TestSplitMessage(t *testing.T) {
	first := netlink.Header{Type: 20, Flags: netlink.Multi, Sequence: 1, PID: 5}
	second := netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: 1, PID: 5}
	two := AppendMessage(AppendMessage(nil, first, []byte{1, 2, 3}), second, []byte{9, 9, 9, 9})

	m, rest, ok := SplitMessage(two)
	if !ok {
		t.Fatal("the first of two messages not split off")
	}
	first.Length = HeaderLen + 3
	if diff := cmp.Diff(netlink.Message{Header: first, Data: []byte{1, 2, 3}}, m); diff != "" {
		t.Errorf("first message (-want +got):\n%s", diff)
	}
	if len(rest) != HeaderLen+4 {
		t.Fatalf("%d bytes after the first message, want %d: the padding is skipped", len(rest), HeaderLen+4)
	}
	m, rest, ok = SplitMessage(rest)
	second.Length = HeaderLen + 4
	if diff := cmp.Diff(netlink.Message{Header: second, Data: []byte{9, 9, 9, 9}}, m); !ok || diff != "" || len(rest) != 0 {
		t.Errorf("second message: ok %v, %d bytes left, (-want +got):\n%s", ok, len(rest), diff)
	}

	// The last message of a datagram may come without its padding.
	last := AppendMessage(nil, first, []byte{1, 2, 3})
	if m, rest, ok := SplitMessage(last[:HeaderLen+3]); !ok || len(m.Data) != 3 || len(rest) != 0 {
		t.Errorf("unpadded last message: ok %v, data % x, %d bytes left", ok, m.Data, len(rest))
	}

	withLength := func(l uint32) []byte {
		b := AppendMessage(nil, first, make([]byte, 8))
		ne.PutUint32(b, l)
		return b
	}
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"shorter than a header", two[:HeaderLen-1]},
		{"length shorter than a header", withLength(HeaderLen - 1)},
		{"length zero", withLength(0)},
		{"length past the end", withLength(HeaderLen + 9)},
		{"length far past the end", withLength(1 << 31)},
	} {
		if m, rest, ok := SplitMessage(tt.b); ok || !bytes.Equal(rest, tt.b) || m.Data != nil {
			t.Errorf("%s: ok %v, data % x, rest of %d bytes; want nothing split off", tt.name, ok, m.Data, len(rest))
		}
	}
}

func FuzzSplitMessage(f *testing.F) {
	f.Add(AppendMessage(AppendMessage(nil, netlink.Header{Type: 20}, []byte{1, 2, 3}), netlink.Header{Type: 3}, nil))
	f.Add([]byte{17, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{255, 255, 255, 255, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			m, rest, ok := SplitMessage(b)
			if !ok {
				return
			}
			if int(m.Header.Length) != HeaderLen+len(m.Data) || len(rest) >= len(b) {
				t.Fatalf("message of length %d with %d data bytes, %d of %d bytes left", m.Header.Length, len(m.Data), len(rest), len(b))
			}
			if again := AppendMessage(nil, m.Header, m.Data); !bytes.Equal(again[:m.Header.Length], b[:m.Header.Length]) {
				t.Fatalf("AppendMessage(SplitMessage) = % x, want % x", again[:m.Header.Length], b[:m.Header.Length])
			}
			b = rest
		}
	})
}
