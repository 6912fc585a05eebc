//go:build linux

package scan_test

// Datagram sockets connect()ed to a receiver that is bound and not
// connected: the sender is a peer of the receiver.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph"
)

// roleUDPRecv [v6only|dual] [reuseport] [lo-up] ADDR...: one UDP socket bound
// to each ADDR ("recv0", "recv1", ...); a port written P is the first
// socket's port. Options set IPV6_V6ONLY on or off, SO_REUSEADDR and
// SO_REUSEPORT, and bring the loopback interface of a new network namespace up.
func roleUDPRecv(c *ctl, args []string) error {
	opts, addrs := dgramOptions(args)
	if err := loUp(opts); err != nil {
		return err
	}
	f := newFacts()
	port := ""
	for i, addr := range addrs {
		if port != "" {
			addr = strings.Replace(addr, ":P", ":"+port, 1)
		}
		fd, sa, err := inetSocket(unix.SOCK_DGRAM, addr)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
		if opts["reuseport"] {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return err
			}
		}
		if _, ok := sa.(*unix.SockaddrInet6); ok && (opts["v6only"] || opts["dual"]) {
			v := 0
			if opts["v6only"] {
				v = 1
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
				return err
			}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind %s: %w", addr, err)
		}
		local, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		name := "recv" + strconv.Itoa(i)
		if err := addFD(f, name, fd); err != nil {
			return err
		}
		f.Str[name] = sockaddrString(local)
		if i == 0 {
			ap := netip.MustParseAddrPort(f.Str[name])
			port = strconv.Itoa(int(ap.Port()))
			f.Num["port"] = int(ap.Port())
		}
	}
	return c.ready(f)
}

// roleUDPSend [lo-up] [self] ADDR...: one UDP socket connect()ed to each
// ADDR ("send0", "send1", ...), each having sent one datagram; with self,
// also one bound to 127.0.0.1 and connected to its own address ("self").
func roleUDPSend(c *ctl, args []string) error {
	opts, addrs := dgramOptions(args)
	if err := loUp(opts); err != nil {
		return err
	}
	f := newFacts()
	for i, addr := range addrs {
		fd, sa, err := inetSocket(unix.SOCK_DGRAM, addr)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sa); err != nil {
			return fmt.Errorf("connect %s: %w", addr, err)
		}
		unix.Write(fd, []byte("hello")) // refused where nothing receives: not an error here
		local, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		name := "send" + strconv.Itoa(i)
		if err := addFD(f, name, fd); err != nil {
			return err
		}
		f.Str[name] = sockaddrString(local)
	}
	if opts["self"] {
		fd, sa, err := inetSocket(unix.SOCK_DGRAM, "127.0.0.1:0")
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, sa); err != nil {
			return err
		}
		local, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, local); err != nil {
			return fmt.Errorf("connect to itself: %w", err)
		}
		if err := addFD(f, "self", fd); err != nil {
			return err
		}
	}
	return c.ready(f)
}

// dgramOptions splits a role's arguments into options and addresses.
func dgramOptions(args []string) (map[string]bool, []string) {
	opts := map[string]bool{}
	var addrs []string
	for _, a := range args {
		switch a {
		case "v6only", "dual", "reuseport", "lo-up", "self":
			opts[a] = true
		default:
			addrs = append(addrs, a)
		}
	}
	return opts, addrs
}

