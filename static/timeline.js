// The timeline strips of the focus view and of the map: the recorded
// changes of the process in focus, or of the whole host (GET
// /api/changes), a scrubber to see the focus or the map as it was at a
// past time (?at=T), and a button back to live (docs/api.md, "The past";
// docs/history.md).

import { $, h } from "./dom.js";

// SPAN_S is how far back the scrubber reaches, in seconds.
const SPAN_S = 15 * 60;
// POLL_MS is how often the list of changes is read again while live.
const POLL_MS = 5000;

// describe says what a change is, from the side of the process pid (0:
// the host's).
function describe(c, pid) {
  if (!pid) return `${c.comm} (${c.pid}) ` + describe(c, c.pid);
  const mine = c.pid === pid;
  const fd = mine ? c.fd : c.peer_fd;
  const other = mine
    ? (c.peer_pid ? `${c.peer_comm} (${c.peer_pid}) fd ${c.peer_fd}` : c.peer_addr || "")
    : `${c.comm} (${c.pid}) fd ${c.fd}`;
  const addr = mine ? c.addr : c.peer_addr;
  switch (c.kind) {
    case "conn_open":
    case "conn_close":
      return `${c.kind === "conn_open" ? "connected" : "disconnected"} fd ${fd} ↔ ${other} via ${c.via}` + (addr ? ` (${addr})` : "");
    case "fd_open":
      return `opened fd ${c.fd}: ${c.name}`;
    case "fd_close":
      return `closed fd ${c.fd}: ${c.name}`;
    case "process_start":
      return `started: ${c.name || c.comm}`;
    case "process_exit":
      return "exited";
    case "exec":
      return `exec ${c.name || c.comm}`;
    case "exit":
      return c.name || "exited";
  }
  return c.kind;
}

// seconds says how long ms milliseconds are, for a person.
function seconds(ms) {
  const s = Math.round(ms / 1000);
  if (s < 1) return "under a second";
  if (s < 120) return s + " s";
  return Math.round(s / 60) + " min";
}

