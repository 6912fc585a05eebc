// fdscope dashboard: the process list, the host summary, and the diagram of
// one process, kept live over /api/ws. The page never subscribes to the
// whole graph: it asks for the process list and, once a process is chosen,
// for its focus subgraph and the layout of its diagram (docs/api.md
// describes the protocol, docs/dashboard.md the page).

import { DiagramView, groupPortOf } from "./diagram.js";

const $ = (id) => document.getElementById(id);

// h builds an element: h("td", {class: "num"}, "42", child, ...).
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const k in attrs) {
      if (attrs[k] === undefined || attrs[k] === null || attrs[k] === false) continue;
      if (k === "class") e.className = attrs[k];
      else if (k.startsWith("data-") || k === "title" || k === "role" || k === "id" || k === "type" || k.startsWith("aria-")) e.setAttribute(k, attrs[k]);
      else e[k] = attrs[k];
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

// Measurements read by the browser benchmark (web/browser_bench_test.go).
const perf = (window.__fdscope = { renders: 0, lastRenderMs: 0, lastUpdateMs: 0, readyAt: 0 });

const state = {
  rows: new Map(), // process node ID → row
  rowsSeq: 0,
  focusPID: 0,
  graphSeq: 0,
  nodes: new Map(), // focus subgraph
  edges: new Map(),
  adj: null, // node ID → edges out, rebuilt lazily
  layoutSeq: 0,
  expand: new Set(), // group port IDs drawn fd by fd
  sort: "pid",
  query: "",
  matches: new Map(), // pid → what matched, from /api/search
  active: 0, // the pid the keyboard is on in the list
  theme: "light",
  ready: false,
  selection: null,
  focusError: "", // what the server said about the focus pid
};

let ws = null;
let wsGen = 0;
let view = null;

// ---- Themes.

function initTheme() {
  const b = document.body;
  let t = b.dataset.theme;
  if (!t) {
    try {
      t = localStorage.getItem("fdscope-theme") || "";
    } catch {
      t = "";
    }
  }
  if (t !== "light" && t !== "dark") t = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  setTheme(t, false);
}

function setTheme(t, remember) {
  state.theme = t;
  document.body.dataset.theme = t;
  view?.setTheme(t);
  $("theme-toggle").textContent = t === "dark" ? "light theme" : "dark theme";
  if (remember) {
    try {
      localStorage.setItem("fdscope-theme", t);
    } catch {
      // private mode: the choice lasts for this page
    }
  }
}

// ---- The websocket.

function status(text, ok) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (ok ? "ok" : "bad");
}

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

// layoutWidth is the width, in cells, the server wraps the diagram to:
// wide enough that the seed scenarios never wrap, narrow enough that a
// process with hundreds of peers is drawn in tiers that can be read at a
// zoom near 1.
function layoutWidth() {
  const px = $("diagram").clientWidth || 1000;
  return Math.min(2000, Math.max(300, Math.round((px / 9) * 2)));
}

// connect opens the stream for the current focus; a focus change opens a
// new one (the old one is closed and not reopened).
function connect() {
  const gen = ++wsGen;
  if (ws) {
    ws.onclose = null;
    ws.close(1000, "refocus");
  }
  const u = new URL("/api/ws", location.href);
  u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  u.search = "";
  u.searchParams.set("processes", "1");
  if (state.focusPID) {
    u.searchParams.set("graph", "focus");
    u.searchParams.set("pid", String(state.focusPID));
    u.searchParams.set("layout", "1");
    u.searchParams.set("width", String(layoutWidth()));
  } else {
    u.searchParams.set("graph", "none");
  }
  state.graphSeq = 0;
  state.rowsSeq = 0;
  let backoff = 500;
  const sock = new WebSocket(u.href);
  ws = sock;
  sock.onopen = () => {
    backoff = 500;
    status("live", true);
    if (state.focusPID && state.expand.size) send({ type: "expand", expand: [...state.expand] });
  };
  sock.onclose = (ev) => {
    if (gen !== wsGen) return;
    status("disconnected (" + ev.code + "), reconnecting…", false);
    setTimeout(() => gen === wsGen && connect(), backoff);
    backoff = Math.min(backoff * 2, 10000);
  };
  sock.onmessage = (ev) => {
    if (gen !== wsGen) return;
    const t0 = performance.now();
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    handle(m, t0);
  };
}

