//go:build linux

package scan

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/sockdiag"
)

// sockRec is one socket as a sock_diag dump (or, failing that, the socket's
// own protocol name) describes it.
type sockRec struct {
	inode    uint64
	netns    uint64
	family   graph.Family
	typ      string
	protocol string
	state    string
	local    string
	remote   string
	rxQueue  uint32
	txQueue  uint32

	unixPeer    uint64         // unix: the peer's inode
	unixPending []uint64       // unix listener: connections not yet accepted
	unixName    string         // unix: bound name (path or @abstract)
	localAP     netip.AddrPort // inet
	remoteAP    netip.AddrPort
	dualStack   bool // inet6: not IPV6_V6ONLY (known from sock_diag only), so a wildcard bind also receives IPv4
}

// socketTable holds every socket of the scanned network namespaces by inode.
type socketTable struct {
	byInode map[uint64]*sockRec
	dumped  map[uint64]bool // network namespaces dumped
	tried   map[uint64]bool // network namespaces dumpSockets tried
	probed  map[uint64]*socketProbe
	missing []string // dumps that failed, with why
}

// newSocketTable returns an empty socketTable.
func newSocketTable() *socketTable {
	return &socketTable{
		byInode: map[uint64]*sockRec{}, dumped: map[uint64]bool{},
		tried: map[uint64]bool{}, probed: map[uint64]*socketProbe{},
	}
}

// netnsDumper dumps every socket of one network namespace. The namespace is
// given as an open fd of a /proc/PID/ns/net file, or -1 for the caller's own.
type netnsDumper interface {
	dump(netnsFD int, netns uint64, into *socketTable) error
}

// sockDiagDumper dumps through NETLINK_SOCK_DIAG.
type sockDiagDumper struct{}

func (sockDiagDumper) dump(netnsFD int, netns uint64, into *socketTable) error {
	c, err := sockdiag.Dial(netnsFD)
	if err != nil {
		return fmt.Errorf("sock_diag in netns %d: %w", netns, err)
	}
	defer c.Close()
	into.dumped[netns] = true

	us, err := c.Unix()
	if err != nil {
		into.missing = append(into.missing, fmt.Sprintf("unix sockets of netns %d: %v", netns, err))
	}
	for i := range us {
		u := &us[i]
		r := &sockRec{
			inode: u.Inode, netns: netns, family: "unix", typ: sockdiag.TypeName(u.Type),
			state: sockdiag.StateName(u.State), local: u.Name, unixName: u.Name,
			rxQueue: u.RQueue, txQueue: u.WQueue, unixPeer: u.Peer, unixPending: u.Pending,
		}
		into.byInode[r.inode] = r
	}
	for _, fam := range []struct {
		af   uint8
		name graph.Family
	}{{unix.AF_INET, graph.FamilyInet}, {unix.AF_INET6, graph.FamilyInet6}} {
		for _, proto := range []struct {
			p    uint8
			name string
			typ  string
		}{{unix.IPPROTO_TCP, "tcp", "stream"}, {unix.IPPROTO_UDP, "udp", "dgram"}, {unix.IPPROTO_UDPLITE, "udplite", "dgram"}, {unix.IPPROTO_RAW, "raw", "raw"}} {
			ss, err := c.Inet(fam.af, proto.p)
			if err != nil {
				if !errors.Is(err, sockdiag.ErrNotSupported) {
					into.missing = append(into.missing, fmt.Sprintf("%s %s sockets of netns %d: %v", fam.name, proto.name, netns, err))
				}
				continue
			}
			for i := range ss {
				s := &ss[i]
				r := &sockRec{
					inode: s.Inode, netns: netns, family: fam.name, typ: proto.typ, protocol: proto.name,
					localAP: s.Local, remoteAP: s.Remote, rxQueue: s.RQueue, txQueue: s.WQueue,
					local: addrString(s.Local), remote: addrString(s.Remote),
					dualStack: fam.af == unix.AF_INET6 && !s.V6Only,
				}
				if proto.p == unix.IPPROTO_TCP {
					r.state = sockdiag.StateName(s.State)
				} else if s.Remote.Port() != 0 {
					r.state = "established" // a connected datagram socket
				} else {
					r.state = "unconnected"
				}
				if proto.p == unix.IPPROTO_RAW {
					r.protocol = "raw"
				}
				into.byInode[r.inode] = r
			}
		}
	}
	if ns, err := c.Netlink(); err == nil {
		for _, n := range ns {
			into.byInode[n.Inode] = &sockRec{
				inode: n.Inode, netns: netns, family: "netlink", typ: "raw",
				protocol: sockdiag.NetlinkProtocolName(n.Protocol),
				local:    fmt.Sprintf("portid %d", n.PortID), remote: portID(n.DstPortID),
			}
		}
	} else if !errors.Is(err, sockdiag.ErrNotSupported) {
		into.missing = append(into.missing, fmt.Sprintf("netlink sockets of netns %d: %v", netns, err))
	}
	if ps, err := c.Packet(); err == nil {
		for _, p := range ps {
			into.byInode[p.Inode] = &sockRec{
				inode: p.Inode, netns: netns, family: "packet", typ: sockdiag.TypeName(p.Type),
				protocol: fmt.Sprintf("0x%04x", p.Protocol),
			}
		}
	} else if !errors.Is(err, sockdiag.ErrNotSupported) {
		into.missing = append(into.missing, fmt.Sprintf("packet sockets of netns %d: %v", netns, err))
	}
	if vs, err := c.Vsock(); err == nil {
		for _, v := range vs {
			into.byInode[v.Inode] = &sockRec{
				inode: v.Inode, netns: netns, family: "vsock", typ: sockdiag.TypeName(v.Type),
				state:  sockdiag.StateName(v.State),
				local:  fmt.Sprintf("%d:%d", v.LocalCID, v.LocalPort),
				remote: fmt.Sprintf("%d:%d", v.RemoteCID, v.RemotePort),
			}
		}
	} else if !errors.Is(err, sockdiag.ErrNotSupported) {
		into.missing = append(into.missing, fmt.Sprintf("vsock sockets of netns %d: %v", netns, err))
	}
	return nil
}

