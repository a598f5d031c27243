// The one dbrain time convention, ported exactly from dbrain/utils/_time.py (format_time, is_multiday):
// clock time "HH:MM:SS"; "D<n> HH:MM:SS" on a recording that crosses midnight (day 1 = the start's
// calendar day); "+h:mm:ss" elapsed time when the start is unknown. Never scientific notation.
// dbrain/server/tests/test_viewer_time.py runs this file in node and pins it to the Python on a table of cases.
// Plain script (no module) so the viewer, the tests and node can all load it; it defines globalThis.DbrainTime.
"use strict";

(function (root) {
  const US_PER_DAY = 86400e6;

  // Python's round(): half to even. Exact for |x| < 2**52 (x - floor(x) is exact there).
  function roundHalfEven(x) {
    const f = Math.floor(x);
    const d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return f % 2 === 0 ? f : f + 1;
  }

  // A recording start as the API gives it (ISO 8601, as datetime.isoformat writes it) → integer
  // microseconds of its WALL CLOCK since 1970 (the offset is ignored: Python formats the wall clock too).
  function parseStart(text) {
    if (text === null || text === undefined || text === "") return null;
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(String(text));
    if (!m) return null;
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    if (!Number.isFinite(ms)) return null;
    return ms * 1000 + (m[7] ? Number(m[7].padEnd(6, "0")) : 0);
  }

  const pad2 = (n) => String(n).padStart(2, "0");
  const dayOf = (us) => Math.floor(us / US_PER_DAY);

  function isMultiday(startUs, duration) {
    if (startUs === null || startUs === undefined) return false;
    const end = startUs + roundHalfEven(Math.max(Number(duration), 0) * 1e6);
    return dayOf(end) > dayOf(startUs);
  }

  function formatTime(seconds, startUs = null, { multiday = false, decimals = 0 } = {}) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) throw new Error(`seconds must be a finite number, got ${seconds}`);
    if (!(decimals >= 0 && decimals <= 3)) throw new Error(`decimals must be 0–3, got ${decimals}`);
    const scale = 10 ** decimals;
    const ticks = roundHalfEven(seconds * scale); // round once, as the Python does
    const fracText = (f) => (decimals ? "." + String(f).padStart(decimals, "0") : "");
    if (startUs === null || startUs === undefined) {
      const sign = ticks < 0 ? "-" : "+";
      const a = Math.abs(ticks);
      const whole = Math.floor(a / scale), frac = a % scale;
      return `${sign}${Math.floor(whole / 3600)}:${pad2(Math.floor((whole % 3600) / 60))}:${pad2(whole % 60)}` + fracText(frac);
    }
    let stamp = startUs + ticks * 10 ** (6 - decimals); // exact integer microseconds
    let secStart = Math.floor(stamp / 1e6) * 1e6;
    let frac = decimals ? roundHalfEven((stamp - secStart) / 10 ** (6 - decimals)) : 0;
    if (frac >= scale) { // microseconds rounded up to the next second
      secStart += 1e6;
      frac = 0;
    }
    stamp = secStart;
    const d = new Date(stamp / 1000);
    let text = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}` + fracText(frac);
    if (multiday) text = `D${dayOf(stamp) - dayOf(startUs) + 1} ${text}`;
    return text;
  }

  const api = { roundHalfEven, parseStart, isMultiday, formatTime };
  root.DbrainTime = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
