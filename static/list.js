// The process list: one row per process, kept from the websocket's
// process-list stream; search (by name, pid and user here, and by port,
// path or inode through /api/search), sorting, and the keyboard.

import { h, hostOf } from "./dom.js";

// sorters order rows for each value of #sort.
export const sorters = {
  pid: (a, b) => a.pid - b.pid,
  name: (a, b) => a.comm.localeCompare(b.comm) || a.pid - b.pid,
  fds: (a, b) => b.fd_count - a.fd_count || a.pid - b.pid,
  connections: (a, b) => b.connections - a.connections || b.shared_with - a.shared_with || b.fd_count - a.fd_count || a.pid - b.pid,
};

function isKernelThread(r) {
  return r.pid === 2 || r.ppid === 2;
}

// ProcessList draws the process list inside root (the sidebar: the list
// #process-list, its count, the search box, the sort and kernel-thread
// controls). onOpen(pid, host) opens a process (host: from the row's node ID
// on a hub, "" on one host); onRender() follows every redraw.
export class ProcessList {
  constructor(root, { onOpen, onRender }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onRender = onRender;
    this.rows = new Map(); // process node ID → row
    this.seq = 0;
    this.focusPID = 0;
    this.active = 0; // the row the keyboard is on
    this.sort = "pid";
    this.query = "";
    this.matches = new Map(); // pid → what matched, from /api/search
    this.els = new Map(); // process node ID → {li, cells, sig} (a hub's hosts share pids)
    this.queued = false;
    this.searchTimer = 0;
    this.searchGen = 0;
  }

  // part returns the element of the list's part of the page with the given id.
  part(id) {
    return this.root.querySelector("#" + CSS.escape(id));
  }

  // setAll replaces every row (a "processes" message).
  setAll(m) {
    this.rows.clear();
    for (const r of m.processes) this.rows.set(r.id, r);
    this.seq = m.seq;
    this.schedule();
  }

  // applyDiff applies a "processes_diff" message; false when it does not
  // start from this list's version.
  applyDiff(m) {
    if (m.base !== this.seq) return false;
    for (const id of m.removed || []) this.rows.delete(id);
    for (const r of m.changed || []) this.rows.set(r.id, r);
    this.seq = m.seq;
    this.schedule();
    return true;
  }

  // row returns the row of pid (on host, on a hub; "": any host).
  row(pid, host = "") {
    for (const r of this.rows.values()) if (r.pid === pid && (!host || hostOf(r.id) === host)) return r;
    return null;
  }

  setFocus(pid) {
    this.focusPID = pid;
    if (pid) this.active = pid;
    this.schedule();
  }

