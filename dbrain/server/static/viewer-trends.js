// dbrain viewer: the trend panel (Persyst/encevis style). Plain script; uses the globals of viewer.js
// (S, $, api, clock, goTo, selectEvent, isSeizure) at run time only.
// Lanes: left/right hemisphere DSA (viewer_trends.parquet, dB, colour key), aEEG per hemisphere on the
// semilog axis (0-10 µV linear, 10-100 µV log), asymmetry (left-right), artifact share by type, seizure
// probability; event marks on top; values on hover; click to jump; 1/4/8/24 h windows around the page.
"use strict";

const TR = { left: 132, right: 58, top: 14, axis: 18 };
const ART_COLOURS = {
  flat: "#7f8c8d", pop: "#8e44ad", eye: "#2980b9", muscle: "#d35400", line: "#16a085", amplitude: "#c0392b",
};
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(f) {
  const x = Math.max(0, Math.min(1, f)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), u = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * u));
}

// The usual aEEG scale: linear 0-10 µV on the lower half, logarithmic 10-100 µV on the upper half.
function aeegFrac(v) {
  if (!(v > 0)) return 0;
  return v <= 10 ? (v / 10) * 0.5 : Math.min(1, 0.5 + 0.5 * Math.log10(v / 10));
}

// Which hemisphere an electrode pair such as "C3-P3" lies over (odd digits left, even right).
function sideOf(pair) {
  const digits = (pair.match(/\d+/g) || []).map(Number);
  if (!digits.length) return null;
  if (digits.every((d) => d % 2 === 1)) return "left";
  if (digits.every((d) => d % 2 === 0 && d > 0)) return "right";
  return null;
}

function trendQueries(a) {
  const q = [];
  const has = (n) => `${n}.parquet` in (a.results || {});
  if (has("viewer_trends")) q.push(["viewer_trends", "max_rows=100000"]);
  if (has("qeeg")) {
    q.push(["qeeg", "max_rows=60000&measure=aeeg_lower&measure=aeeg_upper"]);
    q.push(["qeeg", "max_rows=20000&measure=asymmetry&channel=left-right"]);
    if (!has("viewer_trends")) q.push(["qeeg", "max_rows=20000&measure=artifact_strength"]);
  }
  if (has("seizure_probability")) q.push(["seizure_probability", "max_rows=30000"]);
  return q;
}

