package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
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
