package static

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAssets checks that the embedded assets are there, and that every
// element id app.js looks up is one the page has (web/dashboard.templ).
func TestAssets(t *testing.T) {
	js, err := fs.ReadFile(FS, "app.js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(FS, "app.css"); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("../web/dashboard.templ")
	if err != nil {
		t.Skip("no web/dashboard.templ next to this package")
	}
	for _, m := range regexp.MustCompile(`\$\("([\w-]+)"\)`).FindAllStringSubmatch(string(js), -1) {
		if !strings.Contains(string(page), `id="`+m[1]+`"`) {
			t.Errorf("app.js looks up #%s, which the page does not have", m[1])
		}
	}
	if strings.Contains(string(js), "eval(") || strings.Contains(string(js), "innerHTML") {
		t.Error("app.js uses eval or innerHTML")
	}
}