// Fetch the analysis's trend tables; resolve to the series the panel draws (null lanes are left out).
async function fetchTrends(a) {
  const parts = await Promise.all(trendQueries(a).map(async ([name, q]) => {
    const t = await api(`/api/analyses/${a.id}/tables/${name}?${q}`);
    return [name, t];
  }));
  const T = { dsa: {}, aeeg: {}, asym: null, artifact: null, artStrength: null, seizure: null };
  for (const [name, t] of parts) {
    const ci = Object.fromEntries(t.columns.map((c, i) => [c, i]));
    if (name === "viewer_trends") {
      const dsaRows = t.rows.filter((r) => r[ci.measure] === "dsa");
      for (const side of ["left", "right"]) {
        const rows = dsaRows.filter((r) => r[ci.channel] === side);
        if (!rows.length) continue;
        const freqs = [...new Set(rows.map((r) => r[ci.freq]))].sort((x, y) => x - y);
        const times = [...new Set(rows.map((r) => r[ci.start]))].sort((x, y) => x - y);
        const ti = new Map(times.map((v, i) => [v, i])), fi = new Map(freqs.map((v, i) => [v, i]));
        const grid = new Float32Array(times.length * freqs.length).fill(NaN);
        for (const r of rows) grid[ti.get(r[ci.start]) * freqs.length + fi.get(r[ci.freq])] = r[ci.value] ?? NaN;
        T.dsa[side] = { t: times, freqs, grid };
      }
      const art = t.rows.filter((r) => String(r[ci.measure]).startsWith("artifact_"));
      if (art.length) {
        const times = [...new Set(art.map((r) => r[ci.start]))].sort((x, y) => x - y);
        const ti = new Map(times.map((v, i) => [v, i]));
        const types = {};
        for (const r of art) {
          const k = String(r[ci.measure]).slice(9);
          (types[k] = types[k] || new Float32Array(times.length))[ti.get(r[ci.start])] = r[ci.value] || 0;
        }
        T.artifact = { t: times, types };
      }
    } else if (name === "qeeg") {
      const acc = {};
      for (const r of t.rows) {
        const m = r[ci.measure];
        let key;
        if (m === "asymmetry") key = "asym";
        else if (m === "artifact_strength") key = "artStrength";
        else {
          const side = sideOf(String(r[ci.channel]));
          if (!side) continue;
          key = `${side}|${m}`;
        }
        const byT = (acc[key] = acc[key] || new Map());
        const a0 = byT.get(r[ci.start]) || [0, 0];
        if (r[ci.value] !== null) { a0[0] += r[ci.value]; a0[1] += 1; }
        byT.set(r[ci.start], a0);
      }
      const series = (m) => {
        if (!m) return null;
        const ts = [...m.keys()].sort((x, y) => x - y);
        return { t: ts, v: ts.map((k) => (m.get(k)[1] ? m.get(k)[0] / m.get(k)[1] : null)) };
      };
      for (const side of ["left", "right"]) {
        if (acc[`${side}|aeeg_upper`]) T.aeeg[side] = { upper: series(acc[`${side}|aeeg_upper`]), lower: series(acc[`${side}|aeeg_lower`]) };
      }
      if (acc.asym) T.asym = series(acc.asym);
      if (acc.artStrength) T.artStrength = series(acc.artStrength);
    } else if (name === "seizure_probability") {
      const pi = ci.smoothed ?? ci.probability;
      T.seizure = { t: t.rows.map((r) => r[ci.time]), v: t.rows.map((r) => r[pi]) };
    }
  }
  return T;
}

// Index of the last element of sorted `arr` that is <= x (0 when none).
function bisect(arr, x) {
  let lo = 0, hi = arr.length - 1;
  if (!arr.length || x < arr[0]) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (arr[mid] <= x) lo = mid; else hi = mid - 1;
  }
  return lo;
}

function trendLanes(T) {
  const lanes = [];
  if (T.dsa.left) lanes.push({ key: "dsaL", label: "DSA left", h: 54 });
  if (T.dsa.right) lanes.push({ key: "dsaR", label: "DSA right", h: 54 });
  if (T.aeeg.left) lanes.push({ key: "aeegL", label: "aEEG left µV", h: 66 });
  if (T.aeeg.right) lanes.push({ key: "aeegR", label: "aEEG right µV", h: 66 });
  if (T.asym) lanes.push({ key: "asym", label: "asymmetry L−R", h: 30 });
  if (T.artifact || T.artStrength) lanes.push({ key: "art", label: T.artifact ? "artifact by type" : "artifact strength", h: 32 });
  if (T.seizure) lanes.push({ key: "sz", label: "seizure prob.", h: 34 });
  let y = TR.top;
  for (const l of lanes) { l.y = y; y += l.h + 4; }
  return { lanes, height: y + TR.axis };
}

// The visible window: the chosen span (s; 0 = whole recording) centred on the current page.
function trendView() {
  const dur = S.rec ? S.rec.duration : 1;
  const span = S.trendSpan && S.trendSpan < dur ? S.trendSpan : dur;
  const centre = S.start + S.pageDur / 2;
  const t0 = Math.max(0, Math.min(dur - span, centre - span / 2));
  return { t0, t1: t0 + span };
}

function trendX(t) {
  const c = $("#trend"), v = trendView();
  return TR.left + ((t - v.t0) / (v.t1 - v.t0)) * (c.clientWidth - TR.left - TR.right);
}

function trendTimeAt(px) {
  const c = $("#trend"), v = trendView();
  const frac = (px - TR.left) / (c.clientWidth - TR.left - TR.right);
  if (frac < 0 || frac > 1) return null;
  return v.t0 + frac * (v.t1 - v.t0);
}

