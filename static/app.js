// fdscope dashboard: the process list, the host summary, and the diagram of
// one process, kept live over /api/ws. The page never subscribes to the
// whole graph: it asks for the process list and, once a process is chosen,
// for its focus subgraph and the layout of its diagram (docs/api.md
// describes the protocol, docs/dashboard.md the page).
//
// This module holds the page's state, the websocket, the address and the
// wiring; the parts are modules of their own: list.js (the process list),
// summary.js, diagram.js (the interactive diagram), focusgraph.js and
// details.js (the details panel), connections.js (the table), exports.js,
// dom.js.

import { ActivityPoller } from "./activity.js";
import { ConnectionsTable } from "./connections.js";
import { DiagramView, MIN_READABLE } from "./diagram.js";
import { renderDetails } from "./details.js";
import { $, h, hostOf, plural, withHost } from "./dom.js";
import { exportMapPNG, exportMapSVG, exportPNG, exportSVG, exportText } from "./exports.js";
import { FocusGraph } from "./focusgraph.js";
import { ProcessList } from "./list.js";
import { MapView } from "./map.js";
import { Summary } from "./summary.js";
import { Timeline } from "./timeline.js";

// Measurements read by the browser benchmark (web/browser_bench_test.go).
const perf = (window.__fdscope = {
  renders: 0, lastRenderMs: 0, lastUpdateMs: 0, readyAt: 0,
  mapRenders: 0, lastMapRenderMs: 0, lastMapUpdateMs: 0, mapReadyAt: 0, mapSeq: 0,
});

const state = {
  focusPID: 0, // the process in view (0: none)
  focusHost: "", // its host, in a hub whose hosts' pids repeat ("": the one that started last, or one host)
  focusError: "", // what the server said about it
  layoutSeq: 0, // the version of the layout drawn
  headline: "", // the layout's summary of the focus's connections and sharing
  expand: new Set(), // group port IDs drawn fd by fd
  watches: false, // draw what epoll and inotify instances watch
  table: false, // the connections table shown instead of the diagram
  selection: null, // what the details panel shows
  theme: "light",
  ready: false, // the first data has come
};

const graph = new FocusGraph();
const list = new ProcessList($("sidebar"), { onOpen: (pid, host) => focus(pid, true, host), onRender: () => onListRender() });
const summary = new Summary($("summary"), () => [...list.rows.values()]);
const connections = new ConnectionsTable($("connections"), graph, (pid, host) => focus(pid, true, host));
let view = null;
let mapView = null;
let timeline = null;
let mapTimeline = null;
let activity = null;
let ws = null;
let wsGen = 0;

// ---- Themes.

function initTheme() {
  let t = document.body.dataset.theme;
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
  view.setTheme(t);
  mapView?.setTheme(t);
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
  const px = view?.widthPx() || 1000;
  return Math.min(2000, Math.max(300, Math.round((px / 9) * 2)));
}

// screenWidth is the width, in cells, of what the diagram opens showing
// when the whole of it fits (at the least readable zoom): wider, the
// server gives the focus's own connections the first tiers to themselves.
function screenWidth() {
  const px = view?.widthPx() || 1000;
  return Math.min(2000, Math.max(40, Math.round(px / 9 / MIN_READABLE)));
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
    if (state.focusHost) u.searchParams.set("host", state.focusHost);
    u.searchParams.set("layout", "1");
    u.searchParams.set("width", String(layoutWidth()));
    u.searchParams.set("screen", String(screenWidth()));
    if (state.watches) u.searchParams.set("watches", "1");
  } else {
    u.searchParams.set("graph", "none");
    u.searchParams.set("map", "1");
  }
  graph.clear();
  list.seq = 0;
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

// handle takes one message from the server; t0 is when it arrived.
function handle(m, t0) {
  const mine = (m.focus || 0) === state.focusPID;
  switch (m.type) {
    case "processes":
      list.setAll(m);
      setReady();
      break;
    case "processes_diff":
      if (!list.applyDiff(m)) return send({ type: "resync" });
      break;
    case "snapshot":
      if (!mine || timeline.past()) return;
      graph.snapshot(m);
      setReady();
      refreshDetails();
      break;
    case "diff":
      if (!mine || timeline.past()) return;
      if (!graph.diff(m)) return send({ type: "resync" });
      refreshDetails();
      break;
    case "layout":
      if (!mine || timeline.past()) break;
      drawLayout(m.layout, m.seq, t0);
      if (state.table) connections.refresh();
      break;
    case "map":
      if (state.focusPID) break;
      state.liveMap = m;
      if (!mapTimeline.past()) drawMap(m, t0);
      setReady();
      break;
    case "error":
      if (state.focusPID && /focus/.test(m.error)) {
        state.focusError = m.error;
        renderFocusTitle();
        // A pid the server does not hold (yet): nothing to draw until it
        // appears, when its snapshot and layout come.
        if (/no process/.test(m.error) && state.layoutSeq === 0) {
          view.nothing(state.focusPID);
        }
      }
      console.warn("fdscope:", m.error);
      break;
  }
  $("seq").textContent = "version " + Math.max(list.seq, graph.seq, state.layoutSeq);
}

