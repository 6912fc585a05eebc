package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSnapshotDiagram draws this test process, connected to itself over a
// unix socket pair, as text, ASCII and SVG through the snapshot command.
func TestSnapshotDiagram(t *testing.T) {
	l, err := net.Listen("unix", t.TempDir()+"/diagram.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pid := strconv.Itoa(os.Getpid())

	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"snapshot", "--pid", pid}, args...), &out, &errOut); err != nil {
			t.Fatalf("snapshot %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	text := run("--format", "text", "--width", "120")
	for _, want := range []string{"pid " + pid, "user space", "kernel space", "unix stream", "diagram.sock"} {
		if !strings.Contains(text, want) {
			t.Errorf("text diagram lacks %q:\n%s", want, text)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if n := len([]rune(line)); n > 120 {
			t.Errorf("line %d is %d columns wide, more than --width 120", i, n)
		}
	}
	ascii := run("--format", "text", "--ascii", "--width", "100")
	for i := 0; i < len(ascii); i++ {
		if ascii[i] > 0x7f {
			t.Fatalf("--ascii output holds byte %#x at %d", ascii[i], i)
		}
	}
	svg := run("--format", "svg")
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	if !strings.Contains(svg, `data-pid="`+pid+`"`) {
		t.Error("SVG has no element with this process's data-pid")
	}

	// This test's own epoll instance (Go's netpoller) watches the sockets
	// above: drawn with --watches only.
	if l := run("--format", "layout"); strings.Contains(l, `"kind": "watch"`) {
		t.Error("a watch edge drawn without --watches")
	}
	if l := run("--format", "layout", "--watches"); !strings.Contains(l, `"kind": "watch"`) {
		t.Errorf("no watch edge with --watches:\n%.2000s", l)
	}

	var errOut bytes.Buffer
	if err := run0([]string{"snapshot", "--pid", "0", "--format", "text"}, &errOut); err == nil {
		t.Error("snapshot --pid 0 succeeded; want an error for a process that does not exist")
	}
}

func run0(args []string, stderr io.Writer) error {
	return run(context.Background(), args, io.Discard, stderr)
}

// TestSnapshotMap prints the map of the host as text, SVG and JSON, with
// a pipeline this test starts on it.
func TestSnapshotMap(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 1000 | sleep 1001")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range childPIDs(cmd.Process.Pid) {
			syscall.Kill(pid, syscall.SIGKILL) // the two sleeps this test started
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	run := func(format string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"snapshot", "--format", format}, &out, &errOut); err != nil {
			t.Fatalf("snapshot --format %s: %v\n%s", format, err, errOut.String())
		}
		return out.String()
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(run("map"), "sleep | sleep") {
		if time.Now().After(deadline) {
			t.Fatalf("the map never showed the pipeline:\n%s", run("map"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	svg := run("map-svg")
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil || !strings.Contains(svg, `data-group="pipeline:`+strconv.Itoa(cmd.Process.Pid)+`:`) {
		t.Errorf("map-svg without the pipeline's group (%v):\n%.500s", err, svg)
	}
	var m struct {
		Groups []struct{ ID string }                 `json:"groups"`
		Layout struct{ Nodes []struct{ ID string } } `json:"layout"`
	}
	if err := json.Unmarshal([]byte(run("map-json")), &m); err != nil || len(m.Groups) == 0 || len(m.Groups) != len(m.Layout.Nodes) {
		t.Errorf("map-json: %v, %d groups, %d cells", err, len(m.Groups), len(m.Layout.Nodes))
	}
}

// childPIDs returns the pids whose parent is pid.
func childPIDs(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(e.Name())
			out = append(out, n)
		}
	}
	return out
}