function handle(m, t0) {
  switch (m.type) {
    case "processes":
      state.rows.clear();
      for (const r of m.processes) state.rows.set(r.id, r);
      state.rowsSeq = m.seq;
      setReady();
      scheduleList();
      break;
    case "processes_diff":
      if (m.base !== state.rowsSeq) return send({ type: "resync" });
      for (const id of m.removed || []) state.rows.delete(id);
      for (const r of m.changed || []) state.rows.set(r.id, r);
      state.rowsSeq = m.seq;
      scheduleList();
      break;
    case "snapshot":
      if ((m.focus || 0) !== state.focusPID) return;
      state.nodes.clear();
      state.edges.clear();
      for (const n of m.graph.nodes) state.nodes.set(n.id, n);
      for (const e of m.graph.edges) state.edges.set(edgeKey(e), e);
      state.adj = null;
      state.graphSeq = m.seq;
      setReady();
      break;
    case "diff":
      if ((m.focus || 0) !== state.focusPID) return;
      if (m.base !== state.graphSeq) return send({ type: "resync" });
      for (const id of m.nodes_removed || []) state.nodes.delete(id);
      for (const n of m.nodes_added || []) state.nodes.set(n.id, n);
      for (const n of m.nodes_changed || []) state.nodes.set(n.id, n);
      for (const e of m.edges_removed || []) state.edges.delete(edgeKey(e));
      for (const e of m.edges_added || []) state.edges.set(edgeKey(e), e);
      for (const [k, e] of state.edges) if (!state.nodes.has(e.from) || !state.nodes.has(e.to)) state.edges.delete(k);
      state.adj = null;
      state.graphSeq = m.seq;
      break;
    case "layout":
      if ((m.focus || 0) !== state.focusPID) return;
      drawLayout(m.layout, m.seq, t0);
      break;
    case "error":
      if (state.focusPID && /focus/.test(m.error)) {
        state.focusError = m.error;
        renderFocusTitle();
      }
      console.warn("fdscope:", m.error);
      break;
  }
  $("seq").textContent = "version " + Math.max(state.rowsSeq, state.graphSeq, state.layoutSeq);
  if (m.type === "diff" || m.type === "snapshot") refreshDetails();
}

function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

function edgeKey(e) {
  return e.from + "\u0000" + e.kind + "\u0000" + e.to;
}

// ---- First scan: progress until the first data arrives.

let progressTimer = 0;

function pollProgress() {
  if (state.ready) return;
  fetch("/healthz", { credentials: "same-origin", cache: "no-store" })
    .then((r) => r.json())
    .then((hz) => {
      if (state.ready) return;
      const p = hz.progress;
      const bar = $("progress-bar");
      if (p && p.total > 0) {
        $("progress-text").textContent = "First scan: " + (p.phase || "reading processes") + " — " + p.done + " of " + p.total + " processes";
        bar.max = p.total;
        bar.value = p.done;
      } else if (hz.status === "ok") {
        $("progress-text").textContent = "Scan done, loading…";
      } else {
        $("progress-text").textContent = "First scan in progress…";
        bar.removeAttribute("value");
      }
    })
    .catch(() => {
      $("progress-text").textContent = "Waiting for the server…";
    })
    .finally(() => {
      if (!state.ready) progressTimer = setTimeout(pollProgress, 300);
    });
}

function setReady() {
  if (state.ready) return;
  state.ready = true;
  clearTimeout(progressTimer);
  document.body.dataset.state = "ready";
  $("progress").hidden = true;
  showPane();
}

// ---- The process list.

let listQueued = false;

function scheduleList() {
  if (listQueued) return;
  listQueued = true;
  requestAnimationFrame(() => {
    listQueued = false;
    renderList();
  });
}

function isKernelThread(r) {
  return r.pid === 2 || r.ppid === 2;
}

