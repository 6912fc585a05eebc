package sockdiag

import (
	"errors"
	"net/netip"
	"strconv"
)

// Errors reported by this package. Test for them with errors.Is: the errors
// returned wrap them with context ("sockdiag: unix dump: ...").
var (
	// ErrNotSupported means the kernel does not dump this family or protocol
	// (its sock_diag module is not built or not loaded).
	ErrNotSupported = errors.New("not supported by the kernel")
	// ErrDumpInterrupted means the kernel flagged every attempt of a dump
	// with NLM_F_DUMP_INTR: the socket tables changed while being dumped, so
	// the result may miss or duplicate sockets. The partial result is
	// returned with it.
	ErrDumpInterrupted = errors.New("dump interrupted (NLM_F_DUMP_INTR)")
	// ErrMalformed means a reply message could not be decoded: a short
	// header, a truncated or wrongly sized attribute, an unexpected family.
	ErrMalformed = errors.New("malformed reply")
)

// UnixSocket is one AF_UNIX socket as unix_diag reports it.
type UnixSocket struct {
	Inode uint64
	Type  uint8 // SOCK_STREAM=1, SOCK_DGRAM=2, SOCK_SEQPACKET=5; see TypeName
	State uint8 // TCP state numbers: established=1, close=7 (unconnected), listen=10; see StateName
	// Name is the bound address: the path of a path-bound socket, or "@"
	// followed by the raw bytes of an abstract name (which may contain NULs
	// and is exactly as long as the kernel reports it). An accepted socket
	// carries the name of its listener. "" means unbound.
	Name string
	// Peer is the inode of the connected peer, 0 if none. A client whose
	// connection is still waiting in a listener's accept queue has Peer 0:
	// the server-side socket has no inode until accept(2).
	Peer uint64
	// Pending holds, for a listener, the inodes of the client sockets whose
	// connections wait in its accept queue (UNIX_DIAG_ICONS).
	Pending []uint64
	// RQueue and WQueue are UNIX_DIAG_RQLEN: for a listener, the accept
	// queue length and the backlog limit; otherwise the bytes (stream) or
	// bytes of the first datagram queued for reading, and the bytes sent but
	// not yet consumed by the peer.
	RQueue, WQueue uint32
	// VFSDev and VFSInode identify the socket file of a path-bound socket
	// (UNIX_DIAG_VFS). VFSDev is the kernel's internal dev_t encoding (major
	// in the top 12 bits, minor in the low 20), not stat(2)'s; see
	// VFSDevMajorMinor.
	VFSDev   uint32
	VFSInode uint64
	UID      uint32
	HasUID   bool
}

// VFSDevMajorMinor splits VFSDev into the device's major and minor numbers.
func (s UnixSocket) VFSDevMajorMinor() (major, minor uint32) {
	return s.VFSDev >> 20, s.VFSDev & (1<<20 - 1)
}

// InetSocket is one AF_INET or AF_INET6 socket as inet_diag reports it.
// Time-wait and request (syn_recv) sockets have Inode 0.
type InetSocket struct {
	Inode    uint64
	Family   uint8 // unix.AF_INET or unix.AF_INET6
	Protocol uint8 // the dumped protocol; for raw sockets the socket's own (e.g. IPPROTO_ICMP)
	State    uint8 // TCP state numbers; UDP uses established (connected) and close; see StateName
	// Local and Remote are the addresses as the kernel keeps them; an AF_INET6
	// socket talking IPv4 shows IPv4-mapped addresses (::ffff:a.b.c.d).
	Local, Remote netip.AddrPort
	Interface     uint32 // index of the bound device (SO_BINDTODEVICE), 0 if none
	RQueue        uint32 // TCP: bytes received and not read (listener: accept queue length)
	WQueue        uint32 // TCP: bytes sent and not acknowledged (listener: backlog limit)
	UID           uint32

	// V6Only is IPV6_V6ONLY of an AF_INET6 socket (INET_DIAG_SKV6ONLY): it
	// talks IPv6 only. An AF_INET6 socket without it, bound to the wildcard
	// address ::, also receives IPv4 (dual stack).
	V6Only bool

	// TCP only, from struct tcp_info (INET_DIAG_INFO) when the kernel sends
	// it (not for time-wait and request sockets). BytesAcked and
	// BytesReceived stay 0 on kernels before 4.2, whose tcp_info is shorter.
	HasTCPInfo    bool
	RTTMicros     uint32 // smoothed round-trip time, µs
	BytesAcked    uint64 // sequence space acknowledged by the peer: bytes sent plus 1 for the SYN
	BytesReceived uint64 // bytes received
}

