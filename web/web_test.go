package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestDashboard renders the page and checks what the Content-Security-Policy
// and the browser code rely on: no inline script or style, no inline event
// handlers, the script and stylesheet from /static/, and the elements
// app.js fills.
func TestDashboard(t *testing.T) {
	rec := httptest.NewRecorder()
	Dashboard().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %v", rec.Code, rec.Header())
	}
	doc, err := html.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var scripts, styles []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s> has an inline handler %s", n.Data, a.Key)
				}
				if a.Key == "style" {
					t.Errorf("<%s> has an inline style", n.Data)
				}
			}
			switch n.Data {
			case "script":
				if attr["src"] == "" || n.FirstChild != nil {
					t.Errorf("an inline <script>")
				}
				scripts = append(scripts, attr["src"])
			case "style":
				t.Error("an inline <style>")
			case "link":
				if attr["rel"] == "stylesheet" {
					styles = append(styles, attr["href"])
				}
			}
			if id := attr["id"]; id != "" {
				ids[id] = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if strings.Join(scripts, " ") != "/static/app.js" || strings.Join(styles, " ") != "/static/diagram.css /static/app.css" {
		t.Errorf("scripts %v, stylesheets %v", scripts, styles)
	}
	for _, id := range []string{"status", "seq", "search", "sort", "kthreads", "process-list", "process-count",
		"progress", "summary", "focus", "diagram", "details", "export-svg", "export-png", "export-text",
		"export-text-output", "theme-toggle", "zoom-in", "zoom-out", "zoom-fit"} {
		if !ids[id] {
			t.Errorf("no element with id %q (app.js uses it)", id)
		}
	}
}

// TestPageQuery checks the documentation mode and the theme in the address.
func TestPageQuery(t *testing.T) {
	for _, tc := range []struct {
		url, theme string
		chromeless bool
	}{
		{"/", "", false},
		{"/process/42?theme=light&chrome=0", "light", true},
		{"/?pid=7&theme=dark", "dark", false},
		{"/?theme=%3Cscript%3E&chrome=1", "", false},
	} {
		rec := httptest.NewRecorder()
		Dashboard().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.url, nil))
		body := rec.Body.String()
		i := strings.Index(body, "<body")
		tag := body[i : i+strings.Index(body[i:], ">")]
		if !strings.Contains(tag, `data-theme="`+tc.theme+`"`) {
			t.Errorf("%s: body tag %s, want theme %q", tc.url, tag, tc.theme)
		}
		if strings.Contains(tag, "chromeless") != tc.chromeless {
			t.Errorf("%s: body tag %s, want chromeless %v", tc.url, tag, tc.chromeless)
		}
	}
}
