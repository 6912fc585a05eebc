//go:build linux

package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Fds a worker inherits from the init: the control socket, then the group's
// pipes (read end, write end, read end, ...).
const (
	ctrlFD      = 3
	firstPipeFD = 4
)

// RunWorker is the hidden `fdscope bench worker ARGS`: with --init it plays
// the namespace's init (see runInit), otherwise one worker.
func RunWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asInit := fs.Bool("init", false, "play the namespace's init: build the workload")
	scale := fs.Float64("scale", 1, "workload scale (init)")
	threaded := fs.Bool("threaded", false, "keep the workers as Go processes (init)")
	dir := fs.String("dir", "", "the workload's directory (init)")
	_ = fs.Int("id", 0, "worker number, for ps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*asInit {
		return runWorker(ctx)
	}
	plan, err := NewPlan(*scale)
	if err != nil {
		return err
	}
	plan.Threaded = *threaded
	if *dir == "" {
		return errors.New("bench worker --init: --dir is required")
	}
	return runInit(ctx, plan, *dir, stdout, stderr)
}

// runWorker plays one worker process: it builds the fds its spec asks for,
// none of them close-on-exec, reports, and execs the holder with the control
// socket as its standard input. The holder, single-threaded, keeps the fds
// until the control socket closes. Without a holder in the spec (a threaded
// workload) the worker itself waits for that.
func runWorker(ctx context.Context) error {
	c := ctrl{fd: ctrlFD}
	stop := context.AfterFunc(ctx, func() { _ = unix.Shutdown(c.fd, unix.SHUT_RDWR) })
	defer stop()

	if err := raiseNOFILE(); err != nil {
		return err
	}
	m, _, err := c.expect(opSetup)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if m.Spec == nil {
		return errors.New("worker: setup without a spec")
	}
	if err := buildWorker(c, *m.Spec); err != nil {
		err = fmt.Errorf("worker %d: %w", m.Spec.ID, err)
		_ = c.send(message{Op: opError, Err: err.Error()})
		return err
	}
	if m.Spec.Holder == "" {
		for {
			if _, _, err := c.recv(); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("worker %d: %w", m.Spec.ID, err)
			}
		}
	}
	if err := unix.Dup2(c.fd, 0); err != nil {
		return fmt.Errorf("worker %d: control socket as stdin: %w", m.Spec.ID, err)
	}
	return execHolder(m.Spec.Holder, fmt.Sprintf("fdscope-bench-worker-%d", m.Spec.ID))
}

// execHolder replaces the process with the holder (cat), named name in ps.
// Only fds without close-on-exec survive.
func execHolder(holder, name string) error {
	if err := unix.Exec(holder, []string{name}, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", holder, err)
	}
	return nil
}

// buildWorker opens the spec's fds, talking to the init through c. The fds
// stay open until the process exits.
func buildWorker(c ctrl, s workerSpec) error {
	var sockets []int
	for j := range s.LocalPairs {
		typ := []int{unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET}[j%3]
		p, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
		if err != nil {
			return fmt.Errorf("socketpair: %w", err)
		}
		sockets = append(sockets, p[0], p[1])
	}
	var pipes []int
	for fd := firstPipeFD; fd < firstPipeFD+2*s.Pipes; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("inherited pipe fd %d: %w", fd, err)
		}
		pipes = append(pipes, fd)
	}
	data, err := openFiles(s)
	if err != nil {
		return err
	}
	if s.Epoll {
		if err := openEpoll(sockets); err != nil {
			return err
		}
	}
	if s.InFlight {
		if err := sendInFlight(data); err != nil {
			return err
		}
	}
	if err := dupSome(append(pipes, sockets...), s.Dups); err != nil {
		return err
	}

	accepted := make(chan error, 3)
	accepting := 0
	if s.Listen != nil {
		n, err := listen(s, accepted)
		if err != nil {
			return err
		}
		accepting = n
	}
	if err := c.send(message{Op: opListening}); err != nil {
		return err
	}
	for {
		m, _, err := c.recv()
		if err != nil {
			return err
		}
		if m.Op == opConnect {
			break
		}
		if m.Op != opFDs {
			return fmt.Errorf("control: got %q while building", m.Op)
		}
		// The fds received by SCM_RIGHTS are kept as they are.
	}
	for _, d := range s.Dials {
		if err := dialHub(s, d); err != nil {
			return err
		}
	}
	for range accepting {
		if err := <-accepted; err != nil {
			return err
		}
	}
	n, err := countFDs(s.Holder == "")
	if err != nil {
		return err
	}
	return c.send(message{Op: opReady, FDs: n})
}

