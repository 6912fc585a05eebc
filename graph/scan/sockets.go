package scan

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/sockdiag"
)

// sockRec is one socket as a sock_diag dump (or, failing that, the socket's
// own protocol name) describes it.
type sockRec struct {
	inode    uint64
	netns    uint64
	family   string
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
}

// socketTable holds every socket of the scanned network namespaces by inode.
type socketTable struct {
	byInode map[uint64]*sockRec
	dumped  map[uint64]bool // network namespaces dumped
	missing []string        // dumps that failed, with why
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
		name string
	}{{unix.AF_INET, "inet"}, {unix.AF_INET6, "inet6"}} {
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
		r.family, r.protocol = "inet6", strings.ToLower(strings.TrimSuffix(p, "v6"))
	case p == "TCP" || p == "UDP" || p == "UDP-Lite" || p == "RAW" || p == "PING" || p == "MPTCP" || p == "SCTP":
		r.family, r.protocol = "inet", strings.ToLower(p)
	case p == "NETLINK":
		r.family = "netlink"
	case p == "PACKET":
		r.family = "packet"
	case p == "AF_VSOCK":
		r.family = "vsock"
	case p == "":
		r.family = "unknown"
	default:
		r.family = strings.ToLower(p)
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

// foreignNetns finds the network namespaces of sockets that no dump listed:
// a socket belongs to the namespace it was created in, which can differ
// from its holder's (a process that called setns after socket(), or one
// that received the socket from a container). It borrows the fd with
// pidfd_getfd(2) and asks the socket with ioctl(SIOCGSKNS), then dumps each
// namespace found once. Both need ptrace access to the holder (root, or
// CAP_SYS_PTRACE); where refused, the socket keeps its protocol name only.
func (s *Scanner) foreignNetns(procs []*procRec, into *socketTable) int {
	dumped := 0
	seen := maps.Clone(into.dumped)
	for _, p := range procs {
		for _, f := range p.fds {
			if f.tgt.kind != "socket" || into.byInode[f.tgt.inode] != nil {
				continue
			}
			ns, nsFD, err := socketNetns(p.pid, f.num)
			if err != nil {
				continue
			}
			if !seen[ns] {
				seen[ns] = true
				if err := s.dumper.dump(nsFD, ns, into); err != nil {
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

// socketNetns returns the inode and an open fd of the network namespace that
// fd num of process pid, a socket, belongs to.
func socketNetns(pid, num int) (uint64, int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	sock, err := unix.PidfdGetfd(pidfd, num, 0)
	if err != nil {
		return 0, -1, fmt.Errorf("pidfd_getfd %d/%d: %w", pid, num, err)
	}
	defer unix.Close(sock)
	nsFD, err := unix.IoctlRetInt(sock, unix.SIOCGSKNS)
	if err != nil {
		return 0, -1, fmt.Errorf("SIOCGSKNS %d/%d: %w", pid, num, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(nsFD, &st); err != nil {
		unix.Close(nsFD)
		return 0, -1, fmt.Errorf("stat netns of %d/%d: %w", pid, num, err)
	}
	return st.Ino, nsFD, nil
}
