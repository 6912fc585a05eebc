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
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeConn returns a Conn whose kernel is fn.
func fakeConn(t *testing.T, fn nltest.Func) *Conn {
	t.Helper()
	c := newConn(nltest.Dial(fn))
	t.Cleanup(func() { c.Close() })
	return c
}

// reply answers req with the payloads as one multipart dump.
func reply(req netlink.Message, flags netlink.HeaderFlags, payloads ...[]byte) ([]netlink.Message, error) {
	msgs := make([]netlink.Message, 0, len(payloads)+1)
	for _, p := range payloads {
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: sockDiagByFamily, Flags: flags, Sequence: req.Header.Sequence, PID: req.Header.PID},
			Data:   p,
		})
	}
	// nltest.Multipart turns the last message into NLMSG_DONE.
	msgs = append(msgs, netlink.Message{Header: netlink.Header{Sequence: req.Header.Sequence, PID: req.Header.PID}})
	return nltest.Multipart(msgs)
}

// checkDump wraps fn with a check of the request's header.
func checkDump(fn nltest.Func) nltest.Func {
	return nltest.CheckRequest(
		[]netlink.HeaderType{sockDiagByFamily},
		[]netlink.HeaderFlags{netlink.Request | netlink.Dump},
		fn,
	)
}

func TestUnixDump(t *testing.T) {
	c := fakeConn(t, checkDump(func(reqs []netlink.Message) ([]netlink.Message, error) {
		b := reqs[0].Data
		if len(b) != sizeofUnixDiagReq {
			t.Fatalf("unix_diag_req is %d bytes, want %d", len(b), sizeofUnixDiagReq)
		}
		if b[0] != unix.AF_UNIX || b[1] != 0 {
			t.Errorf("family, protocol = %d, %d; want AF_UNIX, 0", b[0], b[1])
		}
		if states := binary.NativeEndian.Uint32(b[4:]); states != ^uint32(0) {
			t.Errorf("udiag_states = %#x, want all", states)
		}
		if show := binary.NativeEndian.Uint32(b[12:]); show != 0x5f {
			t.Errorf("udiag_show = %#x, want NAME|VFS|PEER|ICONS|RQLEN|UID = 0x5f", show)
		}
		return reply(reqs[0], 0,
			unixMsg(1, 10, 100, attr(unixDiagName, []byte("\x00srv")), attr(unixDiagIcons, u32(101))),
			unixMsg(1, 1, 101, attr(unixDiagPeer, u32(0))),
		)
	}))
	got, err := c.Unix()
	if err != nil {
		t.Fatal(err)
	}
	want := []UnixSocket{
		{Inode: 100, Type: 1, State: 10, Name: "@srv", Pending: []uint64{101}},
		{Inode: 101, Type: 1, State: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Unix() (-want +got):\n%s", diff)
	}
}

func TestInetDumpRequest(t *testing.T) {
	for _, tt := range []struct {
		family, protocol uint8
	}{
		{unix.AF_INET, unix.IPPROTO_TCP},
		{unix.AF_INET6, unix.IPPROTO_UDP},
		{unix.AF_INET, unix.IPPROTO_RAW},
	} {
		calls := 0
		c := fakeConn(t, checkDump(func(reqs []netlink.Message) ([]netlink.Message, error) {
			calls++
			b := reqs[0].Data
			if len(b) != sizeofInetDiagReqV2+8 {
				t.Fatalf("request is %d bytes, want inet_diag_req_v2 (56) + one u32 attribute", len(b))
			}
			if b[0] != tt.family || b[1] != tt.protocol {
				t.Errorf("family, protocol = %d, %d; want %d, %d", b[0], b[1], tt.family, tt.protocol)
			}
			if b[2] != 1<<(inetDiagInfo-1) {
				t.Errorf("idiag_ext = %#x, want INET_DIAG_INFO", b[2])
			}
			if states := binary.NativeEndian.Uint32(b[4:]); states != ^uint32(0) {
				t.Errorf("idiag_states = %#x, want all", states)
			}
			if string(b[8:56]) != string(make([]byte, 48)) {
				t.Errorf("inet_diag_sockid is not zero: %x", b[8:56])
			}
			a := b[56:]
			if l, typ, v := binary.NativeEndian.Uint16(a), binary.NativeEndian.Uint16(a[2:]), binary.NativeEndian.Uint32(a[4:]); l != 8 || typ != inetDiagReqProtocol || v != uint32(tt.protocol) {
				t.Errorf("attribute len %d type %d value %d; want 8, INET_DIAG_REQ_PROTOCOL (3), %d", l, typ, v, tt.protocol)
			}
			local := netip.MustParseAddrPort("127.0.0.1:1")
			remote := netip.MustParseAddrPort("0.0.0.0:0")
			if tt.family == unix.AF_INET6 {
				local = netip.MustParseAddrPort("[::1]:1")
				remote = netip.MustParseAddrPort("[::]:0")
			}
			var extra [][]byte
			if tt.protocol == unix.IPPROTO_RAW {
				extra = append(extra, attr(inetDiagProtocol, []byte{unix.IPPROTO_ICMP}))
			}
			return reply(reqs[0], 0, inetMsg(tt.family, 7, local, remote, 11, 0, 0, 0, 0, extra...))
		}))
		got, err := c.Inet(tt.family, tt.protocol)
		if err != nil {
			t.Fatalf("Inet(%d, %d): %v", tt.family, tt.protocol, err)
		}
		wantProto := tt.protocol
		if tt.protocol == unix.IPPROTO_RAW {
			wantProto = unix.IPPROTO_ICMP
		}
		if len(got) != 1 || got[0].Inode != 11 || got[0].Family != tt.family || got[0].Protocol != wantProto {
			t.Errorf("Inet(%d, %d) = %+v; want inode 11, family %d, protocol %d", tt.family, tt.protocol, got, tt.family, wantProto)
		}
		if calls != 1 {
			t.Errorf("%d requests, want 1", calls)
		}
	}
}

func TestInetBadFamily(t *testing.T) {
	c := fakeConn(t, func([]netlink.Message) ([]netlink.Message, error) {
		t.Error("a request was sent")
		return nil, io.EOF
	})
	if _, err := c.Inet(unix.AF_UNIX, unix.IPPROTO_TCP); err == nil {
		t.Error("Inet(AF_UNIX, ...) succeeded")
	}
}

func TestNetlinkPacketVsockRequests(t *testing.T) {
	c := fakeConn(t, checkDump(func(reqs []netlink.Message) ([]netlink.Message, error) {
		b := reqs[0].Data
		switch b[0] {
		case unix.AF_NETLINK:
			if len(b) != sizeofNetlinkDiagReq || b[1] != ndiagProtoAll || binary.NativeEndian.Uint32(b[8:]) != ndiagShowGroups {
				t.Errorf("netlink_diag_req = %x; want 20 bytes, protocol 255 (all), show NDIAG_SHOW_GROUPS", b)
			}
			return reply(reqs[0], 0, netlinkMsg(3, 0, 0, 42, 0, 0, 7, attr(netlinkDiagGroups, groupBitmap(1, 1))))
		case unix.AF_PACKET:
			if len(b) != sizeofPacketDiagReq || b[1] != 0 || binary.NativeEndian.Uint32(b[8:]) != packetShowInfo {
				t.Errorf("packet_diag_req = %x; want 20 bytes, protocol 0, show PACKET_SHOW_INFO", b)
			}
			return reply(reqs[0], 0, packetMsg(3, 3, 8))
		case unix.AF_VSOCK:
			if len(b) != sizeofVsockDiagReq || binary.NativeEndian.Uint32(b[4:]) != ^uint32(0) {
				t.Errorf("vsock_diag_req = %x; want 24 bytes, all states", b)
			}
			return reply(reqs[0], 0, vsockMsg(1, 10, 3, 1024, 0, 0, 9))
		}
		t.Errorf("unexpected family %d", b[0])
		return nil, io.EOF
	}))
	nl, err := c.Netlink()
	if err != nil || len(nl) != 1 || nl[0].PortID != 42 || !cmp.Equal(nl[0].Groups, []uint32{1}) {
		t.Errorf("Netlink() = %+v, %v", nl, err)
	}
	pk, err := c.Packet()
	if err != nil || len(pk) != 1 || pk[0].Inode != 8 || pk[0].Protocol != 3 {
		t.Errorf("Packet() = %+v, %v", pk, err)
	}
	vs, err := c.Vsock()
	if err != nil || len(vs) != 1 || vs[0].Inode != 9 || vs[0].LocalPort != 1024 {
		t.Errorf("Vsock() = %+v, %v", vs, err)
	}
}

// kernelError builds the NLMSG_ERROR reply the kernel sends when a dump
// request fails: the negative errno and the request's header, with
// NLM_F_CAPPED since the request's payload is not echoed. (nltest.Error keeps
// the request's flags, and NLM_F_DUMP shares its bit with
// NLM_F_ACK_TLVS.)
func kernelError(errno unix.Errno, req netlink.Message) []netlink.Message {
	data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	data = binary.NativeEndian.AppendUint32(data, req.Header.Length)
	data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Type))
	data = binary.NativeEndian.AppendUint16(data, uint16(req.Header.Flags))
	data = binary.NativeEndian.AppendUint32(data, req.Header.Sequence)
	data = binary.NativeEndian.AppendUint32(data, req.Header.PID)
	return []netlink.Message{{
		Header: netlink.Header{Length: uint32(16 + len(data)), Type: netlink.Error, Flags: netlink.Capped,
			Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data: data,
	}}
}

