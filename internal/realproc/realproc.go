//go:build linux

// Package realproc starts real software for tests — nginx, redis, perl, a
// shell and its pipelines — as a user would on a real host: on loopback
// ports, with their configuration and files in a temporary directory of
// the test, never as system services. Tests use it to judge fdscope on
// the fd tables real programs build, inherited fds and all.
//
// A program that is not installed skips the test, unless CI=true, where it
// fails it (.ci/run installs them). Every process started ends with its
// test: its process group is killed (each program is started in a group of
// its own), and the test waits for it.
package realproc

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds every wait for a program to be ready: generous, for a
// loaded machine.
const waitTimeout = 30 * time.Second

// Need returns the path of the program, or skips the test when it is not
// installed (fails it under CI=true).
func Need(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/usr/local/sbin/", "/sbin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (apt-get install %s); CI=true requires it", name, debianPackage(name))
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, debianPackage(name))
	return ""
}

func debianPackage(name string) string {
	switch name {
	case "nginx":
		return "nginx-light"
	case "redis-server", "redis-cli":
		return "redis-server"
	}
	return name
}

// Proc is a program started for a test.
type Proc struct {
	PID int
	cmd *exec.Cmd
}

// start starts cmd in a process group of its own, killed when the test ends.
func start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	p := &Proc{PID: cmd.Process.Pid, cmd: cmd}
	t.Cleanup(func() {
		syscall.Kill(-p.PID, syscall.SIGKILL) // the group this test started
		cmd.Wait()
	})
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListen waits until something accepts connections on addr.
func waitListen(t testing.TB, what, addr string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened on %s: %v", what, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Children returns the pids of the children of pid, ascending.
func Children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentOf(c); err == nil && ppid == pid {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Descendants returns the pids of the children of pid, their children, and
// so on.
func Descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if c, err := strconv.Atoi(e.Name()); err == nil {
			if pp, err := parentOf(c); err == nil {
				parent[c] = pp
			}
		}
	}
	var out []int
	for c := range parent {
		for p := parent[c]; p != 0; p = parent[p] {
			if p == pid {
				out = append(out, c)
				break
			}
			if p == 1 {
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// parentOf reads the parent pid of a process from /proc/PID/stat.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no comm in stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, errors.New("short stat")
	}
	return strconv.Atoi(f[1])
}

// WaitChildren waits until pid has at least n children whose command name
// is comm ("" for any), and returns them.
func WaitChildren(t testing.TB, pid, n int, comm string) []int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var got []int
		for _, c := range Children(pid) {
			if comm == "" || Comm(c) == comm {
				got = append(got, c)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d has %d children %q, want %d", pid, len(got), comm, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Comm returns the command name of a process ("" once it has gone).
func Comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// Nginx is an nginx master process and its workers serving 127.0.0.1:Port.
type Nginx struct {
	Master  *Proc
	Workers []int
	Addr    string
	Dir     string
}

// StartNginx starts nginx (as `nginx -c DIR/nginx.conf`, in the
// foreground) with the given number of worker processes, serving a small
// page on a free loopback port, and waits until its workers are up and it
// answers.
func StartNginx(t testing.TB, workers int) *Nginx {
	t.Helper()
	exe := Need(t, "nginx")
	dir := t.TempDir()
	port := FreePort(t)
	var temps []string
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		temps = append(temps, fmt.Sprintf("  %s_temp_path %s;", k, filepath.Join(dir, k)))
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes %d;
pid %s;
error_log %s;
events { worker_connections 128; }
http {
  access_log %s;
  keepalive_timeout 300s;
%s
  server {
    listen 127.0.0.1:%d;
    location / { return 200 "hello from nginx\n"; }
  }
}
`, workers, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"), filepath.Join(dir, "access.log"),
		strings.Join(temps, "\n"), port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The workers run as nobody: let them reach the directory.
	os.Chmod(dir, 0o755)
	n := &Nginx{Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	n.Master = start(t, exec.Command(exe, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path))
	n.Workers = WaitChildren(t, n.Master.PID, workers, "nginx")
	waitListen(t, "nginx", n.Addr)
	return n
}

// keepAliveClient is a client in perl: it connects to ARGV[0], sends one
// HTTP/1.1 request with keep-alive (an echo server sends its first line
// back), reads the first line of the answer, prints its own local port,
// and keeps the connection open, idle, as a browser keeps its keep-alive
// connections.
const keepAliveClient = `
use IO::Socket::INET;
$| = 1;
my $c = IO::Socket::INET->new(PeerAddr => $ARGV[0]) or die "connect: $!";
print $c "GET / HTTP/1.1\r\nHost: $ARGV[0]\r\nConnection: keep-alive\r\n\r\n";
my $l = <$c>;
defined $l or die "no answer";
print $c->sockport, "\n";
sleep 1000 while 1;
`

// KeepAlive starts a client (perl) that gets one answer from addr over
// HTTP/1.1 with keep-alive and keeps the connection open until the test
// ends. It returns the client and its local address.
func KeepAlive(t testing.TB, addr string) (*Proc, string) {
	t.Helper()
	exe := Need(t, "perl")
	cmd := exec.Command(exe, "-e", keepAliveClient, addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, cmd)
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if _, err := strconv.Atoi(l); err != nil {
			t.Fatalf("the keep-alive client to %s said %q", addr, l)
		}
		return p, "127.0.0.1:" + l
	case <-time.After(waitTimeout):
		t.Fatalf("the keep-alive client to %s never got an answer", addr)
	}
	return nil, ""
}

// Redis is a redis-server on 127.0.0.1:Port.
type Redis struct {
	*Proc
	Addr string
	Port int
}

// StartRedis starts redis-server on a free loopback port, with no
// persistence, its working directory a temporary one, and waits until it
// answers.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	exe := Need(t, "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(exe, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	r := &Redis{Proc: start(t, cmd), Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port)}
	waitListen(t, "redis-server", r.Addr)
	return r
}

// Shell runs script with sh in a process group of its own, with stderr on
// the given file (nil: /dev/null) and no stdin, until the test ends.
func Shell(t testing.TB, script string, stderr *os.File) *Proc {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	if stderr != nil {
		cmd.Stdout, cmd.Stderr = stderr, stderr
	}
	return start(t, cmd)
}

// Perl runs a perl program with the given arguments in a process group of
// its own, until the test ends.
func Perl(t testing.TB, program string, args ...string) *Proc {
	t.Helper()
	exe := Need(t, "perl")
	return start(t, exec.Command(exe, append([]string{"-e", program}, args...)...))
}

// PreforkEcho is a prefork echo server in perl: the master listens on
// 127.0.0.1:PORT (ARGV[0]) and forks ARGV[1] workers that accept on the
// same listening socket and echo lines back.
const PreforkEcho = `
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 64, ReuseAddr => 1) or die "listen: $!";
for (1 .. $ARGV[1]) {
	next if fork;
	while (my $c = $s->accept) { $c->autoflush(1); while (my $l = <$c>) { print $c $l } }
	exit;
}
sleep 1000 while 1;
`

// Prefork is a prefork server (PreforkEcho) and its workers.
type Prefork struct {
	Master  *Proc
	Workers []int
	Addr    string
}

// StartPrefork starts PreforkEcho with the given number of workers on a
// free loopback port and waits until they are up.
func StartPrefork(t testing.TB, workers int) *Prefork {
	t.Helper()
	port := FreePort(t)
	p := &Prefork{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	p.Master = Perl(t, PreforkEcho, strconv.Itoa(port), strconv.Itoa(workers))
	p.Workers = WaitChildren(t, p.Master.PID, workers, "")
	waitListen(t, "the prefork server", p.Addr)
	return p
}

// HolderOf returns which of pids holds a socket connected from the given
// local address (as /proc/net/tcp names it, "127.0.0.1:PORT"), waiting
// until one does: the worker that accepted a connection.
func HolderOf(t testing.TB, pids []int, remote string) int {
	t.Helper()
	_, portStr, err := net.SplitHostPort(remote)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	deadline := time.Now().Add(waitTimeout)
	for {
		inode := establishedFrom(port)
		for _, pid := range pids {
			if inode != "" && holds(pid, "socket:["+inode+"]") {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("none of %v holds the connection from %s", pids, remote)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// establishedFrom returns the inode of the socket whose remote port is
// port in /proc/net/tcp ("" when there is none).
func establishedFrom(port int) string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[2], want) && f[3] == "01" {
			return f[9]
		}
	}
	return ""
}

// holds says whether pid has an fd whose link is target.
func holds(pid int, target string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == target {
			return true
		}
	}
	return false
}
