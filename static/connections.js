// The connections table: the diagram's peers as rows (GET
// /api/processes/{pid}/peers), for a process with too many to follow by
// eye, or to copy from. One row per (fd, peer fd); a click opens the peer.

import { h, hostOf, withHost } from "./dom.js";

export class ConnectionsTable {
  // root is #connections (its table body and count); graph is the
  // FocusGraph (for the objects' names); onOpen(pid, host) opens a peer.
  constructor(root, graph, onOpen) {
    this.body = root.querySelector("#connections-body");
    this.count = root.querySelector("#connections-count");
    this.graph = graph;
    this.onOpen = onOpen;
    this.pid = 0;
    this.timer = 0;
    this.gen = 0;
    this.body.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-pid]");
      if (tr) this.onOpen(Number(tr.dataset.pid), tr.dataset.host || "");
    });
  }

  // load fetches the peers of pid (on host, in a hub) now; refresh does it
  // at most twice a second while the table is shown.
  load(pid, host = "") {
    this.pid = pid;
    this.host = host;
    clearTimeout(this.timer);
    this.timer = 0;
    const gen = ++this.gen;
    fetch(withHost("/api/processes/" + pid + "/peers", host), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((peers) => {
        if (gen === this.gen && pid === this.pid) this.render(peers || []);
      })
      .catch(() => {});
  }

  refresh() {
    if (this.timer || !this.pid) return;
    this.timer = setTimeout(() => this.load(this.pid, this.host), 500);
  }

  render(peers) {
    const name = (id) => this.graph.node(id)?.name || id;
    // Connections first: what the process talks to, then what it only shares.
    const rank = (p) => (p.relation === "connection" ? 0 : 1);
    peers.sort((a, b) => rank(a) - rank(b) || a.fd - b.fd || a.peer_pid - b.peer_pid || a.peer_fd - b.peer_fd);
    this.body.replaceChildren(...peers.map((p) => h("tr", { "data-pid": String(p.peer_pid), "data-host": hostOf(p.peer_process), "data-fd": String(p.fd), "data-relation": p.relation, title: "open pid " + p.peer_pid },
      h("td", { class: "num" }, String(p.fd)),
      h("td", null, name(p.object)),
      h("td", null, p.via),
      h("td", null, p.relation),
      h("td", null, h("span", { class: "comm" }, p.peer_comm), " ", h("span", { class: "muted" }, "pid " + p.peer_pid)),
      h("td", { class: "num" }, String(p.peer_fd)),
      h("td", null, p.peer_object !== p.object ? name(p.peer_object) : ""))));
    this.count.textContent = peers.length ? "" : "No connections to other processes.";
  }
}
