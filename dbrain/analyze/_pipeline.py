"""Run the registered steps on one recording and write DIR atomically."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import RecordingError
from ..events import EVENT_COLUMNS, empty_events, with_datetime, write_annotations_edf, write_events
from ..io import read_recording
from ..utils import logger, verbose
from ..utils._atomic import atomic_dir
from ..utils._hash import sha256_path
from ..utils.check import _check_option, _validate_type
from ._registry import AnalysisContext, get_steps

_DEPENDENCIES = ("mne", "numpy", "scipy", "pandas", "edfio", "mne-bids", "matplotlib", "weasyprint", "jinja2")


@dataclass
class AnalysisOutput:
    """Paths written by :func:`analyze` and the summary."""

    out_dir: Path
    summary: dict
    events: pd.DataFrame
    #: The provenance-ledger entry of this run (a :class:`dbrain.ledger.Entry`), or None with ``ledger=False``.
    ledger_entry: object = None

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def report_pdf(self) -> Path:
        return self.out_dir / "report.pdf"


def _versions() -> dict[str, str]:
    out = {}
    for name in _DEPENDENCIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _select(only, skip) -> list:
    steps = get_steps()
    names = [s.name for s in steps]
    for value in [*(only or []), *(skip or [])]:
        _check_option("step", value, names)
    if only:
        steps = [s for s in steps if s.name in only]
    if skip:
        steps = [s for s in steps if s.name not in skip]
    return steps


def _step_overrides(step_params) -> dict[str, dict]:
    if step_params is None:
        return {}
    _validate_type(step_params, dict, "step_params", "dict of step name to dict")
    steps = {s.name: s for s in get_steps()}
    for name, params in step_params.items():
        _check_option("step", name, list(steps))
        _validate_type(params, dict, f"step_params[{name!r}]", "dict")
        for key in params:
            _check_option(f"{name} step parameter", key, list(steps[name].params))
    return step_params


#: Files the pipeline itself writes; steps cannot write files of these names.
_RESERVED = frozenset({"summary.json", "events.tsv", "annotations.edf", "report.html", "report.pdf"})


def usable_eeg_problem(raw, name: str = "the recording") -> str | None:
    """Why ``raw`` has no usable EEG channel, or None when it has one.

    A channel is usable when its type is EEG and it is not flat: constant
    (or NaN) in each of up to three 10-s windows at the start, middle and end.
    Reading three windows keeps the check cheap on a 24-h recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    name : str
        The recording's name for the message.

    Returns
    -------
    problem : str | None
        One line such as ``"no usable EEG channel in 'x.edf': none of its 3
        channels (ECG, EMG, Resp) is EEG"``.
    """
    import warnings

    import numpy as np

    types = raw.get_channel_types()
    picks = [i for i, t in enumerate(types) if t == "eeg"]
    if not picks:
        shown = ", ".join(raw.ch_names[:5]) + (", …" if len(raw.ch_names) > 5 else "")
        return f"no usable EEG channel in {name}: none of its {len(types)} channels ({shown}) is an EEG channel"
    sfreq = raw.info["sfreq"]
    n = raw.n_times
    width = min(n, int(round(10 * sfreq)))
    live = np.zeros(len(picks), bool)
    for start in sorted({0, max(0, n // 2 - width // 2), max(0, n - width)}):
        data = raw.get_data(picks=picks, start=start, stop=start + width)
        if not data.size:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel
            ptp = np.nanmax(data, axis=1) - np.nanmin(data, axis=1)
        live |= np.nan_to_num(ptp, nan=0.0) > 0
        if live.all():
            return None
    if live.any():
        return None
    return f"no usable EEG channel in {name}: all {len(picks)} EEG channels are flat (constant) throughout"


@verbose
def analyze(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    overwrite: bool = False,
    on_progress: Callable[[float, str], None] | None = None,
    ledger: bool = True,
    step_params: dict[str, dict] | None = None,
    verbose=None,
) -> AnalysisOutput:
    """Analyse one recording and write the results folder.

    Writes ``summary.json`` (recording info, versions, parameters, steps),
    ``events.tsv`` (the dbrain events table), ``annotations.edf`` (the same
    events as EDF+ annotations), ``report.html`` and ``report.pdf``. The folder
    appears only when everything succeeded. A recording without a usable EEG
    channel (:func:`usable_eeg_problem`) fails with
    :class:`~dbrain.errors.RecordingError` before anything is written.

    Parameters
    ----------
    path : path-like
        Any recording :func:`dbrain.io.read_recording` reads.
    out_dir : path-like
        Results folder; must not exist or be empty unless ``overwrite``.
    only, skip : list of str | None
        Step names to run exclusively, or to leave out.
    overwrite : bool
        Replace an existing results folder.
    on_progress : callable | None
        Called as ``on_progress(fraction, text)``.
    ledger : bool
        Append an ``analysis-run`` record (input and output files with their
        SHA-256, dbrain and step versions, OS user) to the default provenance
        ledger (:class:`dbrain.ledger.Ledger`) once the folder is in place.
    step_params : dict of str to dict | None
        Parameters overriding a step's defaults, by step name, e.g.
        ``{"seizures": {"model": "MODEL_DIR"}}``; recorded in ``summary.json``.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    output : AnalysisOutput
    """
    from ..report import render_html, write_report
    from ..report._clinical import clinical_sections

    started = time.time()
    steps = _select(only, skip)
    overrides = _step_overrides(step_params)
    report = on_progress or (lambda fraction, text: None)
    report(0.0, "reading")
    raw, info = read_recording(path)
    problem = usable_eeg_problem(raw, f"'{Path(path).name}'")
    if problem is not None:
        # Steps would all skip and the run would look like a clean "0 events" (issue #15): fail instead.
        raise RecordingError(problem)
    ctx = AnalysisContext(raw=raw, info=info)
    out_dir = Path(out_dir)
    records = []
    sections = []
    events = [empty_events()]
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for i, step in enumerate(steps):
            report(0.05 + 0.8 * i / max(len(steps), 1), step.name)
            t0 = time.time()
            logger.info("step %s v%s", step.name, step.version)
            params = {**step.params, **overrides.get(step.name, {})}
            result = step.func(ctx, **params)
            ctx.results[step.name] = result
            sections.extend(result.sections)
            for name, table in result.tables.items():
                if (tmp / f"{name}.parquet").exists():
                    raise RuntimeError(f"step {step.name!r} writes table {name!r}, which another step wrote")
                table.to_parquet(tmp / f"{name}.parquet", index=False)
            for name, content in result.files.items():
                if Path(name).name != name or name in _RESERVED or name.endswith(".parquet") or (tmp / name).exists():
                    raise RuntimeError(f"step {step.name!r} writes file {name!r}, which is not a free plain file name")
                (tmp / name).write_bytes(content)
            if result.events is not None and len(result.events):
                events.append(result.events[EVENT_COLUMNS])
            records.append(
                {
                    "name": step.name,
                    "version": step.version,
                    "params": params,
                    "seconds": round(time.time() - t0, 3),
                    "tables": sorted(f"{name}.parquet" for name in result.tables),
                    "files": sorted(result.files),
                    "summary": result.summary,
                }
            )
        table = pd.concat([e for e in events if len(e)], ignore_index=True) if any(len(e) for e in events) else empty_events()
        table = table.sort_values("onset", kind="stable").reset_index(drop=True)
        table = with_datetime(table, info.start_time)  # one clock for every step's events
        report(0.88, "writing")
        write_events(table, tmp / "events.tsv")
        write_annotations_edf(table, tmp / "annotations.edf", meas_date=info.start_time)
        summary = {
            "dbrain_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "input": {"path": str(Path(path).resolve()), "sha256": sha256_path(path)},
            "recording": info.to_dict(),
            "parameters": {"only": list(only or []), "skip": list(skip or [])},
            "steps": records,
            "n_events": int(len(table)),
            "environment": {"python": platform.python_version(), "platform": platform.platform(), "packages": _versions()},
        }
        header = {
            "Recording": Path(path).name,
            "Format": info.format,
            "Start": info.start_time.strftime("%Y-%m-%d %H:%M:%S") if info.start_time else "not recorded",
        }
        # Findings first, then the EEG at the seizures and the trends; the steps' sections become the appendix.
        sections = clinical_sections(raw, info, ctx.results, sections)
        html = render_html(f"EEG report — {Path(path).name}", sections, header=header)
        write_report(html, tmp)
        summary["seconds"] = round(time.time() - started, 3)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    entry = None
    if ledger:
        from ._provenance import record_analysis_run

        entry = record_analysis_run(out_dir, path, summary["input"]["sha256"], records)
    report(1.0, "done")
    return AnalysisOutput(out_dir=out_dir, summary=summary, events=table, ledger_entry=entry)
