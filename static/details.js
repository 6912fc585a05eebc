// The details panel: what the hovered or selected element of the diagram
// is — the fd, its open file description, the object, and the other end —
// read from the focus subgraph.

import { formatBytes, latest, rateText } from "./activity.js";
import { h, hostOf } from "./dom.js";

const HINT = "Hover or click an fd to follow it to the other end. Drag or scroll to move, Ctrl+wheel to zoom, double-click a group to expand it.";

// renderDetails fills panel with info (what DiagramView's onSelect gives;
// null for nothing) using graph (a FocusGraph). actions: onFocus(pid, host),
// onExpand(groupPortID), expanded(groupPortID) → bool, and optionally
// lifeOf(inode) → what the history says of the connection through that
// object ("opened 10:42:03, closed 10:42:09: 6 s"; "" when it says nothing),
// and activityOf(nodeID) → the latest samples of a socket (activity.js), or
// undefined.
export function renderDetails(panel, info, graph, actions) {
  panel.classList.toggle("idle", !info);
  if (!info) {
    panel.replaceChildren(h("p", { class: "muted" }, HINT));
    return;
  }
  const parts = [];
  const { box, port } = info;
  if (port) {
    parts.push(h("h3", null, (box.label[0] || "") + " · " + port.label));
    if (port.expand) {
      parts.push(h("p", null, port.title || port.fds.length + " fds"),
        h("button", { type: "button", onclick: () => actions.onExpand(port.expand) }, actions.expanded(port.expand) ? "collapse" : "expand"));
      if (port.kind === "stdio") for (const id of port.node_ids) parts.push(...describeFD(graph, id, actions));
    } else if (port.node_ids.length === 1) {
      parts.push(...describeFD(graph, port.node_ids[0], actions));
    } else {
      parts.push(h("p", null, port.title || port.label));
    }
  } else if (box.kind === "process") {
    const n = graph.node(box.node_id);
    parts.push(h("h3", null, box.label[0]), dl([
      ["pid", box.pid],
      ["command", n?.cmdline],
      ["user", n ? n.user + " (uid " + n.uid + ")" : ""],
      ["parent", n?.ppid],
      ["threads", n?.threads],
      ["fds", n?.fd_count],
      ["error", n?.error],
    ]));
    if (!box.focus) parts.push(h("button", { type: "button", "data-pid": String(box.pid), onclick: () => actions.onFocus(box.pid, hostOf(box.node_id)) }, "open pid " + box.pid));
  } else if (box.expand) {
    // A group of descriptions or objects, or a crowd of processes.
    parts.push(h("h3", null, box.label.join(" ")), h("p", null, box.title || ""),
      h("button", { type: "button", onclick: () => actions.onExpand(box.expand) }, "expand"));
  } else {
    const n = graph.node(box.node_id);
    parts.push(h("h3", null, box.label.join(" · ")));
    if (n && n.kind === "ofd") {
      parts.push(dl([["mode", n.mode], ["flags", (n.flags || []).join(" ")], ["position", n.pos], ["shared by", n.sharers + " fds"]]));
      parts.push(...describeObject(graph.follow(n.id, "object"), actions));
    } else if (n) {
      parts.push(...describeObject(n, actions));
    } else if (box.title) {
      parts.push(h("p", null, box.title));
    }
  }
  const ends = otherEnds(info, actions);
  // The other end first: it is what the path leads to.
  if (ends) parts.splice(1, 0, h("h4", null, "other end"), ends);
  panel.replaceChildren(...parts);
}

// otherEnds lists the ports of other processes on the highlighted path,
// each a link to its process; null when there are none.
function otherEnds(info, actions) {
  const seen = new Set();
  const items = [];
  for (const p of info.peers) {
    if (info.port && p.pid === info.box.pid) continue;
    const k = p.pid + ":" + p.port.id;
    if (seen.has(k)) continue;
    seen.add(k);
    items.push(h("li", null, h("button", { type: "button", class: "link", "data-pid": String(p.pid), onclick: () => actions.onFocus(p.pid, hostOf(p.box.node_id)) },
      p.box.label[0] || "pid " + p.pid), " " + p.port.label));
  }
  return items.length ? h("ul", { class: "peers" }, items) : null;
}