func portID(id uint32) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("portid %d", id)
}

// addrString formats an inet endpoint as the contract wants it:
// "127.0.0.1:22222", "[::1]:80"; "" for an unset remote end.
func addrString(ap netip.AddrPort) string {
	if !ap.IsValid() || (ap.Addr().IsUnspecified() && ap.Port() == 0) {
		return ""
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return netip.AddrPortFrom(a, ap.Port()).String()
	}
	return ap.String()
}

// protoNameSocket describes a socket that no dump listed, from the name of
// its protocol as getxattr(system.sockprotoname) reports it ("UNIX-STREAM",
// "TCPv6", "PING", "NETLINK", ...).
func protoNameSocket(inode uint64, protoName string) *sockRec {
	r := &sockRec{inode: inode}
	p := strings.TrimRight(protoName, "\x00")
	switch {
	case strings.HasPrefix(p, "UNIX"):
		r.family = "unix"
		if _, t, ok := strings.Cut(p, "-"); ok {
			r.typ = strings.ToLower(t)
		}
	case strings.HasSuffix(p, "v6"):
		r.family, r.protocol = graph.FamilyInet6, strings.ToLower(strings.TrimSuffix(p, "v6"))
	case p == "TCP" || p == "UDP" || p == "UDP-Lite" || p == "RAW" || p == "PING" || p == "MPTCP" || p == "SCTP":
		r.family, r.protocol = graph.FamilyInet, strings.ToLower(p)
	case p == "NETLINK":
		r.family = "netlink"
	case p == "PACKET":
		r.family = "packet"
	case p == "AF_VSOCK":
		r.family = "vsock"
	case p == "":
		r.family = "unknown"
	default:
		r.family = graph.Family(strings.ToLower(p))
	}
	switch r.protocol {
	case "tcp", "mptcp", "sctp":
		r.typ = "stream"
	case "udp", "udp-lite", "ping":
		r.typ = "dgram"
	case "raw":
		r.typ = "raw"
	}
	return r
}

