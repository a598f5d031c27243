// dbrain live ward page: per bed a moving EEG strip, the seizure probability and DSA trends, and the
// alarms, pushed by the data centre over Server-Sent Events (GET /api/ward/stream); a clinician
// acknowledges an alarm with a comment. Design and the monitor's contract: docs/ward.md.
//
// Stale data is never shown under a bed's name: every (re)connection, failed request or stream change
// clears what a bed shows before it is filled again, and answers of an older generation are dropped.
"use strict";

const W = {
  user: null, csrf: null,
  gen: 0,           // bumped at every reload: answers of an older generation are dropped
  beds: new Map(),  // bed id -> {id, name, stream, frames: [], el}
  alarms: new Map(),// alarm id -> AlarmOut
  source: null, ackId: null, retry: null, saving: null,
  uvPerRow: null,   // the strip's sensitivity, µV per row: the user's setting (null until loaded: the default)
};
const STALE_SECONDS = 5;
const $ = (s) => document.querySelector(s);

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function message(text, error = false) {
  const m = $("#message");
  m.textContent = text;
  m.classList.toggle("error", error);
}

async function api(path, { method = "GET", json } = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = W.csrf || "";
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), credentials: "same-origin" });
  if (r.status === 401 && path !== "/api/auth/login" && path !== "/api/auth/me") showLogin("Your session has ended; please sign in again.");
  if (!r.ok) {
    let detail = r.statusText || `HTTP ${r.status}`;
    try { const d = (await r.json()).detail; detail = typeof d === "string" ? d : JSON.stringify(d); } catch (_) { /* not JSON */ }
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  return r.status === 204 ? null : r.json();
}

// ---------------------------------------------------------------- clock time (time.js conventions)
// time.js formats the wall-clock digits of a microsecond stamp; the ward shows the local clock, so a unix
// time becomes the local wall clock's microseconds first.
function localUs(unixSeconds) {
  return Math.round(unixSeconds * 1e6) - new Date(unixSeconds * 1000).getTimezoneOffset() * 60e6;
}
function clockOfUnix(unixSeconds) { return DbrainTime.formatTime(0, localUs(unixSeconds)); }
function clockOfIso(iso) { return clockOfUnix(Date.parse(iso) / 1000); }
// Stream seconds → clock time, from the bed's frames of the same stream (wall − t is the stream's start).
function clockOfStream(bed, stream, t) {
  if (!bed || bed.stream !== stream || !bed.frames.length) return null;
  const f = bed.frames[bed.frames.length - 1];
  return DbrainTime.formatTime(t, localUs(f.wall - f.t));
}
function alarmClock(a) { return clockOfStream(W.beds.get(a.bed_id), a.stream, a.raised) || clockOfIso(a.received_at); }

// ---------------------------------------------------------------- login
function showLogin(error = "") {
  stopStream();
  W.user = null; W.csrf = null;
  $("#ward").hidden = true;
  $("#logout").hidden = true;
  $("#whoami").textContent = "";
  $("#login-view").hidden = false;
  $("#login-error").textContent = error;
}
function setUser(me) {
  W.user = me.user; W.csrf = me.csrf_token;
  $("#whoami").textContent = `${me.user.username} (${me.user.role})`;
  $("#logout").hidden = false;
  $("#login-view").hidden = true;
  $("#ward").hidden = false;
  loadSensitivity();
}
const canAck = () => !!W.user && W.user.role === "clinician"; // roles.CAN_ACK_ALARM
const canWatch = () => !!W.user && ["admin", "clinician", "technologist"].includes(W.user.role); // roles.CAN_WATCH_WARD

