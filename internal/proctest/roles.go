//go:build linux

package proctest

// The roles a child plays. Each builds what it holds, reports it, and then
// waits: for SIGUSR1 (a client dials once more), SIGTERM (it exits), or
// its parent's death (it exits).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// roles maps a role's name to its code; args are the Spec's Args.
var roles = map[string]func(r *reporter, args []string) error{
	"stream-server": roleStreamServer, // NETWORK ADDRESS: listen, accept, echo
	"stream-client": roleStreamClient, // NETWORK ADDRESS: connect (again on SIGUSR1)
	"tables-a":      roleTablesA,      // DIR: open, dup, open, then start tables-b
	"tables-b":      roleTablesB,      // DATA: hold fd 3 (inherited), open DATA again
	"holder":        roleHolder,       // NAME...: hold fds 3, 4, ... under these names
	"dgram-server":  roleDgramServer,  // NETWORK ADDRESS: bind, never connect, read and drop
	"dgram-client":  roleDgramClient,  // NETWORK ADDRESS: connect and send (again on SIGUSR1)
	"watcher":       roleWatcher,      // PATH...: an inotify instance watching each PATH, none held open
	"burst-server":  roleBurstServer,  // NETWORK ADDRESS: listen; read each connection to its end, then close it
	"burst-client":  roleBurstClient,  // NETWORK ADDRESS COUNT: on each SIGUSR1, COUNT connections: connect, write a byte, close
}

// reporter is a child's side of the facts file; safe for concurrent use.
type reporter struct {
	path string
	mu   sync.Mutex
	f    Facts
}

// update changes the facts under the lock and reports them.
func (r *reporter) update(change func(f *Facts)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.f)
	return report(r.path, r.f)
}

func runChild(role, factsPath string, nfiles int, args []string) int {
	fn := roles[role]
	r := &reporter{path: factsPath}
	if fn == nil || factsPath == "" {
		r.update(func(f *Facts) { f.Error = fmt.Sprintf("unknown role %q or no facts file", role) })
		return 2
	}
	closeInherited(3 + nfiles)
	go watchParent()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- fn(r, args) }()
	select {
	case err := <-done:
		if err != nil {
			r.update(func(f *Facts) { f.Error = fmt.Sprintf("%s: %v", role, err) })
			return 1
		}
	case <-signals:
	}
	return 0
}

// closeInherited closes the fds from lowest on that the child inherited
// without asking: fds its test binary's own parent left open without
// close-on-exec pass on to every child, and would show in its fd table.
// They are told from the Go runtime's own by their close-on-exec flag.
func closeInherited(lowest int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < lowest {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// watchParent exits the process when its parent goes (it is re-parented):
// the parent-death signal covers most cases, this one the rest (it is
// tied to the thread that started the child, not the process).
func watchParent() {
	ppid := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != ppid {
			os.Exit(0)
		}
	}
}

// fdOf returns the fd behind a connection or listener without dup'ing it.
func fdOf(c syscall.Conn) (int, uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var fd int
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(u uintptr) {
		fd = int(u)
		serr = syscall.Fstat(fd, &st)
	}); err != nil {
		return 0, 0, err
	}
	return fd, st.Ino, serr
}

func connOf(c net.Conn) (Conn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return Conn{}, fmt.Errorf("%T has no fd", c)
	}
	fd, ino, err := fdOf(sc)
	if err != nil {
		return Conn{}, err
	}
	return Conn{FD: fd, Inode: ino, Local: addrString(c.LocalAddr()), Remote: addrString(c.RemoteAddr())}, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	if u, ok := a.(*net.UnixAddr); ok {
		return u.Name // "" for an unnamed socket, not "@"
	}
	return a.String()
}

