// The diagram view: draws a diagram.Layout (the JSON the server sends, see
// diagram/layout.go) as interactive SVG, with the same geometry and classes
// as the server's own SVG renderer (diagram/svg.go), so that the page, the
// exported SVG and the PNG look alike.
//
// A new layout of the same focus is applied in place: elements are keyed by
// their layout IDs, those that did not change are left alone, those that
// moved glide (CSS transitions), new ones are marked "fresh" for a moment
// and removed ones fade out. Nothing is ever rebuilt from scratch unless
// the focus changes.

import { busier, latest, rateText, weight } from "./activity.js";
import { hostOf } from "./dom.js";
import * as pz from "./panzoom.js";

const SVGNS = "http://www.w3.org/2000/svg";

// The geometry the layout says (diagram.Geometry, as diagram/svg.go draws
// it): one layout cell is CW × CH pixels, PAD around, text baselines BASE
// below a row's centre. Set by setLayout before anything is drawn.
let CW = 9;
let CH = 20;
let PAD = 12;
let BASE = 5;
const cx = (x) => PAD + (x + 0.5) * CW;
const cy = (y) => PAD + (y + 0.5) * CH;

const FRESH_MS = 2500;
// Below MIN_READABLE times its size a whole diagram is not worth showing
// at once; READABLE is the zoom it is shown at instead.
export const MIN_READABLE = 0.45;
const READABLE = 0.8;
const GONE_MS = 900;

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function title(parent, text) {
  if (text) el("title", null, parent).textContent = text;
}

const num = (f) => String(Math.round(f * 100) / 100);

// DiagramView draws layouts into container. Callbacks:
//   onFocus(pid, host)    a peer process box was clicked (host: "" on one host)
//   onSelect(info|null)   the highlighted element changed (hover or click)
//   onExpand(groupPortID) a group was double-clicked
export class DiagramView {
  constructor(container, callbacks) {
    this.container = container;
    this.cb = callbacks;
    this.layout = null;
    this.boxes = new Map(); // box ID → {el, sig, box}
    this.ports = new Map(); // port ID → {el, port, box}
    this.edges = new Map(); // edge ID → {el, sig, edge}
    this.labels = new Map(); // edge ID → {el, sig}
    this.freshPorts = new Map(); // port ID → until when it is marked new
    this.focusID = null;
    this.selected = null; // {type, id} clicked
    this.hovered = null;
    this.reported = undefined; // what onSelect was last told
    this.k = 1;
    this.tx = 0;
    this.ty = 0;
    this.theme = "light";
    this.build();
  }

  build() {
    this.container.textContent = "";
    const svg = el("svg", { class: "fdscope theme-" + this.theme, role: "img", "aria-label": "diagram" }, this.container);
    const defs = el("defs", null, svg);
    for (const [id, cls] of [["fdscope-arrow", "head"], ["fdscope-arrow-conn", "head conn"]]) {
      const m = el("marker", {
        id, viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "8", markerHeight: "8",
        markerUnits: "userSpaceOnUse", orient: "auto",
      }, defs);
      el("path", { class: cls, d: "M0,0L10,5L0,10z" }, m);
    }
    this.svg = svg;
    this.bg = el("rect", { class: "bg", x: "0", y: "0", width: "100%", height: "100%" }, svg);
    this.viewport = el("g", { class: "viewport" }, svg);
    this.gBands = el("g", { class: "bands" }, this.viewport);
    this.gBoxes = el("g", { class: "boxes" }, this.viewport);
    this.gEdges = el("g", { class: "edges" }, this.viewport);
    this.gLabels = el("g", { class: "edge-labels" }, this.viewport);
    this.installPointer();
  }

  setTheme(theme) {
    this.theme = theme;
    this.svg.setAttribute("class", "fdscope theme-" + theme);
  }

  // clear empties the view, for a new focus.
  // reset clears the view for a new focus: loading when there is a pid,
  // empty otherwise.
  reset(pid) {
    this.clear();
    this.container.dataset.state = pid ? "loading" : "empty";
  }

  // nothing says there is nothing to draw for pid (the server does not
  // hold that process, yet).
  nothing(pid) {
    this.container.dataset.state = "empty";
    this.container.dataset.focus = String(pid);
  }

  // widthPx is the width of the view on the page, in pixels.
  widthPx() {
    return this.container.clientWidth;
  }