function clock(t) {
  return t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

// Timeline drives a strip: the elements whose ids start with prefix.
// fetchPast(key, at) returns a promise of the past view at Date at, as
// {data} or {error}; onPast(data, at) draws it (data null: nothing then);
// onLive() goes back to the live stream; onChanges() follows each new list
// of changes. The key followed is a pid, or "host" for the whole host.
export class Timeline {
  constructor({ prefix, what, fetchPast, onPast, onLive, onChanges, listSpanS = SPAN_S }) {
    this.prefix = prefix;
    // How far around the time shown the changes are listed, in seconds:
    // the whole host changes much more than one process.
    this.listSpanS = listSpanS;
    this.what = what; // "the process", "the host": what the strip shows
    this.fetchPast = fetchPast;
    this.onPast = onPast;
    this.onChanges = onChanges;
    this.onLive = onLive;
    this.key = 0; // a pid, "host", or 0 (nothing)
    this.at = null; // the time shown (null: live)
    this.anchor = new Date(); // the scrubber's right end
    this.timer = 0;
    this.gen = 0;
    this.changes = []; // the changes listed, oldest first
    this.root = $(prefix);
    this.el("live").addEventListener("click", () => this.live());
    const scrub = this.el("scrub");
    scrub.max = String(SPAN_S);
    scrub.addEventListener("input", () => this.label(this.scrubTime()));
    scrub.addEventListener("change", () => {
      const v = Number(scrub.value);
      if (v >= SPAN_S) this.live();
      else this.show(this.scrubTime());
    });
  }

  // el is the strip's element with the id prefix-name.
  el(name) {
    return $(this.prefix + "-" + name);
  }

  scrubTime() {
    return new Date(this.anchor.getTime() - (SPAN_S - Number(this.el("scrub").value)) * 1000);
  }

  label(t) {
    this.el("at").textContent = t ? clock(t) : "live";
  }

  // follow follows another process (a pid), the host ("host") or nothing
  // (0), live.
  follow(key) {
    this.key = key;
    this.at = null;
    this.root.dataset.state = "live";
    this.anchor = new Date();
    this.el("scrub").value = String(SPAN_S);
    this.el("live").setAttribute("aria-pressed", "true");
    this.label(null);
    this.el("changes").replaceChildren();
    this.poll();
  }

  // poll reads the changes again now, and every POLL_MS while live.
  poll() {
    clearTimeout(this.timer);
    if (!this.key) return;
    this.load();
    this.timer = setTimeout(() => this.at === null && this.poll(), POLL_MS);
  }

  // load reads the changes of what is followed around the time shown.
  async load() {
    const gen = ++this.gen;
    const key = this.key;
    if (this.at === null) this.anchor = new Date();
    const end = this.at || this.anchor;
    const since = new Date(end.getTime() - this.listSpanS * 1000);
    const until = this.at ? new Date(Math.min(Date.now(), end.getTime() + this.listSpanS * 1000)) : this.anchor;
    const q = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
    if (key !== "host") q.set("pid", String(key));
    let body;
    try {
      const r = await fetch("/api/changes?" + q, { credentials: "same-origin", cache: "no-store" });
      body = await r.json();
      if (!r.ok) {
        if (gen !== this.gen) return;
        if (r.status === 404 && /no history/.test(body.error || "")) return this.off(body.error);
        this.el("note").textContent = body.error || r.statusText;
        return;
      }
    } catch {
      return;
    }
    if (gen !== this.gen || key !== this.key) return;
    this.render(body);
  }

  // off hides the strip: the server records no history (why says so, in
  // the strip's title for whoever looks for it).
  off(why) {
    clearTimeout(this.timer);
    this.root.dataset.state = "off";
    this.root.hidden = true;
    this.root.title = "No history: " + why;
    this.el("scrub").disabled = true;
    this.el("note").textContent = "No history: " + why;
  }

  render(body) {
    this.root.hidden = false;
    this.changes = body.changes || [];
    // What the details say of a connection's life comes from these.
    this.onChanges?.();
    const sources = body.sources || [];
    const kernel = sources.includes("kernel");
    const procs = sources.includes("proc_connector");
    this.el("note").textContent = kernel && procs
      ? "recorded by scans and kernel events: every TCP and unix connection, even one shorter than a scan, and every exec and exit"
      : kernel
        ? "recorded by scans and kernel events: every TCP and unix connection, even one shorter than a scan; a process shorter than a scan is not seen"
        : procs
          ? "recorded by scans, and every exec and exit: a connection shorter than a scan is not seen"
          : "recorded by scans only: a connection or process shorter than a scan is not seen";
    const list = this.el("changes");
    const at = this.at ? this.at.getTime() : Infinity;
    const items = (body.changes || []).slice(-50).reverse().map((c) => {
      const t = new Date(c.time);
      // A close or an exit is seen as it was just before it.
      const before = /close|exit/.test(c.kind);
      const show = new Date(t.getTime() - (before ? 1 : 0));
      return h("li", { class: "change " + c.kind + (t.getTime() > at ? " later" : ""), "data-kind": c.kind, "data-time": c.time },
        h("button", { type: "button", class: "link", title: before ? `Show ${this.what} just before this` : `Show ${this.what} as it was then`,
          onclick: () => this.show(show) }, clock(t)),
        " ", describe(c, this.key === "host" ? 0 : this.key));
    });
    if (!items.length) items.push(h("li", { class: "muted" }, this.listSpanS === SPAN_S ? "no changes recorded in this quarter of an hour" : "no changes recorded around this time"));
    list.replaceChildren(...items);
  }

  // show draws what is followed as it was at t.
  async show(t) {
    const key = this.key;
    clearTimeout(this.timer);
    this.at = t;
    this.root.dataset.state = "loading";
    this.el("live").setAttribute("aria-pressed", "false");
    const off = Math.round((t.getTime() - this.anchor.getTime()) / 1000) + SPAN_S;
    this.el("scrub").value = String(Math.max(0, Math.min(SPAN_S, off)));
    this.label(t);
    const gen = ++this.gen;
    let past;
    try {
      past = await this.fetchPast(key, t);
    } catch {
      return;
    }
    if (gen !== this.gen || key !== this.key || this.at !== t) return;
    this.root.dataset.state = "past";
    if (past.error) {
      this.el("note").textContent = past.error + " at " + clock(t);
      this.onPast(null, t);
      return;
    }
    this.onPast(past.data, t);
    this.load();
  }

  // live goes back to the live stream.
  live() {
    if (this.at === null) return;
    this.follow(this.key);
    this.onLive();
  }

  // lifeOf says when the connection through the object with that inode
  // opened and closed, as far as the changes listed say ("" when they say
  // nothing: it is older than the strip's quarter of an hour).
  lifeOf(inode) {
    let open = null;
    let close = null;
    for (const c of this.changes) {
      if (c.inode !== inode && c.peer_inode !== inode) continue;
      if (c.kind === "conn_open") {
        open = new Date(c.time);
        close = null;
      } else if (c.kind === "conn_close") {
        close = new Date(c.time);
      }
    }
    if (!open) return close ? "closed " + clock(close) : "";
    if (!close) return "opened " + clock(open);
    return `opened ${clock(open)}, closed ${clock(close)}: ${seconds(close - open)}`;
  }

  // past reports whether a past time is shown (the live stream is not drawn).
  past() {
    return this.at !== null;
  }
}
