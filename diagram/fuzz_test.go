package diagram_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
)

// Any user can name a process or a socket anything: whatever the names,
// the diagram is drawn, text lines are valid UTF-8 within the width, and
// the SVG is well-formed XML.
func FuzzLabels(f *testing.F) {
	f.Add("server.py", "/tmp/server.sock", 80)
	f.Add("日本語\x01<&>\"'", "/tmp/\xff\xfe]]>", 40)
	f.Add("", "", 1000)
	f.Fuzz(func(t *testing.T, comm, path string, width int) {
		if width < 40 || width > 1000 {
			return
		}
		var b diagramtest.Builder
		b.Proc(10, 1, 100, comm, comm+" --serve "+path, 4)
		b.Proc(20, 1, 200, path, comm, 4)
		ln := b.Socket(1, "unix", "stream", "", "listen", path, "")
		acc := b.Socket(2, "unix", "stream", "", "established", path, "")
		cli := b.Socket(3, "unix", "stream", "", "established", "", path)
		file := b.File(graph.KindFile, "8:1", 9, path, "")
		b.FD(10, 3, true, b.OFD(10, 3, "rw", 0, 1, ln))
		b.FD(10, 4, true, b.OFD(10, 4, "rw", 0, 1, acc))
		b.FD(10, 5, false, b.OFD(10, 5, "w", 7, 1, file))
		b.FD(20, 3, true, b.OFD(20, 3, "rw", 0, 1, cli))
		b.Accepted(ln, acc)
		b.Peer(acc, cli)
		focus := graph.NewIndex(b.Snapshot()).Focus(10)
		l := diagram.NewLayout(focus, 10, diagram.Options{Width: width})
		var text bytes.Buffer
		if err := diagram.Text(l, &text, diagram.TextOptions{Width: width}); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(text.String(), "\n") {
			if !utf8.ValidString(line) {
				t.Fatalf("line %d is not valid UTF-8: %q", i, line)
			}
			if n := utf8.RuneCountInString(line); n > width {
				t.Fatalf("line %d is %d wide, more than %d", i, n, width)
			}
		}
		var svg bytes.Buffer
		if err := diagram.SVG(l, &svg, diagram.SVGOptions{}); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(&svg)
		for {
			if _, err := d.Token(); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("SVG is not well-formed: %v", err)
			}
		}
	})
}