  clear() {
    this.layout = null;
    this.boxes.clear();
    this.ports.clear();
    this.edges.clear();
    this.labels.clear();
    this.freshPorts.clear();
    this.selected = this.hovered = null;
    for (const g of [this.gBands, this.gBoxes, this.gEdges, this.gLabels]) g.textContent = "";
    this.container.dataset.state = "empty";
    delete this.container.dataset.seq;
  }

  // setLayout draws layout (version seq). The first layout of a focus is
  // drawn from scratch and fitted; later ones are applied in place.
  setLayout(layout, seq) {
    const g = layout.geometry;
    if (g) ({ cell_width: CW, cell_height: CH, pad: PAD, baseline: BASE } = g);
    const first = this.layout === null || this.focusID !== layout.focus_id;
    if (first && this.layout !== null) this.clear();
    const now = performance.now();
    this.drawBands(layout);
    this.drawBoxes(layout, first, now);
    this.drawEdges(layout, first, now);
    this.layout = layout;
    this.focusID = layout.focus_id;
    // An empty layout (the process is gone) is drawn, and said.
    this.container.dataset.state = layout.boxes.length ? "ready" : "empty";
    this.container.dataset.focus = String(layout.focus);
    this.container.dataset.seq = String(seq);
    if (first) this.fit();
    // Keep a selection that still exists; drop one that went away.
    if (this.selected && !this.exists(this.selected)) this.selected = null;
    this.refreshHighlight();
    // Let the browser compute styles and layout now, so that the time
    // measured by the caller includes it.
    this.svg.getBoundingClientRect();
  }

  exists(ref) {
    return ref.type === "port" ? this.ports.has(ref.id) : this.boxes.has(ref.id);
  }

  drawBands(l) {
    this.gBands.textContent = "";
    const w = 2 * PAD + l.width * CW;
    for (const t of l.tiers) {
      const y = cy(t.separator);
      for (const d of [-2, 2]) el("line", { class: "sep", x1: num(PAD), y1: num(y + d), x2: num(w - PAD), y2: num(y + d) }, this.gBands);
    }
    for (const lb of l.labels) {
      el("text", { class: "band", x: num(PAD + lb.x * CW), y: num(cy(lb.y) + BASE) }, this.gBands).textContent = lb.text;
    }
    this.extent = { w, h: 2 * PAD + l.height * CH };
  }

  drawBoxes(l, first, now) {
    const seen = new Set();
    for (const b of l.boxes) {
      seen.add(b.id);
      const sig = boxSig(b);
      let rec = this.boxes.get(b.id);
      const transform = "translate(" + num(cx(b.rect.x)) + "," + num(cy(b.rect.y)) + ")";
      if (!rec) {
        rec = { el: el("g", null, this.gBoxes), sig: "", box: b };
        this.boxes.set(b.id, rec);
        if (!first) this.mark(rec.el, now);
      }
      if (rec.sig !== sig) {
        const oldPorts = new Set((rec.box.ports || []).map((p) => p.id));
        this.fillBox(rec, b);
        if (!first && rec.sig !== "") {
          for (const p of b.ports || []) if (!oldPorts.has(p.id)) this.mark(this.ports.get(p.id).el, now, p.id);
        }
        rec.sig = sig;
      }
      rec.box = b;
      for (const p of b.ports || []) {
        const pr = this.ports.get(p.id);
        pr.box = b;
        pr.port = p;
      }
      if (rec.el.getAttribute("transform") !== transform) rec.el.setAttribute("transform", transform);
    }
    for (const [id, rec] of this.boxes) {
      if (seen.has(id)) continue;
      for (const p of rec.box.ports || []) {
        if (this.ports.get(p.id)?.el.parentNode?.parentNode === rec.el) this.ports.delete(p.id);
      }
      this.boxes.delete(id);
      this.retire(rec.el);
    }
  }

