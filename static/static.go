// Package static holds the dashboard's browser assets, embedded into the
// binary and served as they are under /static/: app.js (the page: process
// list, summary, focus, websocket, exports), diagram.js (the interactive
// diagram drawn from a diagram.Layout), app.css, and diagram.css — the
// stylesheet of package diagram's SVG, copied here so that the page draws
// exactly what the export contains (a test keeps the copy equal; run
// `go test ./static -update` after changing diagram's styles).
//
// There is no build step and no inline script anywhere: the page loads
// these files as ES modules, which the Content-Security-Policy allows from
// the page's own origin only.
package static

import "embed"

// FS holds the assets at its root.
//
//go:embed *.js *.css
var FS embed.FS
