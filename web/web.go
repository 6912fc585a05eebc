// Package web renders fdscope's pages with templ. The pages are shells: the
// browser code in package static fills them from /api (the process list and
// the diagram of the chosen process, over the websocket), so a page never
// carries the graph itself and never holds inline script.
//
// The *_templ.go files are generated and committed; after editing a .templ
// file run `go tool templ generate` at the top of the repository (as CI
// does, which fails on a difference), or `go generate ./web`, which runs it
// from there so that the generated file names match.
package web

//go:generate go tool templ generate -path ..

import (
	"net/http"

	"github.com/a-h/templ"
)

// Page is what the query string of a page asks for.
type Page struct {
	// Theme is "light" or "dark" when the address says (?theme=), else ""
	// and the page follows the browser's preference or the last choice.
	Theme string
	// ThemeFixed says the theme came from the address.
	ThemeFixed bool
	// Chrome is false in documentation mode (?chrome=0): the diagram
	// alone, on a plain page, for screenshots.
	Chrome bool
}

// ParsePage reads a Page from a request's query; unknown values are ignored.
func ParsePage(r *http.Request) Page {
	q := r.URL.Query()
	p := Page{Chrome: q.Get("chrome") != "0"}
	switch t := q.Get("theme"); t {
	case "light", "dark":
		p.Theme, p.ThemeFixed = t, true
	}
	return p
}

// Dashboard returns the handler of the dashboard page, served at / and at
// /process/{pid} (the page reads the pid from its address). templ renders
// into a buffer first, so a failed render is a 500, never half a page.
func Dashboard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		templ.Handler(dashboard(ParsePage(r)), templ.WithContentType("text/html; charset=utf-8")).ServeHTTP(w, r)
	})
}