  // fillBox (re)draws the inside of a box group: frame, label, ports. Coordinates
  // are relative to the centre of the box's top-left cell.
  fillBox(rec, b) {
    const g = rec.el;
    if (!rec.frame) {
      rec.tip = el("title", null, g);
      rec.frame = el("rect", { class: "frame", x: "0", y: "0", rx: "4" }, g);
      rec.texts = [];
      rec.portsG = el("g", { class: "ports" }, g);
      rec.portEls = new Map(); // port ID → {el, sig}
    }
    let cls = "box k-" + b.class + " " + b.kind;
    if (b.focus) cls += " focus";
    if (b.kind === "process" && !b.focus) cls += " peer";
    if (b.expand) cls += " expandable";
    if (g.classList.contains("fresh")) cls += " fresh";
    g.setAttribute("class", cls);
    g.setAttribute("data-box-id", b.id);
    g.setAttribute("data-kind", b.kind);
    setOrDrop(g, "data-node-id", b.node_id);
    setOrDrop(g, "data-pid", b.pid ? String(b.pid) : "");
    setOrDrop(g, "data-members", (b.members || []).join(" "));
    setOrDrop(g, "data-group-id", b.kind === "group" ? b.id : "");
    setOrDrop(g, "data-expand", b.expand || "");
    rec.tip.textContent = b.title || "";
    const r = b.rect;
    rec.frame.setAttribute("width", num((r.w - 1) * CW));
    rec.frame.setAttribute("height", num((r.h - 1) * CH));
    for (const t of rec.texts) t.remove();
    rec.texts = b.label.map((s, i) => {
      const t = el("text", { class: (b.kind === "process" || b.kind === "crowd") && i === 0 ? "title" : "label", x: num(1.5 * CW), y: num((1 + i) * CH + BASE) });
      t.textContent = s;
      return g.insertBefore(t, rec.portsG);
    });
    // Ports: only those that changed are drawn again (a busy process's
    // box holds hundreds, and gains one at a time).
    const seen = new Set();
    for (const p of b.ports || []) {
      seen.add(p.id);
      const sig = portSig(p, b);
      let pr = rec.portEls.get(p.id);
      if (!pr || pr.sig !== sig) {
        const pg = this.drawPort(p, b);
        if (pr) rec.portsG.replaceChild(pg, pr.el);
        else rec.portsG.appendChild(pg);
        pr = { el: pg, sig };
        rec.portEls.set(p.id, pr);
        const left = (this.freshPorts.get(p.id) || 0) - performance.now();
        if (left > 0) this.flag(pg, left);
        else this.freshPorts.delete(p.id);
      }
      this.ports.set(p.id, { el: pr.el, port: p, box: b });
    }
    for (const [id, pr] of rec.portEls) {
      if (seen.has(id)) continue;
      pr.el.remove();
      rec.portEls.delete(id);
      if (this.ports.get(id)?.el === pr.el) this.ports.delete(id);
    }
  }

  // drawPort draws port p of box b, relative to the box's top-left cell.
  drawPort(p, b) {
    const pr = p.rect;
    const ox = cx(b.rect.x);
    const oy = cy(b.rect.y);
    const pg = el("g", { class: "port " + p.kind, "data-port-id": p.id });
    if (p.fds.length > 0) {
      pg.setAttribute("data-fd", String(p.fds[0]));
      pg.setAttribute("data-fds", p.fds.join(" "));
      pg.setAttribute("data-node-id", p.node_ids[0]);
      pg.setAttribute("data-node-ids", p.node_ids.join(" "));
    }
    if (b.pid) pg.setAttribute("data-pid", String(b.pid));
    if (p.expand) {
      pg.classList.add("expandable");
      pg.setAttribute("data-expand", p.expand);
    }
    title(pg, p.title);
    el("rect", {
      x: num(PAD + pr.x * CW - 4 - ox), y: num(cy(pr.y) - CH * 0.4 - oy),
      width: num(pr.w * CW + 8), height: num(CH * 0.8), rx: "3",
    }, pg);
    el("text", { x: num(PAD + pr.x * CW - ox), y: num(cy(pr.y) + BASE - oy) }, pg).textContent = p.label;
    return pg;
  }

