//go:build linux

package sockdiag

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Tests of the streaming layer (Request, Conn.Each and the views) against
// nltest fakes; each_live_linux_test.go runs it against the kernel.

// unixFacts is what a probe reads of a unix reply through the view.
type unixFacts struct {
	Inode, Peer    uint64
	Type, State    uint8
	RQueue, Icons  int
	Name           string
	Unknown, Count int
}

// readUnix reads one unix reply through UnixReply and Attrs.
func readUnix(b []byte) (unixFacts, error) {
	r, err := ParseUnixReply(b)
	if err != nil {
		return unixFacts{}, err
	}
	f := unixFacts{Inode: r.Inode(), Type: r.Type(), State: r.State()}
	a := r.Attrs()
	for a.Next() {
		f.Count++
		switch d := a.Data(); a.Type() {
		case UnixAttrPeer:
			f.Peer = uint64(binary.NativeEndian.Uint32(d))
		case UnixAttrRQLen:
			f.RQueue = int(binary.NativeEndian.Uint32(d))
		case UnixAttrIcons:
			f.Icons = len(d) / 4
		case UnixAttrName:
			f.Name = string(d)
		default:
			f.Unknown++
		}
	}
	return f, a.Err()
}

func TestEachUnix(t *testing.T) {
	var got []netlink.Message
	c := fakeConn(t, checkDump(func(reqs []netlink.Message) ([]netlink.Message, error) {
		b := reqs[0].Data
		if show := binary.NativeEndian.Uint32(b[12:]); len(b) != sizeofUnixDiagReq || b[0] != unix.AF_UNIX || show != UnixShowPeer|UnixShowRQLen {
			t.Errorf("request %x; want unix_diag_req with udiag_show PEER|RQLEN", b)
		}
		msgs, err := reply(reqs[0], 0,
			unixMsg(1, 10, 100, attr(unixDiagIcons, cat(u32(101), u32(102))), attr(unixDiagRQLen, cat(u32(2), u32(128)))),
			unixMsg(1, 1, 101, attr(unixDiagPeer, u32(0)), attr(99, nil)),
			unixMsg(2, 7, 102),
		)
		// A message left from an earlier dump, with another sequence
		// number, is not part of this reply.
		stale := msgs[0]
		stale.Header.Sequence++
		return append([]netlink.Message{stale}, msgs...), err
	}))
	err := c.Each(UnixRequest(UnixShowPeer|UnixShowRQLen), func(m netlink.Message) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var facts []unixFacts
	for _, m := range got {
		if m.Header.Type != TypeByFamily {
			t.Errorf("message of type %v handed over", m.Header.Type)
		}
		f, err := readUnix(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, f)
	}
	want := []unixFacts{
		{Inode: 100, Type: 1, State: 10, RQueue: 2, Icons: 2, Count: 2},
		{Inode: 101, Type: 1, State: 1, Unknown: 1, Count: 2},
		{Inode: 102, Type: 2, State: 7},
	}
	if diff := cmp.Diff(want, facts); diff != "" {
		t.Errorf("Each (-want +got):\n%s", diff)
	}
}

func TestEachInet(t *testing.T) {
	local, remote := netip.MustParseAddrPort("[::1]:80"), netip.MustParseAddrPort("[2001:db8::1]:5000")
	c := fakeConn(t, checkDump(func(reqs []netlink.Message) ([]netlink.Message, error) {
		b := reqs[0].Data
		if b[0] != unix.AF_INET6 || b[1] != unix.IPPROTO_UDP || b[2] != 0 {
			t.Errorf("family, protocol, ext = %d, %d, %#x; want AF_INET6, UDP, none", b[0], b[1], b[2])
		}
		return reply(reqs[0], 0, inetMsg(afInet6, 1, local, remote, 33, 1000, 4, 5, 2, attr(inetDiagProtocol, []byte{17})))
	}))
	n := 0
	err := c.Each(InetRequest(unix.AF_INET6, unix.IPPROTO_UDP, 0), func(m netlink.Message) error {
		n++
		r, err := ParseInetReply(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if r.Family() != afInet6 || r.State() != 1 || r.Local() != local || r.Remote() != remote || r.Inode() != 33 ||
			r.UID() != 1000 || r.RQueue() != 4 || r.WQueue() != 5 || r.Interface() != 2 {
			t.Errorf("view: family %d state %d %v → %v inode %d uid %d queues %d/%d if %d",
				r.Family(), r.State(), r.Local(), r.Remote(), r.Inode(), r.UID(), r.RQueue(), r.WQueue(), r.Interface())
		}
		a := r.Attrs()
		if !a.Next() || a.Type() != InetAttrProtocol || string(a.Data()) != "\x11" || a.Next() || a.Err() != nil {
			t.Errorf("attributes: type %d data %x err %v; want one INET_DIAG_PROTOCOL 17", a.Type(), a.Data(), a.Err())
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Errorf("Each: %d messages, %v; want 1, nil", n, err)
	}
}

func TestEachCallbackError(t *testing.T) {
	calls := 0
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		return reply(reqs[0], 0, unixMsg(1, 1, 1), unixMsg(1, 1, 2), unixMsg(1, 1, 3))
	})
	stop := errors.New("stop")
	err := c.Each(UnixRequest(0), func(netlink.Message) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("Each = %v after %d calls; want the callback's own error after 1", err, calls)
	}
	// The Conn is still usable: the next dump sees its own reply.
	socks, err := c.Unix()
	if err != nil || len(socks) != 3 {
		t.Errorf("Unix() after a stopped Each = %d sockets, %v", len(socks), err)
	}
}

func TestEachInterrupted(t *testing.T) {
	calls := 0
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		calls++
		return reply(reqs[0], netlink.DumpInterrupted, unixMsg(1, 1, 1), unixMsg(1, 1, 2))
	})
	n := 0
	err := c.Each(UnixRequest(0), func(netlink.Message) error { n++; return nil })
	if !errors.Is(err, ErrDumpInterrupted) || !strings.Contains(err.Error(), "unix dump") {
		t.Errorf("Each = %v; want ErrDumpInterrupted with the dump's name", err)
	}
	if calls != 1 || n != 2 {
		t.Errorf("%d requests, %d messages; want Each not to retry, and every message", calls, n)
	}
}