function dsaRange(T) {
  const vals = [];
  for (const s of Object.values(T.dsa)) for (let i = 0; i < s.grid.length; i += 7) if (Number.isFinite(s.grid[i])) vals.push(s.grid[i]);
  vals.sort((a, b) => a - b);
  if (!vals.length) return [0, 1];
  const lo = vals[Math.floor(vals.length * 0.02)], hi = vals[Math.floor(vals.length * 0.98)];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

// One image per hemisphere (time × frequency), scaled onto the lane with drawImage.
function dsaImage(side, range) {
  const s = S.trends.dsa[side];
  if (s.image) return s.image;
  const w = s.t.length, h = s.freqs.length;
  const img = document.createElement("canvas");
  img.width = w;
  img.height = h;
  const ctx = img.getContext("2d");
  const data = ctx.createImageData(w, h);
  for (let i = 0; i < w; i++) {
    for (let j = 0; j < h; j++) {
      const v = s.grid[i * h + j];
      const o = ((h - 1 - j) * w + i) * 4; // low frequencies at the bottom
      const [r, g, b] = Number.isFinite(v) ? viridis((v - range[0]) / (range[1] - range[0])) : [255, 255, 255];
      data.data[o] = r; data.data[o + 1] = g; data.data[o + 2] = b; data.data[o + 3] = 255;
    }
  }
  ctx.putImageData(data, 0, 0);
  s.image = img;
  return img;
}

function niceTrendStep(raw) {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200]) if (s >= raw) return s;
  return 86400;
}