// openFiles opens the data file twice and dups the second, then the shared
// files once each. It returns the first data fd.
func openFiles(s workerSpec) (int, error) {
	r, err := unix.Open(s.DataFile, unix.O_RDONLY, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", s.DataFile, err)
	}
	rw, err := unix.Open(s.DataFile, unix.O_RDWR|unix.O_APPEND, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", s.DataFile, err)
	}
	if _, err := unix.Dup(rw); err != nil {
		return -1, fmt.Errorf("dup %s: %w", s.DataFile, err)
	}
	if _, err := unix.Seek(r, int64(s.ID%7), 0); err != nil {
		return -1, fmt.Errorf("seek %s: %w", s.DataFile, err)
	}
	for _, f := range s.Files {
		if _, err := unix.Open(f, unix.O_RDONLY, 0); err != nil {
			return -1, fmt.Errorf("open %s: %w", f, err)
		}
	}
	return r, nil
}

// openEpoll opens two eventfds and an epoll that watches them and a socket.
func openEpoll(sockets []int) error {
	ep, err := unix.EpollCreate1(0)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	watch := sockets[:min(1, len(sockets))]
	for k := range 2 {
		ev, err := unix.Eventfd(uint(k+1), unix.EFD_NONBLOCK)
		if err != nil {
			return fmt.Errorf("eventfd: %w", err)
		}
		watch = append(watch, ev)
	}
	for _, fd := range watch {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll_ctl add %d: %w", fd, err)
		}
	}
	return nil
}

// sendInFlight sends fd over a new socket pair and never receives it: the
// kernel holds it in flight, visible only as scm_fds in the fdinfo.
func sendInFlight(fd int) error {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	if err := unix.Sendmsg(p[0], []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("send fd in flight: %w", err)
	}
	return nil
}

// dupSome dups n of the fds, spread evenly over them.
func dupSome(fds []int, n int) error {
	if len(fds) == 0 {
		return nil
	}
	for j := range n {
		src := fds[j*len(fds)/n%len(fds)]
		if _, err := unix.Dup(src); err != nil {
			return fmt.Errorf("dup %d: %w", src, err)
		}
	}
	return nil
}

// listen opens a hub's three listeners and accepts the connections it
// expects on each in the background, reporting on done. It returns how many
// reports will come.
func listen(s workerSpec, done chan<- error) (int, error) {
	l := s.Listen
	named := &unix.SockaddrUnix{Name: s.NamedPaths[s.ID]}
	abstract := &unix.SockaddrUnix{Name: l.Abstract}
	tcp := &unix.SockaddrInet4{Port: l.TCPPort, Addr: [4]byte{127, 0, 0, 1}}
	for _, x := range []struct {
		family int
		addr   unix.Sockaddr
		accept int
	}{{unix.AF_UNIX, named, l.AcceptNamed}, {unix.AF_UNIX, abstract, l.AcceptAbstract}, {unix.AF_INET, tcp, l.AcceptTCP}} {
		fd, err := unix.Socket(x.family, unix.SOCK_STREAM, 0)
		if err != nil {
			return 0, fmt.Errorf("socket: %w", err)
		}
		if x.family == unix.AF_INET {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
				return 0, fmt.Errorf("SO_REUSEADDR: %w", err)
			}
		}
		if err := unix.Bind(fd, x.addr); err != nil {
			return 0, fmt.Errorf("bind %s: %w", sockaddrString(x.addr), err)
		}
		if err := unix.Listen(fd, 4096); err != nil {
			return 0, fmt.Errorf("listen %s: %w", sockaddrString(x.addr), err)
		}
		go func() { done <- acceptN(fd, x.accept, x.addr) }()
	}
	return 3, nil
}

func acceptN(fd, n int, addr unix.Sockaddr) error {
	for range n {
		for {
			_, _, err := unix.Accept4(fd, 0)
			if err == nil {
				break
			}
			if err != unix.EINTR && err != unix.ECONNABORTED {
				return fmt.Errorf("accept on %s: %w", sockaddrString(addr), err)
			}
		}
	}
	return nil
}

// dialHub makes d's connections to a hub.
func dialHub(s workerSpec, d dial) error {
	family, addr := unix.AF_UNIX, unix.Sockaddr(nil)
	switch d.Kind {
	case dialNamed:
		addr = &unix.SockaddrUnix{Name: s.NamedPaths[d.Hub]}
	case dialAbstract:
		addr = &unix.SockaddrUnix{Name: s.Abstracts[d.Hub]}
	case dialTCP:
		family, addr = unix.AF_INET, &unix.SockaddrInet4{Port: s.TCPPorts[d.Hub], Addr: [4]byte{127, 0, 0, 1}}
	default:
		return fmt.Errorf("unknown dial kind %q", d.Kind)
	}
	for range d.Count {
		fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		if err := unix.Connect(fd, addr); err != nil {
			return fmt.Errorf("connect %s: %w", sockaddrString(addr), err)
		}
	}
	return nil
}
