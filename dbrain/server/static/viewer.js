// dbrain browser EEG viewer: plain modern JavaScript, no build step, no dependencies.
// It talks only to the data centre's API (/api/...): compact EEG pages, events, annotations, triage,
// analyses, result tables and reports. Decision support only.
// Files (loaded in this order, classic scripts sharing these globals; no inline script, no eval — CSP):
//   time.js           the one time convention (port of dbrain/utils/_time.py)
//   viewer-data.js    api(), int16 page decoding, page cache and prefetch
//   viewer-trends.js  the trend panel
//   viewer.js         this file: state, recordings, events and triage, traces, controls, keys
"use strict";

const $ = (sel) => document.querySelector(sel);
const GAINS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 1000]; // µV/mm
const DEFAULT_SENS = 7; // µV/mm, the clinical default
const ECG_SENS = 100; // µV/mm: the ECG is ~1 mV, it would cover the EEG at 7 µV/mm
const DEFAULT_MM_PER_PX = 25.4 / 96; // CSS reference pixel; calibrate for the real screen
const STEP_SETS = { review: ["recording", "seizures", "qeeg"], full: [] }; // [] = every step
const CAN = {
  upload: ["admin", "clinician", "technologist"],
  analyse: ["admin", "clinician", "technologist"],
  annotate: ["clinician", "technologist"],
  triage: ["clinician", "technologist"],
  sign: ["clinician"],
  identity: ["clinician"],
};
const SOURCE_COLOURS = { analysis: [192, 57, 43], annotation: [33, 102, 172], file: [110, 120, 130] };

const S = {
  user: null, csrf: null, recordings: [], rec: null, recToken: 0,
  start: 0, pageDur: 10, sens: DEFAULT_SENS, chanSens: {}, hidden: new Set(),
  window: null, seq: 0, events: [], eventsVersion: 0, analysis: null, pollTimer: null, trends: null,
  trendSpan: 0, trendBase: null, trendRange: null, trendHoverX: null, trendMessage: "",
  cursorT: null, drag: null, measure: null, selected: null, base: null, layout: null,
  startUs: null, multiday: false, keyT0: null, flipTimes: [], drawCount: 0,
};

function can(what) { return !!S.user && CAN[what].includes(S.user.role); }

let messageTimer = null;
function message(text, isError = false) {
  const el = $("#message");
  el.textContent = text;
  el.classList.toggle("error", isError);
  clearTimeout(messageTimer);
  if (text && !isError) messageTimer = setTimeout(() => { el.textContent = ""; }, 4000);
}