  drawEdges(l, first, now) {
    const seen = new Set();
    for (const e of l.edges) {
      if (e.points.length < 2) continue;
      seen.add(e.id);
      const d = e.points.map((p, i) => (i === 0 ? "M" : "L") + num(cx(p.x)) + "," + num(cy(p.y))).join("");
      let rec = this.edges.get(e.id);
      if (!rec) {
        const path = el("path", {
          class: "edge e-" + e.kind, "data-edge-id": e.id, "data-kind": e.kind,
          "data-from": e.from, "data-to": e.to,
        }, this.gEdges);
        if (e.arrow) path.setAttribute("marker-end", "url(#" + (e.kind === "peer" || e.kind === "accepted" ? "fdscope-arrow-conn" : "fdscope-arrow") + ")");
        title(path, e.title);
        rec = { el: path, d: "", edge: e };
        this.edges.set(e.id, rec);
        if (!first) this.mark(path, now);
      }
      if (rec.d !== d) {
        rec.el.setAttribute("d", d);
        rec.d = d;
      }
      rec.edge = e;
      this.drawEdgeLabel(e, first, now);
      this.drawRate(rec);
    }
    for (const [id, rec] of this.edges) {
      if (!seen.has(id)) {
        this.edges.delete(id);
        this.retire(rec.el);
        rec.rate?.remove();
      }
    }
    for (const [id, rec] of this.labels) {
      const e = rec.edge;
      if (!seen.has(id) || !this.edges.get(id).edge.label_rect) {
        this.labels.delete(id);
        this.retire(rec.el);
      } else if (e !== this.edges.get(id).edge) {
        rec.edge = this.edges.get(id).edge;
      }
    }
  }

  // setActivity draws what flows on each connection (a Map of socket node
  // ID → samples, activity.js): a heavier line and a rate above its label.
  setActivity(byID) {
    this.activity = byID;
    for (const rec of this.edges.values()) this.drawRate(rec);
  }

  drawRate(rec) {
    const e = rec.edge;
    if (e.kind !== "peer") return;
    const p = this.activity ? busier(latest(this.activity.get(e.from)), latest(this.activity.get(e.to))) : null;
    const text = rateText(p);
    if (!text) {
      rec.el.classList.remove("busy");
      rec.el.style.strokeWidth = "";
      rec.el.removeAttribute("data-rate");
      rec.rate?.remove();
      rec.rate = null;
      return;
    }
    rec.el.classList.add("busy");
    rec.el.style.strokeWidth = String(1.5 + weight(p));
    rec.el.setAttribute("data-rate", String(Math.round(p.send + p.recv)));
    // Above the line: at the label when there is one, else mid-way.
    const r = e.label_rect;
    const [a, b] = [e.points[1], e.points[2] || e.points[1]];
    const x = r ? PAD + r.x * CW : cx(Math.min(a.x, b.x) + Math.abs(a.x - b.x) / 2);
    const y = (r ? cy(r.y) : cy(a.y)) - CH * 0.55;
    if (!rec.rate) rec.rate = el("text", { class: "edge-rate", "data-edge-id": e.id }, this.gLabels);
    rec.rate.setAttribute("x", num(x));
    rec.rate.setAttribute("y", num(y));
    rec.rate.textContent = text;
  }

  drawEdgeLabel(e, first, now) {
    if (!e.label_rect) return;
    const r = e.label_rect;
    const sig = JSON.stringify([r, e.label]);
    let rec = this.labels.get(e.id);
    if (rec && rec.sig === sig) return;
    if (!rec) {
      rec = { el: el("g", { class: "edge-label", "data-edge-id": e.id }, this.gLabels), sig: "", edge: e };
      this.labels.set(e.id, rec);
      if (!first) this.mark(rec.el, now);
    }
    rec.el.textContent = "";
    el("rect", {
      x: num(PAD + r.x * CW - CW / 2), y: num(cy(r.y) - CH * 0.4), width: num((r.w + 1) * CW), height: num(CH * 0.8),
    }, rec.el);
    const t = el("text", { class: "edge-label", x: num(PAD + r.x * CW), y: num(cy(r.y) + BASE) }, rec.el);
    t.textContent = shorten(e.label, r.w);
    title(rec.el, e.title || e.label);
    rec.sig = sig;
    rec.edge = e;
  }

  // mark flags an element as new for a moment. Ports are remembered by ID
  // (freshPorts), for their box may be redrawn while they are still new.
  mark(node, now, portID) {
    if (portID) this.freshPorts.set(portID, now + FRESH_MS);
    this.flag(node, FRESH_MS);
  }

  flag(node, ms) {
    node.classList.add("fresh");
    setTimeout(() => node.classList.remove("fresh"), ms);
  }

  // retire fades an element out. Its test hooks go at once: it is no
  // longer part of the diagram.
  retire(node) {
    for (const a of ["data-pid", "data-fd", "data-fds", "data-node-id", "data-node-ids", "data-box-id", "data-edge-id", "data-port-id"]) {
      node.removeAttribute(a);
    }
    for (const c of node.querySelectorAll("[data-fd],[data-node-id],[data-pid],[data-port-id]")) {
      for (const a of ["data-pid", "data-fd", "data-fds", "data-node-id", "data-node-ids", "data-port-id"]) c.removeAttribute(a);
    }
    node.classList.add("gone");
    setTimeout(() => node.remove(), GONE_MS);
  }

