// The map of the host: the groups of processes (systemd units, containers,
// pipelines, programs, remote endpoints) and the links between those that
// talk to each other, as the server computes and lays it out (the "map"
// message of /api/ws, docs/map.md). Each group is a box in its cell of the
// server's grid, so boxes never overlap and keep their places from version
// to version; new groups and links are marked for a moment, vanished ones
// fade out. Clicking a group opens it into its processes; clicking a
// process focuses it. Drag or scroll to pan, Ctrl+wheel to zoom.

import * as pz from "./panzoom.js";

const SVGNS = "http://www.w3.org/2000/svg";
// Pixels per layout cell, as hostmap.PxX and PxY draw the server's SVG.
const PX = 8;
const PY = 16;
const PAD = 12;
const FRESH_MS = 2500;
const GONE_MS = 2500;
// Below MIN_READABLE times its size the whole map is not worth showing at
// once; READABLE is the zoom it opens at instead (as the diagram's).
const MIN_READABLE = 0.6;
const READABLE = 0.9;

function el(name, attrs, parent) {
  const e = document.createElementNS(SVGNS, name);
  if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function clip(s, n) {
  s = String(s);
  return [...s].length <= n ? s : [...s].slice(0, n - 1).join("") + "…";
}

// label returns the two lines of a group's box, as hostmap.Label does.
function label(g, width) {
  let sub = g.kind;
  if (g.kind !== "remote") {
    sub = g.pids.length + (g.pids.length === 1 ? " proc" : " procs");
    const ports = g.listen.map((l) => l.slice(l.lastIndexOf(":"))).join(" ");
    if (ports) sub += " " + ports;
  }
  return [clip(g.name, width), clip(sub, width)];
}

const linkID = (l) => l.from + "\u0000" + l.to;
const linkLabel = (l) => l.count + " " + l.via.join(", ");

// MapView draws map messages into container. Callbacks:
//   onFocus(pid, host)   a process of an opened group was clicked (host: in a hub)
//   onOpen(id)     a group was opened ("" when back on the map)
export class MapView {
  constructor(container, callbacks) {
    this.container = container;
    this.cb = callbacks;
    this.msg = null; // the map drawn
    this.groups = new Map(); // group ID → {el, g}
    this.links = new Map(); // link ID → {el, l}
    this.open = ""; // the group opened into its processes
    this.query = "";
    this.theme = "light";
    this.k = 1;
    this.tx = 0;
    this.ty = 0;
    this.fitted = false;
    this.rows = () => new Map(); // pid → process row, for names in an opened group
    this.build();
  }

  build() {
    this.container.textContent = "";
    this.svg = el("svg", { class: "hostmap theme-" + this.theme, role: "img", "aria-label": "map of the host" }, this.container);
    this.viewport = el("g", { class: "viewport" }, this.svg);
    this.linkLayer = el("g", { class: "links" }, this.viewport);
    this.groupLayer = el("g", { class: "groups" }, this.viewport);
    this.procLayer = el("g", { class: "procs" }, this.svg);
    this.installPointer();
  }

  setTheme(t) {
    this.theme = t;
    this.svg.setAttribute("class", "hostmap theme-" + t + (this.query ? " searching" : "") + (this.open ? " opened" : ""));
  }

  // setMap applies a map message: groups and links are keyed by ID; what
  // is new is marked fresh, what vanished fades out.
  setMap(msg) {
    const first = !this.msg;
    this.msg = msg;
    const cells = new Map(msg.layout.nodes.map((c) => [c.id, c]));
    const now = performance.now();
    const seen = new Set();
    for (const g of msg.groups) {
      seen.add(g.id);
      const c = cells.get(g.id);
      let e = this.groups.get(g.id);
      const sig = JSON.stringify([g.name, g.kind, g.pids.length, g.listen, c.x, c.y]);
      if (e && e.sig === sig) {
        e.g = g;
        continue;
      }
      if (e) e.el.remove();
      const node = this.drawGroup(g, c);
      if (!e && !first) this.mark(node, "fresh", now);
      this.groups.set(g.id, { el: node, g, sig });
    }
    for (const [id, e] of this.groups) {
      if (!seen.has(id)) {
        this.groups.delete(id);
        this.fade(e.el);
      }
    }
    const seenLinks = new Set();
    for (const l of msg.links) {
      const id = linkID(l);
      seenLinks.add(id);
      const a = cells.get(l.from);
      const b = cells.get(l.to);
      let e = this.links.get(id);
      const sig = JSON.stringify([l.count, l.via, a.x, a.y, b.x, b.y]);
      if (e && e.sig === sig) continue;
      if (e) e.el.remove();
      const line = el("line", {
        class: "link", "data-from": l.from, "data-to": l.to,
        x1: PAD + (a.x + a.w / 2) * PX, y1: PAD + (a.y + a.h / 2) * PY,
        x2: PAD + (b.x + b.w / 2) * PX, y2: PAD + (b.y + b.h / 2) * PY,
        "stroke-width": (1 + Math.log2(l.count)).toFixed(1),
      }, this.linkLayer);
      el("title", null, line).textContent = linkLabel(l);
      if (!e && !first) this.mark(line, "fresh", now);
      this.links.set(id, { el: line, l, sig });
    }
    for (const [id, e] of this.links) {
      if (!seenLinks.has(id)) {
        this.links.delete(id);
        this.fade(e.el);
      }
    }
    this.extent = { w: msg.layout.width * PX + 2 * PAD, h: msg.layout.height * PY + 2 * PAD };
    this.container.dataset.state = msg.groups.length ? "ready" : "empty";
    this.container.dataset.groups = String(msg.groups.length);
    this.highlight();
    if (this.open) this.drawOpen();
    if (first || !this.fitted) this.fit();
  }

  drawGroup(g, c) {
    const node = el("g", { class: "group kind-" + g.kind, "data-group": g.id, tabindex: "0" }, this.groupLayer);
    el("title", null, node).textContent = g.name + (g.detail ? " (" + g.detail + ")" : "") +
      (g.listen.length ? "\nlistens on " + g.listen.join(", ") : "") + "\nclick to open";
    const x = PAD + c.x * PX;
    const y = PAD + c.y * PY;
    el("rect", { x, y, width: c.w * PX, height: c.h * PY, rx: 6 }, node);
    const [a, b] = label(g, c.w - 2);
    el("text", { class: "name", x: x + PX, y: y + PY * 1.5 }, node).textContent = a;
    el("text", { class: "sub", x: x + PX, y: y + PY * 2.5 + 2 }, node).textContent = b;
    return node;
  }

  mark(e, cls, now) {
    e.classList.add(cls);
    setTimeout(() => e.classList.remove(cls), FRESH_MS - (performance.now() - now));
  }

  fade(e) {
    e.classList.add("vanished");
    e.removeAttribute("data-group");
    setTimeout(() => e.remove(), GONE_MS);
  }

  // search highlights the groups that match q (name, kind, detail, a
  // process name, a pid, a listening port) and dims the others.
  search(q) {
    this.query = q.trim().toLowerCase();
    this.highlight();
  }

  highlight() {
    const q = this.query;
    let n = 0;
    for (const { el: e, g } of this.groups.values()) {
      const hit = !!q && [g.name, g.kind, g.detail || "", ...g.comms, ...g.pids.map(String), ...g.listen]
        .some((s) => s.toLowerCase().includes(q));
      e.classList.toggle("match", hit);
      if (hit) n++;
    }
    this.svg.classList.toggle("searching", !!q);
    this.container.dataset.matches = String(n);
  }

  // openGroup draws the processes of group id in place of the map ("": the map).
  openGroup(id) {
    this.open = id;
    this.svg.classList.toggle("opened", !!id);
    this.drawOpen();
    this.cb.onOpen?.(id);
  }

  drawOpen() {
    this.procLayer.textContent = "";
    const e = this.open && this.groups.get(this.open);
    if (!e) {
      if (this.open) this.openGroup("");
      return;
    }
    const g = e.g;
    const rows = this.rows();
    const w = 22 * PX;
    const h = 3 * PY;
    const cols = Math.max(1, Math.min(6, Math.ceil(Math.sqrt(g.pids.length))));
    const r = this.container.getBoundingClientRect();
    const x0 = Math.max(PAD, (r.width - cols * (w + 2 * PX)) / 2);
    el("text", { class: "open-title", x: x0, y: PAD + PY }, this.procLayer).textContent =
      g.name + " — " + (g.detail || g.kind) + " · " + g.pids.length + (g.pids.length === 1 ? " process" : " processes");
    g.pids.forEach((pid, i) => {
      const row = rows.get(pid);
      const x = x0 + (i % cols) * (w + 2 * PX);
      const y = PAD + 2 * PY + Math.floor(i / cols) * (h + PY);
      const host = g.hosts?.[i] || ""; // in a hub: the pid's host
      const p = el("g", { class: "proc", "data-pid": String(pid), "data-host": host, tabindex: "0" }, this.procLayer);
      el("rect", { x, y, width: w, height: h, rx: 4 }, p);
      el("text", { class: "name", x: x + PX, y: y + PY * 1.25 }, p).textContent = clip(row ? row.comm : "pid " + pid, 20);
      el("text", { class: "sub", x: x + PX, y: y + PY * 2.3 }, p).textContent =
        clip("pid " + pid + (row ? " · " + row.fd_count + " fds · " + row.connections + " conn" : ""), 20);
      el("title", null, p).textContent = "open the focus view of pid " + pid;
    });
  }

  // ---- Pan and zoom, as the diagram's.

  apply() {
    pz.apply(this);
  }


  // fit shows the whole map, at most 1.4 times its size. A map so big that
  // the whole of it would be unreadable (a busy host's hundred groups on a
  // laptop) opens from its top left at a readable size instead, where the
  // busiest groups are, unless all is true (the fit button).
  fit(all) {
    if (this.extent) this.fitted = true;
    pz.fit(this, all, { max: 1.4, min: 0.05, minReadable: MIN_READABLE, readable: READABLE });
  }


  zoomBy(f, px, py) {
    pz.zoomBy(this, f, px, py);
  }


  installPointer() {
    const svg = this.svg;
    let drag = null;
    svg.addEventListener("wheel", (ev) => {
      if (!this.open) pz.wheel(this, svg, ev, false);
    }, { passive: false });
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button === 0 && !this.open) drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false };
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!drag) return;
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
      }
    });
    const end = (ev) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      if (moved) {
        try {
          svg.releasePointerCapture(ev.pointerId);
        } catch {
          // not captured
        }
        // The click that ends a drag is not a click on a group.
        setTimeout(() => svg.classList.remove("panning"), 0);
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    const activate = (target) => {
      if (svg.classList.contains("panning")) return false;
      const p = target.closest("[data-pid]");
      if (p && this.open) {
        this.cb.onFocus(Number(p.dataset.pid), p.dataset.host || "");
        return true;
      }
      const g = target.closest("[data-group]");
      if (g && !this.open) {
        this.openGroup(g.dataset.group);
        return true;
      }
      return false;
    };
    svg.addEventListener("click", (ev) => activate(ev.target));
    svg.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && activate(ev.target)) ev.preventDefault();
      else if (ev.key === "Escape" && this.open) this.openGroup("");
    });
  }
}
