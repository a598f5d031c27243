// dbrain browser EEG viewer: plain modern JavaScript, no build step, no dependencies.
// It talks only to the data centre's API (/api/...): decimated windows, events,
// annotations, analyses, result tables and reports. Decision support only.
"use strict";

const $ = (sel) => document.querySelector(sel);
const GAINS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 1000]; // µV/mm
const PX_PER_MM = 96 / 25.4; // CSS pixels per millimetre
const TREND_LEFT = 120; // px of lane labels left of the trend plots
const STEP_SETS = { review: ["recording", "seizures", "qeeg"], full: [] }; // [] = every step
const CAN = {
  upload: ["admin", "clinician", "technologist"],
  analyse: ["admin", "clinician", "technologist"],
  annotate: ["clinician", "technologist"],
  sign: ["clinician"],
  identity: ["clinician"],
};
const SOURCE_COLOURS = { analysis: [192, 57, 43], annotation: [33, 102, 172], file: [110, 120, 130] };

const S = {
  user: null, csrf: null, recordings: [], rec: null,
  start: 0, pageDur: 10, sens: 7, hidden: new Set(),
  window: null, seq: 0, events: [], analysis: null, pollTimer: null, trends: null,
  cursorT: null, drag: null, selected: null, base: null, layout: null,
};

// ---------------------------------------------------------------- API
async function api(path, { method = "GET", json, body, headers = {} } = {}) {
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
    let detail = r.statusText;
    try {
      const d = (await r.json()).detail;
      detail = typeof d === "string" ? d : JSON.stringify(d);
    } catch (_) { /* not JSON */ }
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  return r.status === 204 ? null : r.json();
}

function can(what) { return !!S.user && CAN[what].includes(S.user.role); }

let messageTimer = null;
function message(text, isError = false) {
  const el = $("#message");
  el.textContent = text;
  el.classList.toggle("error", isError);
  clearTimeout(messageTimer);
  if (text && !isError) messageTimer = setTimeout(() => { el.textContent = ""; }, 4000);
}

// ---------------------------------------------------------------- formatting
function hms(seconds, decimals = 0) {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const ss = decimals ? sec.toFixed(decimals).padStart(3 + decimals, "0") : String(Math.floor(sec)).padStart(2, "0");
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${ss}`;
}

function recordingStart() {
  if (!S.rec || !S.rec.start_time) return null;
  const d = new Date(S.rec.start_time);
  return isNaN(d) ? null : d;
}

// Clock time of a moment in the recording (the header's start, else elapsed time).
function clock(t, decimals = 0) {
  const d0 = recordingStart();
  if (!d0) return hms(t, decimals);
  const d = new Date(d0.getTime() + t * 1000);
  const frac = decimals ? (d.getUTCMilliseconds() / 1000).toFixed(decimals).slice(1) : "";
  return d.toISOString().slice(11, 19) + frac;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---------------------------------------------------------------- login
function showLogin(error = "") {
  S.user = null;
  S.csrf = null;
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#whoami").textContent = "";
  $("#login-view").hidden = false;
  $("#login-error").textContent = error;
  $("#login-username").focus();
}

function setUser(me) {
  S.user = me.user;
  S.csrf = me.csrf_token;
  $("#whoami").textContent = `${me.user.username} (${me.user.role})`;
  $("#logout").hidden = false;
  document.body.dataset.role = me.user.role;
  document.querySelectorAll("[data-needs]").forEach((el) => el.classList.toggle("no-role", !can(el.dataset.needs)));
}

async function boot() {
  bindControls();
  try {
    setUser(await api("/api/auth/me"));
  } catch (_) {
    showLogin();
    return;
  }
  await showApp();
}

async function showApp() {
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  await loadRecordings();
  const params = new URLSearchParams(location.hash.slice(1));
  const id = Number(params.get("rec"));
  if (id) {
    S.pageDur = Number(params.get("page")) || S.pageDur;
    $("#page-duration").value = String(S.pageDur);
    await openRecording(id, Number(params.get("t")) || 0);
  }
}

// ---------------------------------------------------------------- recordings and upload
async function loadRecordings() {
  S.recordings = await api("/api/recordings");
  const ul = $("#recordings");
  ul.innerHTML = "";
  if (!S.recordings.length) ul.innerHTML = '<li class="muted">No recordings yet.</li>';
  for (const r of S.recordings) {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    li.className = S.rec && S.rec.id === r.id ? "active" : "";
    li.innerHTML = `<b>${escapeHtml(r.pseudonym)}</b> · #${r.id}<br><span class="muted">${r.format}, ${r.n_channels} ch, ${hms(r.duration)}</span>`;
    li.addEventListener("click", () => openRecording(r.id, 0));
    ul.appendChild(li);
  }
}