  // ---- Highlighting: the path from an fd to the fds at the other end.

  // pathOf returns the sets of port, box and edge IDs on the paths through
  // ref: down from it to its objects, across their connections, and up from
  // every object reached to the descriptions and ports that hold it.
  pathOf(ref) {
    const l = this.layout;
    const out = new Map();
    const inn = new Map();
    const conn = new Map();
    const add = (m, k, e) => {
      if (!m.has(k)) m.set(k, []);
      m.get(k).push(e);
    };
    for (const e of l.edges) {
      if (e.kind === "peer" || e.kind === "accepted") {
        add(conn, e.from, e);
        add(conn, e.to, e);
      } else {
        add(out, e.from, e);
        add(inn, e.to, e);
      }
    }
    const ids = new Set([ref.id]);
    const edges = new Set();
    let objects = [];
    const down = (id) => {
      const next = out.get(id) || [];
      if (next.length === 0) objects.push(id);
      for (const e of next) {
        edges.add(e.id);
        if (!ids.has(e.to)) {
          ids.add(e.to);
          down(e.to);
        }
      }
    };
    const kind = ref.type === "box" && this.boxes.get(ref.id)?.box.kind;
    if (kind === "process" || kind === "crowd") {
      for (const p of this.boxes.get(ref.id).box.ports || []) {
        ids.add(p.id);
        down(p.id);
      }
    } else {
      down(ref.id);
    }
    // Across connections.
    for (const o of [...objects]) {
      for (const e of conn.get(o) || []) {
        edges.add(e.id);
        for (const end of [e.from, e.to]) {
          if (!ids.has(end)) {
            ids.add(end);
            objects.push(end);
          }
        }
      }
    }
    // Up from every object to the ports that hold it.
    const up = (id) => {
      for (const e of inn.get(id) || []) {
        edges.add(e.id);
        if (!ids.has(e.from)) {
          ids.add(e.from);
          up(e.from);
        }
      }
    };
    for (const o of objects) up(o);
    return { ids, edges };
  }

  refreshHighlight() {
    const ref = this.hovered || this.selected;
    const svg = this.svg;
    for (const n of svg.querySelectorAll(".hl, .sel")) n.classList.remove("hl", "sel");
    svg.classList.toggle("highlighting", !!ref && !!this.layout);
    if (!ref || !this.layout || !this.exists(ref)) {
      svg.classList.remove("highlighting");
      if (this.reported !== null) this.cb.onSelect?.(null);
      this.reported = null;
      return;
    }
    const { ids, edges } = this.pathOf(ref);
    const peers = [];
    for (const id of ids) {
      const port = this.ports.get(id);
      if (port) {
        port.el.classList.add("hl");
        const owner = this.boxes.get(port.box.id);
        if (owner) owner.el.classList.add("hl");
        if (port.box.pid && !port.box.focus) peers.push({ pid: port.box.pid, box: port.box, port: port.port });
      }
      const box = this.boxes.get(id);
      if (box) box.el.classList.add("hl");
    }
    for (const id of edges) {
      this.edges.get(id)?.el.classList.add("hl");
      this.labels.get(id)?.el.classList.add("hl");
    }
    const selEl = ref.type === "port" ? this.ports.get(ref.id)?.el : this.boxes.get(ref.id)?.el;
    selEl?.classList.add("sel");
    const info = { ref, peers };
    if (ref.type === "port") {
      const p = this.ports.get(ref.id);
      info.port = p.port;
      info.box = p.box;
    } else {
      info.box = this.boxes.get(ref.id).box;
    }
    info.path = [...ids].map((id) => this.boxes.get(id)?.box).filter(Boolean);
    this.reported = info;
    this.cb.onSelect?.(info);
  }

  select(ref) {
    this.selected = ref;
    this.refreshHighlight();
  }

  // ---- Pan and zoom.

  apply() {
    pz.apply(this);
  }


  // fit shows the whole diagram, at most 1.6 times its size. A diagram so
  // big that the whole of it would be unreadable (a process with hundreds
  // of peers) is shown from its top left at a readable size instead,
  // unless all is true (the fit button).
  fit(all) {
    pz.fit(this, all, { max: 1.6, min: 0.02, minReadable: MIN_READABLE, readable: READABLE });
  }