// The static part (lanes, axes, key, marks) of the current view, cached; the page marker and hover go on top.
function drawTrendBase(w, h) {
  const T = S.trends, v = trendView();
  const key = `${w}x${h}|${v.t0}|${v.t1}|${S.events.length}|${S.eventsVersion}|${S.selected ? S.selected.onset : ""}`;
  if (S.trendBase && S.trendBase.key === key) return S.trendBase.canvas;
  const dpr = window.devicePixelRatio || 1;
  const base = document.createElement("canvas");
  base.width = Math.round(w * dpr);
  base.height = Math.round(h * dpr);
  const ctx = base.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  const x = (t) => TR.left + ((t - v.t0) / (v.t1 - v.t0)) * (w - TR.left - TR.right);
  const pw = w - TR.left - TR.right;
  const { lanes } = trendLanes(T);
  const range = S.trendRange || (S.trendRange = dsaRange(T));
  const visible = (series) => [Math.max(0, bisect(series.t, v.t0) - 1), Math.min(series.t.length - 1, bisect(series.t, v.t1) + 1)];
  const epochEnd = (ts, i) => (i + 1 < ts.length ? ts[i + 1] : ts[i] + (ts.length > 1 ? ts[1] - ts[0] : 60));
  for (const l of lanes) {
    ctx.fillStyle = "#34475f";
    ctx.textAlign = "right";
    ctx.fillText(l.label, TR.left - 32, l.y + l.h / 2 + 4);
    ctx.strokeStyle = "#dde2e8";
    ctx.strokeRect(TR.left + 0.5, l.y + 0.5, pw, l.h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(TR.left, l.y, pw, l.h);
    ctx.clip();
    if (l.key === "dsaL" || l.key === "dsaR") {
      const s = T.dsa[l.key === "dsaL" ? "left" : "right"];
      const img = dsaImage(l.key === "dsaL" ? "left" : "right", range);
      const [i0, i1] = visible(s);
      const xa = x(s.t[i0]), xb = x(epochEnd(s.t, i1));
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(img, i0, 0, i1 - i0 + 1, img.height, xa, l.y, xb - xa, l.h);
    } else if (l.key === "aeegL" || l.key === "aeegR") {
      const s = T.aeeg[l.key === "aeegL" ? "left" : "right"];
      const yv = (val) => l.y + l.h - aeegFrac(val) * l.h;
      ctx.strokeStyle = "#e5e9ee";
      for (const g of [5, 10, 25, 50]) {
        ctx.beginPath();
        ctx.moveTo(TR.left, yv(g) + 0.5);
        ctx.lineTo(TR.left + pw, yv(g) + 0.5);
        ctx.stroke();
      }
      ctx.fillStyle = "rgba(33,102,172,0.75)";
      const [i0, i1] = visible(s.upper);
      for (let i = i0; i <= i1; i++) {
        const hi = s.upper.v[i], lo = s.lower ? s.lower.v[bisect(s.lower.t, s.upper.t[i])] : 0;
        if (hi === null) continue;
        const xa = x(s.upper.t[i]), xb = x(epochEnd(s.upper.t, i));
        ctx.fillRect(xa, yv(hi), Math.max(1, xb - xa), Math.max(1, yv(lo || 0) - yv(hi)));
      }
    } else if (l.key === "asym") {
      const s = T.asym, yv = (val) => l.y + l.h / 2 - Math.max(-1, Math.min(1, val)) * (l.h / 2);
      ctx.strokeStyle = "#c9cfd8";
      ctx.beginPath();
      ctx.moveTo(TR.left, yv(0) + 0.5);
      ctx.lineTo(TR.left + pw, yv(0) + 0.5);
      ctx.stroke();
      ctx.strokeStyle = "#6c3483";
      ctx.beginPath();
      const [i0, i1] = visible(s);
      for (let i = i0; i <= i1; i++) if (s.v[i] !== null) ctx.lineTo(x(s.t[i]), yv(s.v[i]));
      ctx.stroke();
    } else if (l.key === "art") {
      if (T.artifact) {
        const A = T.artifact, [i0, i1] = visible(A);
        for (let i = i0; i <= i1; i++) {
          let y = l.y + l.h;
          const xa = x(A.t[i]), xb = x(epochEnd(A.t, i));
          for (const [type, vals] of Object.entries(A.types)) {
            const hh = Math.min(1, vals[i]) * l.h;
            if (hh <= 0) continue;
            ctx.fillStyle = ART_COLOURS[type] || "#555";
            ctx.fillRect(xa, y - hh, Math.max(1, xb - xa), hh);
            y -= hh;
          }
        }
      } else {
        const A = T.artStrength, [i0, i1] = visible(A);
        ctx.fillStyle = "rgba(127,140,141,0.8)";
        for (let i = i0; i <= i1; i++) {
          const hh = Math.min(1, A.v[i] || 0) * l.h;
          ctx.fillRect(x(A.t[i]), l.y + l.h - hh, Math.max(1, x(epochEnd(A.t, i)) - x(A.t[i])), hh);
        }
      }
    } else if (l.key === "sz") {
      const s = T.seizure, [i0, i1] = visible(s);
      ctx.setLineDash([3, 3]);
      ctx.strokeStyle = "#e3a39b";
      ctx.beginPath();
      ctx.moveTo(TR.left, l.y + l.h / 2);
      ctx.lineTo(TR.left + pw, l.y + l.h / 2);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.strokeStyle = "#c0392b";
      ctx.beginPath();
      for (let i = i0; i <= i1; i++) ctx.lineTo(x(s.t[i]), l.y + l.h - (s.v[i] ?? 0) * l.h);
      ctx.stroke();
    }
    ctx.restore();
    // Per-lane axis labels in the gutter.
    ctx.fillStyle = "#8a95a3";
    ctx.textAlign = "right";
    if (l.key.startsWith("aeeg")) {
      // 0, 5, 10 on the linear half, 25 and 100 on the log half (50 would collide with 100).
      for (const g of [0, 5, 10, 25, 100]) ctx.fillText(String(g), TR.left - 4, l.y + l.h - aeegFrac(g) * l.h + (g === 100 ? 9 : g === 0 ? 0 : 4));
    } else if (l.key.startsWith("dsa")) {
      const s = T.dsa[l.key === "dsaL" ? "left" : "right"];
      const fmax = s.freqs[s.freqs.length - 1];
      ctx.fillText(`${Math.round(fmax)} Hz`, TR.left - 4, l.y + 9);
      ctx.fillText(`${Math.round(s.freqs[0])}`, TR.left - 4, l.y + l.h);
    } else if (l.key === "sz" || l.key === "art") {
      ctx.fillText("1", TR.left - 4, l.y + 9);
      ctx.fillText("0", TR.left - 4, l.y + l.h);
    } else if (l.key === "asym") {
      ctx.fillText("L", TR.left - 4, l.y + 9);
      ctx.fillText("R", TR.left - 4, l.y + l.h);
    }
  }
  // Colour key of the DSA (dB), right of the lanes.
  const dsaLanes = lanes.filter((l) => l.key.startsWith("dsa"));
  if (dsaLanes.length) {
    const y0 = dsaLanes[0].y, y1 = dsaLanes[dsaLanes.length - 1].y + dsaLanes[dsaLanes.length - 1].h;
    const kx = w - TR.right + 6;
    for (let py = y0; py < y1; py++) {
      const [r, g, b] = viridis(1 - (py - y0) / (y1 - y0));
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(kx, py, 10, 1);
    }
    ctx.fillStyle = "#34475f";
    ctx.textAlign = "left";
    ctx.fillText(`${range[1].toFixed(0)}`, kx + 12, y0 + 9);
    ctx.fillText(`${range[0].toFixed(0)}`, kx + 12, y1);
    ctx.fillText("dB", kx + 12, (y0 + y1) / 2 + 4);
  }
  // Event marks above the lanes (seizures red), each detected event a tick.
  for (const ev of S.events) {
    if (ev.onset < v.t0 || ev.onset > v.t1 || ev.source === "file") continue;
    const sz = isSeizure(ev);
    const px = Math.round(x(ev.onset)) + 0.5;
    const sel = S.selected && S.selected.onset === ev.onset && S.selected.description === ev.description;
    ctx.strokeStyle = sel ? "#e67e22" : sz ? "#c0392b" : ev.source === "annotation" ? "#2166ac" : "#9aa6b5";
    ctx.lineWidth = sel || sz ? 2 : 1;
    ctx.beginPath();
    ctx.moveTo(px, 1);
    ctx.lineTo(px, sz || sel ? h - TR.axis : TR.top - 3);
    if (sz && !sel) ctx.globalAlpha = 0.35;
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1;
  }
  // Time axis in the one time convention.
  ctx.fillStyle = "#5a6675";
  ctx.textAlign = "center";
  const step = niceTrendStep((v.t1 - v.t0) / Math.max(1, pw / 120));
  for (let t = Math.ceil(v.t0 / step) * step; t <= v.t1; t += step) {
    ctx.fillText(clock(t), x(t), h - 4);
    ctx.strokeStyle = "#eef1f5";
    ctx.beginPath();
    ctx.moveTo(Math.round(x(t)) + 0.5, h - TR.axis);
    ctx.lineTo(Math.round(x(t)) + 0.5, h - TR.axis + 4);
    ctx.stroke();
  }
  S.trendBase = { key, canvas: base };
  return base;
}

function drawTrends() {
  const canvas = $("#trend");
  if (!canvas.clientWidth) return;
  const T = S.trends;
  if (!T) {
    canvas.style.height = "60px";
    const { ctx, w, h } = fitCanvas(canvas);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#677486";
    ctx.fillText(S.trendMessage || (S.analysis ? "Trends appear when the analysis is done." : "No analysis yet: no trends."), TR.left, 30);
    return;
  }
  const { height } = trendLanes(T);
  if (canvas.style.height !== `${height}px`) canvas.style.height = `${height}px`;
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  ctx.drawImage(drawTrendBase(w, h), 0, 0, w, h);
  // The current page.
  const x0 = trendX(S.start), x1 = trendX(S.start + S.pageDur);
  ctx.fillStyle = "rgba(230,126,34,0.35)";
  ctx.fillRect(x0, TR.top - 4, Math.max(2, x1 - x0), h - TR.top - TR.axis + 4);
  if (S.trendHoverX !== null && S.trendHoverX !== undefined) {
    ctx.strokeStyle = "#1f3552";
    ctx.beginPath();
    ctx.moveTo(S.trendHoverX + 0.5, TR.top - 4);
    ctx.lineTo(S.trendHoverX + 0.5, h - TR.axis);
    ctx.stroke();
  }
}

// The nearest event mark within 4 px of px (hover and click snap to it), else null.
function trendEventNear(px) {
  let best = null, bestD = 4.5;
  for (const ev of S.events) {
    if (ev.source === "file") continue;
    const d = Math.abs(trendX(ev.onset) - px);
    if (d < bestD) { best = ev; bestD = d; }
  }
  return best;
}

function valueAt(series, t) {
  if (!series || !series.t.length || t < series.t[0]) return null;
  return series.v[bisect(series.t, t)];
}

function trendHover(e) {
  const T = S.trends, box = $("#trend-hover");
  const rect = $("#trend").getBoundingClientRect();
  const px = e.clientX - rect.left;
  const t = T ? trendTimeAt(px) : null;
  if (t === null) { box.hidden = true; S.trendHoverX = null; drawTrends(); return; }
  const ev = trendEventNear(px);
  const at = ev ? ev.onset : t;
  const lines = [ev ? `${clock(at)} · ${ev.description}${ev.confidence != null ? ` ${Math.round(ev.confidence * 100)} %` : ""}` : clock(at)];
  for (const side of ["left", "right"]) {
    const s = T.aeeg[side];
    if (s) {
      const hi = valueAt(s.upper, at), lo = valueAt(s.lower, at);
      if (hi !== null) lines.push(`aEEG ${side} ${lo !== null ? lo.toFixed(1) : "?"}–${hi.toFixed(1)} µV`);
    }
  }
  if (T.dsa.left && T.dsa.right) {
    const bandPower = (s) => {
      const i = bisect(s.t, at), row = s.grid.subarray(i * s.freqs.length, (i + 1) * s.freqs.length);
      const j = row.indexOf(Math.max(...row));
      return j >= 0 ? `${s.freqs[j].toFixed(0)} Hz` : "?";
    };
    lines.push(`DSA peak L ${bandPower(T.dsa.left)} · R ${bandPower(T.dsa.right)}`);
  }
  const asym = valueAt(T.asym, at);
  if (asym !== null) lines.push(`asymmetry ${asym >= 0 ? "+" : ""}${asym.toFixed(2)}`);
  if (T.artifact) {
    const i = bisect(T.artifact.t, at);
    const parts = Object.entries(T.artifact.types).filter(([, v]) => v[i] >= 0.01).map(([k, v]) => `${k} ${Math.round(v[i] * 100)} %`);
    lines.push(`artifact ${parts.join(", ") || "none"}`);
  }
  const p = valueAt(T.seizure, at);
  if (p !== null) lines.push(`seizure probability ${(p * 100).toFixed(0)} %`);
  box.textContent = lines.join("\n");
  box.dataset.time = clock(at);
  box.hidden = false;
  const wrap = $("#trend-wrap").getBoundingClientRect();
  box.style.left = `${Math.min(px + 12, wrap.width - 260)}px`;
  box.style.top = "4px";
  S.trendHoverX = trendX(at);
  drawTrends();
}

function trendClick(e) {
  if (!S.rec || !S.trends) return;
  const rect = $("#trend").getBoundingClientRect();
  const px = e.clientX - rect.left;
  const ev = trendEventNear(px);
  if (ev) { selectEvent(ev); return; }
  const t = trendTimeAt(px);
  if (t === null) return;
  goTo(Math.round(t - S.pageDur / 2)); // centre the page there, on a whole second
}