async function upload(file) {
  message(`Uploading ${file.name} …`);
  try {
    const rec = await api(`/api/recordings?filename=${encodeURIComponent(file.name)}`, {
      method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" },
    });
    message(`Uploaded as ${rec.pseudonym} #${rec.id} (de-identified)`);
    await loadRecordings();
    await openRecording(rec.id, 0);
    if (can("analyse")) await requestAnalysis();
  } catch (e) {
    message(`Upload failed: ${e.message}`, true);
  } finally {
    $("#upload-file").value = "";
  }
}

async function requestAnalysis() {
  const only = STEP_SETS[$("#analysis-steps").value] || [];
  try {
    S.analysis = await api(`/api/recordings/${S.rec.id}/analyses`, { method: "POST", json: { only } });
    renderAnalysis();
    pollAnalysis();
  } catch (e) {
    message(`Could not queue the analysis: ${e.message}`, true);
  }
}

async function openRecording(id, start = 0) {
  clearTimeout(S.pollTimer);
  try {
    S.rec = await api(`/api/recordings/${id}`);
  } catch (e) {
    message(`Recording ${id}: ${e.message}`, true);
    return;
  }
  S.window = null;
  S.trends = null;
  S.analysis = null;
  S.events = [];
  S.selected = null;
  S.autoGain = true;
  document.querySelectorAll("#recordings li").forEach((li) => li.classList.toggle("active", Number(li.dataset.id) === id));
  $("#recording-panel").hidden = false;
  $("#events-panel").hidden = false;
  $("#channels-panel").hidden = false;
  $("#viewer").hidden = false;
  $("#empty-hint").hidden = true;
  $("#identity").hidden = true;
  $("#show-identity").hidden = false;
  $("#report-box").hidden = true;
  const r = S.rec;
  $("#rec-title").textContent = `${r.pseudonym} #${r.id}`;
  $("#rec-info").textContent = `${r.format}, ${r.n_channels} channels, ${r.sfreq} Hz, ${hms(r.duration)}` +
    (r.start_time ? `, start ${r.start_time.replace("T", " ").slice(0, 19)}` : "");
  goTo(start);
  await Promise.all([loadEvents(), loadAnalysis()]);
}

async function showIdentity() {
  try {
    const ident = await api(`/api/recordings/${S.rec.id}/identity`);
    const i = ident.identity || {};
    const el = $("#identity");
    el.textContent = `${i.name || "(no name)"} · code ${i.patient_code || "–"} · born ${i.birthdate || "–"} · file ${ident.original_filename}`;
    el.hidden = false;
    $("#show-identity").hidden = true;
  } catch (e) {
    message(`Identity: ${e.message}`, true);
  }
}

// ---------------------------------------------------------------- analysis, report, trends
async function loadAnalysis() {
  const list = await api(`/api/recordings/${S.rec.id}/analyses`);
  S.analysis = list[0] || null;
  renderAnalysis();
  if (S.analysis && ["queued", "running"].includes(S.analysis.status)) pollAnalysis();
  else if (S.analysis && S.analysis.status === "done") await analysisDone();
}

function renderAnalysis() {
  const el = $("#analysis-status");
  const a = S.analysis;
  $("#run-analysis").textContent = a ? "Analyse again" : "Analyse";
  if (!a) {
    el.textContent = can("analyse") ? "not analysed yet" : "not analysed yet (ask a technologist)";
    el.dataset.status = "none";
    return;
  }
  el.dataset.status = a.status;
  const steps = a.only.length ? a.only.join(", ") : "all steps";
  if (a.status === "done") el.textContent = `done · ${a.n_events ?? 0} events · ${steps}`;
  else if (a.status === "failed") el.textContent = `failed: ${a.error || (a.job && a.job.error) || "?"}`;
  else if (a.status === "running" && a.job) el.textContent = `running ${Math.round(a.job.progress * 100)} % ${a.job.message || ""}`;
  else el.textContent = `${a.status} (analysis #${a.id})`;
}

function pollAnalysis() {
  clearTimeout(S.pollTimer);
  const id = S.analysis.id, recId = S.rec.id;
  S.pollTimer = setTimeout(async () => {
    if (!S.rec || S.rec.id !== recId) return;
    try {
      S.analysis = await api(`/api/analyses/${id}`);
    } catch (e) {
      message(`Analysis: ${e.message}`, true);
      return;
    }
    renderAnalysis();
    if (["queued", "running"].includes(S.analysis.status)) pollAnalysis();
    else if (S.analysis.status === "done") {
      message("Analysis finished");
      await Promise.all([loadEvents(), analysisDone()]);
    }
  }, 1000);
}