const sorters = {
  pid: (a, b) => a.pid - b.pid,
  name: (a, b) => a.comm.localeCompare(b.comm) || a.pid - b.pid,
  fds: (a, b) => b.fd_count - a.fd_count || a.pid - b.pid,
  peers: (a, b) => b.peers - a.peers || b.fd_count - a.fd_count || a.pid - b.pid,
};

function visibleRows() {
  const q = state.query.toLowerCase();
  const showKernel = $("kthreads").checked;
  const out = [];
  for (const r of state.rows.values()) {
    let match;
    if (q) {
      const local = String(r.pid) === q || r.comm.toLowerCase().includes(q) || (r.user || "").toLowerCase().includes(q) ||
        String(r.pid).startsWith(q);
      if (!local && !state.matches.has(r.pid)) continue;
      match = local ? "" : state.matches.get(r.pid);
    } else if (!showKernel && isKernelThread(r)) {
      continue;
    }
    out.push({ r, match });
  }
  out.sort((a, b) => sorters[state.sort](a.r, b.r));
  return out;
}

const rowEls = new Map(); // pid → {li, sig}

function renderList() {
  const list = $("process-list");
  const rows = visibleRows();
  const order = [];
  const keep = new Set();
  for (const { r, match } of rows) {
    keep.add(r.pid);
    const sig = [r.id, r.comm, r.user, r.fd_count, r.sockets, r.pipes, r.peers, r.error, match, r.pid === state.focusPID, r.pid === state.active].join("\u0000");
    let rec = rowEls.get(r.pid);
    if (!rec) {
      const cells = {
        pid: h("span", { class: "pid" }), comm: h("span", { class: "comm" }), user: h("span", { class: "user" }),
        fds: h("span", { class: "n", title: "fds" }), peers: h("span", { class: "n peers", title: "peer processes" }),
        why: h("span", { class: "why" }), match: h("span", { class: "match" }),
      };
      rec = { li: h("li", { id: "row-" + r.pid, role: "option" }, Object.values(cells)), cells, sig: "" };
      rowEls.set(r.pid, rec);
    }
    if (rec.sig !== sig) {
      // The row and its cells are updated in place, never replaced: a
      // click whose press and release straddle an update still lands.
      const { li, cells } = rec;
      li.dataset.pid = String(r.pid);
      li.dataset.nodeId = r.id;
      li.className = [r.error ? "denied" : "", r.pid === state.focusPID ? "selected" : "", r.pid === state.active ? "active" : ""].join(" ").trim();
      li.title = r.error ? "fds could not be read: " + r.error : r.comm + " (pid " + r.pid + ", user " + r.user + ")";
      li.setAttribute("aria-selected", r.pid === state.focusPID ? "true" : "false");
      cells.pid.textContent = String(r.pid);
      cells.comm.textContent = r.comm;
      cells.user.textContent = r.user;
      cells.fds.textContent = String(r.fd_count);
      cells.peers.textContent = r.peers ? String(r.peers) : "";
      cells.why.textContent = r.error ? "⚠ " + r.error : "";
      cells.why.hidden = !r.error;
      cells.match.textContent = match || "";
      cells.match.hidden = !match;
      rec.sig = sig;
    }
    order.push(rec.li);
  }
  for (const pid of rowEls.keys()) if (!keep.has(pid)) rowEls.delete(pid);
  // Move only the rows out of place: a row that stays where it is is never
  // detached, so a click on it survives the update.
  const wanted = new Set(order);
  for (const c of [...list.children]) if (!wanted.has(c)) c.remove();
  for (let i = 0; i < order.length; i++) {
    const at = list.children[i];
    if (at !== order[i]) list.insertBefore(order[i], at || null);
  }
  const total = state.rows.size;
  $("process-count").textContent = "(" + rows.length + (rows.length !== total ? " of " + total : "") + ")";
  list.setAttribute("aria-activedescendant", state.active && keep.has(state.active) ? "row-" + state.active : "");
  if (!state.focusPID) renderSummarySoon();
  renderFocusTitle();
}