  schedule() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.render();
    });
  }

  // visible returns the rows to show, in order, each with what matched the
  // search when it was not the name, pid or user.
  visible() {
    const q = this.query.toLowerCase();
    const showKernel = this.part("kthreads").checked;
    const out = [];
    for (const r of this.rows.values()) {
      let match;
      if (q) {
        const local = String(r.pid).startsWith(q) || r.comm.toLowerCase().includes(q) || (r.user || "").toLowerCase().includes(q);
        if (!local && !this.matches.has(r.pid)) continue;
        match = local ? "" : this.matches.get(r.pid);
      } else if (!showKernel && isKernelThread(r)) {
        continue;
      }
      out.push({ r, match });
    }
    out.sort((a, b) => sorters[this.sort](a.r, b.r));
    return out;
  }

  render() {
    const list = this.part("process-list");
    const rows = this.visible();
    const order = [];
    const keep = new Set();
    const keepIDs = new Set();
    for (const { r, match } of rows) {
      keep.add(r.pid);
      keepIDs.add(r.id);
      order.push(this.rowElement(r, match));
    }
    for (const id of this.els.keys()) if (!keepIDs.has(id)) this.els.delete(id);
    // Move only the rows out of place: a row that stays where it is is never
    // detached, so a click on it survives the update.
    const wanted = new Set(order);
    for (const c of [...list.children]) if (!wanted.has(c)) c.remove();
    for (let i = 0; i < order.length; i++) {
      const at = list.children[i];
      if (at !== order[i]) list.insertBefore(order[i], at || null);
    }
    const total = this.rows.size;
    this.part("process-count").textContent = "(" + rows.length + (rows.length !== total ? " of " + total : "") + ")";
    list.setAttribute("aria-activedescendant", this.active && keep.has(this.active) ? "row-" + this.active : "");
    this.onRender?.();
  }

  // rowElement returns the row of r, updated in place: a click whose press
  // and release straddle an update still lands on it.
  rowElement(r, match) {
    const sig = [r.id, r.comm, r.tgid, r.user, r.fd_count, r.connections, r.shared_with, r.error, match, r.pid === this.focusPID, r.pid === this.active].join("\u0000");
    let rec = this.els.get(r.id);
    if (!rec) {
      const cells = {
        pid: h("span", { class: "pid" }), comm: h("span", { class: "comm" }), user: h("span", { class: "user" }),
        fds: h("span", { class: "n", title: "fds" }), conns: h("span", { class: "n conns" }),
        why: h("span", { class: "why" }), match: h("span", { class: "match" }),
      };
      rec = { li: h("li", { id: "row-" + r.pid, role: "option" }, Object.values(cells)), cells, sig: "" };
      this.els.set(r.id, rec);
    }
    if (rec.sig === sig) return rec.li;
    const { li, cells } = rec;
    li.dataset.pid = String(r.pid);
    li.dataset.nodeId = r.id;
    li.className = [r.error ? "denied" : "", r.pid === this.focusPID ? "selected" : "", r.pid === this.active ? "active" : ""].join(" ").trim();
    const on = (r.tgid ? " thread of " + r.tgid : "") + (hostOf(r.id) ? " on " + hostOf(r.id) : "");
    li.title = r.error ? "fds could not be read: " + r.error : r.comm + " (" + (r.tgid ? "thread " : "pid ") + r.pid + on + ", user " + r.user + ")";
    li.setAttribute("aria-selected", r.pid === this.focusPID ? "true" : "false");
    cells.pid.textContent = String(r.pid);
    cells.comm.textContent = r.comm + on;
    cells.user.textContent = r.user;
    cells.fds.textContent = String(r.fd_count);
    cells.conns.textContent = r.connections ? String(r.connections) : "";
    cells.conns.title = `connected to ${r.connections} processes, shares fds with ${r.shared_with}`;
    cells.why.textContent = r.error ? "⚠ " + r.error : "";
    cells.why.hidden = !r.error;
    cells.match.textContent = match || "";
    cells.match.hidden = !match;
    rec.sig = sig;
    return li;
  }

  // move moves the keyboard's row by delta rows.
  move(delta) {
    const rows = this.visible();
    if (rows.length === 0) return;
    let i = rows.findIndex((x) => x.r.pid === this.active);
    if (i < 0) i = delta > 0 ? -1 : rows.length;
    i = Math.min(Math.max(i + delta, 0), rows.length - 1);
    this.active = rows[i].r.pid;
    this.render();
    this.part("row-" + this.active)?.scrollIntoView({ block: "nearest" });
  }

  // openActive opens the keyboard's row, or the first one shown.
  openActive() {
    const rows = this.visible();
    const x = rows.find((x) => x.r.pid === this.active) || rows[0];
    this.active = x ? x.r.pid : 0;
    if (x) this.onOpen(x.r.pid, hostOf(x.r.id));
  }

  search() {
    this.query = this.part("search").value.trim();
    this.matches = new Map();
    this.schedule();
    clearTimeout(this.searchTimer);
    if (!this.query) return;
    const gen = ++this.searchGen;
    const q = this.query;
    this.searchTimer = setTimeout(() => {
      fetch("/api/search?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : []))
        .then((found) => {
          if (gen !== this.searchGen) return;
          const m = new Map();
          for (const f of found || []) if (!m.has(f.pid)) m.set(f.pid, f.match || "");
          this.matches = m;
          this.schedule();
        })
        .catch(() => {});
    }, 120);
  }

  // wire attaches the list's controls.
  wire() {
    const search = this.part("search");
    search.addEventListener("input", () => this.search());
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        this.openActive();
      } else if (ev.key === "ArrowDown") {
        this.part("process-list").focus();
        this.move(1);
      } else if (ev.key === "Escape") {
        search.value = "";
        this.search();
      } else {
        return;
      }
      ev.preventDefault();
    });
    this.part("sort").addEventListener("change", () => {
      this.sort = this.part("sort").value;
      this.schedule();
    });
    this.part("kthreads").addEventListener("change", () => this.schedule());
    const list = this.part("process-list");
    list.addEventListener("click", (ev) => {
      const li = ev.target.closest("[data-pid]");
      if (!li) return;
      this.active = Number(li.dataset.pid);
      this.onOpen(this.active, hostOf(li.dataset.nodeId));
    });
    list.addEventListener("keydown", (ev) => {
      const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 15, PageUp: -15, Home: -1e9, End: 1e9 };
      if (ev.key in moves) this.move(moves[ev.key]);
      else if (ev.key === "Enter") this.openActive();
      else return;
      ev.preventDefault();
    });
  }
}