async function analysisDone() {
  await Promise.all([loadReport(), loadTrends()]);
}

async function loadReport() {
  const a = S.analysis;
  try {
    const rep = await api(`/api/analyses/${a.id}/report`);
    $("#report-box").hidden = false;
    const st = $("#report-status");
    st.dataset.status = rep.status;
    st.textContent = rep.status === "signed" ? `signed ${String(rep.signed_at || "").slice(0, 16).replace("T", " ")}` : "draft, not signed";
    $("#report-link").href = `/api/analyses/${a.id}/files/report.pdf`;
    $("#sign-report").hidden = rep.status !== "draft";
  } catch (e) {
    $("#report-box").hidden = true;
  }
}

async function signReport() {
  if (!confirm("Sign this report? You confirm you have reviewed the recording and the findings.")) return;
  try {
    await api(`/api/analyses/${S.analysis.id}/report/sign`, { method: "POST" });
    message("Report signed");
  } catch (e) {
    message(`Signing failed: ${e.message}`, true);
  }
  await loadReport();
}

// Only the rows the trend panel draws are fetched; the server thins long tables by time point,
// so a 72 h recording still gives whole (coarser) trends.
const TREND_QUERIES = {
  qeeg: [
    "measure=rel_delta&measure=rel_theta&measure=rel_alpha&measure=rel_beta&measure=aeeg_lower&measure=aeeg_upper" +
      "&channel=left&channel=right&channel=C3-P3&channel=C4-P4",
    "measure=artifact_strength",
  ],
  seizure_probability: [""],
};

async function loadTrends() {
  const a = S.analysis;
  const tables = {};
  const wanted = Object.keys(TREND_QUERIES).filter((n) => `${n}.parquet` in a.results);
  await Promise.all(wanted.map(async (name) => {
    try {
      const parts = await Promise.all(
        TREND_QUERIES[name].map((q) => api(`/api/analyses/${a.id}/tables/${name}?max_rows=50000${q ? "&" + q : ""}`)),
      );
      tables[name] = { ...parts[0], rows: parts.flatMap((p) => p.rows) };
    } catch (e) {
      message(`Trend table ${name}: ${e.message}`, true);
    }
  }));
  S.trends = buildTrends(tables);
  drawTrends();
}

// qeeg is long: start, channel, measure, value. Build the few series the trend panel shows;
// each keeps its own times (band powers are per minute, the aEEG per 15 s).
function buildTrends(tables) {
  const out = { dsa: null, aeeg: null, artifact: null, seizure: null };
  const q = tables.qeeg;
  if (q) {
    const ci = Object.fromEntries(q.columns.map((c, i) => [c, i]));
    const series = (filter) => {
      const acc = new Map();
      for (const r of q.rows) {
        if (r[ci.value] === null || !filter(r[ci.channel], r[ci.measure])) continue;
        const a = acc.get(r[ci.start]) || [0, 0];
        a[0] += r[ci.value];
        a[1] += 1;
        acc.set(r[ci.start], a);
      }
      const t = [...acc.keys()].sort((x, y) => x - y);
      return { t, v: t.map((k) => acc.get(k)[0] / acc.get(k)[1]) };
    };
    const bands = ["delta", "theta", "alpha", "beta"];
    const rows = [];
    for (const side of ["left", "right"]) for (const b of bands) rows.push(series((c, m) => c === side && m === `rel_${b}`));
    out.dsa = rows.some((r) => r.t.length) ? rows : null;
    const aeeg = ["C3-P3", "C4-P4"].map((ch) => ({
      lower: series((c, m) => c === ch && m === "aeeg_lower"), upper: series((c, m) => c === ch && m === "aeeg_upper"),
    }));
    out.aeeg = aeeg.some((s) => s.upper.t.length) ? aeeg : null;
    const art = series((c, m) => m === "artifact_strength");
    out.artifact = art.t.length ? art : null;
  }
  const sp = tables.seizure_probability;
  if (sp) {
    const ti = sp.columns.indexOf("time"), pi = sp.columns.indexOf(sp.columns.includes("smoothed") ? "smoothed" : "probability");
    out.seizure = { t: sp.rows.map((r) => r[ti]), v: sp.rows.map((r) => r[pi]) };
  }
  return out;
}

// The end of a series' i-th epoch: the next epoch's start, else one step (or a minute) on.
function epochEnd(series, i, dur) {
  const t = series.t;
  if (i + 1 < t.length) return t[i + 1];
  return Math.min(dur, t[i] + (t.length > 1 ? t[1] - t[0] : 60));
}