// listening listens on NETWORK ADDRESS and reports where, and by which fd.
func listening(r *reporter, args []string) (net.Listener, error) {
	if len(args) != 2 {
		return nil, errors.New("want NETWORK ADDRESS")
	}
	ln, err := net.Listen(args[0], args[1])
	if err != nil {
		return nil, err
	}
	fd, _, err := fdOf(ln.(syscall.Conn))
	if err != nil {
		return nil, err
	}
	if err := r.update(func(f *Facts) { f.Listen, f.ListenFD = addrString(ln.Addr()), fd }); err != nil {
		return nil, err
	}
	return ln, nil
}

// roleStreamServer listens and echoes every connection back, forever.
func roleStreamServer(r *reporter, args []string) error {
	ln, err := listening(r, args)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		conn, err := connOf(c)
		if err != nil {
			return err
		}
		// Through a buffer: io.Copy between two TCP conns would splice
		// through a pipe of the Go runtime's, which would show.
		go io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096))
		if err := r.update(func(f *Facts) { f.Conns = append(f.Conns, conn) }); err != nil {
			return err
		}
	}
}

// roleStreamClient connects, checks that the server echoes, and connects
// once more on every SIGUSR1.
func roleStreamClient(r *reporter, args []string) error { return dialing(r, args, echo) }

// dialing connects to NETWORK ADDRESS, greets the server with greet, reports
// the connection, and does so once more on every SIGUSR1, keeping every
// connection open.
func dialing(r *reporter, args []string, greet func(net.Conn) error) error {
	if len(args) != 2 {
		return errors.New("want NETWORK ADDRESS")
	}
	more := make(chan os.Signal, 1)
	signal.Notify(more, syscall.SIGUSR1)
	var held []net.Conn // kept open
	for {
		c, err := net.Dial(args[0], args[1])
		if err != nil {
			return err
		}
		held = append(held, c)
		if err := greet(c); err != nil {
			return err
		}
		conn, err := connOf(c)
		if err != nil {
			return err
		}
		if err := r.update(func(f *Facts) { f.Conns = append(f.Conns, conn) }); err != nil {
			return err
		}
		<-more
	}
}

// echo sends a line and expects it back.
func echo(c net.Conn) error {
	const msg = "ping\n"
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if string(buf) != msg {
		return fmt.Errorf("echo: got %q", buf)
	}
	return nil
}

// roleTablesA builds the three tables of the classic figure: it opens
// DIR/log and dups that fd (two fds, one open file description), opens
// DIR/data.txt, then starts tables-b with the log's description as its
// fd 3 (shared between two processes, as after fork), which opens
// data.txt again (a second description of one inode).
func roleTablesA(r *reporter, args []string) error {
	if len(args) != 1 {
		return errors.New("want DIR")
	}
	dir := args[0]
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("the data\n"), 0o644); err != nil {
		return err
	}
	logFD, err := syscall.Open(filepath.Join(dir, "log"), syscall.O_WRONLY|syscall.O_APPEND|syscall.O_CREAT, 0o644)
	if err != nil {
		return err
	}
	if _, err := syscall.Write(logFD, []byte("started\n")); err != nil {
		return err
	}
	dupFD, err := syscall.Dup(logFD)
	if err != nil {
		return err
	}
	dataFD, err := syscall.Open(data, syscall.O_RDONLY, 0)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	link := filepath.Join(dir, "tables-b")
	if err := os.Symlink(exe, link); err != nil {
		return err
	}
	logFile := os.NewFile(uintptr(logFD), "log")
	bFacts := filepath.Join(dir, "facts-b")
	cmd := exec.Command(link, guardArg, data)
	cmd.Env = append(childEnv(), roleEnv+"=tables-b", factsEnv+"="+bFacts, filesEnv+"=1")
	cmd.ExtraFiles = []*os.File{logFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// B's report says it holds what it should.
	var b []byte
	for len(b) == 0 {
		select {
		case <-exited:
			return errors.New("tables-b exited")
		case <-time.After(5 * time.Millisecond):
		}
		b, _ = os.ReadFile(bFacts)
	}
	// Keep logFile from being collected (which would close the fd).
	defer logFile.Close()
	if err := r.update(func(f *Facts) {
		f.FDs = map[string]int{"log": logFD, "dup": dupFD, "data": dataFD, "child_log": 3}
		f.Child = cmd.Process.Pid
	}); err != nil {
		return err
	}
	// B ends with A (its parent-death signal fires when A exits).
	<-exited
	return errors.New("tables-b exited")
}