// ---------------------------------------------------------------- formatting: one time convention
// A duration (not a time of day): h:mm:ss.
function hms(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// A moment of the open recording: clock time, "D2 …" on multi-day recordings, "+h:mm:ss" without a start.
function clock(t, decimals = 0) {
  return DbrainTime.formatTime(t, S.startUs, { multiday: S.multiday, decimals });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function isSeizure(ev) {
  const d = String(ev.description).toLowerCase();
  return d === "sz" || d.startsWith("sz_") || d.includes("seizure");
}

// ---------------------------------------------------------------- settings kept in this browser
function localKey(name) { return `dbrain.${S.user ? S.user.username : "anon"}.${name}`; }
function loadLocal(name, fallback) {
  try { const v = JSON.parse(localStorage.getItem(localKey(name))); return v ?? fallback; } catch (_) { return fallback; }
}
function saveLocal(name, value) { localStorage.setItem(localKey(name), JSON.stringify(value)); }

// ---------------------------------------------------------------- settings kept on the server, per user
// Montages, screen calibrations (per screen) and channel gains follow the user to any workstation
// (GET /api/auth/me/settings). A change is saved as a merge patch of only what changed (PATCH: a key set, or
// removed with null), never the whole set: another tab (the ward, a second viewer) may have changed other fields
// since this page read them, and a whole-set PUT would put their older values back. Settings an older viewer
// kept in this browser are moved there once.
S.settings = { montages: {}, calibrations: {}, channel_gains: {} };
function screenKey() {
  const r = Math.round((window.devicePixelRatio || 1) * 1000) / 1000;
  return `${screen.width}x${screen.height}@${r}`;
}
async function loadSettings() {
  try {
    const got = await api("/api/auth/me/settings");
    S.settings = { montages: got.montages || {}, calibrations: got.calibrations || {}, channel_gains: got.channel_gains || {} };
  } catch (e) {
    message(`Your settings could not be loaded: ${e.message}`, true);
    return;
  }
  const oldMontages = loadLocal("montages", {});
  const oldCal = Number(localStorage.getItem("dbrain.mmPerPx"));
  const moved = Object.keys(oldMontages).some((k) => !(k in S.settings.montages)) || (oldCal > 0 && !(screenKey() in S.settings.calibrations));
  if (moved) {
    const patch = { montages: {}, calibrations: {} };
    for (const [k, v] of Object.entries(oldMontages)) if (!(k in S.settings.montages)) patch.montages[k] = S.settings.montages[k] = v;
    if (oldCal > 0 && !(screenKey() in S.settings.calibrations)) patch.calibrations[screenKey()] = S.settings.calibrations[screenKey()] = oldCal;
    if (await saveSettings(patch)) { localStorage.removeItem(localKey("montages")); localStorage.removeItem("dbrain.mmPerPx"); }
  }
  renderMontageOptions();
  showCalibration();
}
// Save `patch` (only the fields and keys changed: {channel_gains: {"T3-T5": 15}}, {montages: {name: null}} …).
async function saveSettings(patch) {
  try {
    await api("/api/auth/me/settings", { method: "PATCH", json: patch });
    return true;
  } catch (e) {
    message(`Your settings were not saved: ${e.message}`, true);
    return false;
  }
}
function showCalibration() {
  const cal = S.settings.calibrations[screenKey()];
  $("#cal-status").textContent = cal > 0 ? `${cal.toFixed(4)} mm/px` : "not calibrated (96 dpi assumed)";
}
function mmPerPx() {
  const v = Number(S.settings.calibrations[screenKey()]);
  return v > 0 ? v : DEFAULT_MM_PER_PX;
}
function pxPerMm() { return 1 / mmPerPx(); }

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
  renderMontageOptions();
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
  await loadSettings();
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
    li.innerHTML = `<b>${escapeHtml(r.pseudonym)}</b> · #${r.id}<br><span class="muted">${escapeHtml(r.format)}, ${r.n_channels} ch, ${hms(r.duration)}</span>`;
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
  const token = S.recToken;
  try {
    const a = await api(`/api/recordings/${S.rec.id}/analyses`, { method: "POST", json: { only } });
    if (token !== S.recToken) return;
    S.analysis = a;
    renderAnalysis();
    pollAnalysis();
  } catch (e) {
    message(`Could not queue the analysis: ${e.message}`, true);
  }
}

// Everything shown of the previous recording goes at once, before anything of the next one arrives:
// never one recording's traces, channels, events or trends under another's header.
function clearRecordingView() {
  S.seq++; // outstanding page answers are now stale
  clearPages();
  S.window = null;
  S.base = null;
  S.trends = null;
  S.trendBase = null;
  S.trendRange = null;
  S.trendMessage = "";
  S.analysis = null;
  S.events = [];
  S.eventsVersion++;
  S.selected = null;
  S.measure = null;
  S.hidden.clear();
  $("#channels").innerHTML = "";
  $("#channels").dataset.names = "";
  $("#events").innerHTML = "";
  $("#event-time").textContent = "";
  $("#window-status").textContent = "";
  $("#measure").textContent = "";
  $("#report-box").hidden = true;
  $("#analysis-status").textContent = "–";
  $("#analysis-status").dataset.status = "";
  showTraceError("");
  drawBase();
  drawTrends();
}

async function openRecording(id, start = 0) {
  clearTimeout(S.pollTimer);
  const token = ++S.recToken;
  clearRecordingView();
  S.rec = null;
  document.querySelectorAll("#recordings li").forEach((li) => li.classList.toggle("active", Number(li.dataset.id) === id));
  let rec;
  try {
    rec = await api(`/api/recordings/${id}`);
  } catch (e) {
    if (token !== S.recToken) return;
    $("#rec-title").textContent = `#${id}`;
    showTraceError(`Recording ${id}: ${e.message}`);
    message(`Recording ${id}: ${e.message}`, true);
    return;
  }
  if (token !== S.recToken) return; // another recording was chosen meanwhile
  S.rec = rec;
  S.startUs = DbrainTime.parseStart(rec.start_time);
  S.multiday = DbrainTime.isMultiday(S.startUs, rec.duration);
  S.chanSens = S.settings.channel_gains;
  fitFiltersToRecording(rec.sfreq);
  $("#recording-panel").hidden = false;
  $("#events-panel").hidden = false;
  $("#channels-panel").hidden = false;
  $("#viewer").hidden = false;
  $("#empty-hint").hidden = true;
  $("#identity").hidden = true;
  $("#show-identity").hidden = false;
  $("#rec-title").textContent = `${rec.pseudonym} #${rec.id}`;
  $("#rec-info").textContent = `${rec.format}, ${rec.n_channels} channels, ${rec.sfreq} Hz, ${hms(rec.duration)}` +
    (S.startUs !== null ? `, ${clock(0)} – ${clock(rec.duration)}` : ", start unknown (elapsed time)");
  goTo(start);
  await Promise.all([loadEvents(token), loadAnalysis(token)]);
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
async function loadAnalysis(token = S.recToken) {
  let list;
  try {
    list = await api(`/api/recordings/${S.rec.id}/analyses`);
  } catch (e) {
    if (token === S.recToken) message(`Analyses: ${e.message}`, true);
    return;
  }
  if (token !== S.recToken) return;
  S.analysis = list[0] || null;
  renderAnalysis();
  if (S.analysis && ["queued", "running"].includes(S.analysis.status)) pollAnalysis();
  else if (S.analysis && S.analysis.status === "done") await analysisDone(token);
}

// Why an analysis failed, wherever the server puts it (error, reason, or the job's error).
function failureReason(a) {
  return a.reason || a.error || (a.job && a.job.error) || "no reason given";
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
  const steps = a.only && a.only.length ? a.only.join(", ") : "all steps";
  // Spikes in the report's page-1 words: none at or above the cut-off is not "no spikes".
  if (a.status === "done") el.textContent = `done · ${a.n_events ?? 0} events · ${steps}` + (a.spikes ? ` · spikes: ${a.spikes}` : "");
  else if (a.status === "failed") {
    // A failed analysis has no report to sign: say why instead.
    el.textContent = `failed: ${failureReason(a)}`;
    $("#report-box").hidden = true;
    S.trends = null;
    S.trendMessage = `No trends: the analysis failed (${failureReason(a)}).`;
    drawTrends();
  } else if (a.status === "running" && a.job) el.textContent = `running ${Math.round(a.job.progress * 100)} % ${a.job.message || ""}`;
  else el.textContent = `${a.status} (analysis #${a.id})`;
}

function pollAnalysis() {
  clearTimeout(S.pollTimer);
  const id = S.analysis.id, token = S.recToken;
  S.pollTimer = setTimeout(async () => {
    if (token !== S.recToken) return;
    let a;
    try {
      a = await api(`/api/analyses/${id}`);
    } catch (e) {
      message(`Analysis: ${e.message}`, true);
      return;
    }
    if (token !== S.recToken) return;
    S.analysis = a;
    renderAnalysis();
    if (["queued", "running"].includes(a.status)) pollAnalysis();
    else if (a.status === "done") {
      message("Analysis finished");
      await Promise.all([loadEvents(token), analysisDone(token)]);
    }
  }, 1000);
}

async function analysisDone(token) {
  await Promise.all([loadReport(token), loadTrends(token)]);
}

async function loadReport(token = S.recToken) {
  const a = S.analysis;
  if (!a || a.status !== "done") { $("#report-box").hidden = true; return; }
  try {
    const rep = await api(`/api/analyses/${a.id}/report`);
    if (token !== S.recToken) return;
    $("#report-box").hidden = false;
    const st = $("#report-status");
    st.dataset.status = rep.status;
    st.textContent = rep.status === "signed" ? `signed ${String(rep.signed_at || "").slice(0, 16).replace("T", " ")}` : "draft, not signed";
    $("#report-link").href = `/api/analyses/${a.id}/report/pdf`;  // signed: the signed PDF; draft: with the triage so far
    $("#sign-report").hidden = rep.status !== "draft";
  } catch (e) {
    if (token === S.recToken) $("#report-box").hidden = true;
  }
}

async function signReport() {
  if (!confirm("Sign this report? You confirm you have reviewed the recording and the findings.")) return;
  const btn = $("#sign-report");
  btn.disabled = true;
  message("Signing: printing the report with your review on page 1…");
  try {
    await api(`/api/analyses/${S.analysis.id}/report/sign`, { method: "POST" });
    message("Report signed");
  } catch (e) {
    message(`Signing failed: ${e.message}`, true);
  }
  btn.disabled = false;
  await loadReport();
}

async function loadTrends(token = S.recToken) {
  const a = S.analysis;
  let T;
  try {
    T = await fetchTrends(a);
  } catch (e) {
    if (token !== S.recToken) return;
    S.trends = null;
    S.trendMessage = `Trends could not be loaded: ${e.message}`;
    drawTrends();
    return;
  }
  if (token !== S.recToken) return;
  const empty = !Object.keys(T.dsa).length && !Object.keys(T.aeeg).length && !T.asym && !T.artifact && !T.artStrength && !T.seizure;
  S.trends = empty ? null : T;
  S.trendMessage = empty ? "This analysis has no trend tables (run the qeeg and seizures steps)." : "";
  S.trendBase = null;
  S.trendRange = null;
  drawTrends();
}

// ---------------------------------------------------------------- events, filter and triage
async function loadEvents(token = S.recToken) {
  let events;
  try {
    events = await api(`/api/recordings/${S.rec.id}/events`);
  } catch (e) {
    if (token === S.recToken) message(`Events: ${e.message}`, true);
    return;
  }
  if (token !== S.recToken) return;
  S.events = events;
  S.eventsVersion++;
  renderEventFilters();
  renderEvents();
  drawOverlay();
  drawTrends();
}

function renderEventFilters() {
  const sel = $("#event-type-filter");
  const keep = sel.value;
  const types = [...new Set(S.events.map((e) => e.description))].sort((a, b) => (isSeizure({ description: b }) - isSeizure({ description: a })) || a.localeCompare(b));
  sel.innerHTML = '<option value="">all types</option>' +
    types.slice(0, 200).map((t) => `<option value="${escapeHtml(t)}">${escapeHtml(t.length > 40 ? t.slice(0, 39) + "…" : t)}</option>`).join("");
  sel.value = types.includes(keep) ? keep : "";
}

// The events that pass the filter, in time order (what next/previous event walk through).
function filteredEvents() {
  const type = $("#event-type-filter").value;
  const minConf = Number($("#event-conf-filter").value || 0) / 100;
  const hideRejected = $("#event-hide-rejected").checked;
  return S.events.filter((e) =>
    (!type || e.description === type) &&
    (e.confidence === null || e.confidence === undefined || e.confidence >= minConf) &&
    !(hideRejected && e.review === "rejected"));
}

// Grouped list: seizures first, then each detected type, then annotations, then the file's own events.
function eventGroup(ev) {
  if (isSeizure(ev)) return [0, "Seizures"];
  if (ev.source === "analysis") return [1, ev.description];
  if (ev.source === "annotation") return [2, "Annotations"];
  return [3, "In the file"];
}

function renderEvents() {
  const ul = $("#events");
  ul.innerHTML = "";
  const shown = filteredEvents();
  $("#events-count").textContent = `${shown.length} of ${S.events.length}`;
  if (!shown.length) { ul.innerHTML = '<li class="muted">No events.</li>'; return; }
  const groups = new Map();
  for (const ev of shown) {
    const [rank, name] = eventGroup(ev);
    const key = `${rank}|${name}`;
    if (!groups.has(key)) groups.set(key, { rank, name, items: [] });
    groups.get(key).items.push(ev);
  }
  const ordered = [...groups.values()].sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
  for (const g of ordered) {
    const head = document.createElement("li");
    head.className = "group";
    const cut = g.items[0].cutoff;  // detected spikes: the cut-off used and how many candidates lie below it
    head.textContent = `${g.name} (${g.items.length})` + (cut != null ? ` · at or above cut-off ${cut}; ${g.items[0].below_cutoff ?? 0} candidates below, not listed` : "");
    ul.appendChild(head);
    for (const ev of g.items) ul.appendChild(eventItem(ev));
  }
}

function eventItem(ev) {
  const li = document.createElement("li");
  li.className = "event";
  li.dataset.onset = ev.onset;
  li.dataset.source = ev.source;
  li.dataset.type = ev.description;
  li.dataset.review = ev.review || "";
  if (ev.id) li.dataset.annotationId = ev.id;
  if (S.selected === ev) li.classList.add("active");
  const conf = ev.confidence !== null && ev.confidence !== undefined ? ` ${Math.round(ev.confidence * 100)} %` : "";
  const dur = ev.duration ? ` · ${ev.duration.toFixed(1)} s` : "";
  li.title = `${clock(ev.onset)} ${ev.description}${conf}${dur}${ev.channel ? " · " + ev.channel : ""}`;
  li.innerHTML = `<span class="t">${clock(ev.onset)}</span><span class="src src-${ev.source}">${ev.source[0].toUpperCase()}</span>` +
    `<span class="desc">${escapeHtml(ev.description)}<span class="muted">${conf}</span></span>`;
  if (ev.source === "analysis" && can("triage")) {
    for (const [cls, text, decision, title] of [["accept", "✓", "accepted", "Accept (a)"], ["reject", "✗", "rejected", "Reject (x)"]]) {
      const b = document.createElement("button");
      b.className = `small ${cls}` + (ev.review === decision ? " on" : "");
      b.textContent = text;
      b.title = title;
      b.addEventListener("click", (e) => { e.stopPropagation(); reviewEvent(ev, decision); });
      li.appendChild(b);
    }
  } else if (ev.source === "analysis" && ev.review) {
    const s = document.createElement("span");
    s.className = `review ${ev.review}`;
    s.textContent = ev.review;
    li.appendChild(s);
  }
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
  li.addEventListener("click", () => selectEvent(ev));
  return li;
}

async function reviewEvent(ev, decision) {
  if (!ev || ev.source !== "analysis" || !can("triage")) return;
  const token = S.recToken;
  try {
    await api(`/api/analyses/${ev.analysis_id}/reviews`, {
      method: "PUT", json: { onset: ev.onset, event_type: ev.description, channel: ev.channel ?? null, decision },
    });
    if (token !== S.recToken) return;
    ev.review = decision;
    S.eventsVersion++;
    message(`${ev.description} at ${clock(ev.onset)} ${decision}`);
    renderEvents();
  } catch (e) {
    message(`Triage: ${e.message}`, true);
  }
}

function selectEvent(ev) {
  S.selected = ev;
  S.eventsVersion++;
  $("#event-time").textContent = `${ev.description} ${clock(ev.onset)}`;
  $("#event-time").dataset.time = clock(ev.onset);
  document.querySelectorAll("#events li.event").forEach((li) => {
    li.classList.toggle("active", Number(li.dataset.onset) === ev.onset && li.dataset.type === ev.description && li.dataset.source === ev.source);
  });
  const active = document.querySelector("#events li.active");
  if (active) active.scrollIntoView({ block: "nearest" });
  goTo(ev.onset - Math.min(2, S.pageDur / 5));
}

// Next/previous event of the filtered list relative to the selection (else the page), or a seizure only.
function stepEvent(direction, seizuresOnly = false) {
  const list = filteredEvents().filter((e) => !seizuresOnly || isSeizure(e));
  if (!list.length) { message(seizuresOnly ? "No seizure in the list." : "No event in the list."); return; }
  // From the selected event, else from the page's start (an event right at the start counts as next).
  const eps = 1e-6;
  // Events that share an onset (a detection and the file's own annotation) are stepped through one by one.
  const at = S.selected ? list.findIndex((e) => e.onset === S.selected.onset && e.description === S.selected.description && e.source === S.selected.source) : -1;
  const ref = S.selected ? S.selected.onset : S.start - (direction > 0 ? 2 * eps : 0);
  const pick = at >= 0
    ? list[at + direction]
    : direction > 0 ? list.find((e) => e.onset > ref + eps) : [...list].reverse().find((e) => e.onset < ref - eps);
  if (!pick) { message(direction > 0 ? "No later event." : "No earlier event."); return; }
  selectEvent(pick);
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
  el.dataset.time = clock(S.start);
  el.textContent = `${clock(S.start)} – ${clock(S.start + S.pageDur)}`;
  history.replaceState(null, "", `#rec=${S.rec.id}&t=${S.start}&page=${S.pageDur}`);
  loadWindow();
  drawTrends();
}

function page(direction) { goTo(S.start + direction * S.pageDur); }

// The montage query: a built-in name, or a user montage's derivations.
function montageParams(params) {
  const value = $("#montage").value;
  if (value.startsWith("user:")) {
    const m = userMontages()[value.slice(5)];
    params.set("montage", "custom");
    for (const d of (m || [])) params.append("derivation", d);
  } else {
    params.set("montage", value);
  }
}

function windowParams(start) {
  const width = $("#eeg").clientWidth || 1000;
  const sf = S.rec.sfreq || 256;
  // Every sample when the page holds no more than ~3 per pixel, else the server's min/max envelope.
  const all = Math.ceil(sf * S.pageDur) + 2;
  const points = all <= 3 * width ? all : 2 * width;
  const params = new URLSearchParams({ start, duration: S.pageDur, max_points: Math.min(20000, Math.max(100, points)) });
  montageParams(params);
  for (const f of ["highpass", "lowpass", "notch"]) if ($(`#${f}`).value) params.set(f, $(`#${f}`).value);
  return params;
}

// Filter corners at or above the Nyquist frequency cannot be applied (e.g. LP 70 Hz on a 128 Hz recording):
// disable them, and step a chosen one down to the highest that fits.
function fitFiltersToRecording(sfreq) {
  const nyq = sfreq / 2;
  for (const id of ["highpass", "lowpass", "notch"]) {
    const sel = $(`#${id}`);
    for (const o of sel.options) o.disabled = o.value !== "" && Number(o.value) >= nyq;
    if (sel.selectedOptions[0] && sel.selectedOptions[0].disabled) {
      const ok = [...sel.options].filter((o) => !o.disabled && o.value !== "");
      sel.value = id === "lowpass" && ok.length ? ok[ok.length - 1].value : "";
    }
  }
}

function showTraceError(text) {
  const el = $("#trace-error");
  el.textContent = text;
  el.hidden = !text;
}

async function loadWindow() {
  if (!S.rec) return;
  const seq = ++S.seq, recId = S.rec.id, token = S.recToken;
  const params = windowParams(S.start);
  $("#window-status").textContent = "loading …";
  let w;
  try {
    w = await fetchPage(recId, params.toString());
  } catch (e) {
    if (seq !== S.seq || token !== S.recToken) return;
    // Never leave the previous page's traces up under a failed request.
    S.window = null;
    $("#channels").innerHTML = "";
    $("#channels").dataset.names = "";
    $("#window-status").textContent = `window: ${e.message}`;
    showTraceError(`This page could not be loaded: ${e.message}`);
    drawBase();
    return;
  }
  if (seq !== S.seq || token !== S.recToken) return; // a newer page (or recording) was asked for meanwhile
  S.window = w;
  showTraceError("");
  const f = w.filters;
  $("#window-status").textContent = `${w.channels.length} traces · ${w.montage} · HP ${f.highpass ?? "off"} · LP ${f.lowpass ?? "off"} · notch ${f.notch ?? "off"}` +
    ` · ${w.times.length} points per trace (${w.decimation === "minmax" ? "min/max decimated" : "all samples"}) · ${(w.bytes / 1024).toFixed(0)} kB` +
    (w.skipped.length ? ` · not formed: ${w.skipped.join(", ")}` : "");
  renderChannels();
  drawBase();
  // Prefetch the next page (and the previous one) while the reader looks at this one.
  const next = S.start + S.pageDur;
  if (next < S.rec.duration) fetchPage(recId, windowParams(Math.min(next, maxStart())).toString()).catch(() => {});
  if (S.start > 0) fetchPage(recId, windowParams(Math.max(0, S.start - S.pageDur)).toString()).catch(() => {});
}

function sensOf(name) {
  if (S.chanSens[name]) return S.chanSens[name];
  return /^(ECG|EKG)/i.test(name) ? ECG_SENS : S.sens;
}

function setChannelSens(name, delta) {
  const cur = sensOf(name);
  const i = GAINS.findIndex((g) => g >= cur);
  const next = GAINS[Math.min(GAINS.length - 1, Math.max(0, (i < 0 ? GAINS.length - 1 : i) + delta))];
  const mine = next === S.sens && !/^(ECG|EKG)/i.test(name) ? null : next; // null: back to the page's gain
  if (mine === null) delete S.chanSens[name];
  else S.chanSens[name] = next;
  S.settings.channel_gains = S.chanSens;
  saveSettings({ channel_gains: { [name]: mine } });
  renderChannels(true);
  drawBase();
}

function renderChannels(force = false) {
  const box = $("#channels");
  const names = S.window.channels;
  if (!force && box.dataset.names === names.join("|")) return;
  box.dataset.names = names.join("|");
  box.innerHTML = "";
  for (const name of names) {
    const row = document.createElement("div");
    row.className = "ch";
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.checked = !S.hidden.has(name);
    cb.dataset.channel = name;
    cb.addEventListener("change", () => {
      if (cb.checked) S.hidden.delete(name);
      else S.hidden.add(name);
      cb.blur();
      drawBase();
    });
    label.append(cb, " " + name);
    const own = S.chanSens[name] || /^(ECG|EKG)/i.test(name);
    const gain = document.createElement("span");
    gain.className = "ch-gain" + (own ? " own" : "");
    gain.dataset.channel = name;
    gain.textContent = own ? `${sensOf(name)}` : "";
    const down = document.createElement("button");
    down.className = "small ch-gain-down";
    down.textContent = "−";
    down.title = `Less gain on ${name}`;
    down.addEventListener("click", () => setChannelSens(name, 1));
    const up = document.createElement("button");
    up.className = "small ch-gain-up";
    up.textContent = "+";
    up.title = `More gain on ${name}`;
    up.addEventListener("click", () => setChannelSens(name, -1));
    row.append(label, gain, down, up);
    box.appendChild(row);
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

// The traces, grid and labels go to an off-screen canvas; the cursor, drag, measurement and
// annotations are drawn over it on every mouse move. Each finished page draw counts in S.drawCount
// and fires "dbrain:drawn" (the benchmark's draw-complete signal).
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
  const L = { left: 92, top: 18, right: 8, bottom: 20 };
  L.width = w - L.left - L.right;
  L.height = h - L.top - L.bottom;
  S.layout = L;
  ctx.fillStyle = "#fffefa";
  ctx.fillRect(0, 0, w, h);
  const win = S.window;
  if (!win || !S.rec) { S.base = base; S.rows = []; drawOverlay(); return; }
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
  const groupOf = new Map();
  win.groups.forEach((g, gi) => g.forEach((name) => groupOf.set(name, gi)));
  const ppm = pxPerMm();
  S.rows = [];
  ctx.save();
  ctx.beginPath();
  ctx.rect(L.left, L.top, L.width, L.height);
  ctx.clip();
  let prevGroup = null;
  const t0 = win.times[0], n = win.times.length;
  const xs = new Float32Array(n);
  for (let k = 0; k < n; k++) xs[k] = x(win.times[k]);
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
    const pxPerUv = ppm / sensOf(c.name);
    S.rows.push({ name: c.name, i: c.i, y0, top: L.top + rowH * row, bottom: L.top + rowH * (row + 1), pxPerUv });
    const data = win.data[c.i];
    ctx.strokeStyle = /^(ECG|EKG)/i.test(c.name) ? "#8e1b1b" : g % 2 ? "#1c3f8c" : "#141414";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(xs[0], y0 + data[0] * pxPerUv);
    for (let k = 1; k < n; k++) ctx.lineTo(xs[k], y0 + data[k] * pxPerUv); // clinical convention: negative up
    ctx.stroke();
  });
  ctx.restore();
  void t0;
  // Channel labels (with their own sensitivity when it differs).
  ctx.textAlign = "right";
  ctx.font = "11px system-ui, sans-serif";
  shown.forEach((c, row) => {
    ctx.fillStyle = "#1d2430";
    const own = sensOf(c.name) !== S.sens ? ` ${sensOf(c.name)}` : "";
    ctx.fillText(c.name + own, L.left - 6, L.top + rowH * (row + 0.5) + 4);
  });
  // Scale bar: 50 µV at the page's sensitivity.
  ctx.strokeStyle = "#b00020";
  ctx.fillStyle = "#b00020";
  const bar = (50 * ppm) / S.sens;
  ctx.beginPath();
  ctx.moveTo(8, h - 8);
  ctx.lineTo(8, h - 8 - bar);
  ctx.stroke();
  ctx.textAlign = "left";
  ctx.fillText("50 µV", 12, h - 10 - bar / 2);
  S.base = base;
  drawOverlay();
  S.drawCount++;
  if (S.keyT0 !== null) {
    S.flipTimes.push(performance.now() - S.keyT0);
    S.keyT0 = null;
  }
  document.dispatchEvent(new CustomEvent("dbrain:drawn", { detail: { start: S.start, count: S.drawCount } }));
}

function drawOverlay() {
  const canvas = $("#eeg");
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  if (S.base) ctx.drawImage(S.base, 0, 0, w, h);
  const L = S.layout;
  if (!L || !S.rec || !S.window) return;
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
    const label = (ev.description.length > 60 ? ev.description.slice(0, 57) + "…" : ev.description) +
      (ev.review ? ` (${ev.review})` : "");
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
  // Measurement box: duration and amplitude on one channel.
  if (S.measure) {
    const m = S.measure;
    ctx.strokeStyle = "#b00020";
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(x(Math.min(m.t0, m.t1)), Math.min(m.y0, m.y1), Math.abs(x(m.t1) - x(m.t0)), Math.abs(m.y1 - m.y0));
    ctx.setLineDash([]);
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

function yAt(evt) { return evt.clientY - $("#eeg").getBoundingClientRect().top; }

function rowAt(y) { return (S.rows || []).find((r) => y >= r.top && y < r.bottom) || null; }

// Duration (ms) and amplitude (µV) of a drag box on one channel: the box's height in µV at that
// channel's sensitivity, and the peak-to-peak of the trace inside the box's time span.
function measureResult(m) {
  const row = m.row, win = S.window;
  const ta = Math.min(m.t0, m.t1), tb = Math.max(m.t0, m.t1);
  let lo = Infinity, hi = -Infinity;
  const d = win.data[row.i];
  for (let k = 0; k < win.times.length; k++) {
    if (win.times[k] < ta || win.times[k] > tb) continue;
    if (d[k] < lo) lo = d[k];
    if (d[k] > hi) hi = d[k];
  }
  const boxUv = Math.abs(m.y1 - m.y0) / row.pxPerUv;
  const ms = (tb - ta) * 1000;
  return { channel: row.name, ms, boxUv, ptp: hi >= lo ? hi - lo : null, hz: ms > 0 ? 1000 / ms : null };
}

function showMeasure() {
  const r = measureResult(S.measure);
  const el = $("#measure");
  el.textContent = `${r.channel}: ${r.ms.toFixed(0)} ms (${r.hz ? r.hz.toFixed(1) : "–"} Hz) · box ${r.boxUv.toFixed(0)} µV` +
    (r.ptp !== null ? ` · trace ${r.ptp.toFixed(0)} µV peak-to-peak` : "");
  el.dataset.ms = r.ms.toFixed(1);
  el.dataset.uv = r.boxUv.toFixed(1);
  el.dataset.ptp = r.ptp !== null ? r.ptp.toFixed(1) : "";
}

// ---------------------------------------------------------------- gain, calibration, montages
function setGain(delta) {
  const i = Math.min(GAINS.length - 1, Math.max(0, GAINS.indexOf(S.sens) + delta));
  S.sens = GAINS[i];
  $("#gain-label").textContent = `${S.sens} µV/mm`;
  drawBase();
}

function openCalibration() {
  const f = $("#calibration-form");
  f.hidden = false;
  $("#cal-bar").style.width = "200px";
  $("#cal-mm").value = (200 * mmPerPx()).toFixed(1);
  $("#cal-mm").focus();
}

function saveCalibration(e) {
  e.preventDefault();
  const mm = Number($("#cal-mm").value);
  if (!(mm > 5 && mm < 500)) { message("Enter the bar's length in millimetres (5–500).", true); return; }
  S.settings.calibrations[screenKey()] = mm / 200;
  $("#calibration-form").hidden = true;
  showCalibration();
  saveSettings({ calibrations: { [screenKey()]: mm / 200 } }).then((ok) => { if (ok) message(`Screen calibrated: ${(mm / 200).toFixed(4)} mm per pixel (saved for you, this screen size)`); });
  drawBase();
}

// User montages are the user's settings on the server (they follow the user to any workstation).
function userMontages() { return S.settings.montages; }

function renderMontageOptions(selectName = null) {
  const sel = $("#montage");
  const keep = selectName ? `user:${selectName}` : sel.value;
  sel.querySelectorAll("option[data-user]").forEach((o) => o.remove());
  for (const name of Object.keys(userMontages()).sort()) {
    const o = document.createElement("option");
    o.value = `user:${name}`;
    o.textContent = `★ ${name}`;
    o.dataset.user = "1";
    sel.appendChild(o);
  }
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function openMontageEditor() {
  const f = $("#montage-form");
  f.hidden = false;
  const value = $("#montage").value;
  if (value.startsWith("user:")) {
    $("#montage-name").value = value.slice(5);
    $("#montage-derivations").value = (userMontages()[value.slice(5)] || []).join("\n");
  } else {
    $("#montage-name").value = "";
    $("#montage-derivations").value = S.window ? S.window.channels.filter((c) => !/^(ECG|EKG)/i.test(c)).join("\n") : "";
  }
  $("#montage-name").focus();
}

function saveMontage(e) {
  e.preventDefault();
  const name = $("#montage-name").value.trim();
  const derivations = $("#montage-derivations").value.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean)
    .map((s) => s.replace(/-Avg$/i, "-AVG").replace(/-Lap$/i, "-LAP"));
  if (!name || !derivations.length) { message("A montage needs a name and at least one derivation.", true); return; }
  const bad = derivations.filter((d) => !/^[A-Za-z0-9'_.]{1,16}(-[A-Za-z0-9'_.]{1,16})?$/.test(d));
  if (bad.length) { message(`Not a derivation: ${bad.join(", ")} (write A-B, A-AVG, A-LAP or A)`, true); return; }
  S.settings.montages[name] = derivations;
  $("#montage-form").hidden = true;
  renderMontageOptions(name);
  saveSettings({ montages: { [name]: derivations } }).then((ok) => { if (ok) message(`Montage "${name}" saved`); });
  loadWindow();
}

function deleteMontage() {
  const name = $("#montage-name").value.trim();
  const all = userMontages();
  if (!(name in all)) { $("#montage-form").hidden = true; return; }
  delete all[name];
  saveSettings({ montages: { [name]: null } });
  $("#montage-form").hidden = true;
  renderMontageOptions();
  if ($("#montage").value === `user:${name}` || !$("#montage").value) $("#montage").value = "double-banana";
  loadWindow();
}

// ---------------------------------------------------------------- controls and keys
// Keys act on the viewer wherever the focus is, except while typing in a text field.
function typingIn(el) {
  if (!el) return false;
  if (el.tagName === "TEXTAREA" || el.isContentEditable) return true;
  if (el.tagName !== "INPUT") return false;
  return !["checkbox", "radio", "button", "submit", "range", "file", "color"].includes(el.type);
}

const KEYS = {
  ArrowRight: () => page(1), PageDown: () => page(1), ArrowLeft: () => page(-1), PageUp: () => page(-1),
  Home: () => goTo(0), End: () => goTo(maxStart()),
  ArrowUp: () => setGain(-1), ArrowDown: () => setGain(1),
  n: () => stepEvent(1), p: () => stepEvent(-1), N: () => stepEvent(-1),
  s: () => stepEvent(1, true), S: () => stepEvent(-1, true),
  a: () => reviewEvent(S.selected, "accepted"), x: () => reviewEvent(S.selected, "rejected"),
};
const PAGING_KEYS = new Set(["ArrowRight", "PageDown", "ArrowLeft", "PageUp", "Home", "End"]);

function onKey(e) {
  if (!S.rec || e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
  const fn = KEYS[e.key];
  if (!fn) return;
  e.preventDefault(); // also keeps a focused dropdown from changing its value
  if (e.target && e.target.tagName === "SELECT") e.target.blur();
  if (PAGING_KEYS.has(e.key)) S.keyT0 = e.timeStamp; // the keypress (performance.now() time base), not the handler start
  fn();
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
    S.recToken++;
    S.rec = null;
    clearRecordingView();
    history.replaceState(null, "", location.pathname);
    showLogin();
  });
  $("#upload-file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
  $("#run-analysis").addEventListener("click", requestAnalysis);
  $("#show-identity").addEventListener("click", showIdentity);
  $("#sign-report").addEventListener("click", signReport);
  $("#prev").addEventListener("click", () => page(-1));
  $("#next").addEventListener("click", () => page(1));
  // Dropdowns give the focus back after a choice, so the arrow keys page again (and never change the montage).
  const blurAfter = (fn) => (e) => { e.target.blur(); fn(e); };
  $("#page-duration").addEventListener("change", blurAfter((e) => { S.pageDur = Number(e.target.value); clearPages(); goTo(S.start); }));
  for (const id of ["montage", "highpass", "lowpass", "notch"]) $(`#${id}`).addEventListener("change", blurAfter(() => loadWindow()));
  $("#trend-span").addEventListener("change", blurAfter((e) => { S.trendSpan = Number(e.target.value); drawTrends(); }));
  for (const id of ["event-type-filter"]) $(`#${id}`).addEventListener("change", blurAfter(() => renderEvents()));
  $("#event-conf-filter").addEventListener("input", () => renderEvents());
  $("#event-hide-rejected").addEventListener("change", blurAfter(() => renderEvents()));
  $("#gain-up").addEventListener("click", () => setGain(-1));
  $("#gain-down").addEventListener("click", () => setGain(1));
  $("#calibrate").addEventListener("click", openCalibration);
  $("#calibration-form").addEventListener("submit", saveCalibration);
  $("#cal-cancel").addEventListener("click", () => { $("#calibration-form").hidden = true; });
  $("#montage-edit").addEventListener("click", openMontageEditor);
  $("#montage-form").addEventListener("submit", saveMontage);
  $("#montage-delete").addEventListener("click", deleteMontage);
  $("#montage-cancel").addEventListener("click", () => { $("#montage-form").hidden = true; });
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
      $("#cursor-time").textContent = clock(t, 2);
      $("#cursor-time").dataset.time = clock(t);
      if (S.drag) S.drag.t1 = t;
      if (S.measure && S.measure.active) {
        S.measure.t1 = t;
        S.measure.y1 = yAt(e);
        showMeasure();
      }
    }
    drawOverlay();
  });
  eeg.addEventListener("mouseleave", () => { S.cursorT = null; drawOverlay(); });
  eeg.addEventListener("mousedown", (e) => {
    const t = timeAt(e);
    if (t === null || !S.window) return;
    // Shift-drag (or any drag for those who cannot annotate) measures; a plain drag marks a span to annotate.
    if (e.shiftKey || !can("annotate")) {
      const row = rowAt(yAt(e));
      if (row) S.measure = { t0: t, t1: t, y0: yAt(e), y1: yAt(e), row, active: true };
    } else {
      S.drag = { t0: t, t1: t };
    }
  });
  window.addEventListener("mouseup", () => {
    if (S.measure && S.measure.active) {
      S.measure.active = false;
      showMeasure();
      drawOverlay();
      return;
    }
    if (!S.drag) return;
    const { t0, t1 } = S.drag;
    S.drag = null;
    drawOverlay();
    if (Math.abs(t1 - t0) > 0.1) openAnnotationForm(null, Math.min(t0, t1), Math.abs(t1 - t0));
  });
  $("#trend").addEventListener("click", trendClick);
  $("#trend").addEventListener("mousemove", trendHover);
  $("#trend").addEventListener("mouseleave", () => { $("#trend-hover").hidden = true; S.trendHoverX = null; drawTrends(); });
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", () => { S.trendBase = null; drawBase(); drawTrends(); });
  showCalibration();
}

document.addEventListener("DOMContentLoaded", boot);