// ---------------------------------------------------------------- events and annotations
async function loadEvents() {
  try {
    S.events = await api(`/api/recordings/${S.rec.id}/events`);
  } catch (e) {
    message(`Events: ${e.message}`, true);
    return;
  }
  renderEvents();
  drawOverlay();
}

function renderEvents() {
  const ul = $("#events");
  ul.innerHTML = "";
  if (!S.events.length) ul.innerHTML = '<li class="muted">No events.</li>';
  S.events.forEach((ev, i) => {
    const li = document.createElement("li");
    li.dataset.onset = ev.onset;
    li.dataset.source = ev.source;
    if (ev.id) li.dataset.annotationId = ev.id;
    const conf = ev.confidence !== null && ev.confidence !== undefined ? ` (${Math.round(ev.confidence * 100)} %)` : "";
    const dur = ev.duration ? ` · ${ev.duration.toFixed(1)} s` : "";
    li.title = `${ev.description}${conf}${dur}${ev.channel ? " · " + ev.channel : ""}`;
    li.innerHTML = `<span class="t">${hms(ev.onset)}</span><span class="src src-${ev.source}">${ev.source}</span>` +
      `<span class="desc">${escapeHtml(ev.description)}${conf}</span>`;
    if (ev.source === "annotation" && can("annotate")) {
      const edit = document.createElement("button");
      edit.className = "small edit";
      edit.textContent = "edit";
      edit.addEventListener("click", (e) => { e.stopPropagation(); openAnnotationForm(ev); });
      const del = document.createElement("button");
      del.className = "small delete";
      del.textContent = "×";
      del.title = "Delete";
      del.addEventListener("click", (e) => { e.stopPropagation(); deleteAnnotation(ev); });
      li.append(edit, del);
    }
    li.addEventListener("click", () => jumpTo(i));
    ul.appendChild(li);
  });
}

function jumpTo(i) {
  const ev = S.events[i];
  S.selected = ev;
  document.querySelectorAll("#events li").forEach((li, j) => li.classList.toggle("active", j === i));
  goTo(ev.onset - Math.min(2, S.pageDur / 5));
}

function openAnnotationForm(ev = null, onset = null, duration = 0) {
  if (!can("annotate")) return;
  $("#annotation-form").hidden = false;
  $("#annotation-id").value = ev && ev.id ? ev.id : "";
  const t = ev ? ev.onset : onset ?? S.cursorT ?? S.start + 1;
  $("#annotation-onset").value = t.toFixed(2);
  $("#annotation-duration").value = (ev ? ev.duration : duration).toFixed(2);
  $("#annotation-text").value = ev ? ev.description : "";
  $("#annotation-save").textContent = ev ? "Save changes" : "Add";
  $("#annotation-text").focus();
}

async function saveAnnotation(e) {
  e.preventDefault();
  const id = $("#annotation-id").value;
  const body = {
    onset: Number($("#annotation-onset").value),
    duration: Number($("#annotation-duration").value) || 0,
    description: $("#annotation-text").value.trim(),
  };
  if (!body.description) return;
  try {
    if (id) await api(`/api/annotations/${id}`, { method: "PATCH", json: body });
    else await api(`/api/recordings/${S.rec.id}/annotations`, { method: "POST", json: body });
    $("#annotation-form").hidden = true;
    message(id ? "Annotation changed" : "Annotation added");
    await loadEvents();
  } catch (err) {
    message(`Annotation: ${err.message}`, true);
  }
}

async function deleteAnnotation(ev) {
  if (!confirm(`Delete the annotation "${ev.description}"?`)) return;
  try {
    await api(`/api/annotations/${ev.id}`, { method: "DELETE" });
    message("Annotation deleted");
    await loadEvents();
  } catch (err) {
    message(`Delete: ${err.message}`, true);
  }
}

// ---------------------------------------------------------------- paging and windows
function maxStart() { return S.rec ? Math.max(0, S.rec.duration - S.pageDur) : 0; }

function goTo(start) {
  if (!S.rec) return;
  S.start = Math.round(Math.min(Math.max(0, start), maxStart()) * 100) / 100;
  const el = $("#page-start");
  el.dataset.start = S.start;
  el.textContent = `${clock(S.start)}  (${S.start.toFixed(1)}–${(S.start + S.pageDur).toFixed(1)} s)`;
  history.replaceState(null, "", `#rec=${S.rec.id}&t=${S.start}&page=${S.pageDur}`);
  loadWindow();
  drawTrends();
}

function page(direction) { goTo(S.start + direction * S.pageDur); }

