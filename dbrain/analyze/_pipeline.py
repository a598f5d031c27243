"""Run the registered steps on one recording and write DIR atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import __version__
from ..engine import FileSource, validate_params
from ..engine import Step as EngineStep
from ..engine import run as run_engine
from ..engine._run import _trim_memory
from ..errors import RecordingError
from ..events import EVENT_COLUMNS, empty_events, with_datetime, write_annotations_edf, write_events
from ..io import read_recording
from ..utils import logger, verbose
from ..utils._atomic import atomic_dir
from ..utils._hash import sha256_path
from ..utils.check import _check_option, _check_range, _validate_type
from ._registry import AnalysisContext, get_steps

#: Shortest recording (s) whose report figures are drawn in a process of their own (see
#: :mod:`dbrain.report._drawer`; ``DBRAIN_REPORT_PROCESS`` = 0 / 1 overrides): starting one costs
#: about a second of CPU, which a short recording's few figures do not repay.
DRAW_PROCESS_SECONDS = 1800.0

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
        validate_params(name, steps[name].schema, params)
    return step_params


class _WholeRecording(EngineStep):
    """Adapter: a step that needs the whole recording runs once, when the engine finishes."""

    whole_recording = True

    def __init__(self, spec, ctx: AnalysisContext, params: dict):
        super().__init__(**params)
        self.name, self.version, self.spec, self.ctx = spec.name, spec.version, spec, ctx

    def finish(self):
        return self.spec.func(self.ctx, **self.params_)


def _engine_step(spec, ctx: AnalysisContext, params: dict) -> EngineStep:
    if spec.stream is None:
        return _WholeRecording(spec, ctx, params)
    step = spec.stream(**params)
    step.context = ctx  # the analysis job's context, for a step that adds whole-recording facts at finish
    return step


def _rasterize(items) -> None:
    """Draw every figure of ``items`` (sections or figures) now, in this process."""
    from ..report._drawer import _figures

    for block in _figures(items):
        block.rasterize()


def _report_data(name: str, data):
    """What the report's own pages (findings, excerpts, trends) still need of a step's data, once its section is drawn.

    Those pages read the data of the seizure and qEEG steps only (the others' summaries, events and
    tables stay). Of the qEEG result, the per-channel spectrogram and measures are the largest arrays of
    an analysis (about 340 MB per 24 h) and those pages do not draw them: they are let go here.
    """
    if name == "seizures":
        return data
    if name != "qeeg" or not data or data.get("qeeg") is None:
        return None
    import dataclasses

    q = data["qeeg"]
    light = dataclasses.replace(q, spectrogram=q.spectrogram[:0].copy(), measures=q.measures[:0].copy())
    return {**data, "qeeg": light}


def _after_pages(results) -> None:
    """Let go of what only the EEG excerpts and trend pages read, once they are made.

    Page 1 (``findings_section``) reads the qEEG result's artifact arrays and no other step data; the
    later steps run without any step's data too (``report=False`` gives them none).
    """
    seizures = results.get("seizures")
    if seizures is not None:
        seizures.data = None
    qeeg = results.get("qeeg")
    if qeeg is not None and qeeg.data:
        qeeg.data = {"qeeg": qeeg.data.get("qeeg")}


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
    report: bool = True,
    chunk_duration: float = 300.0,
    verbose=None,
) -> AnalysisOutput:
    """Analyse one recording and write the results folder.

    Writes ``summary.json`` (recording info, versions, parameters, steps),
    ``events.tsv`` (the dbrain events table), ``annotations.edf`` (the same
    events as EDF+ annotations), the steps' tables, and with ``report``
    ``report.html`` and ``report.pdf``. The folder appears only when
    everything succeeded. A recording without a usable EEG channel
    (:func:`usable_eeg_problem`) fails with
    :class:`~dbrain.errors.RecordingError` before anything is written.

    Steps with a streaming form (see :mod:`dbrain.engine`) run in one pass
    over the recording, read chunk by chunk; the others run afterwards on
    the whole (lazy) recording, in the order their ``requires`` give.

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
        ``{"seizures": {"model": "MODEL_DIR"}}``; checked against each step's
        parameter schema before any reading; recorded in ``summary.json``.
    report : bool
        Render the figures and write ``report.html`` and ``report.pdf``. Without
        it, steps that render afterwards draw nothing and no report is written.
    chunk_duration : float
        Seconds read per chunk by the single pass (memory, not results).
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    output : AnalysisOutput
    """
    started = time.time()
    _validate_type(report, bool, "report", "bool")
    _check_range("chunk_duration", chunk_duration, 1.0)
    steps = _select(only, skip)
    overrides = _step_overrides(step_params)
    params = {s.name: validate_params(s.name, s.schema, overrides.get(s.name)) for s in steps}
    progress = on_progress or (lambda fraction, text: None)
    progress(0.0, "reading")
    raw, info = read_recording(path)
    problem = usable_eeg_problem(raw, f"'{Path(path).name}'")
    if problem is not None:
        # Steps would all skip and the run would look like a clean "0 events" (issue #15): fail instead.
        raise RecordingError(problem)
    ctx = AnalysisContext(raw=raw, info=info)
    # The input's hash is read beside the single pass (hashlib lets other threads run) rather than after it
    # (reading a 24 h file again cost ~1 s at the end, 72 h ~3 s); it is awaited half-way through the pass,
    # before the last chunk, where the qEEG step forks its aperiodic fits (no other thread may be busy then).
    input_hash = None
    if raw.n_times > 2 * chunk_duration * raw.info["sfreq"]:
        hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbrain-hash")
        input_hash = hashing.submit(sha256_path, path)
        hashing.shutdown(wait=False)

    def on_pass(fraction):
        if input_hash is not None and fraction >= 0.5:
            input_hash.result()
        progress(0.05 + 0.3 * fraction, "single pass")

    out_dir = Path(out_dir)
    records = []
    sections = []
    events = [empty_events()]
    render_seconds = [0.0]  # drawing the steps' figures and the report
    drawer = [None]  # the process drawing the report's figures (started when the single pass ends)
    pages = [None]  # the report's EEG excerpts and trend pages, made once the steps they read have finished
    with atomic_dir(out_dir, overwrite=overwrite) as tmp, contextlib.ExitStack() as stack:
        engine_steps = [_engine_step(s, ctx, params[s.name]) for s in steps]
        n_stream = sum(not s.whole_recording for s in engine_steps)
        by_name = {s.name: s for s in steps}
        page_after = None
        if report:
            from ..report._clinical import PAGE_STEPS

            # The last step whose result the excerpts and trend pages read (when it ran).
            page_after = ([s.name for s in steps if s.name in PAGE_STEPS] or [None])[-1]

        def on_step(i, name):
            if i == 0 and report:
                # Figures are drawn in a process of their own while the steps after the pass finish. Started
                # here, not before the pass: no thread of it may exist when the qEEG step forks its pool.
                from ..report._drawer import start_drawer

                drawer[0] = start_drawer(raw.n_times / raw.info["sfreq"] >= DRAW_PROCESS_SECONDS)
                if drawer[0] is not None:
                    stack.callback(drawer[0].close)
            progress(0.35 + 0.5 * i / max(len(steps), 1), name)

        def draw(blocks):
            if drawer[0] is not None:
                drawer[0].submit(blocks)
            else:
                _rasterize(blocks)

        def write_result(name, result):
            # Called as each step finishes: write it out and render it now, so that its large data
            # (e.g. the qEEG arrays) is not held while the later steps run.
            step = by_name[name]
            logger.info("step %s v%s", step.name, step.version)
            if report:
                t0 = time.perf_counter()
                own = list(result.sections)
                if step.render is not None:
                    own.extend(step.render(result, ctx, params[step.name]))
                # Draw the step's figures now (or hand them to the drawing process) and let go of them, so
                # that memory does not grow with the number of steps and the length of the recording (issue 19).
                draw(own)
                result.sections = []
                sections.extend(own)
                result.data = _report_data(name, result.data)
                if name == page_after:
                    from ..report._clinical import report_pages

                    # The excerpts and trend pages read only the steps up to this one: made now, their
                    # figures drawn while the later steps run.
                    pages[0] = report_pages(raw, info, ctx.results, rasterize=draw)
                    _after_pages(ctx.results)
                # A matplotlib figure let go of (drawn, or handed to the drawing process) is a web of reference
                # cycles: its arrays are freed by the cyclic collector only, which may not run for a while, so
                # the next step's working memory stacked on top of them. Collected now, before the engine
                # hands freed memory back to the system after this step.
                gc.collect()
                render_seconds[0] += time.perf_counter() - t0
            if not report:
                result.data = None  # nothing will draw from it: do not hold e.g. the qEEG arrays while later steps run
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

        engine = run_engine(
            engine_steps,
            FileSource(raw, chunk_duration=chunk_duration),
            results=ctx.results,
            on_progress=on_pass,
            on_step=on_step,
            on_result=write_result,
        )
        for step in steps:
            result = ctx.results[step.name]
            records.append(
                {
                    "name": step.name,
                    "version": step.version,
                    "params": params[step.name],
                    "seconds": round(engine.seconds[step.name], 3),
                    "streaming": step.stream is not None,
                    "tables": sorted(f"{name}.parquet" for name in result.tables),
                    "files": sorted(result.files),
                    "summary": result.summary,
                }
            )
        table = pd.concat([e for e in events if len(e)], ignore_index=True) if any(len(e) for e in events) else empty_events()
        table = table.sort_values("onset", kind="stable").reset_index(drop=True)
        table = with_datetime(table, info.start_time)  # one clock for every step's events
        progress(0.88, "writing")
        write_events(table, tmp / "events.tsv")
        write_annotations_edf(table, tmp / "annotations.edf", meas_date=info.start_time)
        summary = {
            "dbrain_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "input": {"path": str(Path(path).resolve()), "sha256": input_hash.result() if input_hash else sha256_path(path)},
            "recording": info.to_dict(),
            "parameters": {"only": list(only or []), "skip": list(skip or [])},
            "steps": records,
            "engine": {
                "chunk_duration": chunk_duration,
                "streaming_steps": n_stream,
                "read_seconds": round(engine.read_seconds, 3),
                "pass_seconds": round(engine.pass_seconds, 3),
                "thread_seconds": {k: round(v, 3) for k, v in engine.thread_seconds.items()},
                "products": {k: round(v, 3) for k, v in engine.product_seconds.items()},
            },
            "report": bool(report),
            "n_events": int(len(table)),
            "environment": {"python": platform.python_version(), "platform": platform.platform(), "packages": _versions()},
        }
        header = {
            "Recording": Path(path).name,
            "Format": info.format,
            "Start": info.start_time.strftime("%Y-%m-%d %H:%M:%S") if info.start_time else "not recorded",
        }
        if report:
            t0 = time.perf_counter()
            from ..report import render_html, write_report
            from ..report._clinical import clinical_sections

            # Findings first, then the EEG at the seizures and the trends; the steps' sections become the appendix.
            sections = clinical_sections(raw, info, ctx.results, sections, rasterize=draw, pages=pages[0])
            if drawer[0] is not None:
                drawer[0].submit(sections)  # the figures not drawn yet (page 1 has none today)
            html = render_html(f"EEG report — {Path(path).name}", sections, header=header)
            if drawer[0] is not None:
                drawer[0].close()  # its memory back before the PDF is printed
            # Nothing reads the sections or the steps' results any more (their summaries are in `records`):
            # let them go before the PDF, the analysis's last and, at 24 h and more, largest working memory.
            sections = pages[0] = None
            ctx.results.clear()
            _trim_memory()  # the figures' drawing memory, before the PDF is printed
            write_report(html, tmp)
            render_seconds[0] += time.perf_counter() - t0
            summary["report_seconds"] = round(render_seconds[0], 3)
        summary["seconds"] = round(time.time() - started, 3)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    entry = None
    if ledger:
        from ._provenance import record_analysis_run

        entry = record_analysis_run(out_dir, path, summary["input"]["sha256"], records)
    progress(1.0, "done")
    return AnalysisOutput(out_dir=out_dir, summary=summary, events=table, ledger_entry=entry)
