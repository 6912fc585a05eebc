//go:build linux && (amd64 || arm64)

package kevents_test

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/internal/proctest"
	"github.com/fdscope/fdscope/kevents"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// open loads the programs, or skips where that cannot be (not root); a
// root that cannot load them is a failure.
func open(t *testing.T) *kevents.Watcher {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading tracing programs needs root")
	}
	w, err := kevents.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// waitFor takes batches until every pid of want was marked (and, if
// sockets, a TCP state change seen), failing after a generous bound.
func waitFor(t *testing.T, w *kevents.Watcher, what string, sockets bool, want ...int) {
	t.Helper()
	seen := map[int]bool{}
	sawSockets := false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b, err := w.Take()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range slices.Concat(b.PIDs, b.FDsOnly) {
			seen[pid] = true
		}
		sawSockets = sawSockets || b.Sockets
		if !slices.ContainsFunc(want, func(pid int) bool { return !seen[pid] }) && (sawSockets || !sockets) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: want pids %v marked (sockets %v); saw %d pids, sockets %v", what, want, sockets, len(seen), sawSockets)
}

// TestMarks: real processes that start, connect, accept, dial again and
// exit are marked, by the pids this namespace gives them, and a process at
// rest is not.
func TestMarks(t *testing.T) {
	w := open(t)
	if hooks := w.Hooks(); !slices.Contains(hooks, "sys_exit") || !slices.Contains(hooks, "sched_process_exit") {
		t.Fatalf("hooks %v", hooks)
	}
	server := proctest.Start(t, proctest.Spec{Name: "kev-server", Role: "stream-server", Args: []string{"tcp", "127.0.0.1:0"}})
	client := proctest.Start(t, proctest.Spec{Name: "kev-client", Role: "stream-client", Args: []string{"tcp", server.Facts().Listen}})
	waitFor(t, w, "start, listen, connect, accept", true, server.PID, client.PID)

	// At rest: neither is marked, over many takes.
	quiet := 0
	for tries := 0; quiet < 10 && tries < 500; tries++ {
		b, err := w.Take()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(b.PIDs, client.PID) || slices.Contains(b.PIDs, server.PID) {
			quiet = 0
		} else {
			quiet++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if quiet < 10 {
		t.Fatal("processes at rest are marked again and again")
	}

	// One more connection: the client connects, the server accepts.
	n := len(client.Facts().Conns)
	if err := syscall.Kill(client.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for len(client.Facts().Conns) == n {
		client.Next()
	}
	waitFor(t, w, "a second connection", false, client.PID, server.PID)

	// The client exits: it is marked, and its connections close.
	if err := syscall.Kill(client.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "an exit", true, client.PID)

	tot, err := w.Totals()
	if err != nil {
		t.Fatal(err)
	}
	if tot.Marks == 0 || tot.Sockets == 0 || tot.Lost != 0 {
		t.Errorf("totals %+v", tot)
	}
}

// TestMarksInAChildNamespace: a process in a pid namespace below this one
// is marked with the pid this namespace gives it, not its own.
func TestMarksInAChildNamespace(t *testing.T) {
	w := open(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("unshare is missing (util-linux)")
		}
		t.Skip("no unshare")
	}
	cmd := exec.Command(unshare, "--pid", "--fork", "--kill-child", "sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The sleep is unshare's child: pid 1 inside, another pid here.
	var inner int
	for deadline := time.Now().Add(20 * time.Second); inner == 0 && time.Now().Before(deadline); {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/" + strconv.Itoa(cmd.Process.Pid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			inner, _ = strconv.Atoi(f[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if inner == 0 {
		t.Fatal("unshare started no child")
	}
	waitFor(t, w, "a start in a child namespace", false, inner)
	if err := syscall.Kill(inner, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "an exit in a child namespace", false, inner)
}

// TestMarksADup2InPlace: a file opened and closed marks the process (this
// one) for its fds only; an fd replaced by dup2, which changes no fd count
// and no fd table's names, for more.
func TestMarksADup2InPlace(t *testing.T) {
	w := open(t)
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer wr.Close()
	self := os.Getpid()
	quiet := false
	for tries := 0; !quiet && tries < 500; tries++ {
		b, err := w.Take()
		if err != nil {
			t.Fatal(err)
		}
		quiet = !slices.Contains(b.PIDs, self) && !slices.Contains(b.FDsOnly, self)
	}
	if !quiet {
		t.Fatal("this process is marked at every take")
	}

	// A file opened and closed: marked as fds only.
	f, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := w.Take()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.FDsOnly, self) || slices.Contains(b.PIDs, self) {
		t.Fatalf("after an open and a close: pids %v, fds only %v; want %d in fds only", b.PIDs, b.FDsOnly, self)
	}

	// A dup2 over an open fd: marked as more than fds.
	if err := unix.Dup2(int(r.Fd()), int(wr.Fd())); err != nil {
		t.Fatal(err)
	}
	if b, err = w.Take(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.PIDs, self) {
		t.Fatalf("after a dup2: pids %v, fds only %v; want %d in pids", b.PIDs, b.FDsOnly, self)
	}
}

// TestMarksAnFDReceived: a recvmsg that brings an fd (SCM_RIGHTS) marks
// the receiver; one that brings only data does not.
func TestMarksAnFDReceived(t *testing.T) {
	w := open(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	self := os.Getpid()
	marked := func() bool {
		b, err := w.Take()
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(b.PIDs, self) || slices.Contains(b.FDsOnly, self)
	}
	quiet := false
	for tries := 0; !quiet && tries < 500; tries++ {
		quiet = !marked()
	}
	if !quiet {
		t.Fatal("this process is marked at every take")
	}
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4))
	if err := unix.Sendmsg(pair[0], []byte("x"), nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := unix.Recvmsg(pair[1], buf, oob, 0); err != nil {
		t.Fatal(err)
	}
	if marked() {
		t.Fatal("a recvmsg of data alone marked the process")
	}
	if err := unix.Sendmsg(pair[0], []byte("x"), unix.UnixRights(pair[0]), nil, 0); err != nil {
		t.Fatal(err)
	}
	_, oobn, _, _, err := unix.Recvmsg(pair[1], buf, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds received %v %v", fds, err)
	}
	defer unix.Close(fds[0])
	if !marked() {
		t.Fatal("a recvmsg that brought an fd did not mark the process")
	}
}

// TestWatchNetNS: TCP state changes count only in the namespaces watched:
// a loopback connection here is not counted while another namespace is
// watched, and is when this one is, or when none is.
func TestWatchNetNS(t *testing.T) {
	w := open(t)
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// counted dials once and reports whether a TCP state change was
	// counted since the last take.
	counted := func() bool {
		t.Helper()
		w.Take()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		for range 100 { // the changes come in softirq, soon after
			b, err := w.Take()
			if err != nil {
				t.Fatal(err)
			}
			if b.Sockets {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	if err := w.WatchNetNS([]uint64{st.Ino + 1}); err != nil {
		t.Fatal(err)
	}
	if counted() {
		// Another process of this machine may have made a TCP change in
		// this namespace meanwhile: only a second count would be ours.
		if counted() {
			t.Error("changes counted in a namespace not watched")
		}
	}
	if err := w.WatchNetNS([]uint64{st.Ino}); err != nil {
		t.Fatal(err)
	}
	if !counted() {
		t.Error("a change not counted in the namespace watched")
	}
	if err := w.WatchNetNS(nil); err != nil {
		t.Fatal(err)
	}
	if !counted() {
		t.Error("a change not counted with no namespace watched")
	}
}
