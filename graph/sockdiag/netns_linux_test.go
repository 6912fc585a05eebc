package sockdiag

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// netnsThread is an OS thread in a new network namespace, running the
// functions given to do. The thread is never returned to the Go runtime: it
// exits with its goroutine at cleanup.
type netnsThread struct {
	fns chan func()
	fd  int // the namespace, /proc/thread-self/ns/net of the thread
}

// newNetNS creates a network namespace with lo up, or skips the test when
// not root.
func newNetNS(t testing.TB) *netnsThread {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating a network namespace needs root (CAP_SYS_ADMIN)")
	}
	n := &netnsThread{fns: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		n.fd = fd
		errc <- linkUp(1) // lo is ifindex 1 and down in a new namespace
		for fn := range n.fns {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		t.Fatalf("new netns: %v", err)
	}
	t.Cleanup(func() {
		close(n.fns)
		unix.Close(n.fd)
	})
	return n
}

// do runs fn on the namespace's thread and waits for it.
func (n *netnsThread) do(fn func()) {
	done := make(chan struct{})
	n.fns <- func() { defer close(done); fn() }
	<-done
}

// linkUp sets IFF_UP on an interface of the calling thread's namespace with
// RTM_NEWLINK.
func linkUp(ifindex int32) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil) // NetNS 0: the calling thread's namespace
	if err != nil {
		return err
	}
	defer c.Close()
	ifi := make([]byte, unix.SizeofIfInfomsg) // struct ifinfomsg
	ifi[0] = unix.AF_UNSPEC
	ne.PutUint32(ifi[4:], uint32(ifindex))
	ne.PutUint32(ifi[8:], unix.IFF_UP)  // ifi_flags
	ne.PutUint32(ifi[12:], unix.IFF_UP) // ifi_change
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge},
		Data:   ifi,
	})
	if err != nil {
		return fmt.Errorf("RTM_NEWLINK ifindex %d up: %w", ifindex, err)
	}
	return nil
}

func TestNetNS(t *testing.T) {
	ns := newNetNS(t)
	// The same abstract name in both namespaces: abstract names are per
	// namespace, so both binds succeed and each dump must see its own.
	name := fmt.Sprintf("@fdscope-sockdiag-netns-%d", os.Getpid())

	var (
		nsUnix               int
		nsLn                 net.Listener
		nsClient             net.Conn
		nsErr                error
		nsLnIno, nsClientIno uint64
	)
	ns.do(func() {
		// Sockets belong to the namespace of the thread that creates them.
		nsUnix, nsErr = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if nsErr != nil {
			return
		}
		if nsErr = unix.Bind(nsUnix, &unix.SockaddrUnix{Name: name}); nsErr != nil {
			return
		}
		if nsErr = unix.Listen(nsUnix, 4); nsErr != nil {
			return
		}
		if nsLn, nsErr = net.Listen("tcp4", "127.0.0.1:0"); nsErr != nil {
			return
		}
		nsClient, nsErr = net.Dial("tcp4", nsLn.Addr().String())
	})
	if nsErr != nil {
		t.Fatalf("sockets in the new netns: %v", nsErr)
	}
	defer unix.Close(nsUnix)
	defer nsLn.Close()
	defer nsClient.Close()
	nsUnixIno := fdInode(t, nsUnix)
	nsLnIno, nsClientIno = connInode(t, nsLn.(*net.TCPListener)), connInode(t, nsClient.(*net.TCPConn))

	hostUnix := listenUnix(t, name)
	hostUnixIno := fdInode(t, hostUnix)
	hostLn, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	hostLnIno := connInode(t, hostLn.(*net.TCPListener))

	// Dial from this goroutine, which is not on the namespace's thread.
	nsConn := dialT(t, ns.fd)
	hostConn := dialT(t, -1)

	for _, tc := range []struct {
		label      string
		c          *Conn
		unixIno    uint64
		otherUnix  uint64
		tcpIno     []uint64
		otherTCP   []uint64
		wantTCPLen int // exact number of tcp sockets, -1 for any
	}{
		{"netns", nsConn, nsUnixIno, hostUnixIno, []uint64{nsLnIno, nsClientIno}, []uint64{hostLnIno}, 3},
		{"host", hostConn, hostUnixIno, nsUnixIno, []uint64{hostLnIno}, []uint64{nsLnIno, nsClientIno}, -1},
	} {
		us := mustUnix(t, tc.c)
		var named []uint64
		for _, s := range us {
			if s.Name == name {
				named = append(named, s.Inode)
			}
		}
		if len(named) != 1 || named[0] != tc.unixIno {
			t.Errorf("%s: sockets named %q: %v, want only [%d]", tc.label, name, named, tc.unixIno)
		}
		if findUnix(us, tc.otherUnix) != nil {
			t.Errorf("%s: sees unix socket %d of the other namespace", tc.label, tc.otherUnix)
		}
		ts := mustInet(t, tc.c, unix.AF_INET, unix.IPPROTO_TCP)
		for _, ino := range tc.tcpIno {
			if findInet(ts, ino) == nil {
				t.Errorf("%s: tcp socket %d missing", tc.label, ino)
			}
		}
		for _, ino := range tc.otherTCP {
			if findInet(ts, ino) != nil {
				t.Errorf("%s: sees tcp socket %d of the other namespace", tc.label, ino)
			}
		}
		// The namespace holds the listener, the client and the server end
		// waiting in the accept queue (inode 0 until accept(2)), nothing else.
		if tc.wantTCPLen >= 0 && len(ts) != tc.wantTCPLen {
			t.Errorf("%s: %d tcp sockets, want %d: %+v", tc.label, len(ts), tc.wantTCPLen, ts)
		}
	}

	// A netns fd numbered 0 must not be mistaken for "no namespace"
	// (netlink.Config.NetNS == 0).
	saved, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(ns.fd, 0); err != nil {
		t.Fatal(err)
	}
	c0, err := Dial(0)
	if err2 := unix.Dup3(saved, 0, 0); err2 != nil {
		t.Fatalf("restoring fd 0: %v", err2)
	}
	unix.Close(saved)
	if err != nil {
		t.Fatalf("Dial(0): %v", err)
	}
	defer c0.Close()
	if findUnix(mustUnix(t, c0), nsUnixIno) == nil {
		t.Error("Dial(0) with the netns on fd 0 does not see the namespace's socket")
	}
}
