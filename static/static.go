// Package static holds the dashboard's browser assets (JavaScript and CSS),
// embedded into the binary and served as they are under /static/. There is
// no inline script anywhere: the pages load these files, which the
// Content-Security-Policy allows from the page's own origin only.
package static

import "embed"

// FS holds the assets: app.js and app.css at its root.
//
//go:embed *.js *.css
var FS embed.FS