async function loadWindow() {
  const seq = ++S.seq;
  const canvas = $("#eeg");
  const width = canvas.clientWidth || 1000;
  const params = new URLSearchParams({
    start: S.start, duration: S.pageDur, montage: $("#montage").value,
    max_points: Math.min(20000, Math.max(100, Math.round(width * 2))),
  });
  for (const f of ["highpass", "lowpass", "notch"]) if ($(`#${f}`).value) params.set(f, $(`#${f}`).value);
  $("#window-status").textContent = "loading …";
  try {
    const w = await api(`/api/recordings/${S.rec.id}/window?${params}`);
    if (seq !== S.seq) return; // a newer page was asked for meanwhile
    S.window = w;
    if (S.autoGain) autoGain(w);
    const f = w.filters;
    $("#window-status").textContent = `${w.channels.length} traces · ${w.montage} · HP ${f.highpass ?? "off"} · LP ${f.lowpass ?? "off"} · notch ${f.notch ?? "off"}` +
      ` · ${w.times.length} points per trace (${w.decimation === "minmax" ? "min/max decimated" : "all samples"})` +
      (w.skipped.length ? ` · not formed: ${w.skipped.join(", ")}` : "");
    renderChannels();
    drawBase();
  } catch (e) {
    if (seq !== S.seq) return;
    $("#window-status").textContent = `window: ${e.message}`;
  }
}

function renderChannels() {
  const box = $("#channels");
  const names = S.window.channels;
  if (box.dataset.names === names.join("|")) return;
  box.dataset.names = names.join("|");
  box.innerHTML = "";
  for (const name of names) {
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.checked = !S.hidden.has(name);
    cb.dataset.channel = name;
    cb.addEventListener("change", () => {
      if (cb.checked) S.hidden.delete(name);
      else S.hidden.add(name);
      drawBase();
    });
    label.append(cb, " " + name);
    box.appendChild(label);
  }
}

// ---------------------------------------------------------------- drawing: traces
function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h, dpr };
}

// The traces, grid and labels go to an off-screen canvas; the cursor, drag and
// annotations are drawn over it on every mouse move.
function drawBase() {
  const canvas = $("#eeg");
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  if (!w || !h) return;
  const base = document.createElement("canvas");
  base.width = Math.round(w * dpr);
  base.height = Math.round(h * dpr);
  const ctx = base.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const L = { left: 78, top: 18, right: 8, bottom: 20 };
  L.width = w - L.left - L.right;
  L.height = h - L.top - L.bottom;
  S.layout = L;
  ctx.fillStyle = "#fffefa";
  ctx.fillRect(0, 0, w, h);
  const win = S.window;
  if (!win) { S.base = base; drawOverlay(); return; }
  const x = (t) => L.left + ((t - S.start) / S.pageDur) * L.width;
  // Time grid: every second, stronger every 5 s, clock labels.
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (let t = Math.ceil(S.start); t <= S.start + S.pageDur + 1e-9; t += 1) {
    const major = Math.round(t) % 5 === 0;
    ctx.strokeStyle = major ? "#c9cfd8" : "#eceff3";
    ctx.beginPath();
    ctx.moveTo(x(t) + 0.5, L.top);
    ctx.lineTo(x(t) + 0.5, L.top + L.height);
    ctx.stroke();
    if (major || S.pageDur <= 10) {
      ctx.fillStyle = "#5a6675";
      ctx.fillText(clock(t), x(t), h - 6);
    }
  }
  const shown = win.channels.map((name, i) => ({ name, i })).filter((c) => !S.hidden.has(c.name));
  const rowH = L.height / Math.max(1, shown.length);
  const pxPerUv = PX_PER_MM / S.sens;
  const groupOf = new Map();
  win.groups.forEach((g, gi) => g.forEach((name) => groupOf.set(name, gi)));
  ctx.save();
  ctx.beginPath();
  ctx.rect(L.left, L.top, L.width, L.height);
  ctx.clip();
  let prevGroup = null;
  shown.forEach((c, row) => {
    const y0 = L.top + rowH * (row + 0.5);
    const g = groupOf.get(c.name);
    if (row > 0 && g !== prevGroup) {
      ctx.strokeStyle = "#9aa6b5";
      ctx.beginPath();
      ctx.moveTo(L.left, L.top + rowH * row);
      ctx.lineTo(L.left + L.width, L.top + rowH * row);
      ctx.stroke();
    }
    prevGroup = g;
    const data = win.data[c.i];
    ctx.strokeStyle = g % 2 ? "#1c3f8c" : "#141414";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let k = 0; k < data.length; k++) {
      const px = x(win.times[k]);
      const py = y0 + data[k] * pxPerUv; // clinical convention: negative up
      if (k === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    }
    ctx.stroke();
  });
  ctx.restore();
  // Channel labels.
  ctx.textAlign = "right";
  ctx.font = "11px system-ui, sans-serif";
  shown.forEach((c, row) => {
    ctx.fillStyle = "#1d2430";
    ctx.fillText(c.name, L.left - 6, L.top + rowH * (row + 0.5) + 4);
  });
  // Scale bar: 1 s and the gain.
  ctx.strokeStyle = "#b00020";
  ctx.fillStyle = "#b00020";
  const bar = 50 * pxPerUv; // 50 µV
  ctx.beginPath();
  ctx.moveTo(8, h - 8);
  ctx.lineTo(8, h - 8 - bar);
  ctx.stroke();
  ctx.textAlign = "left";
  ctx.fillText("50 µV", 12, h - 10 - bar / 2);
  S.base = base;
  drawOverlay();
}