function moveActive(delta) {
  const rows = visibleRows();
  if (rows.length === 0) return;
  let i = rows.findIndex((x) => x.r.pid === state.active);
  if (i < 0) i = delta > 0 ? -1 : rows.length;
  i = Math.min(Math.max(i + delta, 0), rows.length - 1);
  state.active = rows[i].r.pid;
  renderList();
  $("row-" + state.active)?.scrollIntoView({ block: "nearest" });
}

let searchTimer = 0;
let searchGen = 0;

function onSearch() {
  state.query = $("search").value.trim();
  state.matches = new Map();
  scheduleList();
  clearTimeout(searchTimer);
  if (!state.query) return;
  const gen = ++searchGen;
  searchTimer = setTimeout(() => {
    fetch("/api/search?q=" + encodeURIComponent(state.query), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((found) => {
        if (gen !== searchGen) return;
        const m = new Map();
        for (const f of found || []) if (!m.has(f.pid)) m.set(f.pid, f.match || "");
        state.matches = m;
        scheduleList();
      })
      .catch(() => {});
  }, 120);
}

// ---- Summary of the host, when no process is chosen.

let summaryTimer = 0;
let summaryAt = 0;

function renderSummarySoon() {
  if (performance.now() - summaryAt < 5000 || summaryTimer) return;
  summaryTimer = setTimeout(loadSummary, 0);
}

function loadSummary() {
  summaryTimer = 0;
  summaryAt = performance.now();
  fetch("/api/summary", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => renderSummary(s))
    .catch(() => renderSummary(null));
}

function renderSummary(s) {
  const rows = [...state.rows.values()];
  const stats = s?.stats;
  const fds = rows.reduce((n, r) => n + r.fd_count, 0);
  const denied = rows.filter((r) => r.error).length;
  $("summary-stats").textContent = stats
    ? `${stats.processes} processes, ${stats.fds} fds, ${stats.ofds} open file descriptions, ${stats.objects} objects` +
      ` — scanned in ${Math.round(stats.duration_ms)} ms` + (stats.denied_processes ? `, ${plural(stats.denied_processes, "process", "processes")} whose fds could not be read` : "") +
      (stats.sharing && stats.sharing !== "kcmp" ? `; fd sharing found by ${stats.sharing}` : "")
    : `${rows.length} processes, ${fds} fds` + (denied ? `, ${plural(denied, "process", "processes")} whose fds could not be read` : "");
  const table = (id, obj) => {
    const t = $(id);
    const entries = Object.entries(obj || {}).sort((a, b) => b[1] - a[1]);
    t.replaceChildren(...entries.map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "num" }, String(v)))));
  };
  table("summary-kinds", s?.kinds);
  table("summary-sockets", s?.sockets);
  const top = (id, list, what) => {
    $(id).replaceChildren(...(list || []).map((r) => h("li", { "data-pid": String(r.pid), "data-node-id": r.id, class: "link", title: "open pid " + r.pid },
      h("span", { class: "comm" }, r.comm), " ", h("span", { class: "muted" }, "pid " + r.pid + " · " + what(r)))));
  };
  const byPeers = s?.top_peers || rows.filter((r) => r.peers).sort(sorters.peers).slice(0, 10);
  const byFDs = s?.top_fds || rows.slice().sort(sorters.fds).slice(0, 10);
  top("summary-peers", byPeers, (r) => r.peers + " peers");
  top("summary-fds", byFDs, (r) => r.fd_count + " fds");
}

// ---- Focus and the address.

function pidFromURL() {
  const m = /^\/process\/(\d+)\/?$/.exec(location.pathname);
  if (m) return Number(m[1]);
  const q = new URLSearchParams(location.search).get("pid");
  return q && /^\d+$/.test(q) ? Number(q) : 0;
}

function urlFor(pid) {
  const q = new URLSearchParams(location.search);
  q.delete("pid");
  const rest = q.toString();
  return (pid ? "/process/" + pid : "/") + (rest ? "?" + rest : "");
}

