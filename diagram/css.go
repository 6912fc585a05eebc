package diagram

// Stylesheet returns the CSS that SVG inlines into every document: the
// colour custom properties of the light, dark and auto themes and the rules
// for each element class. The dashboard serves the same rules
// (static/diagram.css, kept equal by a test) so that the diagram it draws
// in the page looks exactly like the exported SVG.
func Stylesheet() string { return svgStyle }