function dl(pairs) {
  const d = h("dl");
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    d.append(h("dt", null, k), h("dd", null, String(v)));
  }
  return d;
}

function describeObject(o, actions) {
  if (!o) return [];
  return [h("h4", null, o.kind === "socket" ? "socket" : "object"), dl([
    ["kind", o.kind + (o.anon_type ? " (" + o.anon_type + ")" : "")],
    ["name", o.name],
    ["path", o.path !== o.name ? o.path : ""],
    ["inode", o.inode],
    ["device", o.rdev || o.dev],
    ["deleted", o.deleted ? "yes" : ""],
    ["family", o.family ? [o.family, o.type, o.protocol].filter(Boolean).join(" ") : ""],
    ["state", o.state],
    ["local", o.family ? o.local || "(unnamed)" : ""],
    ["remote", o.remote],
    ["queues", o.family ? "rx " + o.rx_queue + " · tx " + o.tx_queue : ""],
    ["in flight", o.in_flight ? o.in_flight + " fds (SCM_RIGHTS)" : ""],
    ["connection", o.inode && actions?.lifeOf ? actions.lifeOf(o.inode) : ""],
    ["detail", o.detail],
    ["error", o.error],
  ]), ...describeActivity(/^(socket|pipe|fifo)$/.test(o.kind) ? actions?.activityOf?.(o.id) : undefined)];
}

// describeActivity shows what flows through a socket, a pipe or a FIFO:
// the latest rate and queues, and a sparkline of the rate (or of the
// queue, for a unix socket or a pipe) over the samples kept.
function describeActivity(sock) {
  const p = latest(sock);
  if (!p) return [];
  const rows = [["now", rateText(p) || "idle"]];
  if (sock.via === "tcp") rows.push(["sent", formatBytes(p.send) + "/s"], ["received", formatBytes(p.recv) + "/s"]);
  rows.push(["queued", sock.via === "pipe" ? formatBytes(p.rq) + " waiting to be read" : "rx " + formatBytes(p.rq) + " · tx " + formatBytes(p.wq)]);
  const byRate = sock.via === "tcp";
  const values = sock.points.map((q) => (byRate ? q.send + q.recv : q.rq + q.wq));
  return [h("h4", null, "activity"), sparkline(values, byRate ? "bytes per second" : "bytes queued"), dl(rows)];
}

// sparkline draws values (oldest first) as a small SVG line, scaled to
// the largest.
function sparkline(values, what) {
  const W = 180, H = 36;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("width", String(W));
  svg.setAttribute("height", String(H));
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const top = Math.max(...values, 1);
  svg.setAttribute("aria-label", what + ": " + values.length + " samples, at most " + formatBytes(top));
  svg.dataset.samples = String(values.length);
  svg.dataset.max = String(Math.round(top));
  const step = values.length > 1 ? W / (values.length - 1) : W;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(H - 2 - (v / top) * (H - 4)).toFixed(1)}`);
  if (pts.length === 1) pts.push(`${W},${pts[0].split(",")[1]}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  const t = document.createElementNS(ns, "title");
  t.textContent = what + ", last " + values.length + " samples (max " + formatBytes(top) + ")";
  svg.append(t);
  return svg;
}

function describeFD(graph, fdID, actions) {
  const fd = graph.node(fdID);
  if (!fd) return [h("p", { class: "muted" }, fdID)];
  const ofd = graph.follow(fd.id, "ofd");
  const obj = ofd && graph.follow(ofd.id, "object");
  const parts = [h("h4", null, "fd " + fd.fd), dl([
    ["close-on-exec", fd.cloexec ? "yes" : "no"],
    ["error", fd.error],
  ])];
  if (ofd) {
    parts.push(h("h4", null, "open file description"), dl([
      ["mode", ofd.mode || "(path)"],
      ["flags", (ofd.flags || []).join(" ")],
      ["position", ofd.pos],
      ["shared by", ofd.sharers > 1 ? ofd.sharers + " fds" : ""],
    ]));
  }
  parts.push(...describeObject(obj, actions));
  return parts;
}