// focus makes pid (0: none) the process in view; push adds a history entry.
function focus(pid, push) {
  if (push && pid !== state.focusPID) history.pushState({ pid }, "", urlFor(pid));
  if (pid === state.focusPID) return;
  state.focusPID = pid;
  state.active = pid || state.active;
  state.expand.clear();
  state.layoutSeq = 0;
  state.nodes.clear();
  state.edges.clear();
  state.adj = null;
  state.selection = null;
  view.clear();
  state.focusError = "";
  $("diagram").dataset.state = pid ? "loading" : "empty";
  renderExpanded();
  renderDetails(null);
  showPane();
  scheduleList();
  connect();
}

function showPane() {
  const focused = !!state.focusPID;
  $("summary").hidden = focused || !state.ready;
  $("focus").hidden = !focused;
  $("doc-link").href = focused ? "/process/" + state.focusPID + "?theme=light&chrome=0" : "/";
  if (!focused && state.ready) loadSummary();
  renderFocusTitle();
}

function rowOf(pid) {
  for (const r of state.rows.values()) if (r.pid === pid) return r;
  return null;
}

function renderFocusTitle() {
  if (!state.focusPID) {
    document.title = "fdscope";
    return;
  }
  const r = rowOf(state.focusPID);
  const t = r ? `${r.comm}  pid ${r.pid}` : `pid ${state.focusPID}`;
  $("focus-title").textContent = t;
  $("focus-title").dataset.pid = String(state.focusPID);
  document.title = t + " — fdscope";
  let note = "";
  if (r) {
    note = `${r.fd_count} fds · ${plural(r.peers, "peer", "peers")} · user ${r.user}` + (r.error ? " · ⚠ " + r.error : "");
  } else if (state.focusError) {
    note = state.focusError;
  } else if (state.rowsSeq) {
    note = "not running (it may have exited)";
  }
  $("focus-note").textContent = note;
}

function drawLayout(layout, seq, t0) {
  const first = state.layoutSeq === 0;
  view.setLayout(layout, seq);
  state.layoutSeq = seq;
  const dt = performance.now() - t0;
  perf.renders++;
  if (first) {
    perf.lastRenderMs = dt;
    if (!perf.readyAt) perf.readyAt = performance.now();
  } else {
    perf.lastUpdateMs = dt;
  }
  refreshDetails();
}

// ---- Expanded groups.

function toggleExpand(id) {
  if (state.expand.has(id)) state.expand.delete(id);
  else state.expand.add(id);
  send({ type: "expand", expand: [...state.expand] });
  renderExpanded();
}

function renderExpanded() {
  const n = state.expand.size;
  const span = $("expanded");
  span.replaceChildren();
  if (n) {
    span.append(n + " group" + (n === 1 ? "" : "s") + " expanded ",
      h("button", { type: "button", class: "link", onclick: () => {
        state.expand.clear();
        send({ type: "expand", expand: [] });
        renderExpanded();
      } }, "collapse"));
  }
}

// ---- Details of the hovered or selected element.

function outEdges(id) {
  if (!state.adj) {
    state.adj = new Map();
    for (const e of state.edges.values()) {
      if (!state.adj.has(e.from)) state.adj.set(e.from, []);
      state.adj.get(e.from).push(e);
    }
  }
  return state.adj.get(id) || [];
}

function follow(id, kind) {
  const e = outEdges(id).find((x) => x.kind === kind);
  return e ? state.nodes.get(e.to) : null;
}

function refreshDetails() {
  if (state.selection) renderDetails(state.selection);
}

function dl(pairs) {
  const d = h("dl");
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    d.append(h("dt", null, k), h("dd", null, String(v)));
  }
  return d;
}

function describeObject(o) {
  if (!o) return [];
  const out = [h("h4", null, o.kind === "socket" ? "socket" : "object"), dl([
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
    ["detail", o.detail],
    ["error", o.error],
  ])];
  return out;
}

function describeFD(fdID) {
  const fd = state.nodes.get(fdID);
  if (!fd) return [h("p", { class: "muted" }, fdID)];
  const ofd = follow(fd.id, "ofd");
  const obj = ofd && follow(ofd.id, "object");
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
  parts.push(...describeObject(obj));
  return parts;
}

