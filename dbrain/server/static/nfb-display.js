// dbrain neurofeedback patient display: a one-time session code, then a balloon game that follows the
// feedback stream (server-sent events). Plain JavaScript, no build step, no inline script (CSP).
// The balloon's height is the feedback level (0..1), the sky brightens and a tone sounds while rewarded,
// the balloon greys while an artifact (muscle, blink) withholds the reward; transfer blocks show no game.
// window.dbrainNfb keeps, per shown update, the display latency (ms from the newest sample's arrival at the
// server to the frame that showed it) and (t, level) pairs: the Playwright test and benchmark read them.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  source: null, level: 0, target: 0, reward: false, inhibit: false, feedback: false, blockKind: null,
  pending: null, audio: null, osc: null, gain: null, clouds: [], drawn: 0,
};
window.dbrainNfb = { latencies: [], shown: [], events: 0, ended: false };

async function post(path, json) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json), credentials: "same-origin" });
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty */ }
  if (!r.ok) {
    const err = new Error((data && typeof data.detail === "string") ? data.detail : `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

async function get(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) { const e = new Error(`HTTP ${r.status}`); e.status = r.status; throw e; }
  return r.json();
}

// ---------------------------------------------------------------- sound (WebAudio; starts on the code's button press)
function startAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || state.audio) return;
  try {
    state.audio = new Ctx();
    state.osc = state.audio.createOscillator();
    state.gain = state.audio.createGain();
    state.osc.type = "sine";
    state.osc.frequency.value = 330;
    state.gain.gain.value = 0;
    state.osc.connect(state.gain).connect(state.audio.destination);
    state.osc.start();
  } catch (_) { state.audio = null; }
}

function sound() {
  if (!state.audio) return;
  const now = state.audio.currentTime;
  const on = state.feedback && state.reward && !state.inhibit;
  // Pitch follows the level; the tone is heard only while rewarded (short ramps: no clicks).
  state.osc.frequency.setTargetAtTime(262 + 262 * state.level, now, 0.05);
  state.gain.gain.setTargetAtTime(on ? 0.12 : 0, now, 0.04);
}

// ---------------------------------------------------------------- the game
const canvas = $("#game");
const ctx = canvas.getContext("2d");
for (let i = 0; i < 6; i++) state.clouds.push({ x: Math.random() * 960, y: 40 + Math.random() * 300, s: 0.5 + Math.random() });

function draw() {
  const W = canvas.width, H = canvas.height;
  const fed = state.feedback;
  const lit = fed && state.reward && !state.inhibit;
  ctx.fillStyle = lit ? "#2f7fd1" : "#123a66";
  ctx.fillRect(0, 0, W, H);
  // Clouds drift faster while rewarded: motion follows the reward.
  ctx.fillStyle = "rgba(255,255,255,0.6)";
  for (const c of state.clouds) {
    c.x -= (lit ? 3 : 0.6) * c.s;
    if (c.x < -80) { c.x = W + 80; c.y = 40 + Math.random() * 300; }
    ctx.beginPath();
    ctx.ellipse(c.x, c.y, 50 * c.s, 18 * c.s, 0, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = "#2c3e50";
  ctx.fillRect(0, H - 30, W, 30);
  if (!fed) {
    ctx.fillStyle = "#cfe0f5";
    ctx.font = "28px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(state.blockKind === "transfer" ? "Keep it up on your own — no balloon now" : state.blockKind === "baseline" ? "Relax and look at the screen" : "", W / 2, H / 2);
    return;
  }
  const y = H - 60 - (H - 140) * state.level;
  ctx.strokeStyle = "#ecf0f1";
  ctx.beginPath();
  ctx.moveTo(W / 2, y + 45);
  ctx.lineTo(W / 2, H - 30);
  ctx.stroke();
  ctx.fillStyle = state.inhibit ? "#95a5a6" : lit ? "#f1c40f" : "#e67e22";
  ctx.beginPath();
  ctx.ellipse(W / 2, y, 36, 45, 0, 0, 2 * Math.PI);
  ctx.fill();
}

function frame() {
  const ev = state.pending;
  state.pending = null;
  if (ev) {
    state.level = ev.level || 0;
    state.reward = !!ev.reward;
    state.inhibit = !!ev.inhibit;
    state.feedback = !!ev.feedback;
    state.blockKind = ev.block_kind;
    sound();
  }
  draw();
  const el = $("#nfb-level");
  if (ev) {
    el.dataset.level = String(state.level);
    el.dataset.t = String(ev.t);
    el.dataset.reward = String(state.reward);
    // Measured one frame later: by then the frame that drew this update has been presented.
    requestAnimationFrame(() => {
      const lat = Date.now() - ev.arrival_ms;
      window.dbrainNfb.latencies.push(lat);
      window.dbrainNfb.shown.push([ev.t, ev.level]);
    });
  }
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- the stream
function listen() {
  const es = new EventSource("/api/nfb/display/stream");
  state.source = es;
  es.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "feedback") {
      window.dbrainNfb.events += 1;
      state.pending = ev; // only the newest update is drawn: a slow frame never builds a queue
      $("#status").textContent = ev.block_kind === "training" ? "Training" : ev.block_kind === "transfer" ? "On your own" : "Resting";
    } else if (ev.type === "waiting") {
      $("#status").textContent = "Waiting for your therapist to start…";
    } else if (ev.type === "end") {
      es.close();
      finish();
    }
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) setTimeout(listen, 2000);
  };
}

async function finish() {
  window.dbrainNfb.ended = true;
  if (state.gain) state.gain.gain.value = 0;
  let text = "The session is over.";
  try {
    const s = await get("/api/nfb/display");
    text = `Session ${s.session_number} of ${s.n_sessions} is over.`;
    if (s.reward_fraction !== null && s.reward_fraction !== undefined) {
      text += ` The balloon flew high ${Math.round(100 * s.reward_fraction)}% of the training time.`;
    }
  } catch (_) { /* the end screen still shows */ }
  $("#end-summary").textContent = text;
  $("#game-view").hidden = true;
  $("#end-view").hidden = false;
}

function opened(info) {
  $("#code-view").hidden = true;
  $("#game-view").hidden = false;
  $("#session-label").textContent = `Session ${info.session_number} of ${info.n_sessions}`;
  if (info.status === "done" || info.status === "stopped") { finish(); return; }
  listen();
  requestAnimationFrame(frame);
}

$("#code-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  startAudio(); // a user gesture: browsers allow sound from here on
  $("#code-error").textContent = "";
  try {
    opened(await post("/api/nfb/display/code", { code: $("#code-input").value }));
  } catch (err) {
    $("#code-error").textContent = err.status === 429 ? "Too many tries. Please wait a moment." : "That code did not work. Ask your therapist for a new one.";
  }
});

// A display reloaded during its session keeps its cookie: go straight to the game.
get("/api/nfb/display").then(opened).catch(() => { /* no session yet: the code form */ });

// ---------------------------------------------------------------- Go/No-Go task (pre/mid/post)
const GONOGO = { trials: 80, goShare: 0.75, stimulusMs: 500, isiMs: 1000 };
// A shorter run can be asked for in the address (?gonogo_trials=20, 10..200): the trial counts are stored with the scores.
const askedTrials = Number(new URLSearchParams(location.search).get("gonogo_trials"));
if (Number.isInteger(askedTrials) && askedTrials >= 10 && askedTrials <= 200) GONOGO.trials = askedTrials;

function runGoNoGo() {
  $("#game-view").hidden = true;
  $("#gonogo-view").hidden = false;
  const stim = $("#gonogo-stim");
  const plan = [];
  for (let i = 0; i < GONOGO.trials; i++) plan.push(i < GONOGO.trials * GONOGO.goShare ? "go" : "nogo");
  for (let i = plan.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [plan[i], plan[j]] = [plan[j], plan[i]]; }
  const trials = [];
  let k = -1, shownAt = 0, current = null;
  const respond = () => {
    if (current && current.rt_ms === null) current.rt_ms = Math.round(performance.now() - shownAt);
  };
  const onKey = (e) => { if (e.code === "Space") { e.preventDefault(); respond(); } };
  document.addEventListener("keydown", onKey);
  $("#gonogo-stage").addEventListener("pointerdown", respond);
  const next = () => {
    k += 1;
    if (k >= plan.length) {
      document.removeEventListener("keydown", onKey);
      stim.className = "";
      $("#gonogo-status").textContent = "Thank you!";
      post("/api/nfb/display/gonogo", { trials })
        .catch(() => { $("#gonogo-status").textContent = "Thank you! (the results could not be saved: tell your therapist)"; })
        .finally(() => setTimeout(() => { $("#gonogo-view").hidden = true; $("#game-view").hidden = false; }, 1500));
      return;
    }
    current = { stimulus: plan[k], rt_ms: null };
    trials.push(current);
    stim.className = plan[k];
    shownAt = performance.now();
    setTimeout(() => { stim.className = ""; setTimeout(next, GONOGO.isiMs); }, GONOGO.stimulusMs);
  };
  $("#gonogo-status").textContent = "";
  setTimeout(next, 1000);
}

$("#gonogo-start").addEventListener("click", runGoNoGo);
