//go:build linux

// Package proctest starts real processes for tests: the test binary itself,
// re-executed in a role (an echo server over a unix socket, a TCP client, a
// process that dups and "forks" a file, one end of a pipe, ...), so that a
// test can look at real fd tables, sockets and pipes without anything
// installed but the test binary.
//
// A test package that uses it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { proctest.Main(m) }
//
// A child is started through a symlink named after its role (echo-server,
// tcp-client, ...), so that its command name (/proc/PID/comm) says what it
// is; its stdin, stdout and stderr are /dev/null, so that its fd table
// holds only what the role built (and what the Go runtime holds: an epoll
// and an eventfd). It reports what it holds as JSON lines in a file the test
// reads ("facts"); SIGUSR1 asks some roles for one more connection.
//
// Every child ends with its test (t.Cleanup): it is sent SIGTERM by pid,
// and SIGKILL if it has not exited 5 s later. A child also exits when its
// parent dies (parent-death signal, and a watch on its parent pid), so
// none outlives a crashed test binary.
package proctest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of a child: the role it plays and the file it reports to.
const (
	roleEnv  = "FDSCOPE_PROCTEST_ROLE"
	factsEnv = "FDSCOPE_PROCTEST_FACTS"
	filesEnv = "FDSCOPE_PROCTEST_FILES" // how many fds from 3 on it was given
)

// Main runs the role of a re-executed child when the environment names one
// (and exits with its status), else the tests (and exits with theirs).
// Call it from TestMain.
func Main(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		nfiles, _ := strconv.Atoi(os.Getenv(filesEnv))
		os.Exit(runChild(role, os.Getenv(factsEnv), nfiles, childArgs(os.Args[1:])))
	}
	os.Exit(m.Run())
}

// guardArg comes first on every child's command line: should the test
// binary not call Main, the child runs no test and exits, and Start fails
// with a message saying why, instead of re-running the tests recursively.
const guardArg = "-test.run=^$"

func childArgs(args []string) []string {
	if len(args) > 0 && args[0] == guardArg {
		return args[1:]
	}
	return args
}

// Conn is one connection a child holds.
type Conn struct {
	FD     int    `json:"fd"`
	Inode  uint64 `json:"inode"`            // the socket's inode (fstat)
	Local  string `json:"local,omitempty"`  // local address ("" for an unnamed unix socket)
	Remote string `json:"remote,omitempty"` // remote address
}

// Facts is what a child reports: its pid and what it holds. Each report
// has the whole state; Conns grow as connections come.
type Facts struct {
	PID int `json:"pid"`
	// Listen is the listener's address (a socket path, or host:port).
	Listen   string `json:"listen,omitempty"`
	ListenFD int    `json:"listen_fd,omitempty"`
	// Conns are the connections, oldest first.
	Conns []Conn `json:"conns,omitempty"`
	// FDs names other fds: "log", "dup", "data", "pipe".
	FDs map[string]int `json:"fds,omitempty"`
	// Child is the pid of a process the child started (three tables' B).
	Child int `json:"child,omitempty"`
	// Error is set when the role failed; the child then exits.
	Error string `json:"error,omitempty"`
}

// Proc is a running child.
type Proc struct {
	t     testing.TB
	Name  string // its command name (comm)
	PID   int
	cmd   *exec.Cmd
	facts string // the file it reports to
	seen  int    // reports read
	last  Facts
	done  chan struct{}
}

// Spec says which child to start.
type Spec struct {
	Name  string     // command name, at most 15 bytes (the kernel's comm)
	Role  string     // see roles.go
	Args  []string   // the role's arguments
	Files []*os.File // become the child's fds 3, 4, ...
}