  zoomBy(f, px, py) {
    pz.zoomBy(this, f, px, py);
  }


  installPointer() {
    const svg = this.svg;
    let drag = null;
    // The wheel scrolls; with Ctrl (or a pinch, which browsers send as
    // Ctrl+wheel) it zooms around the pointer.
    svg.addEventListener("wheel", (ev) => pz.wheel(this, svg, ev, true), { passive: false });
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false };
    });
    svg.addEventListener("pointermove", (ev) => {
      if (drag) {
        const dx = ev.clientX - drag.x;
        const dy = ev.clientY - drag.y;
        if (!drag.moved && Math.hypot(dx, dy) > 4) {
          drag.moved = true;
          svg.setPointerCapture(ev.pointerId);
          svg.classList.add("panning");
        }
        if (drag.moved) {
          this.tx = drag.tx + dx;
          this.ty = drag.ty + dy;
          this.apply();
          return;
        }
      }
      const ref = this.refAt(ev.target);
      const same = (a, b) => (a === b) || (a && b && a.type === b.type && a.id === b.id);
      if (!same(ref, this.hovered)) {
        this.hovered = ref && ref.type !== "edge" ? ref : null;
        this.refreshHighlight();
      }
    });
    svg.addEventListener("pointerleave", () => {
      if (this.hovered) {
        this.hovered = null;
        this.refreshHighlight();
      }
    });
    const end = (ev) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      svg.classList.remove("panning");
      if (moved) {
        try {
          svg.releasePointerCapture(ev.pointerId);
        } catch {
          // not captured
        }
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("click", (ev) => {
      if (svg.classList.contains("panning")) return;
      const ref = this.refAt(ev.target);
      if (ref && ref.type === "box") {
        const b = this.boxes.get(ref.id).box;
        if (b.kind === "process" && !b.focus && b.pid) {
          this.cb.onFocus?.(b.pid, hostOf(b.node_id));
          return;
        }
        if (b.kind === "crowd" && b.expand) {
          // A crowd of processes that share with the focus: draw them one by one.
          this.cb.onExpand?.(b.expand);
          return;
        }
      }
      this.selected = ref && ref.type !== "edge" ? ref : null;
      this.hovered = null;
      this.refreshHighlight();
    });
    svg.addEventListener("dblclick", (ev) => {
      const ref = this.refAt(ev.target);
      // The layout says which group draws a port or box one by one.
      const id = ref && (ref.type === "port" ? this.ports.get(ref.id)?.port.expand : this.boxes.get(ref.id)?.box.expand);
      if (id) this.cb.onExpand?.(id);
    });
  }

  // refAt names the port or box (or edge) under a DOM node.
  refAt(node) {
    const port = node.closest?.("g.port[data-port-id]");
    if (port) return { type: "port", id: port.getAttribute("data-port-id") };
    const box = node.closest?.("g.box[data-box-id]");
    if (box) return { type: "box", id: box.getAttribute("data-box-id") };
    return null;
  }
}


// boxSig is what a box looks like apart from where it is: a box whose sig
// did not change is moved, not redrawn. (A plain concatenation: this runs
// for every box of every live update.)
function boxSig(b) {
  let s = b.class + SEP + b.kind + SEP + (b.focus ? 1 : 0) + SEP + b.label.join("\n") + SEP + (b.title || "") + SEP +
    b.rect.w + SEP + b.rect.h + SEP + (b.members ? b.members.join(" ") : "");
  if (b.ports) for (const p of b.ports) s += SEP + portSig(p, b);
  return s;
}

// portSig is what a port looks like in its box.
function portSig(p, b) {
  return p.id + SEP + p.kind + SEP + p.label + SEP + (p.title || "") + SEP + (p.rect.x - b.rect.x) + SEP +
    (p.rect.y - b.rect.y) + SEP + p.rect.w + SEP + p.node_ids.join(" ") + SEP + (b.pid || 0);
}

const SEP = "\u0001";

function setOrDrop(node, name, value) {
  if (value) node.setAttribute(name, value);
  else node.removeAttribute(name);
}

// shorten cuts s to n characters with "…", as diagram.shorten does for
// labels that are not paths.
function shorten(s, n) {
  const r = [...s];
  if (r.length <= n) return s;
  return r.slice(0, Math.max(n - 1, 0)).join("") + "…";
}
