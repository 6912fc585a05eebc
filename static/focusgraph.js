// The focus subgraph of the process in view, as the websocket's snapshot
// and diff messages keep it (docs/api.md): what the details panel reads.

export class FocusGraph {
  constructor() {
    this.nodes = new Map(); // node ID → node
    this.edges = new Map(); // edge key → edge
    this.adj = null; // node ID → edges out, built on first use
    this.seq = 0;
  }

  clear() {
    this.nodes.clear();
    this.edges.clear();
    this.adj = null;
    this.seq = 0;
  }

  // snapshot replaces the graph with m.graph (version m.seq).
  snapshot(m) {
    this.clear();
    for (const n of m.graph.nodes) this.nodes.set(n.id, n);
    for (const e of m.graph.edges) this.edges.set(edgeKey(e), e);
    this.seq = m.seq;
  }

  // diff applies a diff message; false when it does not start from this
  // graph's version (the caller then asks for a resync).
  diff(m) {
    if (m.base !== this.seq) return false;
    for (const id of m.nodes_removed || []) this.nodes.delete(id);
    for (const n of m.nodes_added || []) this.nodes.set(n.id, n);
    for (const n of m.nodes_changed || []) this.nodes.set(n.id, n);
    for (const e of m.edges_removed || []) this.edges.delete(edgeKey(e));
    for (const e of m.edges_added || []) this.edges.set(edgeKey(e), e);
    // Edges go with removed nodes, as graph.Apply does.
    for (const [k, e] of this.edges) if (!this.nodes.has(e.from) || !this.nodes.has(e.to)) this.edges.delete(k);
    this.adj = null;
    this.seq = m.seq;
    return true;
  }

  node(id) {
    return this.nodes.get(id);
  }

  // follow returns the node an edge of the given kind leads to from id
  // (fd → "ofd" → its description, description → "object" → its object).
  follow(id, kind) {
    if (!this.adj) {
      this.adj = new Map();
      for (const e of this.edges.values()) {
        if (!this.adj.has(e.from)) this.adj.set(e.from, []);
        this.adj.get(e.from).push(e);
      }
    }
    const e = (this.adj.get(id) || []).find((x) => x.kind === kind);
    return e ? this.nodes.get(e.to) : null;
  }
}

function edgeKey(e) {
  return e.from + "\u0000" + e.kind + "\u0000" + e.to;
}