function renderDetails(info) {
  const d = $("details");
  d.classList.toggle("idle", !info);
  if (!info) {
    d.replaceChildren(h("p", { class: "muted" }, "Hover or click an fd to follow it to the other end. Drag to pan, wheel to zoom, double-click a group to expand it."));
    return;
  }
  const parts = [];
  const { box, port } = info;
  if (port) {
    parts.push(h("h3", null, (box.label[0] || "") + " · " + port.label));
    if (port.node_ids.length > 1 || port.kind === "group" || port.kind === "stdio") {
      parts.push(h("p", null, port.title || port.fds.length + " fds"),
        h("button", { type: "button", onclick: () => toggleExpand(port.id) }, state.expand.has(port.id) ? "collapse" : "expand"));
      if (port.kind === "stdio") for (const id of port.node_ids) parts.push(...describeFD(id));
    } else if (port.node_ids.length === 1) {
      parts.push(...describeFD(port.node_ids[0]));
    } else {
      parts.push(h("p", null, port.title || port.label));
    }
  } else if (box.kind === "process") {
    const n = state.nodes.get(box.node_id);
    parts.push(h("h3", null, box.label[0]), dl([
      ["pid", box.pid],
      ["command", n?.cmdline],
      ["user", n ? n.user + " (uid " + n.uid + ")" : ""],
      ["parent", n?.ppid],
      ["threads", n?.threads],
      ["fds", n?.fd_count],
      ["error", n?.error],
    ]));
    if (!box.focus) parts.push(h("button", { type: "button", "data-pid": String(box.pid), onclick: () => focus(box.pid, true) }, "open pid " + box.pid));
  } else if (box.kind === "group") {
    parts.push(h("h3", null, box.label.join(" ")), h("p", null, box.title || ""),
      h("button", { type: "button", onclick: () => toggleExpand(groupPortOf(box.id)) }, "expand"));
  } else {
    const n = state.nodes.get(box.node_id);
    parts.push(h("h3", null, box.label.join(" · ")));
    if (n && n.kind === "ofd") {
      parts.push(dl([["mode", n.mode], ["flags", (n.flags || []).join(" ")], ["position", n.pos], ["shared by", n.sharers + " fds"]]));
      parts.push(...describeObject(follow(n.id, "object")));
    } else if (n) {
      parts.push(...describeObject(n));
    } else if (box.title) {
      parts.push(h("p", null, box.title));
    }
  }
  // The other ends.
  const peers = info.peers.filter((p) => p.pid !== box.pid || !port);
  if (peers.length) {
    const seen = new Set();
    const items = [];
    for (const p of peers) {
      const k = p.pid + ":" + p.port.id;
      if (seen.has(k)) continue;
      seen.add(k);
      items.push(h("li", null, h("button", { type: "button", class: "link", "data-pid": String(p.pid), onclick: () => focus(p.pid, true) },
        (p.box.label[0] || "pid " + p.pid)), " " + p.port.label));
    }
    // The other end first: it is what the path leads to.
    parts.splice(1, 0, h("h4", null, "other end"), h("ul", { class: "peers" }, items));
  }
  d.replaceChildren(...parts);
}

// ---- Export.

function exportURL(format) {
  const u = new URL("/api/processes/" + state.focusPID + "/diagram." + format, location.href);
  if (format === "svg") u.searchParams.set("theme", state.theme);
  else u.searchParams.set("width", "120");
  for (const g of state.expand) u.searchParams.append("expand", g);
  return u.href;
}

async function fetchText(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
  return r.text();
}

function download(blob, name) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name, class: "offscreen" });
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 2500);
}

async function exportSVG() {
  const pid = state.focusPID;
  try {
    const svg = await fetchText(exportURL("svg"));
    download(new Blob([svg], { type: "image/svg+xml" }), "fdscope-" + pid + ".svg");
    toast("saved fdscope-" + pid + ".svg");
  } catch (e) {
    toast("SVG export failed: " + e.message, true);
  }
}

