// fdscope dashboard: the process list and the focus of one process, kept
// live over /api/ws. The page never subscribes to the whole graph: it asks
// for the process list and, after a click, for the focus subgraph of one
// process (docs/api.md describes the protocol).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  // Process-list stream: rows by process ID, and the seq they reflect.
  const rows = new Map();
  let rowsSeq = 0;
  // Graph stream (the focus subgraph): nodes by ID, edges by key.
  let focusPID = 0;
  let graphSeq = 0;
  const nodes = new Map();
  const edges = new Map();

  let ws = null;
  let backoff = 500;
  let peersTimer = 0;

  function status(text, ok) {
    const s = $("status");
    s.textContent = text;
    s.className = "status " + (ok ? "ok" : "bad");
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect() {
    const u = new URL("/api/ws", location.href);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("processes", "1");
    if (focusPID) {
      u.searchParams.set("graph", "focus");
      u.searchParams.set("pid", String(focusPID));
    } else {
      u.searchParams.set("graph", "none");
    }
    ws = new WebSocket(u.href);
    ws.onopen = () => {
      backoff = 500;
      status("live", true);
    };
    ws.onclose = (ev) => {
      status("disconnected (" + ev.code + "); reconnecting…", false);
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      handle(m);
    };
  }

  function handle(m) {
    switch (m.type) {
      case "processes":
        rows.clear();
        for (const r of m.processes) rows.set(r.id, r);
        rowsSeq = m.seq;
        renderProcesses();
        break;
      case "processes_diff":
        if (m.base !== rowsSeq) return resync();
        for (const id of m.removed) rows.delete(id);
        for (const r of m.changed) rows.set(r.id, r);
        rowsSeq = m.seq;
        renderProcesses();
        break;
      case "snapshot":
        if ((m.focus || 0) !== focusPID) return;
        nodes.clear();
        edges.clear();
        for (const n of m.graph.nodes) nodes.set(n.id, n);
        for (const e of m.graph.edges) edges.set(edgeKey(e), e);
        graphSeq = m.seq;
        renderFocus();
        break;
      case "diff":
        if ((m.focus || 0) !== focusPID) return;
        if (m.base !== graphSeq) return resync();
        for (const id of m.nodes_removed) nodes.delete(id);
        for (const n of m.nodes_added) nodes.set(n.id, n);
        for (const n of m.nodes_changed) nodes.set(n.id, n);
        for (const e of m.edges_removed) edges.delete(edgeKey(e));
        for (const e of m.edges_added) edges.set(edgeKey(e), e);
        // Edges go with removed nodes, as graph.Apply does.
        for (const [k, e] of edges) if (!nodes.has(e.from) || !nodes.has(e.to)) edges.delete(k);
        graphSeq = m.seq;
        renderFocus();
        break;
      case "error":
        console.warn("fdscope:", m.error);
        break;
    }
    $("seq").textContent = "version " + Math.max(rowsSeq, graphSeq);
  }

  function resync() {
    send({ type: "resync" });
  }

  function edgeKey(e) {
    return e.from + "\u0000" + e.kind + "\u0000" + e.to;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function renderProcesses() {
    const filter = $("filter").value.trim().toLowerCase();
    const list = [...rows.values()].sort((a, b) => a.pid - b.pid);
    const tbody = document.createElement("tbody");
    tbody.id = "processes";
    tbody.dataset.testid = "processes";
    let shown = 0;
    const showKernel = $("kthreads").checked;
    for (const r of list) {
      if (!showKernel && (r.pid === 2 || r.ppid === 2)) continue;
      if (filter && !(String(r.pid).includes(filter) || r.comm.toLowerCase().includes(filter) ||
        r.user.toLowerCase().includes(filter))) continue;
      const tr = document.createElement("tr");
      tr.dataset.pid = String(r.pid);
      if (r.pid === focusPID) tr.className = "selected";
      if (r.error) tr.title = r.error;
      cell(tr, String(r.pid), "num");
      cell(tr, r.comm + (r.error ? " (denied)" : ""));
      cell(tr, r.user);
      cell(tr, String(r.fd_count), "num");
      cell(tr, String(r.sockets), "num");
      cell(tr, String(r.pipes), "num");
      cell(tr, String(r.peers), "num");
      tbody.appendChild(tr);
      shown++;
    }
    $("processes").replaceWith(tbody);
    $("process-count").textContent = "(" + shown + (shown !== list.length ? " of " + list.length : "") + ")";
  }

  function focus(pid) {
    if (pid === focusPID) return;
    focusPID = pid;
    if (location.hash !== "#pid=" + pid) history.replaceState(null, "", "#pid=" + pid);
    graphSeq = 0;
    nodes.clear();
    edges.clear();
    send({ type: "focus", pid: pid });
    $("focus-pid").textContent = "pid " + pid;
    $("focus-hint").hidden = true;
    renderProcesses();
    renderFocus();
  }

  // The fds of the focus process, read from the focus subgraph:
  // process → fd → ofd → object.
  function renderFocus() {
    const proc = [...nodes.values()].find((n) => n.kind === "process" && n.pid === focusPID);
    const out = (id) => [...edges.values()].filter((e) => e.from === id);
    const tbody = document.createElement("tbody");
    tbody.id = "fds";
    tbody.dataset.testid = "fds";
    const kinds = {};
    for (const n of nodes.values()) kinds[n.kind] = (kinds[n.kind] || 0) + 1;
    $("focus-summary").textContent = proc
      ? proc.comm + " — " + Object.entries(kinds).map(([k, v]) => v + " " + k).join(", ")
      : (focusPID ? "no such process (it may have exited)" : "");
    if (proc) {
      const fds = out(proc.id).filter((e) => e.kind === "fd").map((e) => nodes.get(e.to)).filter(Boolean);
      fds.sort((a, b) => a.fd - b.fd);
      for (const fd of fds) {
        const ofd = out(fd.id).filter((e) => e.kind === "ofd").map((e) => nodes.get(e.to))[0];
        const obj = ofd && out(ofd.id).filter((e) => e.kind === "object").map((e) => nodes.get(e.to))[0];
        const tr = document.createElement("tr");
        cell(tr, String(fd.fd), "num");
        cell(tr, obj ? obj.kind : "?");
        cell(tr, obj ? obj.name : (fd.error || ""));
        cell(tr, ofd ? ofd.mode : "");
        tbody.appendChild(tr);
      }
    }
    $("fds").replaceWith(tbody);
    schedulePeers();
  }

  // Peers come from /api/processes/{pid}/peers, fetched again (at most
  // twice a second) whenever the focus subgraph changes.
  function schedulePeers() {
    if (!focusPID || peersTimer) return;
    peersTimer = setTimeout(() => {
      peersTimer = 0;
      const pid = focusPID;
      fetch("/api/processes/" + pid + "/peers", { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : []))
        .then((peers) => {
          if (pid === focusPID) renderPeers(peers);
        })
        .catch(() => {});
    }, 500);
  }

  function renderPeers(peers) {
    const tbody = document.createElement("tbody");
    tbody.id = "peers";
    tbody.dataset.testid = "peers";
    for (const p of peers) {
      const tr = document.createElement("tr");
      tr.dataset.pid = String(p.peer_pid);
      cell(tr, String(p.fd), "num");
      cell(tr, p.via);
      cell(tr, String(p.peer_pid), "num");
      cell(tr, p.peer_comm);
      cell(tr, String(p.peer_fd), "num");
      tbody.appendChild(tr);
    }
    $("peers").replaceWith(tbody);
  }

  function onClickRow(ev) {
    const tr = ev.target.closest("tr[data-pid]");
    if (tr) focus(Number(tr.dataset.pid));
  }

  document.addEventListener("DOMContentLoaded", () => {
    // A first paint from the REST endpoint; the websocket keeps it current.
    fetch("/api/processes", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((list) => {
        if (rowsSeq === 0) {
          for (const r of list) rows.set(r.id, r);
          renderProcesses();
        }
      })
      .catch(() => {});
    document.querySelector("section.processes").addEventListener("click", onClickRow);
    document.querySelector("section.focus").addEventListener("click", onClickRow);
    $("filter").addEventListener("input", renderProcesses);
    $("kthreads").addEventListener("change", renderProcesses);
    // #pid=N in the address opens with that process in focus.
    const m = /^#pid=(\d+)$/.exec(location.hash);
    if (m) focus(Number(m[1]));
    window.addEventListener("hashchange", () => {
      const h = /^#pid=(\d+)$/.exec(location.hash);
      if (h) focus(Number(h[1]));
    });
    connect();
  });
})();
