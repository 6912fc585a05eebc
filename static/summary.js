// The summary of the host, shown while no process is chosen: what the last
// scan found (/api/summary) and the processes to start from.

import { h, plural } from "./dom.js";
import { sorters } from "./list.js";

// Summary fills root (#summary); rows() returns the process rows it falls
// back on when /api/summary is not there.
export class Summary {
  constructor(root, rows) {
    this.root = root;
    this.rows = rows;
    this.timer = 0;
    this.at = -Infinity;
  }

  // soon loads the summary again unless it did in the last 5 s.
  soon() {
    if (performance.now() - this.at < 5000 || this.timer) return;
    this.timer = setTimeout(() => this.load(), 0);
  }

  load() {
    this.timer = 0;
    this.at = performance.now();
    fetch("/api/summary", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((s) => this.render(s))
      .catch(() => this.render(null));
  }

  render(s) {
    const rows = this.rows();
    const stats = s?.stats;
    const denied = (n) => (n ? `, ${plural(n, "process", "processes")} whose fds could not be read` : "");
    const $ = (id) => this.root.querySelector("#" + id);
    $("summary-stats").textContent = stats
      ? `${stats.processes} processes, ${stats.fds} fds, ${stats.ofds} open file descriptions, ${stats.objects} objects` +
        ` — scanned in ${Math.round(stats.duration_ms)} ms` + denied(stats.denied_processes) +
        (stats.sharing && stats.sharing !== "kcmp" ? `; fd sharing found by ${stats.sharing}` : "")
      : `${rows.length} processes, ${rows.reduce((n, r) => n + r.fd_count, 0)} fds` + denied(rows.filter((r) => r.error).length);
    const table = (id, obj) => {
      const entries = Object.entries(obj || {}).sort((a, b) => b[1] - a[1]);
      $(id).replaceChildren(...entries.map(([k, v]) => h("tr", null, h("td", null, k), h("td", { class: "num" }, String(v)))));
    };
    table("summary-kinds", s?.kinds);
    table("summary-sockets", s?.sockets);
    const top = (id, list, what) => {
      $(id).replaceChildren(...(list || []).map((r) => h("li", { "data-pid": String(r.pid), "data-node-id": r.id, class: "link", title: "open pid " + r.pid },
        h("span", { class: "comm" }, r.comm), " ", h("span", { class: "muted" }, "pid " + r.pid + " · " + what(r)))));
    };
    top("summary-connections", s?.top_connections || rows.filter((r) => r.connections).sort(sorters.connections).slice(0, 10),
      (r) => plural(r.connections, "connection", "connections"));
    top("summary-fds", s?.top_fds || rows.slice().sort(sorters.fds).slice(0, 10), (r) => plural(r.fd_count, "fd", "fds"));
  }
}
