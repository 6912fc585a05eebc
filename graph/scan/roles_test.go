//go:build linux

package scan_test

// The roles a re-executed test binary plays. A role builds its kernel
// objects with raw system calls (so that fd numbers are its own), prints
// "ready {facts}" on stdout, and goes on to its next step on each "next"
// line of stdin. It exits when stdin closes.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/scan"
)

var roles = map[string]func(c *ctl, args []string) error{
	"streamserver": roleStreamServer,
	"streamclient": roleStreamClient,
	"abstract":     roleAbstract,
	"dgramserver":  roleDgramServer,
	"dgramclient":  roleDgramClient,
	"sharer":       roleSharer,
	"inheritor":    roleInheritor,
	"pipeend":      rolePipeEnd,
	"scmsender":    roleSCMSender,
	"scmreceiver":  roleSCMReceiver,
	"epoll":        roleEpoll,
	"epollreuse":   roleEpollReuse,
	"dupper":       roleDupper,
	"pty":          rolePty,
	"udp":          roleUDP,
	"udprecv":      roleUDPRecv,
	"udpsend":      roleUDPSend,
	"inotify":      roleInotify,
	"nsholder":     roleNSHolder,
	"owntable":     roleOwnTable,
}

// errEOF ends a role quietly: its stdin closed.
var errEOF = errors.New("stdin closed")

// keep holds values a role must not let the garbage collector finalize
// (an *os.File closes its fd when collected).
var keep []any

func runChild(role string, args []string) int {
	switch role {
	case "scanner":
		return roleScanner(args)
	case "churn":
		return roleChurn()
	}
	fn := roles[role]
	if fn == nil {
		fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
		return 2
	}
	c := &ctl{in: bufio.NewReader(os.Stdin)}
	if err := fn(c, args); err != nil {
		if errors.Is(err, errEOF) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
		return 1
	}
	io.Copy(io.Discard, os.Stdin) // hold everything open until stdin closes
	return 0
}

// ctl is a role's side of the ready/next protocol.
type ctl struct{ in *bufio.Reader }

func (c *ctl) ready(f facts) error {
	f.PID = os.Getpid()
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("ready %s\n", b)
	return err
}

// wait blocks until the test says "next"; errEOF when stdin closed.
func (c *ctl) wait() error {
	if _, err := c.in.ReadString('\n'); err != nil {
		return errEOF
	}
	return nil
}

func fstatIno(fd int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("fstat %d: %w", fd, err)
	}
	return st.Ino, nil
}

// addFD records fd under name, with its inode.
func addFD(f facts, name string, fd int) error {
	ino, err := fstatIno(fd)
	if err != nil {
		return err
	}
	f.FD[name] = fd
	f.Ino[name] = ino
	return nil
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		return a.Name
	}
	return fmt.Sprintf("%T", sa)
}

// streamSocket makes a stream socket for network "unix" or "tcp" and the
// address to bind or connect it to (addr is a path or "127.0.0.1:PORT").
func streamSocket(network, addr string) (int, unix.Sockaddr, error) {
	switch network {
	case "unix":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return fd, &unix.SockaddrUnix{Name: addr}, err
	case "tcp":
		return inetSocket(unix.SOCK_STREAM, addr)
	}
	return -1, nil, fmt.Errorf("unknown network %q", network)
}

// inetSocket makes an inet or inet6 socket of the given type, and the
// sockaddr of addr ("127.0.0.1:PORT", "[::1]:PORT").
func inetSocket(typ int, addr string) (int, unix.Sockaddr, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1, nil, err
	}
	if ap.Addr().Is4() {
		fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		return fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, err
	}
	fd, err := unix.Socket(unix.AF_INET6, typ|unix.SOCK_CLOEXEC, 0)
	return fd, &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}, err
}

// roleStreamServer NETWORK ADDR [lo-up]: listen (step 1), accept one
// connection and echo 5 bytes (step 2). With lo-up it first brings the
// loopback interface of its (new) network namespace up.
func roleStreamServer(c *ctl, args []string) error {
	if len(args) > 2 && args[2] == "lo-up" {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set lo up: %v: %s", err, out)
		}
	}
	ln, sa, err := streamSocket(args[0], args[1])
	if err != nil {
		return err
	}
	if err := unix.Bind(ln, sa); err != nil {
		return fmt.Errorf("bind %s: %w", args[1], err)
	}
	if err := unix.Listen(ln, 8); err != nil {
		return err
	}
	local, err := unix.Getsockname(ln)
	if err != nil {
		return err
	}
	f := newFacts()
	if err := addFD(f, "listener", ln); err != nil {
		return err
	}
	f.Str["listener"] = sockaddrString(local)
	if err := c.ready(f); err != nil {
		return err
	}
	if err := c.wait(); err != nil {
		return err
	}
	conn, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(fdReader(conn), buf); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if _, err := unix.Write(conn, buf); err != nil {
		return err
	}
	f = newFacts()
	if err := addFD(f, "conn", conn); err != nil {
		return err
	}
	return c.ready(f)
}

