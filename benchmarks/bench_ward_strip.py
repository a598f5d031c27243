"""How much of the ward's EEG strip is clipped at a fixed sensitivity: the raw strip vs the display-filtered one.

The ward page draws the last 10 s of each strip channel in a row of ``uv_per_row`` µV and clips a trace
where it leaves its row (``static/ward-draw.js``). Compared, on the same samples and channels as
``dbrain monitor`` posts them:

* ``raw`` — before session 7: block means of the raw µV to about 64 Hz, drawn about each channel's median
  over the shown 10 s (the page's baseline for an unfiltered strip);
* ``raw, no baseline`` — the same drawn about zero (what the posted numbers are);
* ``filtered`` — now: :class:`dbrain.monitor._strip.StripFilter` (LFF 0.5 Hz, HFF 30 Hz, decimated to
  ≥ 100 Hz), fed one second at a time as the monitor does, drawn about zero.

For every second ``T`` from 10 s on, the strip shown at ``T`` (the samples of ``[T-10, T)``) is checked;
the figures are the clipped share of all shown samples, and the share of (strip, channel) pairs the page
marks clipped. The bundled IIIC seizure sample's seizure (20-30 s, the experts' scored segment) is also
counted apart. Pure computation, no timing: the figures do not depend on the machine's load.

Run: ``python benchmarks/bench_ward_strip.py [--uv 100 200 500] [--iiic ../shared/data/patterns/iiic-dev]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dbrain
from dbrain.monitor._core import STRIP_CHANNELS
from dbrain.monitor._strip import StripFilter

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
IIIC_ORDER = "Fp1 F3 C3 P3 F7 T7 P7 O1 Fz Cz Pz Fp2 F4 C4 P4 F8 T8 P8 O2".split()  # T3/T5/T4/T6 renamed


def strips(x: np.ndarray, sfreq: float) -> dict[str, tuple[np.ndarray, float, bool]]:
    """The three strips of ``x`` (channels × samples, µV): name -> (data, rate, drawn about the median)."""
    q = max(1, int(sfreq // 64))
    m = x.shape[1] // q * q
    raw = x[:, :m].reshape(x.shape[0], -1, q).mean(axis=2)
    f = StripFilter(sfreq, x.shape[0])
    step = int(round(sfreq))
    filt = np.concatenate([f.process(x[:, i : i + step]) for i in range(0, x.shape[1], step)], axis=1)
    return {
        "raw": (raw, sfreq / q, True),
        "raw, no baseline": (raw, sfreq / q, False),
        f"filtered (LFF {f.lff:g} Hz, HFF {f.hff:g} Hz)": (filt, f.out_sfreq, False),
    }


def clipped(data: np.ndarray, rate: float, median: bool, uv: float, seizure=None) -> dict[str, float]:
    """Clipped share of the shown samples over every 10-s strip, and of (strip, channel) pairs marked clipped."""
    n_sec = int(data.shape[1] / rate)
    t = np.arange(data.shape[1]) / rate
    shown = over = pairs = marked = 0
    sz_shown = sz_over = 0
    for end in range(10, n_sec + 1):
        sel = (t >= end - 10) & (t < end)
        d = data[:, sel]
        base = np.median(d, axis=1, keepdims=True) if median else 0.0
        c = np.abs(d - base) > uv / 2
        shown += c.size
        over += int(c.sum())
        pairs += c.shape[0]
        marked += int(c.any(axis=1).sum())
        if seizure is not None:
            in_sz = (t[sel] >= seizure[0]) & (t[sel] < seizure[1])
            sz_shown += int(in_sz.sum()) * c.shape[0]
            sz_over += int(c[:, in_sz].sum())
    out = {"clipped samples": over / shown, "channels marked": marked / pairs}
    if seizure is not None:
        out["in seizure"] = sz_over / max(sz_shown, 1)
        out["outside seizure"] = (over - sz_over) / max(shown - sz_shown, 1)
    return out


def _pick(names: list[str]) -> list[int]:
    picked = [c for c in STRIP_CHANNELS if c in names]  # as dbrain.monitor picks its strip
    return [names.index(c) for c in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uv", type=float, nargs="+", default=[100.0, 200.0, 500.0], help="µV/row to check")
    parser.add_argument(
        "--iiic", type=Path, default=Path(dbrain.__file__).parents[1] / ".." / "shared" / "data" / "patterns" / "iiic-dev"
    )
    args = parser.parse_args()
    from dbrain.io import read_recording

    raw, _ = read_recording(SAMPLE)
    names = raw.ch_names
    x = raw.get_data(picks=_pick(names)) * 1e6
    print(f"bundled seizure sample ({SAMPLE.name}): {x.shape[0]} strip channels, {x.shape[1] / raw.info['sfreq']:.0f} s")
    for uv in args.uv:
        for name, (d, rate, med) in strips(x, raw.info["sfreq"]).items():
            r = clipped(d, rate, med, uv, seizure=(20.0, 30.0))
            print(f"  {uv:5g} µV/row  {name:34s} " + "  ".join(f"{k} {100 * v:5.1f} %" for k, v in r.items()))
    files = sorted(args.iiic.glob("*.mat")) if args.iiic.is_dir() else []
    if not files:
        print(f"(IIIC development segments not found at {args.iiic}: skipped)")
        return
    from scipy.io import loadmat

    print(f"IIIC development segments ({args.iiic}): 12 ICU recordings, 50 s each, 200 Hz")
    idx = _pick(IIIC_ORDER)
    for uv in args.uv:
        per = {}
        for path in files:
            seg = loadmat(path)["seg"][idx]
            for name, (d, rate, med) in strips(seg, 200.0).items():
                per.setdefault(name, []).append(clipped(d, rate, med, uv))
        for name, rows in per.items():
            med_clip = np.median([r["clipped samples"] for r in rows])
            print(
                f"  {uv:5g} µV/row  {name:34s} clipped samples: mean {100 * np.mean([r['clipped samples'] for r in rows]):5.1f} %"
                f" (median over files {100 * med_clip:5.1f} %)  channels marked {100 * np.mean([r['channels marked'] for r in rows]):5.1f} %"
            )
        for path in files:
            seg = loadmat(path)["seg"][idx]
            s = strips(seg, 200.0)
            a, b = (clipped(*s[k], uv)["clipped samples"] for k in ("raw", list(s)[2]))
            print(f"    {path.stem:14s} raw {100 * a:5.1f} %  filtered {100 * b:5.1f} %")


if __name__ == "__main__":
    main()