// ---------------------------------------------------------------- beds
function bedPanel(bed) {
  const el = $("#bed-template").content.firstElementChild.cloneNode(true);
  el.dataset.bedId = bed.id;
  el.querySelector(".bed-name").textContent = bed.name;
  $("#beds").appendChild(el);
  return el;
}
function clearBed(bed, why) {
  bed.frames = [];
  bed.stream = null;
  drawBed(bed, why);
}
function drawBed(bed, why = "no data") {
  const el = bed.el;
  el.querySelector(".bed-stream").textContent = bed.stream ? `stream ${bed.stream}` : "";
  const last = bed.frames.length ? bed.frames[bed.frames.length - 1] : null;
  const status = el.querySelector(".bed-status");
  if (!last) {
    status.dataset.state = "none";
    status.textContent = why;
    for (const c of el.querySelectorAll("canvas")) WardDraw.empty(c, why);
  } else {
    const age = Date.now() / 1000 - last.wall;
    status.dataset.state = age > STALE_SECONDS ? "stale" : "live";
    status.textContent = `${age > STALE_SECONDS ? "no data since" : "live"} ${clockOfUnix(last.wall)}`;
    const mine = [...W.alarms.values()].filter((a) => a.bed_id === bed.id && a.stream === bed.stream);
    WardDraw.strip(el.querySelector(".strip"), bed.frames.slice(-WardDraw.STRIP_SECONDS), uvPerRow());
    WardDraw.prob(el.querySelector(".prob"), bed.frames, mine);
    WardDraw.dsa(el.querySelector(".dsa"), bed.frames);
  }
}
function addFrames(bed, stream, frames) {
  if (bed.stream !== stream) { bed.frames = []; bed.stream = stream; } // a new session: nothing of the old one
  let last = bed.frames.length ? bed.frames[bed.frames.length - 1].t : -Infinity;
  for (const f of frames) if (f.t > last) { bed.frames.push(f); last = f.t; }
  const cut = bed.frames.length - WardDraw.TREND_SECONDS;
  if (cut > 0) bed.frames.splice(0, cut);
  // Only the last seconds keep their EEG strip (memory of a page open for hours stays bounded).
  for (let i = Math.max(0, bed.frames.length - 30); i < bed.frames.length - WardDraw.STRIP_SECONDS; i++) bed.frames[i].strip = null;
  drawBed(bed);
}

// ---------------------------------------------------------------- the strip's sensitivity (per user)
// Fixed, never auto-scaled (docs/ward.md): the user steps it; it is kept with the user's viewer settings on the
// server (field ward_uv_per_row of /api/auth/me/settings), so it follows the user to any workstation. Saved as a
// PATCH of that one field: the viewer's settings, changed meanwhile in another tab, are never written back.
function uvPerRow() { return W.uvPerRow || WardDraw.DEFAULT_UV_PER_ROW; }
function showSensitivity() {
  const v = uvPerRow(), steps = WardDraw.STRIP_STEPS;
  $("#sens-label").textContent = `${v} µV/row`;
  $("#sens-label").dataset.uvPerRow = String(v);
  $("#sens-more").disabled = v === steps[0];
  $("#sens-less").disabled = v === steps[steps.length - 1];
}
async function loadSensitivity() {
  try {
    W.uvPerRow = (await api("/api/auth/me/settings")).ward_uv_per_row || null;
  } catch (e) {
    message(`Your strip sensitivity could not be loaded (showing ${WardDraw.DEFAULT_UV_PER_ROW} µV/row): ${e.message}`, true);
  }
  showSensitivity();
  for (const bed of W.beds.values()) drawBed(bed);
}
async function stepSensitivity(delta) {
  const steps = WardDraw.STRIP_STEPS;
  const i = Math.min(steps.length - 1, Math.max(0, steps.indexOf(uvPerRow()) + delta));
  W.uvPerRow = steps[i];
  showSensitivity();
  for (const bed of W.beds.values()) drawBed(bed);
  // One save at a time, each writing the value current when it runs (quick clicks end on the last one).
  W.saving = (W.saving || Promise.resolve()).then(async () => {
    try {
      await api("/api/auth/me/settings", { method: "PATCH", json: { ward_uv_per_row: uvPerRow() } });
      $("#sens-label").dataset.saved = String(uvPerRow());
    } catch (e) {
      message(`Your strip sensitivity was not saved: ${e.message}`, true);
    }
  });
}