type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	n, err := unix.Read(int(r), p)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

// roleStreamClient NETWORK ADDR: connect, send "hello" and read the echo.
func roleStreamClient(c *ctl, args []string) error {
	fd, sa, err := streamSocket(args[0], args[1])
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, sa); err != nil {
		return fmt.Errorf("connect %s: %w", args[1], err)
	}
	if _, err := unix.Write(fd, []byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(fdReader(fd), buf); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	f := newFacts()
	if err := addFD(f, "conn", fd); err != nil {
		return err
	}
	f.Str["conn"] = sockaddrString(local)
	return c.ready(f)
}

// roleAbstract NAME: a unix stream listener on the abstract name @NAME and a
// socketpair.
func roleAbstract(c *ctl, args []string) error {
	ln, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(ln, &unix.SockaddrUnix{Name: "@" + args[0]}); err != nil {
		return fmt.Errorf("bind @%s: %w", args[0], err)
	}
	if err := unix.Listen(ln, 8); err != nil {
		return err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := newFacts()
	for name, fd := range map[string]int{"listener": ln, "pair0": pair[0], "pair1": pair[1]} {
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	return c.ready(f)
}

// roleDgramServer PATH: a unix datagram socket bound to PATH.
func roleDgramServer(c *ctl, args []string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: args[0]}); err != nil {
		return fmt.Errorf("bind %s: %w", args[0], err)
	}
	f := newFacts()
	if err := addFD(f, "server", fd); err != nil {
		return err
	}
	return c.ready(f)
}

// roleDgramClient PATH: two unbound unix datagram sockets connect()ed to PATH,
// and a third bound to PATH.client2 first (as a client that wants replies),
// each having sent one datagram.
func roleDgramClient(c *ctl, args []string) error {
	f := newFacts()
	for _, name := range []string{"client0", "client1", "client2"} {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if name == "client2" {
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: args[0] + "." + name}); err != nil {
				return fmt.Errorf("bind %s.%s: %w", args[0], name, err)
			}
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: args[0]}); err != nil {
			return fmt.Errorf("connect %s: %w", args[0], err)
		}
		if _, err := unix.Write(fd, []byte(name)); err != nil {
			return err
		}
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	return c.ready(f)
}

// roleSharer PATH: the three tables. It opens PATH four times — write-only
// with O_APPEND ("w"), read-only ("r"), read-write ("rw") and read-only
// again ("r2", alike to "r" in mode, flags and position) — starts an
// inheritor child that gets "r" as its fd 3, then dup2s "w" to fd 30 and
// writes 9 bytes through it.
func roleSharer(c *ctl, args []string) error {
	path := args[0]
	w, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	r, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	rw, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	r2, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) // like r in all but identity
	if err != nil {
		return err
	}

	// The child is started before the dup2: dup2 clears close-on-exec, and
	// fd 30 must stay A's alone.
	rf := os.NewFile(uintptr(r), path)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=inheritor")
	cmd.ExtraFiles = []*os.File{rf}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // closes, and so ends the child, when this process exits
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	keep = append(keep, rf, stdin, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		return fmt.Errorf("inheritor: %q, %v", line, err)
	}
	b := newFacts()
	if err := json.Unmarshal([]byte(rest), &b); err != nil {
		return err
	}

	if err := unix.Dup2(w, 30); err != nil {
		return err
	}
	if _, err := unix.Write(30, []byte("123456789")); err != nil {
		return err
	}
	f := newFacts()
	for name, fd := range map[string]int{"w": w, "w30": 30, "r": r, "rw": rw, "r2": r2} {
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	f.Num["b.pid"] = b.PID
	f.FD["b.inherited"] = b.FD["inherited"]
	f.Ino["b.inherited"] = b.Ino["inherited"]
	return c.ready(f)
}

// roleInheritor reports its fd 3.
func roleInheritor(c *ctl, args []string) error {
	f := newFacts()
	if err := addFD(f, "inherited", 3); err != nil {
		return err
	}
	return c.ready(f)
}

// rolePipeEnd w|r: reports the pipe end it got as fd 3; the writer writes 5 bytes.
func rolePipeEnd(c *ctl, args []string) error {
	if args[0] == "w" {
		if _, err := unix.Write(3, []byte("hello")); err != nil {
			return err
		}
	}
	f := newFacts()
	if err := addFD(f, "end", 3); err != nil {
		return err
	}
	return c.ready(f)
}