// probeMissing looks closer at sockets that no dump listed. A socket
// belongs to the network namespace it was created in, which can differ from
// its holder's (a process that called setns after socket(), or one that
// received the socket from a container); and some sockets are in no dump at
// all (ping sockets, unbound netlink sockets). probeMissing borrows each
// such fd with pidfd_getfd(2), asks the socket for its namespace
// (ioctl SIOCGSKNS) and its domain, type and protocol (getsockopt), and
// dumps each namespace found once. Both need ptrace access to the holder
// (root, or CAP_SYS_PTRACE); where refused, the socket is described by its
// protocol name only. It returns how many namespaces it dumped.
func (s *Scanner) probeMissing(procs []*procRec, into *socketTable) int {
	dumped := 0
	seen := maps.Clone(into.dumped)
	for _, p := range procs {
		for _, f := range p.fds {
			if f.kind != "socket" || into.byInode[f.inode] != nil || into.probed[f.inode] != nil {
				continue
			}
			pr, nsFD, err := probeSocket(p.pid, f.num)
			if err != nil {
				continue
			}
			into.probed[f.inode] = pr
			if !seen[pr.netns] {
				seen[pr.netns] = true
				if err := s.dumper.dump(nsFD, pr.netns, into); err != nil {
					into.missing = append(into.missing, err.Error())
				} else {
					dumped++
				}
			}
			unix.Close(nsFD)
		}
	}
	return dumped
}

// socketProbe is what a socket says of itself through getsockopt.
type socketProbe struct {
	netns                 uint64
	domain, typ, protocol int
}

// probeSocket borrows fd num of process pid, a socket, and returns what it
// says of itself and an open fd of its network namespace.
func probeSocket(pid, num int) (*socketProbe, int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	sock, err := unix.PidfdGetfd(pidfd, num, 0)
	if err != nil {
		return nil, -1, fmt.Errorf("pidfd_getfd %d/%d: %w", pid, num, err)
	}
	defer unix.Close(sock)
	pr := &socketProbe{}
	pr.domain, _ = unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	pr.typ, _ = unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	pr.protocol, _ = unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	nsFD, err := unix.IoctlRetInt(sock, unix.SIOCGSKNS)
	if err != nil {
		return nil, -1, fmt.Errorf("SIOCGSKNS %d/%d: %w", pid, num, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(nsFD, &st); err != nil {
		unix.Close(nsFD)
		return nil, -1, fmt.Errorf("stat netns of %d/%d: %w", pid, num, err)
	}
	pr.netns = st.Ino
	return pr, nsFD, nil
}

// probedSocket describes a socket from what it said of itself.
func probedSocket(inode uint64, pr *socketProbe) *sockRec {
	r := &sockRec{inode: inode, netns: pr.netns, typ: sockdiag.TypeName(uint8(pr.typ))}
	switch pr.domain {
	case unix.AF_UNIX:
		r.family = "unix"
	case unix.AF_INET, unix.AF_INET6:
		r.family = graph.FamilyInet
		if pr.domain == unix.AF_INET6 {
			r.family = graph.FamilyInet6
		}
		switch {
		case pr.typ == unix.SOCK_RAW:
			r.protocol = "raw"
		case pr.protocol == unix.IPPROTO_ICMP || pr.protocol == unix.IPPROTO_ICMPV6:
			r.protocol = "ping"
		case pr.protocol == unix.IPPROTO_TCP:
			r.protocol = "tcp"
		case pr.protocol == unix.IPPROTO_UDP:
			r.protocol = "udp"
		case pr.protocol == unix.IPPROTO_SCTP:
			r.protocol = "sctp"
		case pr.protocol == unix.IPPROTO_MPTCP:
			r.protocol = "mptcp"
		default:
			r.protocol = strconv.Itoa(pr.protocol)
		}
	case unix.AF_NETLINK:
		r.family, r.protocol = "netlink", sockdiag.NetlinkProtocolName(uint8(pr.protocol))
	case unix.AF_PACKET:
		r.family, r.protocol = "packet", fmt.Sprintf("0x%04x", ntohs(uint16(pr.protocol)))
	case unix.AF_VSOCK:
		r.family = "vsock"
	default:
		r.family = graph.Family("af" + strconv.Itoa(pr.domain))
	}
	return r
}

func ntohs(v uint16) uint16 { return v<<8 | v>>8 }