// roleTablesB holds fd 3 (the log's description, inherited) and opens DATA again.
func roleTablesB(r *reporter, args []string) error {
	if len(args) != 1 {
		return errors.New("want DATA")
	}
	dataFD, err := syscall.Open(args[0], syscall.O_RDONLY, 0)
	if err != nil {
		return err
	}
	if err := r.update(func(f *Facts) { f.FDs = map[string]int{"log": 3, "data": dataFD} }); err != nil {
		return err
	}
	select {}
}

// roleHolder holds its fds 3, 4, ... and reports them under the names it is given.
func roleHolder(r *reporter, args []string) error {
	fds := map[string]int{}
	for i, name := range args {
		var st syscall.Stat_t
		if err := syscall.Fstat(3+i, &st); err != nil {
			return fmt.Errorf("fd %d (%s): %w", 3+i, name, err)
		}
		fds[name] = 3 + i
	}
	if err := r.update(func(f *Facts) { f.FDs = fds }); err != nil {
		return err
	}
	select {}
}

// roleDgramServer binds a datagram socket ("udp", "udp6", "unixgram") and
// reads what comes, forever; it never connects, so it has no remote end.
func roleDgramServer(r *reporter, args []string) error {
	if len(args) != 2 {
		return errors.New("want NETWORK ADDRESS")
	}
	pc, err := net.ListenPacket(args[0], args[1])
	if err != nil {
		return err
	}
	fd, _, err := fdOf(pc.(syscall.Conn))
	if err != nil {
		return err
	}
	if err := r.update(func(f *Facts) { f.Listen, f.ListenFD = addrString(pc.LocalAddr()), fd }); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return err
		}
	}
}

// roleDgramClient connect()s a datagram socket to the server and sends one
// datagram, and does so with one more socket on every SIGUSR1.
func roleDgramClient(r *reporter, args []string) error {
	return dialing(r, args, func(c net.Conn) error {
		_, err := c.Write([]byte("hello\n"))
		return err
	})
}

// roleWatcher watches each PATH with one inotify instance (FDs "inotify")
// and holds none of them open.
func roleWatcher(r *reporter, args []string) error {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return err
	}
	for _, path := range args {
		if _, err := unix.InotifyAddWatch(in, path, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVE); err != nil {
			return fmt.Errorf("inotify_add_watch %s: %w", path, err)
		}
	}
	if err := r.update(func(f *Facts) { f.FDs = map[string]int{"inotify": in} }); err != nil {
		return err
	}
	select {}
}

// roleBurstServer listens, and reads every connection it accepts to its
// end, then closes it: connections that live as long as the client wants.
func roleBurstServer(r *reporter, args []string) error {
	ln, err := listening(r, args)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// roleBurstClient makes COUNT short-lived connections on every SIGUSR1:
// each connects, writes one byte and closes, at once. It reports them
// (their fd, inode and addresses, taken before the close) after each
// burst.
func roleBurstClient(r *reporter, args []string) error {
	if len(args) != 3 {
		return errors.New("want NETWORK ADDRESS COUNT")
	}
	count, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	more := make(chan os.Signal, 1)
	signal.Notify(more, syscall.SIGUSR1)
	if err := r.update(func(f *Facts) {}); err != nil {
		return err
	}
	for range more {
		conns := make([]Conn, 0, count)
		for range count {
			c, err := net.Dial(args[0], args[1])
			if err != nil {
				return err
			}
			conn, err := connOf(c)
			if err != nil {
				return err
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
			conns = append(conns, conn)
		}
		if err := r.update(func(f *Facts) { f.Conns = append(f.Conns, conns...) }); err != nil {
			return err
		}
	}
	return nil
}