function drawOverlay() {
  const canvas = $("#eeg");
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  if (S.base) ctx.drawImage(S.base, 0, 0, w, h);
  const L = S.layout;
  if (!L || !S.rec) return;
  const x = (t) => L.left + ((t - S.start) / S.pageDur) * L.width;
  const end = S.start + S.pageDur;
  // Events and annotations as shaded spans with their text.
  let labelY = 12, labelEnd = -Infinity;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "left";
  for (const ev of S.events) {
    const a = ev.onset, b = ev.onset + ev.duration;
    if (b < S.start || a > end) continue;
    const [r, g, bl] = SOURCE_COLOURS[ev.source] || SOURCE_COLOURS.file;
    const x0 = Math.max(L.left, x(a)), x1 = Math.min(L.left + L.width, x(b));
    const sel = S.selected && S.selected.onset === ev.onset && S.selected.description === ev.description;
    if (ev.duration > 0) {
      ctx.fillStyle = `rgba(${r},${g},${bl},${sel ? 0.16 : 0.09})`;
      ctx.fillRect(x0, L.top, Math.max(1, x1 - x0), L.height);
    }
    ctx.strokeStyle = `rgba(${r},${g},${bl},0.8)`;
    ctx.lineWidth = sel ? 2 : 1;
    if (a >= S.start) {
      ctx.beginPath();
      ctx.moveTo(x(a), L.top);
      ctx.lineTo(x(a), L.top + L.height);
      ctx.stroke();
    }
    ctx.lineWidth = 1;
    ctx.fillStyle = `rgb(${r},${g},${bl})`;
    const label = ev.description.length > 60 ? ev.description.slice(0, 57) + "…" : ev.description;
    // Labels stack downwards when they would overlap the previous one.
    labelY = x0 < labelEnd + 4 ? labelY + 13 : 12;
    const tw = ctx.measureText(label).width;
    ctx.fillStyle = "rgba(255,254,250,0.85)";
    ctx.fillRect(x0 + 1, labelY - 10, tw + 4, 13);
    ctx.fillStyle = `rgb(${r},${g},${bl})`;
    ctx.fillText(label, x0 + 3, labelY);
    labelEnd = x0 + 3 + tw;
  }
  // Drag selection (a new annotation).
  if (S.drag) {
    const x0 = x(Math.min(S.drag.t0, S.drag.t1)), x1 = x(Math.max(S.drag.t0, S.drag.t1));
    ctx.fillStyle = "rgba(33,102,172,0.2)";
    ctx.fillRect(x0, L.top, x1 - x0, L.height);
  }
  // Time cursor.
  if (S.cursorT !== null && S.cursorT >= S.start && S.cursorT <= end) {
    ctx.strokeStyle = "#e67e22";
    ctx.beginPath();
    ctx.moveTo(x(S.cursorT) + 0.5, L.top);
    ctx.lineTo(x(S.cursorT) + 0.5, L.top + L.height);
    ctx.stroke();
  }
}

function timeAt(evt) {
  const L = S.layout;
  if (!L) return null;
  const rect = $("#eeg").getBoundingClientRect();
  const px = evt.clientX - rect.left;
  if (px < L.left || px > L.left + L.width) return null;
  return S.start + ((px - L.left) / L.width) * S.pageDur;
}

