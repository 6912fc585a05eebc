// Exports of the diagram in view: the server's own renderings of it
// (diagram.svg, diagram.txt — what `fdscope snapshot --pid N --format
// svg|text` prints), so that a download is exactly what the command line
// makes; the PNG is that SVG drawn at twice its size.

import { h, toast } from "./dom.js";

// view is {pid, host, theme, expand: Set of group port IDs, watches}.
function exportURL(view, format) {
  const u = new URL("/api/processes/" + view.pid + "/diagram." + format, location.href);
  if (view.host) u.searchParams.set("host", view.host);
  if (format === "svg") u.searchParams.set("theme", view.theme);
  else u.searchParams.set("width", "120");
  if (view.watches) u.searchParams.set("watches", "1");
  for (const g of view.expand) u.searchParams.append("expand", g);
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

// exportSVG downloads fdscope-PID.svg.
export async function exportSVG(view) {
  const name = "fdscope-" + view.pid + ".svg";
  try {
    const svg = await fetchText(exportURL(view, "svg"));
    download(new Blob([svg], { type: "image/svg+xml" }), name);
    toast("saved " + name);
  } catch (e) {
    toast("SVG export failed: " + e.message, true);
  }
}

// exportPNG downloads fdscope-PID.png.
export async function exportPNG(view) {
  const name = "fdscope-" + view.pid + ".png";
  try {
    const svg = await fetchText(exportURL(view, "svg"));
    const img = new Image();
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
    await img.decode();
    const scale = 2;
    const c = h("canvas", { width: img.naturalWidth * scale, height: img.naturalHeight * scale });
    const ctx = c.getContext("2d");
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    const blob = await new Promise((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error("canvas is empty"))), "image/png"));
    download(blob, name);
    toast("saved " + name);
  } catch (e) {
    toast("PNG export failed: " + e.message, true);
  }
}

// exportText copies the text art to the clipboard (and leaves it in out,
// the page's textarea, selected, when the browser refuses).
export async function exportText(view, out) {
  try {
    const text = await fetchText(exportURL(view, "txt"));
    out.value = text;
    try {
      await navigator.clipboard.writeText(text);
      toast("diagram copied as text");
    } catch {
      out.select();
      const ok = document.execCommand && document.execCommand("copy");
      toast(ok ? "diagram copied as text" : "copy refused by the browser: the text is selected, press Ctrl+C", !ok);
    }
  } catch (e) {
    toast("text export failed: " + e.message, true);
  }
}

// exportMapSVG downloads fdscope-map.svg: GET /api/map.svg, what
// `fdscope snapshot --format map-svg` prints.
export async function exportMapSVG(theme) {
  try {
    const svg = await fetchText(mapURL(theme));
    download(new Blob([svg], { type: "image/svg+xml" }), "fdscope-map.svg");
    toast("saved fdscope-map.svg");
  } catch (e) {
    toast("SVG export failed: " + e.message, true);
  }
}

// exportMapPNG downloads fdscope-map.png: that SVG drawn at twice its size.
export async function exportMapPNG(theme) {
  try {
    download(await pngOf(await fetchText(mapURL(theme))), "fdscope-map.png");
    toast("saved fdscope-map.png");
  } catch (e) {
    toast("PNG export failed: " + e.message, true);
  }
}

function mapURL(theme) {
  const u = new URL("/api/map.svg", location.href);
  u.searchParams.set("theme", theme);
  return u.href;
}

async function pngOf(svg) {
  const img = new Image();
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  await img.decode();
  const scale = 2;
  const c = h("canvas", { width: img.naturalWidth * scale, height: img.naturalHeight * scale });
  const ctx = c.getContext("2d");
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  return new Promise((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error("canvas is empty"))), "image/png"));
}