func TestErrorReplies(t *testing.T) {
	for _, tt := range []struct {
		errno         unix.Errno
		notSupported  bool
		wantInMessage string
	}{
		{unix.ENOENT, true, "vsock dump: not supported by the kernel"},
		{unix.EPERM, false, "vsock dump"},
		{unix.EINVAL, false, "invalid argument"},
	} {
		c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
			return kernelError(tt.errno, reqs[0]), nil
		})
		got, err := c.Vsock()
		if err == nil || got != nil {
			t.Fatalf("errno %v: Vsock() = %v, %v; want nil and an error", tt.errno, got, err)
		}
		if errors.Is(err, ErrNotSupported) != tt.notSupported {
			t.Errorf("errno %v: errors.Is(%q, ErrNotSupported) = %v", tt.errno, err, !tt.notSupported)
		}
		if !errors.Is(err, tt.errno) {
			t.Errorf("errno %v: error %q does not wrap it", tt.errno, err)
		}
		if !strings.Contains(err.Error(), tt.wantInMessage) {
			t.Errorf("errno %v: error %q does not contain %q", tt.errno, err, tt.wantInMessage)
		}
	}
}

func TestDumpInterruptedRetries(t *testing.T) {
	calls := 0
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		calls++
		var flags netlink.HeaderFlags
		if calls < 3 {
			flags = netlink.DumpInterrupted
		}
		// Every attempt sees one more socket, so the result shows which
		// attempt was used.
		payloads := make([][]byte, calls)
		for i := range payloads {
			payloads[i] = unixMsg(1, 1, uint32(i+1))
		}
		return reply(reqs[0], flags, payloads...)
	})
	got, err := c.Unix()
	if err != nil {
		t.Fatalf("Unix() after two interrupted dumps: %v", err)
	}
	if calls != 3 || len(got) != 3 {
		t.Errorf("%d dumps, %d sockets; want the third, clean dump of 3 sockets", calls, len(got))
	}
}