// roleSCMSender PATH1 PATH2, with a unix socket as fd 3: opens PATH1 (step
// 1), sends that fd (step 2), opens PATH2 and sends that fd too (step 3).
func roleSCMSender(c *ctl, args []string) error {
	f := newFacts()
	if err := addFD(f, "sock", 3); err != nil {
		return err
	}
	var files []int
	for i, path := range args[:2] {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		files = append(files, fd)
		if err := addFD(f, "file"+strconv.Itoa(i+1), fd); err != nil {
			return err
		}
	}
	if err := c.ready(f); err != nil {
		return err
	}
	for _, fd := range files {
		if err := c.wait(); err != nil {
			return err
		}
		if err := unix.Sendmsg(3, []byte{'x'}, unix.UnixRights(fd), nil, 0); err != nil {
			return fmt.Errorf("sendmsg: %w", err)
		}
		if err := c.ready(newFacts()); err != nil {
			return err
		}
	}
	return nil
}

// roleSCMReceiver, with a unix socket as fd 3: receives one fd (step 1).
func roleSCMReceiver(c *ctl, args []string) error {
	f := newFacts()
	if err := addFD(f, "sock", 3); err != nil {
		return err
	}
	if err := c.ready(f); err != nil {
		return err
	}
	if err := c.wait(); err != nil {
		return err
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(3, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("recvmsg: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("control messages %v: %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("rights %v: %v", fds, err)
	}
	f = newFacts()
	if err := addFD(f, "received", fds[0]); err != nil {
		return err
	}
	return c.ready(f)
}

// roleEpoll: an epoll instance watching one end of a socketpair and an
// eventfd (count 5), and a second eventfd that nothing watches.
func roleEpoll(c *ctl, args []string) error {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	ev1, err := unix.Eventfd(5, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	ev2, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	for _, fd := range []int{pair[0], ev1} {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll_ctl add %d: %w", fd, err)
		}
	}
	f := newFacts()
	for name, fd := range map[string]int{"sock": pair[0], "sock_other": pair[1], "ev1": ev1, "ev2": ev2, "epoll": ep} {
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	return c.ready(f)
}

// roleScanner PID,PID,... [BACKEND]: scans those processes ("" for the
// whole machine) with the backend (procfs if none) and prints the snapshot
// as JSON on stdout. Its own pid can be named as "self".
func roleScanner(args []string) int {
	var pids []int
	if len(args) > 0 && args[0] != "" {
		for _, s := range strings.Split(args[0], ",") {
			if s == "self" {
				pids = append(pids, os.Getpid())
				continue
			}
			pid, err := strconv.Atoi(s)
			if err != nil {
				fmt.Fprintln(os.Stderr, "scanner:", err)
				return 2
			}
			pids = append(pids, pid)
		}
	}
	backend := scan.BackendProcfs
	if len(args) > 1 {
		backend = scan.Backend(args[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := scan.New(scan.Options{PIDs: pids, Backend: backend}).Scan(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scanner:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(snap); err != nil {
		fmt.Fprintln(os.Stderr, "scanner:", err)
		return 1
	}
	return 0
}

// roleChurn opens a pipe, a socketpair, an eventfd and a loopback TCP
// connection, holds them for up to 20 ms and exits without closing them.
func roleChurn() int {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 1
	}
	if _, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return 1
	}
	if _, err := unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		return 1
	}
	ln, sa, err := streamSocket("tcp", "127.0.0.1:0")
	if err == nil && unix.Bind(ln, sa) == nil && unix.Listen(ln, 1) == nil {
		if local, err := unix.Getsockname(ln); err == nil {
			if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err == nil {
				unix.Connect(fd, local)
			}
		}
	}
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	return 0
}

// roleEpollReuse: an epoll instance watches an eventfd whose fd number is
// then reused. The eventfd is dup'd and its first fd closed, so the epoll
// still watches it (through the dup), and a new eventfd takes the old number.
// A second epoll instance watches nothing.
func roleEpollReuse(c *ctl, args []string) error {
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ev, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ev)}); err != nil {
		return err
	}
	dup, err := unix.FcntlInt(uintptr(ev), unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		return err
	}
	if err := unix.Close(ev); err != nil {
		return err
	}
	ev2, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	if ev2 != ev {
		return fmt.Errorf("the new eventfd got fd %d, not the reused %d", ev2, ev)
	}
	ep2, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	f := newFacts()
	for name, fd := range map[string]int{"epoll": ep, "epoll2": ep2, "watched": dup, "reused": ev2} {
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	return c.ready(f)
}

// roleDupper PATH: opens PATH and dups it to fd 40 (step 1), then closes
// the first fd (step 2).
func roleDupper(c *ctl, args []string) error {
	fd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Dup3(fd, 40, unix.O_CLOEXEC); err != nil {
		return err
	}
	f := newFacts()
	if err := addFD(f, "first", fd); err != nil {
		return err
	}
	if err := c.ready(f); err != nil {
		return err
	}
	if err := c.wait(); err != nil {
		return err
	}
	if err := unix.Close(fd); err != nil {
		return err
	}
	return c.ready(newFacts())
}

// rolePty: a pty master (an open of /dev/ptmx) and its slave.
func rolePty(c *ctl, args []string) error {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("ptsname: %w", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	s, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := newFacts()
	for name, fd := range map[string]int{"master": m, "slave": s} {
		if err := addFD(f, name, fd); err != nil {
			return err
		}
	}
	f.Num["index"] = n
	f.Str["slave"] = slavePath
	return c.ready(f)
}

// roleUDP ADDR: two UDP sockets on ADDR's address connected to each other,
// and a third that is bound and not connected.
func roleUDP(c *ctl, args []string) error {
	f := newFacts()
	var fds [3]int
	var names [3]unix.Sockaddr
	for i := range fds {
		fd, sa, err := inetSocket(unix.SOCK_DGRAM, args[0])
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, sa); err != nil {
			return err
		}
		if names[i], err = unix.Getsockname(fd); err != nil {
			return err
		}
		fds[i] = fd
		name := "udp" + strconv.Itoa(i)
		if err := addFD(f, name, fd); err != nil {
			return err
		}
		f.Str[name] = sockaddrString(names[i])
	}
	if err := unix.Connect(fds[0], names[1]); err != nil {
		return err
	}
	if err := unix.Connect(fds[1], names[0]); err != nil {
		return err
	}
	return c.ready(f)
}

// roleNSHolder NETNS-PATH: stays in its own network namespace but makes a
// TCP listener inside the one at NETNS-PATH, from a thread that enters it
// and comes back.
func roleNSHolder(c *ctl, args []string) error {
	fd, err := func() (int, error) {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		defer unix.Close(home)
		there, err := unix.Open(args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		defer unix.Close(there)
		if err := unix.Setns(there, unix.CLONE_NEWNET); err != nil {
			return -1, fmt.Errorf("setns: %w", err)
		}
		fd, sa, err := inetSocket(unix.SOCK_STREAM, "127.0.0.1:0")
		if err == nil {
			err = unix.Bind(fd, sa)
		}
		if err == nil {
			err = unix.Listen(fd, 1)
		}
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			return -1, fmt.Errorf("setns back: %w", err) // the thread stays locked, and dies with the goroutine
		}
		runtime.UnlockOSThread()
		return fd, err
	}()
	if err != nil {
		return err
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return err
	}
	f := newFacts()
	if err := addFD(f, "listener", fd); err != nil {
		return err
	}
	f.Str["listener"] = sockaddrString(local)
	return c.ready(f)
}

// roleOwnTable: a thread unshares its fd table (as a thread cloned without
// CLONE_FILES has one) and opens a socket pair in it; the process's table
// holds an eventfd. Facts: "ev" (the process's), "thread_sock" (the fd
// number in the thread's table), num "tid".
func roleOwnTable(c *ctl, args []string) error {
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	type opened struct {
		tid, fd int
		err     error
	}
	done := make(chan opened)
	var unshare func()
	unshare = func() {
		runtime.LockOSThread() // never unlocked: the thread keeps its table
		if unix.Gettid() == unix.Getpid() {
			// The process's own thread: keep it, and try another.
			go unshare()
			select {}
		}
		if err := unix.Unshare(unix.CLONE_FILES); err != nil {
			done <- opened{err: fmt.Errorf("unshare(CLONE_FILES): %w", err)}
			return
		}
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			done <- opened{err: err}
			return
		}
		// A number the process's table does not use: the runtime may
		// open the lower ones there.
		const high = 200
		err = unix.Dup3(pair[0], high, unix.O_CLOEXEC)
		done <- opened{tid: unix.Gettid(), fd: high, err: err}
		select {}
	}
	go unshare()
	o := <-done
	if o.err != nil {
		return o.err
	}
	f := newFacts()
	if err := addFD(f, "ev", ev); err != nil {
		return err
	}
	f.FD["thread_sock"] = o.fd
	f.Num["tid"] = o.tid
	return c.ready(f)
}