func loUp(opts map[string]bool) error {
	if !opts["lo-up"] {
		return nil
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	return nil
}

// withPort puts port on host ("127.0.0.1", "::1") as an address.
func withPort(host string, port int) string {
	return netip.AddrPortFrom(netip.MustParseAddr(host), uint16(port)).String()
}

// checkSenderPeers checks that each sender socket's only peers are want,
// and that each of want has the senders among its peers.
func checkSenderPeers(t *testing.T, v *view, senders []*graph.Node, want []*graph.Node) {
	t.Helper()
	var wantIDs []string
	for _, r := range want {
		wantIDs = append(wantIDs, r.ID)
	}
	slices.Sort(wantIDs)
	for _, s := range senders {
		if got := v.peers(s.ID); !slices.Equal(got, wantIDs) {
			t.Errorf("peers of the sender %s = %v, want %v\n%s", s.ID, got, wantIDs, v.around(s.ID))
		}
	}
	for _, r := range want {
		got := v.peers(r.ID)
		for _, s := range senders {
			if !slices.Contains(got, s.ID) {
				t.Errorf("peers of the receiver %s = %v, want the sender %s among them\n%s", r.ID, got, s.ID, v.around(r.ID))
			}
		}
	}
}

// A UDP socket connect()ed to where another process's socket is bound, the
// exact address or the wildcard, is a peer of that socket.
func TestUDPSenderToBoundReceiver(t *testing.T) {
	t.Parallel()
	nonLocal := "198.51.100.7" // TEST-NET-2: routed out, never local
	if c, err := net.Dial("udp", nonLocal+":9"); err != nil {
		nonLocal = ""
	} else {
		c.Close()
	}
	for _, tc := range []struct {
		name string
		recv []string // the receiver's arguments
		dst  string   // where the sender sends, on the receiver's port
		want bool
	}{
		{"v4 exact", []string{"127.0.0.1:0"}, "127.0.0.1", true},
		{"v4 wildcard", []string{"0.0.0.0:0"}, "127.0.0.1", true},
		{"v4 wildcard, another loopback address", []string{"0.0.0.0:0"}, "127.0.0.2", true},
		{"v4 exact, another address", []string{"127.0.0.1:0"}, "127.0.0.2", false},
		{"v6 exact", []string{"v6only", "[::1]:0"}, "::1", true},
		{"v6 wildcard", []string{"v6only", "[::]:0"}, "::1", true},
		{"v4 to a dual-stack v6 wildcard", []string{"dual", "[::]:0"}, "127.0.0.1", true},
		{"v4-mapped from a v6 socket to a v4 receiver", []string{"127.0.0.1:0"}, "::ffff:127.0.0.1", true},
		{"v4 to an IPv6-only wildcard", []string{"v6only", "[::]:0"}, "127.0.0.1", false},
		{"v6 to a v4 wildcard", []string{"0.0.0.0:0"}, "::1", false},
		{"non-local address, wildcard receiver", []string{"0.0.0.0:0"}, nonLocal, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.dst == "" {
				t.Skip("no route to a non-local address here")
			}
			recv := startChild(t, "udprecv", childOpts{args: tc.recv})
			rf := recv.ready()
			dst := withPort(tc.dst, rf.Num["port"])
			send := startChild(t, "udpsend", childOpts{args: []string{dst, dst}})
			sf := send.ready()
			v := newView(t, scanPIDs(t, recv.pid, send.pid))

			family := "inet"
			if strings.Contains(tc.recv[len(tc.recv)-1], "[") {
				family = "inet6"
			}
			r := v.object(recv.pid, rf.FD["recv0"])
			checkSocket(t, v, "receiver", r, rf.Ino["recv0"], sockWant{family: family, typ: "dgram", protocol: "udp", state: "unconnected", local: ptr(rf.Str["recv0"]), remote: ptr("")})
			var senders []*graph.Node
			for _, name := range []string{"send0", "send1"} {
				s := v.object(send.pid, sf.FD[name])
				checkSocket(t, v, name, s, sf.Ino[name], sockWant{typ: "dgram", protocol: "udp", state: "established"})
				senders = append(senders, s)
			}
			if tc.want {
				checkSenderPeers(t, v, senders, []*graph.Node{r})
				if got := v.peers(r.ID); len(got) != 2 {
					t.Errorf("the receiver %s has peers %v, want its two senders", r.ID, got)
				}
			} else {
				checkSenderPeers(t, v, senders, nil)
				if got := v.peers(r.ID); len(got) != 0 {
					t.Errorf("sending to %s: the receiver bound on %s has peers %v, want none", dst, rf.Str["recv0"], got)
				}
			}
		})
	}

	// Exact beats wildcard; sockets that tie (SO_REUSEPORT) are all peers;
	// a socket connected to itself is no one's peer.
	t.Run("most specific", func(t *testing.T) {
		t.Parallel()
		recv := startChild(t, "udprecv", childOpts{args: []string{"0.0.0.0:0", "127.0.0.1:P"}})
		rf := recv.ready()
		tie := startChild(t, "udprecv", childOpts{args: []string{"reuseport", "127.0.0.1:0", "127.0.0.1:P"}})
		tf := tie.ready()
		send := startChild(t, "udpsend", childOpts{args: []string{
			withPort("127.0.0.1", rf.Num["port"]), withPort("127.0.0.2", rf.Num["port"]), withPort("127.0.0.1", tf.Num["port"]), "self",
		}})
		sf := send.ready()
		v := newView(t, scanPIDs(t, recv.pid, tie.pid, send.pid))
		wildcard, exact := v.object(recv.pid, rf.FD["recv0"]), v.object(recv.pid, rf.FD["recv1"])
		tie0, tie1 := v.object(tie.pid, tf.FD["recv0"]), v.object(tie.pid, tf.FD["recv1"])
		toExact, toWildcard, toTie := v.object(send.pid, sf.FD["send0"]), v.object(send.pid, sf.FD["send1"]), v.object(send.pid, sf.FD["send2"])
		checkSenderPeers(t, v, []*graph.Node{toExact}, []*graph.Node{exact})
		checkSenderPeers(t, v, []*graph.Node{toWildcard}, []*graph.Node{wildcard})
		checkSenderPeers(t, v, []*graph.Node{toTie}, []*graph.Node{tie0, tie1})
		self := v.object(send.pid, sf.FD["self"])
		if got := v.peers(self.ID); len(got) != 0 {
			t.Errorf("a socket connected to its own address has peers %v", got)
		}
	})
}

// Sockets of another network namespace are never peers, though their
// addresses match: the sender in a new namespace sends to 127.0.0.1:P,
// where a socket of its namespace and one of the host's are bound.
func TestUDPSenderNetns(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unshare -n and nsenter --net")
	}
	inner := startChild(t, "udprecv", childOpts{prefix: []string{"unshare", "-n"}, args: []string{"lo-up", "127.0.0.1:0"}})
	inf := inner.ready()
	dst := inf.Str["recv0"]
	host := startChild(t, "udprecv", childOpts{args: []string{dst}})
	hf := host.ready()
	send := startChild(t, "udpsend", childOpts{
		prefix: []string{"nsenter", "--net=/proc/" + strconv.Itoa(inner.pid) + "/ns/net"},
		args:   []string{dst},
	})
	sf := send.ready()
	if netnsInode(t, strconv.Itoa(send.pid)) != netnsInode(t, strconv.Itoa(inner.pid)) || netnsInode(t, strconv.Itoa(host.pid)) == netnsInode(t, strconv.Itoa(inner.pid)) {
		t.Fatal("the sender is not in the inner namespace, or the host receiver is in it too")
	}
	v := newView(t, scanPIDs(t, inner.pid, host.pid, send.pid))
	in, out := v.object(inner.pid, inf.FD["recv0"]), v.object(host.pid, hf.FD["recv0"])
	s := v.object(send.pid, sf.FD["send0"])
	checkSenderPeers(t, v, []*graph.Node{s}, []*graph.Node{in})
	if got := v.peers(out.ID); len(got) != 0 {
		t.Errorf("the host's receiver on %s has peers %v, want none (the sender is in another namespace)", dst, got)
	}
}
