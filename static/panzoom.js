// Pan and zoom of an SVG view, shared by the diagram (diagram.js) and the
// map (map.js). A view is an object with container (the element around
// the SVG), viewport (the <g> that is moved and scaled), extent ({w, h}:
// the drawing's size in pixels, or null) and the current translation and
// scale tx, ty, k; these functions read and set them.

const num = (f) => String(Math.round(f * 100) / 100);

// apply moves the viewport to the view's translation and scale.
export function apply(view) {
  view.viewport.setAttribute("transform", "translate(" + num(view.tx) + "," + num(view.ty) + ") scale(" + view.k + ")");
  view.container.dataset.zoom = String(Math.round(view.k * 100) / 100);
}

// fit shows the whole drawing, at most max times its size (and at least
// min). One so big that the whole of it would be read at less than
// minReadable times its size is shown from its top left at readable
// times its size instead, unless all is true (the fit button).
export function fit(view, all, { max, min, minReadable, readable }) {
  const r = view.container.getBoundingClientRect();
  if (!view.extent || r.width === 0 || r.height === 0) {
    view.k = 1;
    view.tx = view.ty = 0;
    return apply(view);
  }
  const k = Math.max(Math.min(r.width / view.extent.w, r.height / view.extent.h, max), min);
  if (k >= minReadable || all) {
    view.k = k;
    view.tx = Math.max(0, (r.width - view.extent.w * k) / 2);
  } else {
    view.k = readable;
    view.tx = 0;
  }
  view.ty = 0;
  apply(view);
}

// zoomBy scales the view by f around the point (px, py) of the container
// (its centre when not given).
export function zoomBy(view, f, px, py) {
  const r = view.container.getBoundingClientRect();
  if (px === undefined) {
    px = r.width / 2;
    py = r.height / 2;
  }
  const k = Math.min(Math.max(view.k * f, 0.05), 8);
  view.tx = px - ((px - view.tx) * k) / view.k;
  view.ty = py - ((py - view.ty) * k) / view.k;
  view.k = k;
  apply(view);
}

// wheel handles a wheel event on the SVG: it scrolls the view, or with
// Ctrl (or a pinch, which browsers send as Ctrl+wheel) zooms around the
// pointer. With sideways, Shift turns a vertical wheel into a sideways one.
export function wheel(view, svg, ev, sideways) {
  ev.preventDefault();
  const line = ev.deltaMode === 1 ? 20 : ev.deltaMode === 2 ? 400 : 1;
  if (ev.ctrlKey || ev.metaKey) {
    const r = svg.getBoundingClientRect();
    zoomBy(view, Math.exp(-ev.deltaY * line * 0.0025), ev.clientX - r.left, ev.clientY - r.top);
    return;
  }
  const shifted = sideways && ev.shiftKey && !ev.deltaX;
  view.tx -= (shifted ? ev.deltaY : ev.deltaX) * line;
  view.ty -= (shifted ? 0 : ev.deltaY) * line;
  apply(view);
}