// NetlinkSocket is one AF_NETLINK socket as netlink_diag reports it. The
// kernel dumps only bound (or multicast-subscribed) netlink sockets.
type NetlinkSocket struct {
	Inode     uint64
	Type      uint8 // SOCK_RAW or SOCK_DGRAM
	Protocol  uint8 // NETLINK_ROUTE=0, ...; see NetlinkProtocolName
	State     uint8 // 0 unconnected, 1 connected
	PortID    uint32
	DstPortID uint32
	DstGroup  uint32
	// Groups are the multicast groups the socket listens to, by group number
	// (bit n-1 of the kernel's bitmap is group n), ascending.
	Groups []uint32
}

// PacketSocket is one AF_PACKET socket as packet_diag reports it.
type PacketSocket struct {
	Inode     uint64
	Type      uint8  // SOCK_RAW or SOCK_DGRAM
	Protocol  uint16 // ethertype in host byte order (ETH_P_ALL=3, ETH_P_IP=0x800, ...), 0 if none
	Interface uint32 // index of the bound interface, 0 for all
	UID       uint32
	HasUID    bool
}

// VsockSocket is one AF_VSOCK socket as vsock_diag reports it.
type VsockSocket struct {
	Inode                 uint64
	Type                  uint8
	State                 uint8
	LocalCID, LocalPort   uint32
	RemoteCID, RemotePort uint32
}

// State is a socket state in the kernel's TCP numbering
// (include/net/tcp_states.h), which unix, raw, udp and vsock sockets reuse.
type State uint8

// Socket states.
const (
	StateEstablished   State = 1
	StateSynSent       State = 2
	StateSynRecv       State = 3
	StateFinWait1      State = 4
	StateFinWait2      State = 5
	StateTimeWait      State = 6
	StateClose         State = 7
	StateCloseWait     State = 8
	StateLastAck       State = 9
	StateListen        State = 10
	StateClosing       State = 11
	StateNewSynRecv    State = 12
	StateBoundInactive State = 13
)

var stateNames = [...]string{
	StateEstablished:   "established",
	StateSynSent:       "syn_sent",
	StateSynRecv:       "syn_recv",
	StateFinWait1:      "fin_wait1",
	StateFinWait2:      "fin_wait2",
	StateTimeWait:      "time_wait",
	StateClose:         "close",
	StateCloseWait:     "close_wait",
	StateLastAck:       "last_ack",
	StateListen:        "listen",
	StateClosing:       "closing",
	StateNewSynRecv:    "new_syn_recv",
	StateBoundInactive: "bound_inactive",
}

// String returns the lower-case state name, or "state(N)" for a number the
// package does not know.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// StateName returns the lower-case name of a socket state ("established",
// "listen", "close", ...).
func StateName(state uint8) string { return State(state).String() }

// SockType is a socket type (SOCK_STREAM, ...).
type SockType uint8

var typeNames = [...]string{
	1:  "stream",
	2:  "dgram",
	3:  "raw",
	4:  "rdm",
	5:  "seqpacket",
	6:  "dccp",
	10: "packet",
}

// String returns the lower-case type name, or "type(N)".
func (t SockType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// TypeName returns the lower-case name of a socket type ("stream", "dgram",
// "raw", "rdm", "seqpacket", "packet").
func TypeName(sockType uint8) string { return SockType(sockType).String() }

// NetlinkProtocol is a netlink protocol (NETLINK_ROUTE, ...).
type NetlinkProtocol uint8

var netlinkProtocolNames = [...]string{
	0:  "route",
	1:  "unused",
	2:  "usersock",
	3:  "firewall",
	4:  "sock_diag",
	5:  "nflog",
	6:  "xfrm",
	7:  "selinux",
	8:  "iscsi",
	9:  "audit",
	10: "fib_lookup",
	11: "connector",
	12: "netfilter",
	13: "ip6_fw",
	14: "dnrtmsg",
	15: "kobject_uevent",
	16: "generic",
	18: "scsitransport",
	19: "ecryptfs",
	20: "rdma",
	21: "crypto",
	22: "smc",
}

// String returns the lower-case protocol name, or "netlink(N)".
func (p NetlinkProtocol) String() string {
	if int(p) < len(netlinkProtocolNames) && netlinkProtocolNames[p] != "" {
		return netlinkProtocolNames[p]
	}
	return "netlink(" + strconv.Itoa(int(p)) + ")"
}

// NetlinkProtocolName returns the lower-case name of a netlink protocol
// ("route", "sock_diag", "audit", "kobject_uevent", "generic", ...).
func NetlinkProtocolName(p uint8) string { return NetlinkProtocol(p).String() }

// InetProtocol is an IP protocol number (IPPROTO_TCP, ...).
type InetProtocol uint8

// String returns the lower-case protocol name ("tcp", "udp", "udplite",
// "icmp", "icmpv6", "sctp", "raw", ...), or "proto(N)".
func (p InetProtocol) String() string {
	switch p {
	case 0:
		return "ip"
	case 1:
		return "icmp"
	case 2:
		return "igmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 41:
		return "ipv6"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	case 255:
		return "raw"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// InetProtocolName returns the lower-case name of an IP protocol number.
func InetProtocolName(p uint8) string { return InetProtocol(p).String() }
