//go:build linux

package sockdiag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// cmpOpts lets cmp compare netip values, which have unexported fields.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

// Builders of hand-made kernel replies.

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// unixMsg builds struct unix_diag_msg followed by attributes.
func unixMsg(typ, state uint8, ino uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofUnixDiagMsg)
	b[0], b[1], b[2] = afUnix, typ, state
	binary.NativeEndian.PutUint32(b[4:], ino)
	return cat(append([][]byte{b}, attrs...)...)
}

// inetMsg builds struct inet_diag_msg followed by attributes.
func inetMsg(family, state uint8, local, remote netip.AddrPort, ino, uid, rq, wq, ifindex uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofInetDiagMsg)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], local.Port())
	binary.BigEndian.PutUint16(b[6:], remote.Port())
	if family == afInet {
		l, r := local.Addr().As4(), remote.Addr().As4()
		copy(b[8:], l[:])
		copy(b[24:], r[:])
	} else {
		l, r := local.Addr().As16(), remote.Addr().As16()
		copy(b[8:], l[:])
		copy(b[24:], r[:])
	}
	binary.NativeEndian.PutUint32(b[40:], ifindex)
	binary.NativeEndian.PutUint32(b[56:], rq)
	binary.NativeEndian.PutUint32(b[60:], wq)
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], ino)
	return cat(append([][]byte{b}, attrs...)...)
}

// tcpInfo builds a struct tcp_info of n bytes with rtt and byte counters set.
func tcpInfo(n int, rtt uint32, acked, received uint64) []byte {
	b := make([]byte, n)
	binary.NativeEndian.PutUint32(b[tcpInfoRTT:], rtt)
	if n >= tcpInfoBytesReceived+8 {
		binary.NativeEndian.PutUint64(b[tcpInfoBytesAcked:], acked)
		binary.NativeEndian.PutUint64(b[tcpInfoBytesReceived:], received)
	}
	return b
}

func netlinkMsg(typ, proto, state uint8, portid, dstPortid, dstGroup, ino uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofNetlinkDiagMsg)
	b[0], b[1], b[2], b[3] = afNetlink, typ, proto, state
	binary.NativeEndian.PutUint32(b[4:], portid)
	binary.NativeEndian.PutUint32(b[8:], dstPortid)
	binary.NativeEndian.PutUint32(b[12:], dstGroup)
	binary.NativeEndian.PutUint32(b[16:], ino)
	return cat(append([][]byte{b}, attrs...)...)
}

func packetMsg(typ uint8, proto uint16, ino uint32, attrs ...[]byte) []byte {
	b := make([]byte, sizeofPacketDiagMsg)
	b[0], b[1] = afPacket, typ
	binary.NativeEndian.PutUint16(b[2:], proto)
	binary.NativeEndian.PutUint32(b[4:], ino)
	return cat(append([][]byte{b}, attrs...)...)
}

func vsockMsg(typ, state uint8, srcCID, srcPort, dstCID, dstPort, ino uint32) []byte {
	b := make([]byte, sizeofVsockDiagMsg)
	b[0], b[1], b[2] = afVsock, typ, state
	binary.NativeEndian.PutUint32(b[4:], srcCID)
	binary.NativeEndian.PutUint32(b[8:], srcPort)
	binary.NativeEndian.PutUint32(b[12:], dstCID)
	binary.NativeEndian.PutUint32(b[16:], dstPort)
	binary.NativeEndian.PutUint32(b[20:], ino)
	return b
}

// msg wraps a payload in a SOCK_DIAG_BY_FAMILY reply message.
func msg(data []byte) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Length: uint32(16 + len(data)), Type: sockDiagByFamily, Flags: netlink.Multi},
		Data:   data,
	}
}