// ---------------------------------------------------------------- alarms
function alarmItem(a, withButton) {
  const li = document.createElement("li");
  li.dataset.alarmId = a.id;
  li.dataset.type = a.type;
  li.dataset.state = a.state;
  li.classList.toggle("acked", !!a.ack);
  // "confidence": a bare "82 %" beside "seizure" reads as the chance of a seizure, and a signal alarm's is 100 %
  const conf = a.confidence === null ? "" : ` · confidence ${Math.round(a.confidence * 100)} %`;
  const chans = a.channels.length ? ` · ${escapeHtml(a.channels.slice(0, 4).join(", "))}${a.channels.length > 4 ? "…" : ""}` : "";
  li.innerHTML = `<span class="t">${escapeHtml(alarmClock(a))}</span><span class="bed">${escapeHtml(a.bed)}</span>`
    + `<span class="type">${escapeHtml(a.type.replace(/_/g, " "))}</span><span class="muted">${a.state}${conf}${chans}</span>`;
  if (a.recording_id) { // the session's recording is linked: its annotations hold this alarm
    const link = document.createElement("a");
    link.className = "rec-link";
    link.href = `/viewer/#rec=${a.recording_id}&t=${Math.max(0, Math.floor((a.onset ?? a.raised) - 5))}`;
    link.textContent = "recording";
    li.appendChild(link);
  }
  if (a.ack) {
    const s = document.createElement("span");
    s.className = "ack";
    s.textContent = `acknowledged by ${a.ack.username} at ${clockOfIso(a.ack.acked_at)}${a.ack.comment ? ": " + a.ack.comment : ""}`;
    li.appendChild(s);
  } else if (withButton && canAck()) {
    const b = document.createElement("button");
    b.className = "ack-button";
    b.textContent = "Acknowledge…";
    b.addEventListener("click", () => openAck(a.id));
    li.appendChild(b);
  } else if (withButton) {
    li.insertAdjacentHTML("beforeend", '<span class="muted">awaiting a clinician</span>');
  }
  return li;
}
function renderAlarms() {
  const all = [...W.alarms.values()].sort((x, y) => (y.received_at < x.received_at ? -1 : 1));
  const open = all.filter((a) => !a.ack);
  // Seizures first, then the newest.
  open.sort((x, y) => (x.type === "seizure") === (y.type === "seizure") ? 0 : x.type === "seizure" ? -1 : 1);
  const ul = $("#open-alarms");
  ul.replaceChildren(...open.map((a) => alarmItem(a, true)));
  $("#alarm-banner").dataset.count = String(open.length);
  $("#alarm-count").textContent = String(open.length);
  $("#done-alarms").replaceChildren(...all.filter((a) => a.ack).slice(0, 100).map((a) => alarmItem(a, false)));
  for (const bed of W.beds.values()) {
    const mine = all.filter((a) => a.bed_id === bed.id).slice(0, 8);
    bed.el.querySelector(".bed-alarms").replaceChildren(...mine.map((a) => alarmItem(a, false)));
    bed.el.classList.toggle("alarming", mine.some((a) => !a.ack));
  }
  if (W.ackId !== null && !open.some((a) => a.id === W.ackId)) closeAck();
}
function openAck(id) {
  const a = W.alarms.get(id);
  if (!a) return;
  W.ackId = id;
  $("#ack-what").textContent = `${a.bed}: ${a.type.replace(/_/g, " ")} at ${alarmClock(a)}`;
  $("#ack-comment").value = "";
  $("#ack-form").hidden = false;
  $("#ack-comment").focus();
}
function closeAck() { W.ackId = null; $("#ack-form").hidden = true; }
async function confirmAck(ev) {
  ev.preventDefault();
  const id = W.ackId;
  if (id === null) return;
  try {
    const out = await api(`/api/ward/alarms/${id}/ack`, { method: "POST", json: { comment: $("#ack-comment").value } });
    W.alarms.set(out.id, out);
    closeAck();
    renderAlarms();
    message(`Alarm acknowledged (${out.type}, ${out.bed}).`);
  } catch (e) {
    message(`Acknowledge: ${e.message}`, true);
    if (e.status === 409) reload(); // someone else acknowledged it: show theirs
  }
}

