//go:build linux

package sockdiag

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The fuzz targets feed framed reply messages (as in testdata/*.nlmsgs) to
// a decoder, and the same bytes to the single-message parser as a payload.
// They are seeded with the captured replies, each of their messages alone,
// and hand-built messages.

// addSeeds adds the captured file, each of its messages, and extra payloads
// framed as messages.
func addSeeds(f *testing.F, file string, extra ...[]byte) {
	f.Helper()
	if file != "" {
		skipIfBigEndian(f)
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		msgs, err := splitMessages(b)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range msgs {
			f.Add(marshalMessages([]netlink.Message{m}))
		}
	}
	for _, p := range extra {
		f.Add(marshalMessages([]netlink.Message{msg(p)}))
	}
}

// checkDecoded checks what any decoder must guarantee.
func checkDecoded(t *testing.T, msgs []netlink.Message, n int, err error) {
	t.Helper()
	diag := 0
	for _, m := range msgs {
		if m.Header.Type == sockDiagByFamily {
			diag++
		}
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", err)
	}
	if err == nil && n != diag {
		t.Fatalf("no error but %d of %d messages decoded", n, diag)
	}
	if n > diag {
		t.Fatalf("%d sockets from %d messages", n, diag)
	}
}

func FuzzDecodeUnix(f *testing.F) {
	addSeeds(f, "unix.nlmsgs",
		unixMsg(1, 10, 1, attr(unixDiagIcons, cat(u32(2), u32(3))), attr(unixDiagRQLen, cat(u32(2), u32(4)))),
		unixMsg(5, 1, 2, attr(unixDiagName, []byte("\x00abs\x00tract")), attr(unixDiagPeer, u32(1)), attr(unixDiagUID, u32(1000))),
		unixMsg(1, 1, 3, attr(unixDiagName, []byte("/p\x00")), attr(unixDiagVFS, cat(u32(4), u32(5)))),
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := parseUnixMessage(b); err == nil {
			checkUnix(t, s, len(b))
		}
		msgs, err := splitMessages(b)
		if err != nil {
			return
		}
		socks, err := decodeUnix(msgs)
		checkDecoded(t, msgs, len(socks), err)
		for _, s := range socks {
			checkUnix(t, s, len(b))
		}
	})
}

func checkUnix(t *testing.T, s UnixSocket, size int) {
	t.Helper()
	if s.Name != "" && s.Name[0] != '@' && strings.IndexByte(s.Name, 0) >= 0 {
		t.Fatalf("path name %q holds a NUL", s.Name)
	}
	if len(s.Pending)*4 > size {
		t.Fatalf("%d pending inodes from %d bytes", len(s.Pending), size)
	}
}

func FuzzDecodeInet(f *testing.F) {
	ap := netip.MustParseAddrPort
	addSeeds(f, "inet4_tcp.nlmsgs",
		inetMsg(afInet, 1, ap("1.2.3.4:5"), ap("6.7.8.9:10"), 1, 2, 3, 4, 5, attr(inetDiagInfo, tcpInfo(unix.SizeofTCPInfo, 1, 2, 3))),
		inetMsg(afInet6, 7, ap("[::1]:5"), ap("[::]:0"), 1, 2, 3, 4, 5, attr(inetDiagProtocol, []byte{1})),
	)
	addSeeds(f, "inet4_udp.nlmsgs")
	addSeeds(f, "inet6_tcp.nlmsgs")
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := parseInetMessage(b, unix.IPPROTO_TCP); err == nil {
			checkInet(t, s)
		}
		msgs, err := splitMessages(b)
		if err != nil {
			return
		}
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_RAW} {
			socks, err := decodeInet(msgs, proto)
			checkDecoded(t, msgs, len(socks), err)
			for _, s := range socks {
				checkInet(t, s)
			}
		}
	})
}

func checkInet(t *testing.T, s InetSocket) {
	t.Helper()
	if s.Family == afInet && (!s.Local.Addr().Is4() || !s.Remote.Addr().Is4()) ||
		s.Family == afInet6 && (!s.Local.Addr().Is6() || !s.Remote.Addr().Is6()) {
		t.Fatalf("family %d with addresses %s, %s", s.Family, s.Local, s.Remote)
	}
	if s.Protocol != unix.IPPROTO_TCP && s.HasTCPInfo {
		t.Fatalf("tcp_info on protocol %d", s.Protocol)
	}
}

func FuzzDecodeNetlink(f *testing.F) {
	addSeeds(f, "netlink.nlmsgs",
		netlinkMsg(3, 0, 0, 1, 2, 3, 4, attr(netlinkDiagGroups, groupBitmap(2, 1, 64, 65, 128))),
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := parseNetlinkMessage(b); err == nil {
			checkNetlink(t, s, len(b))
		}
		msgs, err := splitMessages(b)
		if err != nil {
			return
		}
		socks, err := decodeNetlink(msgs)
		checkDecoded(t, msgs, len(socks), err)
		for _, s := range socks {
			checkNetlink(t, s, len(b))
		}
	})
}

func checkNetlink(t *testing.T, s NetlinkSocket, size int) {
	t.Helper()
	if len(s.Groups) > size*8 {
		t.Fatalf("%d groups from %d bytes", len(s.Groups), size)
	}
	for i := 1; i < len(s.Groups); i++ {
		if s.Groups[i] <= s.Groups[i-1] {
			t.Fatalf("groups not ascending: %v", s.Groups)
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	info := make([]byte, sizeofPacketDiagInfo)
	info[0] = 1
	addSeeds(f, "packet.nlmsgs", packetMsg(3, 3, 9, attr(packetDiagInfo, info), attr(packetDiagUID, u32(7))))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parsePacketMessage(b)
		msgs, err := splitMessages(b)
		if err != nil {
			return
		}
		socks, err := decodePacket(msgs)
		checkDecoded(t, msgs, len(socks), err)
	})
}

// FuzzDecodeVsock has no captured seed: this kernel has no vsock_diag.
func FuzzDecodeVsock(f *testing.F) {
	addSeeds(f, "", vsockMsg(1, 10, 3, 1024, 2, 5000, 66), vsockMsg(2, 1, 0xffffffff, 1, 2, 3, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseVsockMessage(b)
		msgs, err := splitMessages(b)
		if err != nil {
			return
		}
		socks, err := decodeVsock(msgs)
		checkDecoded(t, msgs, len(socks), err)
	})
}
