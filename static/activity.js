// What flows on the focus's connections: the page asks the server for the
// latest samples of the focus's sockets (GET /api/processes/{pid}/activity)
// every POLL_MS while a live focus is shown, and hands them to the diagram
// (rate labels and line weights) and the details panel (a sparkline).

import { withHost } from "./dom.js";

const POLL_MS = 2000;

// ActivityPoller polls while pid() names a live focus; onUpdate(map) gets a
// Map of socket node ID → {via, points: [{t, seconds, send, recv, rq, wq}]}.
export class ActivityPoller {
  // pid() and host() name the focus (host: "" on one host).
  constructor(pid, onUpdate, host = () => "") {
    this.pid = pid;
    this.host = host;
    this.onUpdate = onUpdate;
    this.byID = new Map();
    this.off = false; // the server samples nothing
    this.busy = false;
    this.shown = 0; // the pid of byID
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  // now polls at once (a new focus).
  now() {
    this.poll();
  }

  async poll() {
    const pid = this.pid() && this.pid() + "@" + this.host(); // the focus's key
    if (pid !== this.shown && this.byID.size) {
      this.byID = new Map();
      this.shown = pid;
      this.onUpdate(this.byID);
    }
    if (this.off || this.busy || !pid) return;
    this.busy = true;
    try {
      const r = await fetch(withHost("/api/processes/" + this.pid() + "/activity", this.host()), { cache: "no-store" });
      if (r.status === 404 && (await r.text()).includes("no activity is sampled")) {
        this.off = true;
        return;
      }
      if (!r.ok || this.pid() + "@" + this.host() !== pid) return;
      const body = await r.json();
      this.byID = new Map(body.sockets.map((s) => [s.id, s]));
      this.shown = pid;
      this.onUpdate(this.byID);
    } catch {
      // the next poll tries again
    } finally {
      this.busy = false;
    }
  }
}

// latest is a socket's newest sample, or null.
export function latest(sock) {
  return sock && sock.points.length ? sock.points[sock.points.length - 1] : null;
}

// rateText says what flows: "12 KB/s", "4.1 KB queued", "" for nothing
// (diagram.Activity.Text).
export function rateText(p) {
  if (!p) return "";
  const r = p.send + p.recv;
  if (r >= 0.5) return formatBytes(r) + "/s";
  const q = p.rq + p.wq;
  return q > 0 ? formatBytes(q) + " queued" : "";
}

// weight is how heavy a line is drawn, 0 to 4 (diagram.Activity.Weight).
export function weight(p) {
  if (!p) return 0;
  const r = p.send + p.recv;
  if (r >= 1e9) return 4;
  if (r >= 1e6) return 3;
  if (r >= 1e3) return 2;
  return r >= 0.5 || p.rq + p.wq > 0 ? 1 : 0;
}

// formatBytes is diagram.FormatBytes: "512 B", "12 KB", "1.5 MB".
export function formatBytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 999.5 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 || n >= 9.95 ? String(Math.round(n)) : n.toFixed(1)) + " " + units[i];
}

// busier is the sample of the busier end of a connection.
export function busier(a, b) {
  if (!a) return b;
  if (!b) return a;
  return a.send + a.recv + (a.rq + a.wq) / 1e9 >= b.send + b.recv + (b.rq + b.wq) / 1e9 ? a : b;
}