// ---------------------------------------------------------------- loading and the push stream
async function reload() {
  const gen = ++W.gen;
  for (const bed of W.beds.values()) clearBed(bed, "loading…");
  let beds, alarms;
  try {
    [beds, alarms] = await Promise.all([api("/api/ward/beds"), api("/api/ward/alarms?limit=500")]);
  } catch (e) {
    if (gen !== W.gen) return;
    for (const bed of W.beds.values()) clearBed(bed, "no connection");
    message(`Ward: ${e.message}`, true);
    return;
  }
  if (gen !== W.gen) return;
  $("#beds").replaceChildren();
  W.beds.clear();
  for (const b of beds) W.beds.set(b.id, { id: b.id, name: b.name, stream: null, frames: [], el: bedPanel(b) });
  $("#ward-empty").hidden = beds.length > 0;
  W.alarms = new Map(alarms.map((a) => [a.id, a]));
  for (const bed of W.beds.values()) drawBed(bed);
  renderAlarms();
  await Promise.all([...W.beds.values()].map(async (bed) => {
    try {
      const r = await api(`/api/ward/beds/${bed.id}/recent`);
      if (gen !== W.gen || W.beds.get(bed.id) !== bed) return;
      if (r.stream) addFrames(bed, r.stream, r.frames);
    } catch (e) {
      if (gen === W.gen) clearBed(bed, "no connection");
    }
  }));
  if (gen === W.gen) renderAlarms(); // alarm times in clock time now that the streams' starts are known
}

function onFrames(ev) {
  const m = JSON.parse(ev.data);
  const bed = W.beds.get(m.bed_id);
  if (!bed) { reload(); return; } // a bed added since: load the list again
  addFrames(bed, m.stream, m.frames);
}
function onAlarm(ev) {
  const a = JSON.parse(ev.data);
  W.alarms.set(a.id, a);
  renderAlarms();
  const bed = W.beds.get(a.bed_id);
  if (bed) drawBed(bed);
}

function stopStream() {
  if (W.source) { W.source.close(); W.source = null; }
  clearTimeout(W.retry);
  $("#conn").dataset.state = "closed";
  $("#conn").textContent = "offline";
}
function startStream() {
  stopStream();
  if (!canWatch()) {
    message(`The ward is watched by clinicians, technologists and site administrators, not by the role '${W.user ? W.user.role : "?"}'.`, true);
    return;
  }
  const src = new EventSource("/api/ward/stream");
  W.source = src;
  $("#conn").dataset.state = "connecting";
  $("#conn").textContent = "connecting…";
  src.addEventListener("hello", () => {
    if (W.source !== src) return;
    $("#conn").dataset.state = "open";
    $("#conn").textContent = "live";
    reload(); // what the page shows is rebuilt at every (re)connection
  });
  src.addEventListener("frames", (ev) => { if (W.source === src) onFrames(ev); });
  src.addEventListener("alarm", (ev) => { if (W.source === src) onAlarm(ev); });
  src.addEventListener("reset", () => { if (W.source === src) reload(); });
  src.onerror = () => {
    if (W.source !== src) return;
    W.gen++; // answers in flight belong to the lost connection
    for (const bed of W.beds.values()) clearBed(bed, "connection lost");
    $("#conn").dataset.state = "connecting";
    $("#conn").textContent = "reconnecting…";
    if (src.readyState === EventSource.CLOSED) { // the browser gave up (e.g. 401): check the session, retry
      W.retry = setTimeout(async () => {
        try { setUser(await api("/api/auth/me")); startStream(); } catch (_) { showLogin("Please sign in."); }
      }, 2000);
    }
  };
}

// ---------------------------------------------------------------- start
function tick() {
  $("#clock").textContent = clockOfUnix(Date.now() / 1000);
  for (const bed of W.beds.values()) {
    const s = bed.el.querySelector(".bed-status");
    if (bed.frames.length && s.dataset.state === "live" && Date.now() / 1000 - bed.frames[bed.frames.length - 1].wall > STALE_SECONDS) drawBed(bed);
  }
}

async function boot() {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      setUser(await api("/api/auth/login", { method: "POST", json: { username: $("#login-username").value, password: $("#login-password").value } }));
      startStream();
    } catch (e) {
      $("#login-error").textContent = e.message;
    }
  });
  $("#logout").addEventListener("click", async () => {
    try { await api("/api/auth/logout", { method: "POST" }); } catch (_) { /* gone anyway */ }
    showLogin();
  });
  $("#ack-form").addEventListener("submit", confirmAck);
  $("#ack-cancel").addEventListener("click", closeAck);
  $("#sens-more").addEventListener("click", () => stepSensitivity(-1));
  $("#sens-less").addEventListener("click", () => stepSensitivity(+1));
  showSensitivity();
  setInterval(tick, 1000);
  tick();
  try {
    setUser(await api("/api/auth/me"));
  } catch (_) {
    showLogin();
    return;
  }
  startStream();
}

document.addEventListener("DOMContentLoaded", boot);
