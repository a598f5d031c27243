// dbrain live ward: drawing one bed's canvases from its frames (the moving EEG strip, the seizure
// probability trend and the left/right density spectral array). Plain script, no state of its own:
// ward.js owns the frames and calls these. A frame is what the monitor posts (docs/ward.md).
"use strict";

const WardDraw = (function () {
  const STRIP_SECONDS = 10;
  const TREND_SECONDS = 600;
  // The strip's sensitivities, µV from one channel's baseline to the next (schemas.WARD_STRIP_STEPS).
  const STRIP_STEPS = [20, 50, 100, 200, 500, 1000, 2000, 5000];
  // 100 µV per row ≈ the 7 µV/mm of routine EEG review at a ~15 mm channel spacing: a normal background
  // (20–50 µV) fills a third to half of its row, a suppressed one (< 10 µV) looks flat and a seizure's
  // high-amplitude discharges (≥ 100 µV) reach the row's edges (docs/ward.md).
  const DEFAULT_UV_PER_ROW = 100;
  // Height (CSS px) of the strip's footer band, under the bottom row: its filters, sensitivity and span are written
  // there, never over a trace (in the bottom row's corner they covered the trace's last seconds).
  const STRIP_FOOTER = 14;

  function setup(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.textAlign = "left"; // the context keeps its state between drawings
    ctx.lineWidth = 1;
    return { ctx, w, h };
  }

  function empty(canvas, text) {
    const { ctx, w, h } = setup(canvas);
    ctx.fillStyle = "#8a96a6";
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(text, w / 2, h / 2);
  }

  // The median µV of channel `name` from tStart on (0 without samples).
  function median(frames, name, tStart) {
    const v = [];
    for (const f of frames) {
      const k = f.strip.channels.indexOf(name);
      if (k < 0) continue;
      const row = f.strip.data[k], dt = 1 / f.strip.sfreq;
      for (let i = 0; i < row.length; i++) if (f.t + i * dt >= tStart) v.push(row[i] * f.strip.scale_uv);
    }
    if (!v.length) return 0;
    v.sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  }

  // The last STRIP_SECONDS of EEG, newest at the right edge (the strip moves left as seconds arrive), at the
  // fixed sensitivity uvPerRow (µV from one channel's baseline to the next; the user chooses it, ward.js).
  // Never auto-scaled: a suppressed EEG must look flat and a growing seizure must grow. A trace is clipped to
  // its own row (it never draws over its neighbours) and where it is, a red bar marks the row's edge.
  // Sample i of a frame is drawn at stream time f.t + i / sfreq (f.t: its first sample's, docs/ward.md "Time of a
  // frame"), on the time axis of the alarms' `raised`.
  // The monitor posts the strip through its display filters (LFF, HFF: stated in the frame and shown in the corner),
  // so a trace is drawn about zero. A strip posted without a stated LFF (an older monitor) is drawn about each
  // channel's median over the shown seconds, and says "unfiltered": a DC offset would otherwise park it on its
  // row's edge (an offset, not the EEG's amplitude).
  function strip(canvas, frames, uvPerRow = DEFAULT_UV_PER_ROW) {
    const withStrip = frames.filter((f) => f.strip);
    canvas.dataset.uvPerRow = String(uvPerRow);
    canvas.dataset.clipped = "";
    if (!withStrip.length) { empty(canvas, "no EEG"); return; }
    const { ctx, w, h } = setup(canvas);
    const last = withStrip[withStrip.length - 1];
    const tEnd = last.t + 1, tStart = tEnd - STRIP_SECONDS;
    const names = last.strip.channels;
    const filt = filters(last.strip);
    canvas.dataset.filters = filt;
    canvas.dataset.footer = String(STRIP_FOOTER);
    const left = 48, right = 34, pxPerS = (w - left - right) / STRIP_SECONDS, rowsH = h - STRIP_FOOTER;
    const rowH = rowsH / names.length, pxPerUv = rowH / uvPerRow, half = uvPerRow / 2;
    ctx.strokeStyle = "#e3e8ee";
    for (let s = Math.ceil(tStart); s <= tEnd; s++) {
      const x = left + (s - tStart) * pxPerS;
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, rowsH); ctx.stroke();
    }
    const clipped = [];
    names.forEach((name, c) => {
      const y0 = rowH * (c + 0.5), top = rowH * c;
      const over = []; // [x0, x1, +1 above | -1 below] of the clipped runs
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, w - left - right, rowH);
      ctx.clip();
      ctx.strokeStyle = "#1d2430";
      const base = last.strip.lff ? 0 : median(withStrip, name, tStart);
      ctx.beginPath();
      let pen = false, prevEnd = null, run = null;
      for (const f of withStrip) {
        if (f.t + 1 <= tStart) continue;
        const k = f.strip.channels.indexOf(name);
        if (k < 0) { pen = false; continue; }
        if (prevEnd !== null && f.t - prevEnd > 0.01) pen = false; // a gap in the data: no line across it
        const row = f.strip.data[k], dt = 1 / f.strip.sfreq, s = f.strip.scale_uv;
        for (let i = 0; i < row.length; i++) {
          const t = f.t + i * dt;
          if (t < tStart) continue;
          const uv = row[i] * s - base, x = left + (t - tStart) * pxPerS;
          if (pen) ctx.lineTo(x, y0 - uv * pxPerUv); else { ctx.moveTo(x, y0 - uv * pxPerUv); pen = true; }
          const side = uv > half ? 1 : uv < -half ? -1 : 0;
          if (side && run && run[2] === side && x - run[1] <= 2 * pxPerS * dt + 1) run[1] = x;
          else if (side) { run = [x, x, side]; over.push(run); } else run = null;
        }
        prevEnd = f.t + row.length * dt;
      }
      ctx.stroke();
      ctx.restore();
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = over.length ? "#c62828" : "#34475f";
      ctx.fillText(over.length ? `${name} ⇕` : name, 2, y0 + 4);
      if (over.length) {
        clipped.push(name);
        ctx.fillStyle = "#c62828"; // where the trace runs off its row: a bar on that edge
        for (const [x0, x1, side] of over) ctx.fillRect(x0 - 1, side > 0 ? top : top + rowH - 3, x1 - x0 + 2, 3);
      }
    });
    // Scale: a bar of half a row at the right edge, and the sensitivity in words.
    const barX = w - right + 10, barY = rowH * (names.length - 0.5);
    ctx.strokeStyle = "#1d2430";
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(barX, barY - rowH / 4); ctx.lineTo(barX, barY + rowH / 4); ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = "#34475f";
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(`${half}`, barX + 3, barY - 2);
    ctx.fillText("µV", barX + 3, barY + 9);
    ctx.fillStyle = "#677486";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.fillText(`${filt} · ${uvPerRow} µV/row · ${STRIP_SECONDS} s${clipped.length ? " · clipped" : ""}`, w - right - 4, h - 3);
    // where the text sits, for the page's tests: the rows end at rowsH, the footer's text lies below
    canvas.dataset.rowsHeight = rowsH.toFixed(1);
    canvas.dataset.clipped = clipped.join(",");
  }

  // The strip's filters in the words of an EEG montage header: "LFF 0.5 Hz · HFF 30 Hz" ("unfiltered": none stated).
  function filters(s) {
    const parts = [];
    if (s.lff) parts.push(`LFF ${s.lff} Hz`);
    if (s.hff) parts.push(`HFF ${s.hff} Hz`);
    return parts.length ? parts.join(" · ") : "unfiltered";
  }

  function trendX(t, tEnd, left, w) { return left + (t - (tEnd - TREND_SECONDS)) * (w - left) / TREND_SECONDS; }

  // Seizure probability of each second over the last TREND_SECONDS. The monitor posts in the frame of second
  // [t, t + 1) the probability of that second (docs/ward.md "Time of a frame"); a second's probability is drawn at
  // the second's start t, the time seizure_probability.parquet, the report's figures and the viewer give it (its
  // "time" column), so the ward, the report and the alarms' onsets (second starts too) agree.
  function prob(canvas, frames, alarms) {
    if (!frames.length) { empty(canvas, "no seizure probability"); return; }
    const { ctx, w, h } = setup(canvas);
    const left = 48, tEnd = frames[frames.length - 1].t + 1;
    ctx.fillStyle = "#34475f";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("P(sz)", 2, 12);
    ctx.strokeStyle = "#e3e8ee";
    for (const p of [0.25, 0.5, 0.75]) {
      ctx.beginPath(); ctx.moveTo(left, h - p * h); ctx.lineTo(w, h - p * h); ctx.stroke();
    }
    // the probability scale, so a line near the top reads as near 1 and not as a relative height
    ctx.fillStyle = "#677486";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.fillText("1", left - 4, 9);
    ctx.fillText("0.5", left - 4, h / 2 + 3);
    ctx.fillText("0", left - 4, h - 1);
    ctx.textAlign = "left";
    for (const a of alarms) { // where alarms of this stream were raised
      const x = trendX(a.raised, tEnd, left, w);
      if (x < left) continue;
      ctx.fillStyle = a.type === "seizure" ? "#c6282833" : "#b7791f33";
      ctx.fillRect(x - 2, 0, 4, h);
    }
    ctx.strokeStyle = "#c62828";
    ctx.beginPath();
    let pen = false, prev = null;
    for (const f of frames) {
      const p = f.seizure_probability;
      if (p === null || p === undefined || (prev !== null && f.t - prev > 1.5)) { pen = false; }
      if (p !== null && p !== undefined) {
        const x = trendX(f.t, tEnd, left, w), y = h - p * h;
        if (x >= left) { if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; } }
      }
      prev = f.t;
    }
    ctx.stroke();
  }

  // dB → colour (blue, low, through green and yellow to red, high).
  function colour(v, lo, hi) {
    const x = Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
    return `hsl(${Math.round(240 * (1 - x))}, 85%, ${Math.round(35 + 20 * x)}%)`;
  }

  // Left hemisphere on top, right below; frequency upwards; each second one column.
  function dsa(canvas, frames) {
    const have = frames.filter((f) => f.dsa && f.dsa.freqs.length);
    if (!have.length) { empty(canvas, "no DSA"); return; }
    const { ctx, w, h } = setup(canvas);
    const left = 48, tEnd = frames[frames.length - 1].t + 1;
    let lo = Infinity, hi = -Infinity;
    for (const f of have) for (const v of f.dsa.left.concat(f.dsa.right)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(hi > lo)) hi = lo + 1;
    const half = h / 2, colW = Math.max(1, (w - left) / TREND_SECONDS);
    have.forEach((f) => {
      const x = trendX(f.t, tEnd, left, w);
      if (x < left) return;
      const n = f.dsa.freqs.length, rowH = (half - 2) / n;
      ["left", "right"].forEach((side, s) => {
        const values = f.dsa[side];
        for (let i = 0; i < n; i++) {
          ctx.fillStyle = colour(values[i], lo, hi);
          ctx.fillRect(x, s * half + (half - 2) - (i + 1) * rowH, colW + 0.5, rowH + 0.5);
        }
      });
    });
    const fmax = have[have.length - 1].dsa.freqs[have[have.length - 1].dsa.freqs.length - 1];
    ctx.fillStyle = "#34475f";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("DSA L", 2, 12);
    ctx.fillText("DSA R", 2, half + 12);
    ctx.fillText(`≤${Math.round(fmax)} Hz`, 2, half - 4);
  }

  return { strip, prob, dsa, empty, STRIP_SECONDS, TREND_SECONDS, STRIP_STEPS, DEFAULT_UV_PER_ROW };
})();