// ---------------------------------------------------------------- drawing: trends
function drawTrends() {
  const canvas = $("#trend");
  if (!canvas.clientWidth) return;
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  const T = S.trends;
  const dur = S.rec ? S.rec.duration : 1;
  const left = TREND_LEFT, right = 8;
  const x = (t) => left + (t / dur) * (w - left - right);
  if (!T) {
    ctx.fillStyle = "#677486";
    ctx.fillText(S.analysis ? "Trends appear when the analysis is done." : "No analysis yet: no trends.", left, 20);
    return;
  }
  const lanes = [];
  if (T.dsa) lanes.push(["DSA L/R (δ θ α β)", 2, drawDsa]);
  if (T.aeeg) lanes.push(["aEEG C3-P3/C4-P4", 1.3, drawAeeg]);
  if (T.artifact) lanes.push(["artifact strength", 0.7, drawArtifact]);
  if (T.seizure) lanes.push(["seizure probability", 1, drawSeizure]);
  const total = lanes.reduce((s, l) => s + l[1], 0) || 1;
  const plotH = h - 16;
  let y = 2;
  for (const [label, weight, fn] of lanes) {
    const lh = (weight / total) * plotH - 3;
    ctx.fillStyle = "#34475f";
    ctx.textAlign = "right";
    ctx.fillText(label, left - 6, y + lh / 2 + 4);
    ctx.strokeStyle = "#dde2e8";
    ctx.strokeRect(left, y, w - left - right, lh);
    fn(ctx, y, lh);
    y += lh + 3;
  }
  function drawDsa(c, y0, lh) {
    const rows = T.dsa, rh = lh / rows.length;
    rows.forEach((row, ri) => {
      row.v.forEach((v, i) => {
        const a = Math.max(0, Math.min(1, v));
        c.fillStyle = `hsl(${240 - 240 * a}, 85%, ${30 + 30 * a}%)`;
        c.fillRect(x(row.t[i]), y0 + ri * rh, Math.max(1, x(epochEnd(row, i, dur)) - x(row.t[i])), rh);
      });
    });
    c.strokeStyle = "#fff";
    c.beginPath();
    c.moveTo(left, y0 + lh / 2);
    c.lineTo(w - right, y0 + lh / 2);
    c.stroke();
  }
  function drawAeeg(c, y0, lh) {
    // The usual aEEG scale: linear 0-10 µV, logarithmic 10-100 µV.
    const yv = (v) => {
      const f = v <= 10 ? (v / 10) * 0.5 : 0.5 + 0.5 * Math.min(1, Math.log10(v / 10));
      return y0 + lh - f * lh;
    };
    const colours = ["rgba(33,102,172,0.55)", "rgba(39,174,96,0.55)"];
    T.aeeg.forEach((s, si) => {
      c.fillStyle = colours[si];
      s.upper.t.forEach((t, i) => {
        const hi = s.upper.v[i], lo = s.lower.v[s.lower.t.indexOf(t)] ?? 0;
        const xa = x(t), xb = x(epochEnd(s.upper, i, dur));
        c.fillRect(xa, yv(hi), Math.max(1, xb - xa), Math.max(1, yv(lo) - yv(hi)));
      });
    });
    c.fillStyle = "#8a95a3";
    c.textAlign = "left";
    c.fillText("10", left + 2, yv(10) + 4);
  }
  function drawArtifact(c, y0, lh) {
    const A = T.artifact, top = Math.max(1e-9, ...A.v);
    c.fillStyle = "rgba(127,140,141,0.8)";
    A.v.forEach((v, i) => {
      const hh = (v / top) * lh;
      c.fillRect(x(A.t[i]), y0 + lh - hh, Math.max(1, x(epochEnd(A, i, dur)) - x(A.t[i]) - 1), hh);
    });
    c.fillStyle = "#5a6675";
    c.textAlign = "left";
    c.fillText(`max ${top.toFixed(2)}`, left + 2, y0 + 10);
  }
  function drawSeizure(c, y0, lh) {
    c.strokeStyle = "#c0392b";
    c.beginPath();
    T.seizure.t.forEach((t, i) => {
      const v = T.seizure.v[i] ?? 0;
      const py = y0 + lh - v * lh;
      if (i === 0) c.moveTo(x(t), py);
      else c.lineTo(x(t), py);
    });
    c.stroke();
    c.setLineDash([3, 3]);
    c.strokeStyle = "#e3a39b";
    c.beginPath();
    c.moveTo(left, y0 + lh / 2);
    c.lineTo(w - right, y0 + lh / 2);
    c.stroke();
    c.setLineDash([]);
  }
  // The current page, and the time axis.
  ctx.fillStyle = "rgba(230,126,34,0.25)";
  ctx.fillRect(x(S.start), 0, Math.max(2, x(S.start + S.pageDur) - x(S.start)), plotH);
  ctx.fillStyle = "#5a6675";
  ctx.textAlign = "center";
  const stepT = niceStep(dur / 8);
  for (let t = 0; t <= dur - stepT / 3; t += stepT) ctx.fillText(clock(t), x(t), h - 3);
}

function niceStep(raw) {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400]) if (s >= raw) return s;
  return 28800;
}