func TestEachErrors(t *testing.T) {
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		return kernelError(unix.ENOENT, reqs[0]), nil
	})
	called := false
	err := c.Each(InetRequest(unix.AF_INET, unix.IPPROTO_SCTP, 0), func(netlink.Message) error { called = true; return nil })
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "inet sctp dump") {
		t.Errorf("Each on ENOENT = %v; want ErrNotSupported, ENOENT and the dump's name", err)
	}
	if called {
		t.Error("the callback saw the error message")
	}

	sent := false
	c = fakeConn(t, func([]netlink.Message) ([]netlink.Message, error) {
		sent = true
		return nil, io.EOF
	})
	req := InetRequest(unix.AF_UNIX, unix.IPPROTO_TCP, 0)
	if err := c.Each(req, func(netlink.Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "neither AF_INET nor AF_INET6") {
		t.Errorf("Each(InetRequest(AF_UNIX, ...)) = %v", err)
	}
	if err := c.Each(Request{}, func(netlink.Message) error { return nil }); err == nil {
		t.Error("Each(Request{}) succeeded")
	}
	if sent {
		t.Error("an invalid request was sent")
	}
}

func TestRequestString(t *testing.T) {
	for _, tt := range []struct {
		req  Request
		want string
	}{
		{UnixRequest(0), "unix"},
		{InetRequest(unix.AF_INET, unix.IPPROTO_TCP, InetExtInfo), "inet tcp"},
		{InetRequest(unix.AF_INET6, unix.IPPROTO_UDP, 0), "inet6 udp"},
		{vsockRequest(), "vsock"},
	} {
		if got := tt.req.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// The dump methods' requests, built on UnixRequest and InetRequest, are as
// before: TestUnixDump and TestInetDumpRequest check their bytes.

func TestParseReplyErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		parse   func([]byte) error
		b       []byte
		wantErr string
	}{
		{"unix short", func(b []byte) error { _, err := ParseUnixReply(b); return err }, make([]byte, 15), "unix_diag_msg: 15 bytes, want at least 16"},
		{"unix family", func(b []byte) error { _, err := ParseUnixReply(b); return err }, make([]byte, 16), "family 0, want AF_UNIX"},
		{"inet short", func(b []byte) error { _, err := ParseInetReply(b); return err }, make([]byte, 71), "inet_diag_msg: 71 bytes, want at least 72"},
		{"inet family", func(b []byte) error { _, err := ParseInetReply(b); return err }, unixMsg(1, 1, 1, make([]byte, 60)), "family 1, want AF_INET or AF_INET6"},
	} {
		if err := tt.parse(tt.b); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	// A malformed attribute stops the iteration with an error that says
	// where, after the good ones.
	r, err := ParseUnixReply(unixMsg(1, 1, 9, attr(unixDiagPeer, u32(3)), []byte{40, 0, 4, 0}))
	if err != nil {
		t.Fatal(err)
	}
	a, n := r.Attrs(), 0
	for a.Next() {
		n++
	}
	if n != 1 || a.Err() == nil || !strings.Contains(a.Err().Error(), "attribute type 4 at offset 24: length 40, 4 bytes left") {
		t.Errorf("%d attributes, error %v", n, a.Err())
	}
}