func TestDumpInterruptedGivesUp(t *testing.T) {
	calls := 0
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		calls++
		return reply(reqs[0], netlink.DumpInterrupted, unixMsg(1, 1, 5), unixMsg(1, 1, 6))
	})
	got, err := c.Unix()
	if !errors.Is(err, ErrDumpInterrupted) {
		t.Fatalf("err = %v, want ErrDumpInterrupted", err)
	}
	if calls != maxAttempts {
		t.Errorf("%d dumps, want %d", calls, maxAttempts)
	}
	if len(got) != 2 {
		t.Errorf("partial result has %d sockets, want 2", len(got))
	}
	if !strings.Contains(err.Error(), "unix dump") {
		t.Errorf("error %q lacks context", err)
	}
}

func TestMalformedReply(t *testing.T) {
	c := fakeConn(t, func(reqs []netlink.Message) ([]netlink.Message, error) {
		return reply(reqs[0], 0,
			inetMsg(afInet, 1, netip.MustParseAddrPort("1.1.1.1:1"), netip.MustParseAddrPort("2.2.2.2:2"), 1, 0, 0, 0, 0),
			make([]byte, 40), // short header
		)
	})
	got, err := c.Inet(unix.AF_INET, unix.IPPROTO_TCP)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	for _, want := range []string{"inet tcp dump", "message 1 at byte 88", "inet_diag_msg: 40 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if len(got) != 1 || got[0].Inode != 1 {
		t.Errorf("got %+v, want the one good socket", got)
	}
}

func TestEmptyDump(t *testing.T) {
	c := fakeConn(t, func([]netlink.Message) ([]netlink.Message, error) {
		return nil, io.EOF // nltest: no messages, no error
	})
	got, err := c.Packet()
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Packet() = %#v, %v; want an empty, non-nil slice", got, err)
	}
}