// ---- First scan: progress until the first data arrives.

const phases = {
  processes: ["reading processes", "processes"],
  fds: ["reading fds", "fds"],
  sockets: ["asking the kernel for sockets", "network namespaces"],
  graph: ["building the graph", "nodes"],
};
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
        const [doing, unit] = phases[p.phase] || [p.phase, "done"];
        $("progress-text").textContent = `First scan: ${doing} — ${p.done} of ${p.total} ${unit}`;
        bar.max = p.total;
        bar.value = p.done;
      } else {
        $("progress-text").textContent = hz.status === "ok" ? "Scan done, loading…" : "First scan in progress…";
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

// ---- Focus and the address.

function pidFromURL() {
  const m = /^\/process\/(\d+)\/?$/.exec(location.pathname);
  if (m) return Number(m[1]);
  const q = new URLSearchParams(location.search).get("pid");
  return q && /^\d+$/.test(q) ? Number(q) : 0;
}

// hostFromURL returns the ?host= of the address: the host of the pid in a hub.
function hostFromURL() {
  return new URLSearchParams(location.search).get("host") || "";
}

function urlFor(pid, host) {
  const q = new URLSearchParams(location.search);
  q.delete("pid");
  q.delete("host");
  if (pid && host) q.set("host", host);
  const rest = q.toString();
  return (pid ? "/process/" + pid : "/") + (rest ? "?" + rest : "");
}

// focus makes pid (0: none) the process in view, on host in a hub ("": the
// one with the pid that started last, or one host); push adds a history entry.
function focus(pid, push, host = "") {
  if (!pid) host = "";
  const same = pid === state.focusPID && host === state.focusHost;
  if (push && !same) history.pushState({ pid, host }, "", urlFor(pid, host));
  if (same) return;
  state.focusPID = pid;
  state.focusHost = host;
  state.focusError = "";
  state.layoutSeq = 0;
  state.headline = "";
  state.expand.clear();
  state.selection = null;
  view.reset(pid);
  renderExpanded();
  showDetails(null);
  list.setFocus(pid);
  timeline.follow(pid);
  mapTimeline.follow(pid ? 0 : "host");
  showPane();
  connect();
  activity?.now();
  if (pid && state.table) connections.load(pid, host);
}

// showTable shows the connections table (true) or the diagram.
function showTable(on) {
  state.table = on;
  $("view-table").setAttribute("aria-pressed", String(on));
  $("view-diagram").setAttribute("aria-pressed", String(!on));
  $("connections").hidden = !on;
  $("diagram").hidden = on;
  $("details").hidden = on;
  if (on && state.focusPID) connections.load(state.focusPID, state.focusHost);
}

function showPane() {
  const focused = !!state.focusPID;
  $("summary").hidden = focused || !state.ready;
  $("map-pane").hidden = focused || !state.ready;
  if (!focused && state.ready && mapView.msg && !mapView.fitted) mapView.fit();
  $("focus").hidden = !focused;
  $("doc-link").href = focused ? withHost("/process/" + state.focusPID + "?theme=light&chrome=0", state.focusHost) : "/";
  if (!focused) renderMapNote();
  if (!focused && state.ready) summary.load();
  renderFocusTitle();
}

function onListRender() {
  if (!state.focusPID) summary.soon();
  renderFocusTitle();
}

function renderFocusTitle() {
  if (!state.focusPID) {
    document.title = "fdscope";
    return;
  }
  const r = list.row(state.focusPID, state.focusHost);
  const who = r && r.tgid ? `thread ${r.pid} of pid ${r.tgid}` : `pid ${state.focusPID}`;
  const t = (r ? `${r.comm}  ${who}` : who) + (state.focusHost ? ` on ${state.focusHost}` : "");
  $("focus-title").textContent = t;
  $("focus-title").dataset.pid = String(state.focusPID);
  document.title = t + " — fdscope";
  let note = "";
  let headline = "";
  if (r) {
    note = `${plural(r.fd_count, "fd", "fds")} · user ${r.user}` + (r.error ? " · ⚠ " + r.error : "");
    // What the process talks to and what it only shares, as the layout
    // counts it ("1 connection · fd 0–2 shared with 23 processes"), else
    // from the process row.
    headline = state.headline ||
      plural(r.connections, "connection", "connections") + (r.shared_with ? ` · shares fds with ${plural(r.shared_with, "process", "processes")}` : "");
  } else if (state.focusError) {
    note = state.focusError;
  } else if (list.seq) {
    note = "not running (it may have exited)";
  }
  $("focus-note").textContent = note;
  $("focus-headline").textContent = headline;
}

function drawLayout(layout, seq, t0) {
  const first = state.layoutSeq === 0;
  if (state.headline !== (layout.headline || "")) {
    state.headline = layout.headline || "";
    renderFocusTitle();
  }
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

// ---- The past (the timeline strip).

// fetchFocusPast reads the focus of process pid as it was at Date at: its
// layout and its focus subgraph, from the history.
async function fetchFocusPast(pid, at) {
  const q = pastLayoutQuery();
  q.set("at", at.toISOString());
  const [lr, fr] = await Promise.all([
    fetch(withHost(`/api/processes/${pid}/layout?` + q, state.focusHost), { credentials: "same-origin" }),
    fetch(withHost(`/api/processes/${pid}?at=` + encodeURIComponent(at.toISOString()), state.focusHost), { credentials: "same-origin" }),
  ]);
  const [layout, focus] = await Promise.all([lr.json(), fr.json()]);
  if (!lr.ok || !fr.ok) return { error: layout.error || focus.error || "" };
  return { data: { layout, focus } };
}

// drawPast draws the focus as it was (layout and focus subgraph from the
// history; null when the process did not exist then).
function drawPast(past, at) {
  status("as at " + at.toLocaleTimeString([], { hour12: false }), true);
  if (!past) {
    view.nothing(state.focusPID);
    graph.clear();
    return;
  }
  graph.snapshot({ graph: past.focus, seq: 0 });
  view.setLayout(past.layout, state.layoutSeq);
  refreshDetails();
  if (state.table) connections.refresh();
}

// fetchMapPast reads the map of the host as it was at Date at.
async function fetchMapPast(_, at) {
  const r = await fetch("/api/map?at=" + encodeURIComponent(at.toISOString()), { credentials: "same-origin" });
  const m = await r.json();
  return r.ok ? { data: m } : { error: m.error || r.statusText };
}

// drawMapPast draws the map as it was (null: none then); the live map
// messages meanwhile are kept for the way back.
function drawMapPast(m, at) {
  status("map as at " + at.toLocaleTimeString([], { hour12: false }), true);
  if (m) {
    drawMap(m, performance.now());
    mapView.fit();
  }
}

// mapLive goes back to the live map: the last one the stream sent.
function mapLive() {
  status("live", ws && ws.readyState === WebSocket.OPEN);
  if (state.liveMap) {
    drawMap(state.liveMap, performance.now());
    mapView.fit();
  }
}

function pastLayoutQuery() {
  const q = new URLSearchParams();
  for (const id of state.expand) q.append("expand", id);
  if (state.watches) q.set("watches", "1");
  return q;
}

// ---- The map of the host.

function drawMap(m, t0) {
  const first = !mapView.msg;
  mapView.setMap(m);
  const dt = performance.now() - t0;
  perf.mapRenders++;
  perf.mapSeq = m.seq;
  if (first) {
    perf.lastMapRenderMs = dt;
    if (!perf.mapReadyAt) perf.mapReadyAt = performance.now();
  } else {
    perf.lastMapUpdateMs = dt;
  }
  renderMapNote();
}

function renderMapNote() {
  const m = mapView.msg;
  $("map-back").hidden = !mapView.open;
  if (!m) return;
  const g = mapView.open && m.groups.find((x) => x.id === mapView.open);
  $("map-title").textContent = g ? g.name : "This host";
  $("map-note").textContent = g
    ? "click a process to see what it is connected to"
    : plural(m.groups.length, "group", "groups") + " · " + plural(m.links.length, "link", "links") + " · click a group to open it";
}

// ---- Expanded groups.

function toggleExpand(id) {
  if (state.expand.has(id)) state.expand.delete(id);
  else state.expand.add(id);
  send({ type: "expand", expand: [...state.expand] });
  renderExpanded();
  if (timeline.past()) timeline.show(timeline.at);
}

function renderExpanded() {
  const n = state.expand.size;
  const span = $("expanded");
  span.replaceChildren();
  if (n) {
    span.append(plural(n, "group", "groups") + " expanded ",
      h("button", { type: "button", class: "link", onclick: () => {
        state.expand.clear();
        send({ type: "expand", expand: [] });
        renderExpanded();
      } }, "collapse"));
  }
}

// ---- Details.

const detailActions = {
  onFocus: (pid, host) => focus(pid, true, host),
  onExpand: toggleExpand,
  expanded: (id) => state.expand.has(id),
  lifeOf: (inode) => timeline.lifeOf(inode),
  activityOf: (id) => activity?.byID.get(id),
};

function showDetails(info) {
  state.selection = info;
  renderDetails($("details"), info, graph, detailActions);
}

function refreshDetails() {
  if (state.selection) renderDetails($("details"), state.selection, graph, detailActions);
}

// ---- Wiring.

function exportView() {
  return { pid: state.focusPID, host: state.focusHost, theme: state.theme, expand: state.expand, watches: state.watches };
}

// toggleWatches draws, or stops drawing, what epoll and inotify instances
// watch: the stream starts again with the other layouts.
function toggleWatches() {
  state.watches = !state.watches;
  $("toggle-watches").setAttribute("aria-pressed", String(state.watches));
  if (state.focusPID) connect();
}

function start() {
  timeline = new Timeline({
    prefix: "timeline", what: "the process", fetchPast: fetchFocusPast, onPast: drawPast,
    onLive: () => state.focusPID && connect(), onChanges: () => refreshDetails(),
  });
  mapTimeline = new Timeline({
    prefix: "map-timeline", what: "the host", fetchPast: fetchMapPast, onPast: drawMapPast, onLive: mapLive, listSpanS: 120,
  });
  view = new DiagramView($("diagram"), {
    onFocus: (pid, host) => focus(pid, true, host),
    onSelect: showDetails,
    onExpand: toggleExpand,
  });
  mapView = new MapView($("map"), {
    // Back from the focus view is the map, not the group.
    onFocus: (pid, host) => {
      mapView.openGroup("");
      focus(pid, true, host);
    },
    onOpen: renderMapNote,
  });
  mapView.rows = () => {
    const byPID = new Map();
    for (const r of list.rows.values()) byPID.set(r.pid, r);
    return byPID;
  };
  $("map-back").addEventListener("click", () => mapView.openGroup(""));
  $("map-zoom-in").addEventListener("click", () => mapView.zoomBy(1.25));
  $("map-zoom-out").addEventListener("click", () => mapView.zoomBy(0.8));
  $("map-zoom-fit").addEventListener("click", () => mapView.fit(true));
  $("map-export-svg").addEventListener("click", () => exportMapSVG(state.theme));
  $("map-export-png").addEventListener("click", () => exportMapPNG(state.theme));
  $("search").addEventListener("input", (ev) => mapView.search(ev.target.value));
  // What flows on the connections: polled while a live focus is shown.
  activity = new ActivityPoller(() => (state.focusPID && !timeline.past() ? state.focusPID : 0), (byID) => {
    view.setActivity(byID);
    refreshDetails();
  }, () => state.focusHost);
  initTheme();
  list.wire();
  $("theme-toggle").addEventListener("click", () => setTheme(state.theme === "dark" ? "light" : "dark", true));
  $("summary").addEventListener("click", (ev) => {
    const li = ev.target.closest("[data-pid]");
    if (li) focus(Number(li.dataset.pid), true, hostOf(li.dataset.nodeId));
  });
  $("home").addEventListener("click", (ev) => {
    ev.preventDefault();
    focus(0, true);
  });
  $("zoom-in").addEventListener("click", () => view.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => view.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => view.fit(true));
  $("toggle-watches").addEventListener("click", toggleWatches);
  $("view-diagram").addEventListener("click", () => showTable(false));
  $("view-table").addEventListener("click", () => showTable(true));
  $("export-svg").addEventListener("click", () => exportSVG(exportView()));
  $("export-png").addEventListener("click", () => exportPNG(exportView()));
  $("export-text").addEventListener("click", () => exportText(exportView(), $("export-text-output")));
  $("diagram").addEventListener("keydown", (ev) => {
    if (ev.key === "+" || ev.key === "=") view.zoomBy(1.25);
    else if (ev.key === "-") view.zoomBy(0.8);
    else if (ev.key === "0") view.fit(true);
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
  window.addEventListener("popstate", () => focus(pidFromURL(), false, hostFromURL()));
  window.addEventListener("resize", () => (state.focusPID ? state.layoutSeq && view.fit() : mapView.msg && mapView.fit()));

  // /?pid=N becomes /process/N (?host=NAME stays).
  const pid = pidFromURL();
  const host = hostFromURL();
  if (pid && !location.pathname.startsWith("/process/")) history.replaceState({ pid, host }, "", urlFor(pid, host));
  pollProgress();
  if (pid) focus(pid, false, host);
  else {
    mapTimeline.follow("host");
    connect();
  }
}

start();