// Start starts a child and waits for its first report. The child is ended
// when the test ends.
func Start(t testing.TB, s Spec) *Proc {
	t.Helper()
	if len(s.Name) > 15 || s.Name == "" || strings.ContainsRune(s.Name, '/') {
		t.Fatalf("proctest: bad name %q (1 to 15 bytes, no slash)", s.Name)
	}
	if roles[s.Role] == nil {
		t.Fatalf("proctest: unknown role %q", s.Role)
	}
	dir := tempDir(t, "fdscope-proc-")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, s.Name)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, Name: s.Name, facts: filepath.Join(dir, "facts"), done: make(chan struct{})}
	cmd := exec.Command(link, append([]string{guardArg}, s.Args...)...)
	cmd.Env = append(childEnv(), roleEnv+"="+s.Role, factsEnv+"="+p.facts, filesEnv+"="+strconv.Itoa(len(s.Files)))
	cmd.ExtraFiles = s.Files
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("proctest: start %s: %v", s.Name, err)
	}
	p.cmd, p.PID = cmd, cmd.Process.Pid
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	p.Next()
	return p
}

// childEnv is the environment of a child: this one, with
// GODEBUG=containermaxprocs=0 added, so that the Go runtime closes the
// cgroup files it reads at start instead of keeping them open (every Go
// process holding them would otherwise be a "peer" of every other through
// another description of the same file).
func childEnv() []string {
	env := os.Environ()
	godebug := "containermaxprocs=0"
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			if v != "" {
				godebug = v + "," + godebug
			}
			env = append(env[:i:i], env[i+1:]...)
			break
		}
	}
	return append(env, "GODEBUG="+godebug)
}

// tempDir makes a short temporary directory (socket paths must stay under
// 108 bytes, and they show in diagrams) removed when the test ends.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// stop ends the child: SIGTERM by pid, SIGKILL after 5 s.
func (p *Proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.t.Logf("proctest: %s (pid %d) did not exit on SIGTERM; killing it", p.Name, p.PID)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Stop ends the child now (it is also ended when the test ends).
func (p *Proc) Stop() { p.stop() }

// Facts returns the child's latest report.
func (p *Proc) Facts() Facts { return p.last }

// reportTimeout bounds the wait for a child's report.
const reportTimeout = 20 * time.Second

// Next waits for the child's next report and returns it.
func (p *Proc) Next() Facts {
	p.t.Helper()
	deadline := time.Now().Add(reportTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		lines := p.reports()
		if len(lines) > p.seen {
			var f Facts
			if err := json.Unmarshal(lines[p.seen], &f); err != nil {
				p.t.Fatalf("proctest: %s: bad report %q: %v", p.Name, lines[p.seen], err)
			}
			p.seen++
			if f.Error != "" {
				p.t.Fatalf("proctest: %s (pid %d): %s", p.Name, p.PID, f.Error)
			}
			p.last = f
			return f
		}
		select {
		case <-p.done:
			// It may have reported just before exiting.
			if len(p.reports()) > p.seen {
				continue
			}
			p.t.Fatalf("proctest: %s (pid %d) exited (%v) before reporting; does the test binary call proctest.Main from TestMain?",
				p.Name, p.PID, p.cmd.ProcessState)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("proctest: %s (pid %d): no report after %v", p.Name, p.PID, reportTimeout)
		}
	}
}

// reports returns the complete lines of the facts file.
func (p *Proc) reports() [][]byte {
	b, err := os.ReadFile(p.facts)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.t.Fatalf("proctest: %v", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	} else {
		return nil
	}
	return bytes.Split(b, []byte{'\n'})
}

// Signal sends sig to the child (by its pid).
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("proctest: signal %s (pid %d): %v", p.Name, p.PID, err)
	}
}

// Dial asks a client role for one more connection and returns it.
func (p *Proc) Dial() Conn {
	p.t.Helper()
	n := len(p.last.Conns)
	p.Signal(syscall.SIGUSR1)
	f := p.Next()
	if len(f.Conns) != n+1 {
		p.t.Fatalf("proctest: %s: %d connections after a dial, want %d", p.Name, len(f.Conns), n+1)
	}
	return f.Conns[n]
}

// WaitConns waits until the child reports at least n connections (a
// server, after its clients dialled) and returns its report.
func (p *Proc) WaitConns(n int) Facts {
	p.t.Helper()
	f := p.last
	for len(f.Conns) < n {
		f = p.Next()
	}
	return f
}

// report appends one JSON line to the facts file (in the child). The file
// is opened and closed each time, so that it never shows in the fd table.
func report(path string, f Facts) error {
	f.PID = os.Getpid()
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(append(b, '\n'))
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// String describes the child for messages.
func (p *Proc) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }
