package static

import (
	"flag"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fdscope/fdscope/diagram"
)

var update = flag.Bool("update", false, "rewrite diagram.css from package diagram")

// TestAssets checks that the embedded assets are there, and that every
// element id the scripts look up is one the page has (web/dashboard.templ).
func TestAssets(t *testing.T) {
	page, err := os.ReadFile("../web/dashboard.templ")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.js", "diagram.js", "app.css", "diagram.css"} {
		if _, err := fs.Stat(FS, name); err != nil {
			t.Error(err)
		}
	}
	scripts, err := fs.Glob(FS, "*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range scripts {
		b, err := fs.ReadFile(FS, name)
		if err != nil {
			t.Fatal(err)
		}
		js := string(b)
		// Every module imported is embedded too.
		for _, m := range regexp.MustCompile(`(?m)^import .* from "\./([\w.-]+)";$`).FindAllStringSubmatch(js, -1) {
			if _, err := fs.Stat(FS, m[1]); err != nil {
				t.Errorf("%s imports ./%s, which is not embedded", name, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\$\("([\w-]+)"\)`).FindAllStringSubmatch(js, -1) {
			if !strings.Contains(string(page), `id="`+m[1]+`"`) {
				t.Errorf("%s looks up #%s, which the page does not have", name, m[1])
			}
		}
		for _, bad := range []string{"eval(", "innerHTML", "outerHTML", "insertAdjacentHTML", "new Function"} {
			if strings.Contains(js, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}

// TestDiagramCSS keeps diagram.css equal to the stylesheet package diagram
// inlines into its SVG.
func TestDiagramCSS(t *testing.T) {
	want := "/* Generated from diagram.Stylesheet() by `go test ./static -update`. Do not edit. */" + diagram.Stylesheet()
	if *update {
		if err := os.WriteFile("diagram.css", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return // the embedded copy is the old one until the next build
	}
	got, err := fs.ReadFile(FS, "diagram.css")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("static/diagram.css differs from diagram.Stylesheet(): run `go test ./static -update`")
	}
}
