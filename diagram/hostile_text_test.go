package diagram_test

import (
	"strings"
	"testing"

	"github.com/fdscope/fdscope/diagram"
	"github.com/fdscope/fdscope/diagram/diagramtest"
	"github.com/fdscope/fdscope/graph"
)

// TestInvisibleRunes: bidi overrides and isolates, zero-width characters,
// the BOM and line separators in names never reach a text or SVG output:
// "evil\u202Egnp.exe" would read as "evilexe.png".
func TestInvisibleRunes(t *testing.T) {
	invisible := []rune{'\u202E', '\u202D', '\u2066', '\u2069', '\u200B', '\u200D', '\u200E', '\u2060', '\uFEFF', '\u2028', '\u061C'}
	var b diagramtest.Builder
	b.Proc(1, 0, 10, "evil\u202Egnp.exe", "init", 5)
	f := b.File(graph.KindFile, "8:1", 9, "/tmp/a\u200Bb\u2066c\uFEFFd\u2028e\u200Df\u2060g\u061Ch", "")
	b.FD(1, 3, false, b.OFD(1, 3, "r", 0, 1, f))
	l := diagram.NewLayout(b.Snapshot(), 1, diagram.Options{})
	outputs := map[string]string{
		"text":  render(t, l, diagram.TextOptions{}),
		"ascii": render(t, l, diagram.TextOptions{ASCII: true}),
		"svg":   string(renderSVG(t, l, diagram.SVGOptions{})),
	}
	for name, out := range outputs {
		for _, r := range invisible {
			if strings.ContainsRune(out, r) {
				t.Errorf("%s output holds %U:\n%s", name, r, out)
			}
		}
	}
	if !strings.Contains(outputs["text"], "evil?gnp.exe") {
		t.Errorf("the text output does not show the name with the override replaced:\n%s", outputs["text"])
	}
	if !strings.Contains(outputs["svg"], "evil\uFFFDgnp.exe") {
		t.Errorf("the SVG output does not show the name with the override replaced")
	}
}