// groupBitmap builds a NETLINK_DIAG_GROUPS payload (unsigned longs) with the
// given group numbers set.
func groupBitmap(words int, groups ...uint32) []byte {
	const word = int(unsafe.Sizeof(uintptr(0)))
	b := make([]byte, words*word)
	for _, g := range groups {
		bit := int(g - 1)
		w, i := bit/(8*word), bit%(8*word)
		if word == 8 {
			v := binary.NativeEndian.Uint64(b[w*8:])
			binary.NativeEndian.PutUint64(b[w*8:], v|1<<i)
		} else {
			v := binary.NativeEndian.Uint32(b[w*4:])
			binary.NativeEndian.PutUint32(b[w*4:], v|1<<i)
		}
	}
	return b
}

// checkErr fails unless err is nil when want is "", or contains want.
func checkErr(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
	return err == nil
}

func TestParseUnixMessage(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    UnixSocket
		wantErr string
	}{
		{
			name: "unbound, no attributes",
			b:    unixMsg(1, 7, 42),
			want: UnixSocket{Inode: 42, Type: 1, State: 7},
		},
		{
			name: "path listener with pending connections",
			b: unixMsg(1, 10, 100,
				attr(unixDiagName, []byte("/run/x.sock\x00")),
				attr(unixDiagVFS, cat(u32(555), u32(8<<20|3))),
				attr(unixDiagIcons, cat(u32(7), u32(0), u32(9))),
				attr(unixDiagRQLen, cat(u32(3), u32(128))),
				attr(6 /* UNIX_DIAG_SHUTDOWN */, []byte{0}),
				attr(unixDiagUID, u32(1000)),
			),
			want: UnixSocket{
				Inode: 100, Type: 1, State: 10, Name: "/run/x.sock",
				Pending: []uint64{7, 0, 9}, RQueue: 3, WQueue: 128,
				VFSDev: 8<<20 | 3, VFSInode: 555, UID: 1000, HasUID: true,
			},
		},
		{
			name: "abstract name keeps NULs and every byte",
			b:    unixMsg(5, 1, 8, attr(unixDiagName, []byte("\x00a\x00b ")), attr(unixDiagPeer, u32(9))),
			want: UnixSocket{Inode: 8, Type: 5, State: 1, Name: "@a\x00b ", Peer: 9},
		},
		{
			name: "path without NUL",
			b:    unixMsg(2, 7, 8, attr(unixDiagName, []byte("/p"))),
			want: UnixSocket{Inode: 8, Type: 2, State: 7, Name: "/p"},
		},
		{
			name: "empty icons of an idle listener",
			b:    unixMsg(1, 10, 8, attr(unixDiagIcons, nil)),
			want: UnixSocket{Inode: 8, Type: 1, State: 10},
		},
		{
			name: "NLA_F_NESTED bit is ignored in the type",
			b:    unixMsg(1, 1, 8, attr(unixDiagPeer|0x8000, u32(77))),
			want: UnixSocket{Inode: 8, Type: 1, State: 1, Peer: 77},
		},
		{
			name: "unknown attributes are skipped",
			b:    unixMsg(1, 1, 8, attr(99, []byte{1, 2, 3}), attr(unixDiagPeer, u32(77))),
			want: UnixSocket{Inode: 8, Type: 1, State: 1, Peer: 77},
		},
		{name: "short header", b: make([]byte, 15), wantErr: "unix_diag_msg: 15 bytes, want at least 16"},
		{name: "empty", b: nil, wantErr: "unix_diag_msg: 0 bytes"},
		{name: "wrong family", b: append([]byte{2}, make([]byte, 15)...), wantErr: "family 2, want AF_UNIX"},
		{
			name:    "truncated attribute",
			b:       unixMsg(1, 1, 8, attr(unixDiagPeer, u32(77)))[:sizeofUnixDiagMsg+6],
			wantErr: "attribute type 2 at offset 16: length 8, 6 bytes left",
		},
		{
			name:    "attribute length below header size",
			b:       cat(unixMsg(1, 1, 8), []byte{2, 0, 2, 0}),
			wantErr: "length 2",
		},
		{
			name:    "trailing bytes shorter than an attribute header",
			b:       cat(unixMsg(1, 1, 8, attr(unixDiagPeer, u32(77))), []byte{0, 0}),
			wantErr: "2 trailing bytes at offset 24",
		},
		{
			name:    "VFS of the wrong size",
			b:       unixMsg(1, 1, 8, attr(unixDiagVFS, u32(1))),
			wantErr: "UNIX_DIAG_VFS (type 1) at offset 16: 4 bytes, want 8",
		},
		{name: "peer of the wrong size", b: unixMsg(1, 1, 8, attr(unixDiagPeer, u64(1))), wantErr: "UNIX_DIAG_PEER"},
		{name: "icons not a multiple of 4", b: unixMsg(1, 1, 8, attr(unixDiagIcons, []byte{1, 2, 3, 4, 5})), wantErr: "UNIX_DIAG_ICONS"},
		{name: "rqlen of the wrong size", b: unixMsg(1, 1, 8, attr(unixDiagRQLen, u32(1))), wantErr: "UNIX_DIAG_RQLEN"},
		{name: "uid of the wrong size", b: unixMsg(1, 1, 8, attr(unixDiagUID, []byte{1})), wantErr: "UNIX_DIAG_UID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUnixMessage(tt.b)
			if !checkErr(t, err, tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Errorf("parseUnixMessage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVFSDevMajorMinor(t *testing.T) {
	s := UnixSocket{VFSDev: 259<<20 | 70000}
	if maj, min := s.VFSDevMajorMinor(); maj != 259 || min != 70000 {
		t.Errorf("VFSDevMajorMinor() = %d, %d; want 259, 70000", maj, min)
	}
}

func TestParseInetMessage(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name     string
		b        []byte
		protocol uint8
		want     InetSocket
		wantErr  string
	}{
		{
			name:     "tcp4 established with tcp_info",
			protocol: unix.IPPROTO_TCP,
			b: inetMsg(afInet, 1, ap("127.0.0.1:40000"), ap("10.1.2.3:443"), 77, 1000, 5, 6, 2,
				attr(8 /* INET_DIAG_SHUTDOWN */, []byte{0}),
				attr(inetDiagInfo, tcpInfo(unix.SizeofTCPInfo, 321, 1<<40, 12345))),
			want: InetSocket{
				Inode: 77, Family: afInet, Protocol: unix.IPPROTO_TCP, State: 1,
				Local: ap("127.0.0.1:40000"), Remote: ap("10.1.2.3:443"), Interface: 2,
				RQueue: 5, WQueue: 6, UID: 1000,
				HasTCPInfo: true, RTTMicros: 321, BytesAcked: 1 << 40, BytesReceived: 12345,
			},
		},
		{
			name:     "old kernel's short tcp_info: rtt only",
			protocol: unix.IPPROTO_TCP,
			b:        inetMsg(afInet, 1, ap("1.2.3.4:1"), ap("5.6.7.8:2"), 7, 0, 0, 0, 0, attr(inetDiagInfo, tcpInfo(104, 9, 0, 0))),
			want: InetSocket{Inode: 7, Family: afInet, Protocol: unix.IPPROTO_TCP, State: 1,
				Local: ap("1.2.3.4:1"), Remote: ap("5.6.7.8:2"), HasTCPInfo: true, RTTMicros: 9},
		},
		{
			name:     "tcp6 listener",
			protocol: unix.IPPROTO_TCP,
			b:        inetMsg(afInet6, 10, ap("[::1]:8080"), ap("[::]:0"), 88, 0, 0, 4096, 0),
			want: InetSocket{Inode: 88, Family: afInet6, Protocol: unix.IPPROTO_TCP, State: 10,
				Local: ap("[::1]:8080"), Remote: ap("[::]:0"), WQueue: 4096},
		},
		{
			name:     "v4-mapped addresses stay mapped",
			protocol: unix.IPPROTO_UDP,
			b:        inetMsg(afInet6, 1, ap("[::ffff:127.0.0.1]:53"), ap("[::ffff:10.0.0.1]:5353"), 9, 0, 0, 0, 0),
			want: InetSocket{Inode: 9, Family: afInet6, Protocol: unix.IPPROTO_UDP, State: 1,
				Local: ap("[::ffff:127.0.0.1]:53"), Remote: ap("[::ffff:10.0.0.1]:5353")},
		},
		{
			name:     "udp6 wildcard, IPv6 only",
			protocol: unix.IPPROTO_UDP,
			b:        inetMsg(afInet6, 7, ap("[::]:53"), ap("[::]:0"), 10, 0, 0, 0, 0, attr(inetDiagSKV6Only, []byte{1})),
			want: InetSocket{Inode: 10, Family: afInet6, Protocol: unix.IPPROTO_UDP, State: 7,
				Local: ap("[::]:53"), Remote: ap("[::]:0"), V6Only: true},
		},
		{
			name:     "udp6 wildcard, dual stack",
			protocol: unix.IPPROTO_UDP,
			b:        inetMsg(afInet6, 7, ap("[::]:53"), ap("[::]:0"), 11, 0, 0, 0, 0, attr(inetDiagSKV6Only, []byte{0})),
			want: InetSocket{Inode: 11, Family: afInet6, Protocol: unix.IPPROTO_UDP, State: 7,
				Local: ap("[::]:53"), Remote: ap("[::]:0")},
		},
		{
			name:    "v6only attribute of the wrong size",
			b:       inetMsg(afInet6, 7, ap("[::]:53"), ap("[::]:0"), 11, 0, 0, 0, 0, attr(inetDiagSKV6Only, u32(1))),
			wantErr: "INET_DIAG_SKV6ONLY",
		},
		{
			name:     "tcp_info of a udp dump is ignored",
			protocol: unix.IPPROTO_UDP,
			b:        inetMsg(afInet, 7, ap("0.0.0.0:68"), ap("0.0.0.0:0"), 3, 0, 0, 0, 0, attr(inetDiagInfo, []byte{1})),
			want:     InetSocket{Inode: 3, Family: afInet, Protocol: unix.IPPROTO_UDP, State: 7, Local: ap("0.0.0.0:68"), Remote: ap("0.0.0.0:0")},
		},
		{
			name:     "raw socket reports its own protocol",
			protocol: unix.IPPROTO_RAW,
			b:        inetMsg(afInet, 7, ap("0.0.0.0:1"), ap("0.0.0.0:0"), 5, 0, 0, 0, 0, attr(inetDiagProtocol, []byte{unix.IPPROTO_ICMP})),
			want:     InetSocket{Inode: 5, Family: afInet, Protocol: unix.IPPROTO_ICMP, State: 7, Local: ap("0.0.0.0:1"), Remote: ap("0.0.0.0:0")},
		},
		{name: "short header", b: make([]byte, 71), wantErr: "inet_diag_msg: 71 bytes, want at least 72"},
		{name: "wrong family", b: append([]byte{afUnix}, make([]byte, 71)...), wantErr: "family 1, want AF_INET or AF_INET6"},
		{
			name:     "tcp_info too short for rtt",
			protocol: unix.IPPROTO_TCP,
			b:        inetMsg(afInet, 1, ap("1.2.3.4:1"), ap("5.6.7.8:2"), 7, 0, 0, 0, 0, attr(inetDiagInfo, make([]byte, 60))),
			wantErr:  "INET_DIAG_INFO (type 2) at offset 72: 60 bytes, want at least 72",
		},
		{
			// Found by FuzzDecodeInet: tcp_info on a socket claiming protocol 48.
			name:     "tcp dump with a foreign INET_DIAG_PROTOCOL",
			protocol: unix.IPPROTO_TCP,
			b: inetMsg(afInet, 1, ap("1.2.3.4:1"), ap("5.6.7.8:2"), 7, 0, 0, 0, 0,
				attr(inetDiagProtocol, []byte{48}), attr(inetDiagInfo, tcpInfo(unix.SizeofTCPInfo, 1, 2, 3))),
			wantErr: "INET_DIAG_PROTOCOL 48 in a tcp dump",
		},
		{
			name:    "protocol attribute of the wrong size",
			b:       inetMsg(afInet, 1, ap("1.2.3.4:1"), ap("5.6.7.8:2"), 7, 0, 0, 0, 0, attr(inetDiagProtocol, u32(1))),
			wantErr: "INET_DIAG_PROTOCOL",
		},
		{
			name:    "truncated attribute",
			b:       cat(inetMsg(afInet, 1, ap("1.2.3.4:1"), ap("5.6.7.8:2"), 7, 0, 0, 0, 0), []byte{200, 0, 2, 0, 1, 2, 3, 4}),
			wantErr: "inet_diag_msg inode 7: attribute type 2 at offset 72: length 200, 8 bytes left",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInetMessage(tt.b, tt.protocol)
			if !checkErr(t, err, tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Errorf("parseInetMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTCPInfoOffsets checks the tcp_info offsets against x/sys/unix.TCPInfo,
// which is generated from the kernel headers.
func TestTCPInfoOffsets(t *testing.T) {
	var ti unix.TCPInfo
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"rtt", tcpInfoRTT, unsafe.Offsetof(ti.Rtt)},
		{"bytes_acked", tcpInfoBytesAcked, unsafe.Offsetof(ti.Bytes_acked)},
		{"bytes_received", tcpInfoBytesReceived, unsafe.Offsetof(ti.Bytes_received)},
	} {
		if c.got != c.want {
			t.Errorf("tcp_info %s offset = %d, x/sys/unix says %d", c.name, c.got, c.want)
		}
	}
}

func TestParseNetlinkMessage(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    NetlinkSocket
		wantErr string
	}{
		{
			name: "route socket with groups",
			b:    netlinkMsg(3, 0, 0, 1234, 0, 0, 99, attr(netlinkDiagGroups, groupBitmap(1, 1, 5, 32))),
			want: NetlinkSocket{Inode: 99, Type: 3, Protocol: 0, PortID: 1234, Groups: []uint32{1, 5, 32}},
		},
		{
			name: "groups beyond the first word",
			b:    netlinkMsg(3, 16, 1, 7, 8, 9, 99, attr(netlinkDiagGroups, groupBitmap(2, 2, uint32(bitsPerWord()+3)))),
			want: NetlinkSocket{Inode: 99, Type: 3, Protocol: 16, State: 1, PortID: 7, DstPortID: 8, DstGroup: 9,
				Groups: []uint32{2, uint32(bitsPerWord() + 3)}},
		},
		{
			name: "empty group bitmap",
			b:    netlinkMsg(2, 4, 7, 0, 0, 0, 5, attr(netlinkDiagGroups, groupBitmap(1))),
			want: NetlinkSocket{Inode: 5, Type: 2, Protocol: 4, State: 7},
		},
		{name: "short header", b: make([]byte, 27), wantErr: "netlink_diag_msg: 27 bytes, want at least 28"},
		{name: "wrong family", b: append([]byte{afUnix}, make([]byte, 27)...), wantErr: "want AF_NETLINK"},
		{
			name:    "groups not whole words",
			b:       netlinkMsg(3, 0, 0, 1, 0, 0, 99, attr(netlinkDiagGroups, []byte{1, 2, 3})),
			wantErr: "NETLINK_DIAG_GROUPS (type 1) at offset 28: 3 bytes",
		},
		{
			name:    "truncated attribute",
			b:       netlinkMsg(3, 0, 0, 1, 0, 0, 99, attr(netlinkDiagGroups, groupBitmap(1)))[:sizeofNetlinkDiagMsg+5],
			wantErr: "netlink_diag_msg inode 99: attribute type 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetlinkMessage(tt.b)
			if !checkErr(t, err, tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Errorf("parseNetlinkMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// bitsPerWord is the number of bits in one word (unsigned long) of the
// kernel's group bitmap.
func bitsPerWord() int { return int(unsafe.Sizeof(uintptr(0))) * 8 }

func TestParsePacketMessage(t *testing.T) {
	info := make([]byte, sizeofPacketDiagInfo)
	binary.NativeEndian.PutUint32(info, 3)
	tests := []struct {
		name    string
		b       []byte
		want    PacketSocket
		wantErr string
	}{
		{
			name: "bound to an interface",
			b:    packetMsg(2, 0x88b5, 50, attr(packetDiagInfo, info), attr(packetDiagUID, u32(0))),
			want: PacketSocket{Inode: 50, Type: 2, Protocol: 0x88b5, Interface: 3, HasUID: true},
		},
		{
			name: "no attributes",
			b:    packetMsg(3, 3, 51),
			want: PacketSocket{Inode: 51, Type: 3, Protocol: 3},
		},
		{name: "short header", b: make([]byte, 10), wantErr: "packet_diag_msg: 10 bytes, want at least 16"},
		{name: "wrong family", b: append([]byte{afInet}, make([]byte, 15)...), wantErr: "want AF_PACKET"},
		{name: "short info", b: packetMsg(2, 3, 50, attr(packetDiagInfo, info[:8])), wantErr: "PACKET_DIAG_INFO (type 0) at offset 16: 8 bytes, want at least 24"},
		{name: "uid of the wrong size", b: packetMsg(2, 3, 50, attr(packetDiagUID, []byte{1, 2})), wantErr: "PACKET_DIAG_UID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePacketMessage(tt.b)
			if !checkErr(t, err, tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts...); diff != "" {
				t.Errorf("parsePacketMessage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVsockMessage(t *testing.T) {
	got, err := parseVsockMessage(vsockMsg(1, 10, 3, 1024, 2, 5000, 66))
	if err != nil {
		t.Fatal(err)
	}
	want := VsockSocket{Inode: 66, Type: 1, State: 10, LocalCID: 3, LocalPort: 1024, RemoteCID: 2, RemotePort: 5000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseVsockMessage (-want +got):\n%s", diff)
	}
	if _, err := parseVsockMessage(make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "31 bytes, want at least 32") {
		t.Errorf("short vsock_diag_msg: err = %v", err)
	}
	if _, err := parseVsockMessage(make([]byte, 32)); err == nil || !strings.Contains(err.Error(), "want AF_VSOCK") {
		t.Errorf("family 0: err = %v", err)
	}
}

func TestDecodeAllSkipsBadMessages(t *testing.T) {
	good1 := msg(unixMsg(1, 1, 1))
	bad := msg(unixMsg(1, 1, 2, attr(unixDiagPeer, []byte{1})))
	wrongType := msg(unixMsg(1, 1, 3))
	wrongType.Header.Type = 33
	noop := netlink.Message{Header: netlink.Header{Length: 16, Type: netlink.Noop}}
	good2 := msg(unixMsg(1, 1, 4))

	got, err := decodeUnix([]netlink.Message{good1, noop, bad, wrongType, good2})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	// good1 is 32 bytes, noop 16: bad starts at byte 48.
	for _, want := range []string{"unix dump", "2 of 5 messages bad", "message 2 at byte 48", "UNIX_DIAG_PEER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if len(got) != 2 || got[0].Inode != 1 || got[1].Inode != 4 {
		t.Errorf("decoded %+v, want inodes 1 and 4", got)
	}
}

func TestDecodeEmpty(t *testing.T) {
	got, err := decodeInet(nil, unix.IPPROTO_TCP)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("decodeInet(nil) = %#v, %v; want an empty, non-nil slice", got, err)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{StateName(1), "established"},
		{StateName(2), "syn_sent"},
		{StateName(3), "syn_recv"},
		{StateName(4), "fin_wait1"},
		{StateName(5), "fin_wait2"},
		{StateName(6), "time_wait"},
		{StateName(7), "close"},
		{StateName(8), "close_wait"},
		{StateName(9), "last_ack"},
		{StateName(10), "listen"},
		{StateName(11), "closing"},
		{StateName(12), "new_syn_recv"},
		{StateName(0), "state(0)"},
		{StateName(200), "state(200)"},
		{StateListen.String(), "listen"},
		{TypeName(unix.SOCK_STREAM), "stream"},
		{TypeName(unix.SOCK_DGRAM), "dgram"},
		{TypeName(unix.SOCK_RAW), "raw"},
		{TypeName(unix.SOCK_RDM), "rdm"},
		{TypeName(unix.SOCK_SEQPACKET), "seqpacket"},
		{TypeName(unix.SOCK_PACKET), "packet"},
		{TypeName(0), "type(0)"},
		{TypeName(11), "type(11)"},
		{NetlinkProtocolName(unix.NETLINK_ROUTE), "route"},
		{NetlinkProtocolName(unix.NETLINK_USERSOCK), "usersock"},
		{NetlinkProtocolName(unix.NETLINK_FIREWALL), "firewall"},
		{NetlinkProtocolName(unix.NETLINK_SOCK_DIAG), "sock_diag"},
		{NetlinkProtocolName(unix.NETLINK_NFLOG), "nflog"},
		{NetlinkProtocolName(unix.NETLINK_XFRM), "xfrm"},
		{NetlinkProtocolName(unix.NETLINK_SELINUX), "selinux"},
		{NetlinkProtocolName(unix.NETLINK_ISCSI), "iscsi"},
		{NetlinkProtocolName(unix.NETLINK_AUDIT), "audit"},
		{NetlinkProtocolName(unix.NETLINK_FIB_LOOKUP), "fib_lookup"},
		{NetlinkProtocolName(unix.NETLINK_CONNECTOR), "connector"},
		{NetlinkProtocolName(unix.NETLINK_NETFILTER), "netfilter"},
		{NetlinkProtocolName(unix.NETLINK_IP6_FW), "ip6_fw"},
		{NetlinkProtocolName(unix.NETLINK_DNRTMSG), "dnrtmsg"},
		{NetlinkProtocolName(unix.NETLINK_KOBJECT_UEVENT), "kobject_uevent"},
		{NetlinkProtocolName(unix.NETLINK_GENERIC), "generic"},
		{NetlinkProtocolName(unix.NETLINK_SCSITRANSPORT), "scsitransport"},
		{NetlinkProtocolName(unix.NETLINK_ECRYPTFS), "ecryptfs"},
		{NetlinkProtocolName(unix.NETLINK_RDMA), "rdma"},
		{NetlinkProtocolName(unix.NETLINK_CRYPTO), "crypto"},
		{NetlinkProtocolName(unix.NETLINK_SMC), "smc"},
		{NetlinkProtocolName(17), "netlink(17)"},
		{NetlinkProtocolName(200), "netlink(200)"},
		{InetProtocolName(unix.IPPROTO_TCP), "tcp"},
		{InetProtocolName(unix.IPPROTO_UDP), "udp"},
		{InetProtocolName(unix.IPPROTO_UDPLITE), "udplite"},
		{InetProtocolName(unix.IPPROTO_ICMPV6), "icmpv6"},
		{InetProtocolName(unix.IPPROTO_RAW), "raw"},
		{InetProtocolName(99), "proto(99)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