// ---------------------------------------------------------------- controls
// On a recording's first page, choose the sensitivity that keeps the traces about in their rows:
// the 98th-percentile amplitude of the upper-quartile channel spans half a row.
function autoGain(w) {
  S.autoGain = false;
  const rows = Math.max(1, w.channels.length - S.hidden.size);
  const rowMm = ($("#eeg").clientHeight - 38) / rows / PX_PER_MM;
  const amps = w.data.map((d) => {
    const a = d.map(Math.abs).sort((x, y) => x - y);
    return a[Math.floor(a.length * 0.98)] || 0;
  }).sort((x, y) => x - y);
  const amp = amps[Math.floor(amps.length * 0.75)] || 0;
  if (!amp || !rowMm) return;
  const want = amp / (0.25 * rowMm);
  S.sens = GAINS.find((g) => g >= want) || GAINS[GAINS.length - 1];
  $("#gain-label").textContent = `${S.sens} µV/mm`;
}

function setGain(delta) {
  const i = Math.min(GAINS.length - 1, Math.max(0, GAINS.indexOf(S.sens) + delta));
  S.sens = GAINS[i];
  $("#gain-label").textContent = `${S.sens} µV/mm`;
  drawBase();
}

function bindControls() {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#login-error").textContent = "";
    try {
      setUser(await api("/api/auth/login", { method: "POST", json: { username: $("#login-username").value, password: $("#login-password").value } }));
      $("#login-password").value = "";
      await showApp();
    } catch (err) {
      $("#login-error").textContent = err.status === 401 ? "Wrong user name or password." : err.message;
    }
  });
  $("#logout").addEventListener("click", async () => {
    try { await api("/api/auth/logout", { method: "POST" }); } catch (_) { /* gone already */ }
    S.rec = null;
    history.replaceState(null, "", location.pathname);
    showLogin();
  });
  $("#upload-file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
  $("#run-analysis").addEventListener("click", requestAnalysis);
  $("#show-identity").addEventListener("click", showIdentity);
  $("#sign-report").addEventListener("click", signReport);
  $("#prev").addEventListener("click", () => page(-1));
  $("#next").addEventListener("click", () => page(1));
  $("#page-duration").addEventListener("change", (e) => { S.pageDur = Number(e.target.value); goTo(S.start); });
  for (const id of ["montage", "highpass", "lowpass", "notch"]) $(`#${id}`).addEventListener("change", loadWindow);
  $("#gain-up").addEventListener("click", () => setGain(-1));
  $("#gain-down").addEventListener("click", () => setGain(1));
  $("#channels-all").addEventListener("click", () => {
    S.hidden.clear();
    document.querySelectorAll("#channels input").forEach((cb) => { cb.checked = true; });
    drawBase();
  });
  $("#add-annotation").addEventListener("click", () => openAnnotationForm(null, S.cursorT ?? S.start + 1));
  $("#annotation-form").addEventListener("submit", saveAnnotation);
  $("#annotation-cancel").addEventListener("click", () => { $("#annotation-form").hidden = true; });
  const eeg = $("#eeg");
  eeg.addEventListener("mousemove", (e) => {
    const t = timeAt(e);
    if (t !== null) {
      S.cursorT = t;
      $("#cursor-time").textContent = `${clock(t, 2)} · ${t.toFixed(2)} s`;
      if (S.drag) S.drag.t1 = t;
    }
    drawOverlay();
  });
  eeg.addEventListener("mouseleave", () => { S.cursorT = null; drawOverlay(); });
  eeg.addEventListener("mousedown", (e) => {
    const t = timeAt(e);
    if (t !== null && can("annotate")) S.drag = { t0: t, t1: t };
  });
  window.addEventListener("mouseup", () => {
    if (!S.drag) return;
    const { t0, t1 } = S.drag;
    S.drag = null;
    drawOverlay();
    if (Math.abs(t1 - t0) > 0.1) openAnnotationForm(null, Math.min(t0, t1), Math.abs(t1 - t0));
  });
  $("#trend").addEventListener("click", (e) => {
    if (!S.rec) return;
    const rect = e.target.getBoundingClientRect();
    const frac = (e.clientX - rect.left - TREND_LEFT) / (rect.width - TREND_LEFT - 8);
    if (frac < 0 || frac > 1) return;
    goTo(Math.round(frac * S.rec.duration - S.pageDur / 2)); // centre the page there, on a whole second
  });
  document.addEventListener("keydown", (e) => {
    if (!S.rec || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    const keys = { ArrowRight: () => page(1), PageDown: () => page(1), ArrowLeft: () => page(-1), PageUp: () => page(-1),
      ArrowUp: () => setGain(-1), ArrowDown: () => setGain(1) };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  window.addEventListener("resize", () => { drawBase(); drawTrends(); });
}

document.addEventListener("DOMContentLoaded", boot);
