// dbrain viewer: talking to the API, and the compact page transport (int16 with a per-channel scale,
// gzip on the wire) with a small page cache that the viewer fills ahead of the reader (prefetch).
// Plain script; the server side is dbrain/server/window.py (encode_int16).
"use strict";

const PAGE_CACHE_SIZE = 8;

async function api(path, { method = "GET", json, body, headers = {}, binary = false } = {}) {
  const h = { ...headers };
  if (method !== "GET") h["X-CSRF-Token"] = S.csrf || "";
  let payload = body;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const r = await fetch(path, { method, headers: h, body: payload, credentials: "same-origin" });
  if (r.status === 401 && path !== "/api/auth/login" && path !== "/api/auth/me") {
    showLogin("Your session has ended; please sign in again.");
  }
  if (!r.ok) {
    let detail = r.statusText || `HTTP ${r.status}`;
    try {
      const d = (await r.json()).detail;
      detail = typeof d === "string" ? d : JSON.stringify(d);
    } catch (_) { /* not JSON */ }
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  if (r.status === 204) return null;
  return binary ? r.arrayBuffer() : r.json();
}

// Unpack a page from GET /window?format=i16 (layout: dbrain.server.window.encode_int16).
function decodeWindow(buf) {
  const view = new DataView(buf);
  const magic = String.fromCharCode(...new Uint8Array(buf, 0, 4));
  if (magic !== "DBW1") throw new Error("not a dbrain page (bad magic)");
  const n = view.getUint32(4, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n)));
  let off = 8 + n;
  const m = head.n_times, nch = head.channels.length;
  const times = new Float64Array(m);
  if (head.has_times) {
    const rel = new Float32Array(buf.slice(off, off + 4 * m));
    for (let i = 0; i < m; i++) times[i] = head.start + rel[i];
    off += 4 * m;
  } else {
    for (let i = 0; i < m; i++) times[i] = head.t0 + i * head.dt;
  }
  // Per channel: first differences of the int16 counts as a low-byte plane then a high-byte plane.
  const bytes = new Uint8Array(buf, off, 2 * m * nch);
  const data = [];
  for (let c = 0; c < nch; c++) {
    const row = new Float32Array(m), s = head.scale[c], lo = c * 2 * m, hi = lo + m;
    let acc = 0;
    for (let i = 0; i < m; i++) {
      acc = (acc + (((bytes[hi + i] << 8) | bytes[lo + i]) << 16 >> 16)) << 16 >> 16; // int16 wrap-around
      row[i] = acc * s;
    }
    data.push(row);
  }
  return { ...head, times, data, bytes: buf.byteLength };
}

// Cache of page promises keyed by recording and query, so a prefetched page in flight is reused.
const PAGES = new Map();

function clearPages() { PAGES.clear(); }

function fetchPage(recId, params) {
  const key = `${recId}?${params}`;
  if (PAGES.has(key)) {
    const p = PAGES.get(key);
    PAGES.delete(key); // most recently used last
    PAGES.set(key, p);
    return p;
  }
  const p = api(`/api/recordings/${recId}/window?${params}&format=i16`, { binary: true })
    .then((buf) => ({ ...decodeWindow(buf), recId }));
  PAGES.set(key, p);
  p.catch(() => PAGES.delete(key)); // a failed page is asked again next time
  while (PAGES.size > PAGE_CACHE_SIZE) PAGES.delete(PAGES.keys().next().value);
  return p;
}