async function exportPNG() {
  const pid = state.focusPID;
  try {
    const svg = await fetchText(exportURL("svg"));
    const img = new Image();
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
    await img.decode();
    const scale = 2;
    const c = h("canvas", { width: img.naturalWidth * scale, height: img.naturalHeight * scale });
    const ctx = c.getContext("2d");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    const blob = await new Promise((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error("canvas is empty"))), "image/png"));
    download(blob, "fdscope-" + pid + ".png");
    toast("saved fdscope-" + pid + ".png");
  } catch (e) {
    toast("PNG export failed: " + e.message, true);
  }
}

async function exportText() {
  try {
    const text = await fetchText(exportURL("txt"));
    $("export-text-output").value = text;
    try {
      await navigator.clipboard.writeText(text);
      toast("diagram copied as text");
    } catch {
      const ta = $("export-text-output");
      ta.select();
      const ok = document.execCommand && document.execCommand("copy");
      toast(ok ? "diagram copied as text" : "copy refused by the browser: the text is selected, press Ctrl+C", !ok);
    }
  } catch (e) {
    toast("text export failed: " + e.message, true);
  }
}

// ---- Wiring.

function onListKey(ev) {
  switch (ev.key) {
    case "ArrowDown": moveActive(1); break;
    case "ArrowUp": moveActive(-1); break;
    case "PageDown": moveActive(15); break;
    case "PageUp": moveActive(-15); break;
    case "Home": moveActive(-1e9); break;
    case "End": moveActive(1e9); break;
    case "Enter":
      if (state.active) focus(state.active, true);
      break;
    default:
      return;
  }
  ev.preventDefault();
}

function clickPid(ev) {
  const t = ev.target.closest("[data-pid]");
  if (!t || t.tagName === "BUTTON") return;
  const pid = Number(t.dataset.pid);
  state.active = pid;
  focus(pid, true);
}

function start() {
  view = new DiagramView($("diagram"), {
    onFocus: (pid) => focus(pid, true),
    onSelect: (info) => {
      state.selection = info;
      renderDetails(info);
    },
    onExpand: toggleExpand,
  });
  initTheme();
  $("theme-toggle").addEventListener("click", () => setTheme(state.theme === "dark" ? "light" : "dark", true));
  $("search").addEventListener("input", onSearch);
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "Enter") {
      if (ev.key === "Enter" && !state.active) {
        const rows = visibleRows();
        if (rows.length) state.active = rows[0].r.pid;
      }
      if (ev.key === "Enter" && state.active) return focus(state.active, true);
      $("process-list").focus();
      moveActive(1);
      ev.preventDefault();
    } else if (ev.key === "Escape") {
      $("search").value = "";
      onSearch();
    }
  });
  $("sort").addEventListener("change", () => {
    state.sort = $("sort").value;
    scheduleList();
  });
  $("kthreads").addEventListener("change", scheduleList);
  $("process-list").addEventListener("click", clickPid);
  $("process-list").addEventListener("keydown", onListKey);
  $("summary").addEventListener("click", clickPid);
  $("home").addEventListener("click", (ev) => {
    ev.preventDefault();
    focus(0, true);
  });
  $("zoom-in").addEventListener("click", () => view.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => view.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => view.fit());
  $("export-svg").addEventListener("click", exportSVG);
  $("export-png").addEventListener("click", exportPNG);
  $("export-text").addEventListener("click", exportText);
  $("diagram").addEventListener("keydown", (ev) => {
    if (ev.key === "+" || ev.key === "=") view.zoomBy(1.25);
    else if (ev.key === "-") view.zoomBy(0.8);
    else if (ev.key === "0") view.fit();
    else if (ev.key === "Escape") view.select(null);
    else return;
    ev.preventDefault();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName || "")) {
      ev.preventDefault();
      $("search").focus();
    }
  });
  window.addEventListener("popstate", () => focus(pidFromURL(), false));
  window.addEventListener("resize", () => state.layoutSeq && view.fit());

  // /?pid=N becomes /process/N.
  const pid = pidFromURL();
  if (pid && !location.pathname.startsWith("/process/")) history.replaceState({ pid }, "", urlFor(pid));
  pollProgress();
  if (pid) focus(pid, false);
  else connect();
}

start();
