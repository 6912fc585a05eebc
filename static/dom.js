// Small DOM helpers shared by the page's modules.

// $ returns the element with the given id.
export const $ = (id) => document.getElementById(id);

// hostOf returns the host of a process node ID in a hub's merged graph
// ("beta/proc:811:912764" is beta's); "" for one host's ("proc:811:912764").
export function hostOf(id) {
  const m = /^([^/]+)\/proc:/.exec(id || "");
  return m ? m[1] : "";
}

// withHost returns the URL u (a string) with ?host=HOST (or &host=) added
// when host is set: the pid routes of a hub then name one process exactly.
export function withHost(u, host) {
  return host ? u + (u.includes("?") ? "&" : "?") + "host=" + encodeURIComponent(host) : u;
}

// h builds an element: h("td", {class: "num"}, "42", child, ...). Attributes
// named data-*, aria-*, title, role, id and type are set as attributes, the
// others (onclick, href, download, width, ...) as properties.
export function h(tag, attrs, ...children) {
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

// plural says "1 peer", "2 peers".
export function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

// toast shows a short message in the corner for a moment.
export function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 2500);
}
