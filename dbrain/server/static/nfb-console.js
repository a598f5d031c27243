// dbrain neurofeedback therapist console: courses and sessions of the site, a one-time display code,
// start/stop, and the live session (level and reward as the patient sees them, artifact indicator,
// signal quality per electrode). Feature, threshold and live threshold changes only in open-label courses:
// in a sham-controlled course they would unblind the therapist. from the same server-sent events as the patient's display.
// Plain JavaScript, no build step, no inline script (CSP). Shows nothing of a course's allocation.
"use strict";

const $ = (sel) => document.querySelector(sel);
const S = { user: null, csrf: null, course: null, session: null, es: null, trace: [], rewards: [] };

async function api(path, { method = "GET", json } = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = S.csrf || "";
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), credentials: "same-origin" });
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty */ }
  if (!r.ok) {
    const err = new Error((data && typeof data.detail === "string") ? data.detail : `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

function message(text) { $("#message").textContent = text || ""; }

async function whoami() {
  try {
    const me = await api("/api/auth/me");
    S.user = me.user;
    S.csrf = me.csrf_token;
    $("#whoami").textContent = `${me.user.username} (${me.user.role})`;
    $("#console-login").hidden = true;
    $("#console").hidden = false;
    await loadCourses();
  } catch (_) {
    $("#console-login").hidden = false;
    $("#console").hidden = true;
  }
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("/api/auth/login", { method: "POST", json: { username: $("#login-username").value, password: $("#login-password").value } });
    await whoami();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
});

function li(text, onClick, id) {
  const el = document.createElement("li");
  el.textContent = text;
  if (id !== undefined) el.dataset.id = String(id);
  el.addEventListener("click", () => { for (const x of el.parentElement.children) x.classList.remove("active"); el.classList.add("active"); onClick(); });
  return el;
}

async function loadCourses() {
  const list = $("#courses");
  list.replaceChildren();
  for (const c of await api("/api/nfb/courses")) {
    list.append(li(`Course ${c.id} · ${c.pseudonym} · ${c.protocol} · ${c.sessions_done}/${c.n_sessions} · safety ${c.safety.status}`, () => selectCourse(c), c.id));
  }
}

async function selectCourse(c) {
  S.course = c;
  $("#new-session").disabled = !["cleared", "overridden"].includes(c.safety.status);
  const rep = $("#course-report");
  rep.href = `/api/nfb/courses/${c.id}/report?format=html`;
  rep.hidden = false;
  $("#live-controls").hidden = c.sham_controlled;
  $("#blind-note").hidden = !c.sham_controlled;
  if ($("#new-session").disabled) message(`Course ${c.id}: safety screening is '${c.safety.status}' (${c.safety.findings.join("; ") || "not screened"}).`);
  else message("");
  await loadSessions();
}

async function loadSessions() {
  const list = $("#sessions");
  list.replaceChildren();
  for (const s of await api(`/api/nfb/courses/${S.course.id}/sessions`)) {
    list.append(li(`Session ${s.number} · ${s.status}`, () => selectSession(s), s.id));
  }
}

function selectSession(s, code) {
  S.session = s;
  $("#code-shown").textContent = code || "—";
  $("#session-status").textContent = s.status;
  $("#start").disabled = s.status !== "planned";
  $("#stop").disabled = s.status !== "running";
  const rep = $("#session-report");
  rep.href = `/api/nfb/sessions/${s.id}/report?format=html`;
  rep.hidden = !["done", "stopped"].includes(s.status);
  listen();
}

$("#new-session").addEventListener("click", async () => {
  const body = { source: $("#source").value.trim(), speed: Number($("#speed").value) || 1 };
  if ($("#target").value) body.target_reward_fraction = Number($("#target").value);
  try {
    const made = await api(`/api/nfb/courses/${S.course.id}/sessions`, { method: "POST", json: body });
    await loadSessions();
    selectSession(made.session, made.code);
    message("");
  } catch (err) { message(err.message); }
});

$("#start").addEventListener("click", async () => {
  try {
    selectSession(await api(`/api/nfb/sessions/${S.session.id}/start`, { method: "POST" }), $("#code-shown").textContent);
    await loadSessions();
  } catch (err) { message(err.message); }
});

$("#stop").addEventListener("click", async () => {
  try { await api(`/api/nfb/sessions/${S.session.id}/stop`, { method: "POST" }); } catch (err) { message(err.message); }
});

async function control(json) {
  try {
    await api(`/api/nfb/sessions/${S.session.id}/controls`, { method: "POST", json });
    message("");
  } catch (err) { message(err.message); }
}

$("#set-target").addEventListener("click", () => control({ target_reward_fraction: Number($("#live-target").value) }));
$("#hold-threshold").addEventListener("click", () => control({ threshold: Number($("#live-threshold").value) }));
$("#auto-threshold").addEventListener("click", () => control({ automatic: true }));

// ---------------------------------------------------------------- live
function listen() {
  if (S.es) S.es.close();
  S.trace = [];
  S.rewards = [];
  if (!S.session || !["planned", "running"].includes(S.session.status)) return;
  const es = new EventSource(`/api/nfb/sessions/${S.session.id}/stream`);
  S.es = es;
  es.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "feedback") show(ev);
    else if (ev.type === "end") {
      es.close();
      api(`/api/nfb/sessions/${S.session.id}`).then((s) => { selectSession(s, "—"); loadSessions(); });
    }
  };
}

function show(ev) {
  if (S.session.status !== "running") { S.session.status = "running"; $("#session-status").textContent = "running"; $("#start").disabled = true; $("#stop").disabled = false; }
  $("#block").textContent = `${ev.block || "—"} (${ev.feedback ? "feedback" : "no feedback"})`;
  $("#level-bar").style.width = `${Math.round(100 * (ev.level || 0))}%`;
  if (ev.feedback) S.rewards.push(ev.reward ? 1 : 0);
  const recent = S.rewards.slice(-240);
  $("#reward-pct").textContent = recent.length ? `${Math.round((100 * recent.reduce((a, b) => a + b, 0)) / recent.length)}% (last min)` : "—";
  $("#artifact").classList.toggle("on", !!ev.inhibit);
  $("#artifact").textContent = ev.inhibit ? "ARTIFACT: reward withheld" : "no artifact";
  $("#latency").textContent = `${Math.max(0, Date.now() - ev.arrival_ms).toFixed(0)} ms`;
  const chips = $("#quality");
  chips.replaceChildren();
  for (const [ch, q] of Object.entries(ev.quality || {})) {
    const c = document.createElement("span");
    c.className = `chip ${q}`;
    c.textContent = `${ch} ${q}`;
    chips.append(c);
  }
  S.signal = ev.feature !== null || ev.threshold !== null;
  S.trace.push(S.signal ? [ev.feature, ev.threshold] : [ev.feedback ? ev.level : null, ev.feedback ? (ev.reward ? 1 : 0) : null]);
  if (S.trace.length > 600) S.trace.shift();
  drawTrace();
}

function drawTrace() {
  const cv = $("#trace"), g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height);
  let lo = 0, span = 1; // level and reward are both 0..1
  if (S.signal) {
    const vals = S.trace.flat().filter((v) => v !== null && Number.isFinite(v));
    if (!vals.length) return;
    lo = Math.min(...vals);
    span = Math.max(...vals) - lo || 1;
  }
  const x = (i) => (cv.width * i) / 600;
  const y = (v) => cv.height - 8 - ((cv.height - 16) * (v - lo)) / span;
  for (const [k, colour] of [[0, "#1f5fa8"], [1, "#c0392b"]]) {
    g.strokeStyle = colour;
    g.beginPath();
    S.trace.forEach((p, i) => { if (p[k] !== null) (i ? g.lineTo(x(i), y(p[k])) : g.moveTo(x(i), y(p[k]))); });
    g.stroke();
  }
}

whoami();
