// Package web renders fdscope's pages with templ. The pages are shells: the
// browser code in package static fills them from /api (the process list and
// the focus of the chosen process, over the websocket), so a page never
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

// Dashboard returns the handler of the dashboard page. templ.Handler renders
// into a buffer first, so a failed render is a 500, never half a page.
func Dashboard() http.Handler {
	return templ.Handler(dashboard(), templ.WithContentType("text/html; charset=utf-8"))
}
