"""``run_batch``: one Dask task per recording, results keyed by content and configuration."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import DbrainError, ParameterError
from ..store import _store
from ..utils import logger, verbose
from ..utils._hash import sha256_path as hash_recording
from ..utils._rename import renamed_parameter
from ..utils.check import _check_option, _check_range, _validate_type
from ._inputs import BatchInput, collect_inputs


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes
    ----------
    store : pathlib.Path
        The feature store.
    rows : pandas.DataFrame
        One ``recordings`` row per input (see ``docs/batch.md``) plus
        ``dataset``, ``subject`` and ``action`` (``computed``, ``skipped`` or
        ``failed``: the worker died too often or the task raised).
    seconds : float
        Wall time of the batch.
    config_hash : str
        Hash of the analysis configuration (steps, versions, parameters).
    """

    store: Path
    rows: pd.DataFrame
    seconds: float
    config_hash: str
    ledger_entries: list = field(default_factory=list)

    @property
    def n_computed(self) -> int:
        return int((self.rows["action"] == "computed").sum())

    @property
    def n_skipped(self) -> int:
        return int((self.rows["action"] == "skipped").sum())

    @property
    def n_errors(self) -> int:
        return int((self.rows["status"] == "error").sum())


#: Step parameters that change how a step runs, not what it computes: left out of the configuration
#: (and its hash) and set for batch tasks, which run one recording per worker thread.
RUN_ONLY_PARAMS = {"n_jobs": 1}


def analysis_config(steps: list[str] | None = None, step_params: dict[str, dict] | None = None) -> dict:
    """The analysis configuration a result key depends on.

    Parameters
    ----------
    steps : list of str | None
        Step names (default: every registered step).
    step_params : dict of str to dict | None
        Parameter overrides by step name, as for :func:`dbrain.analyze.analyze`.

    Returns
    -------
    config : dict
        ``{"steps": [{"name", "version", "params"}, …]}`` in run order, with
        each step's defaults merged with the overrides. The dbrain version is
        not part of it: a step's ``version`` is bumped when its output changes.
    """
    from ..analyze import get_steps

    registered = get_steps()
    names = [s.name for s in registered]
    for name in steps or []:
        _check_option("step", name, names)
    step_params = step_params or {}
    _validate_type(step_params, dict, "step_params", "dict of step name to dict")
    chosen = [s for s in registered if not steps or s.name in steps]
    for name, params in step_params.items():
        _check_option("step", name, names)
        for key in params:
            _check_option(f"{name} step parameter", key, list(next(s for s in registered if s.name == name).params))
    return {
        "steps": [
            {
                "name": s.name,
                "version": s.version,
                "params": {k: v for k, v in {**s.params, **step_params.get(s.name, {})}.items() if k not in RUN_ONLY_PARAMS},
            }
            for s in chosen
        ]
    }


def config_hash(config: dict) -> str:
    """SHA-256 of the canonical JSON of an :func:`analysis_config`.

    Parameters
    ----------
    config : dict
        As returned by :func:`analysis_config`.

    Returns
    -------
    digest : str
        64 hex digits.
    """
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _hash_task(path: str) -> tuple[str | None, str | None]:
    try:
        return hash_recording(path), None
    except OSError as exc:
        return None, f"cannot read '{path}': {exc.strerror or exc}"


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, DbrainError):
        return _one_line(exc)
    return f"internal error ({type(exc).__name__}): {_one_line(exc)}"


def _base_row(item: dict, sha256: str | None, key: str, cfg_hash: str, config: dict) -> dict:
    meta = dict(item.get("meta") or {})
    lower = {str(k).lower(): v for k, v in meta.items()}  # participants.tsv often says "Age"
    try:
        age = float(lower["age"]) if lower.get("age") not in (None, "") else None
    except ValueError:
        age = None
    return {
        "key": key,
        "path": item["path"],
        "sha256": sha256,
        "config_hash": cfg_hash,
        "steps": ",".join(f"{s['name']}:{s['version']}" for s in config["steps"]),
        "age": age,
        "group": lower.get("group"),
        "meta": json.dumps(meta, sort_keys=True),
        "dbrain_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _write_error(store: Path, item: dict, row: dict, message: str, error_type: str, *, final: bool) -> dict:
    # A final error (the input's fault, a DbrainError) is marked done and not retried by a rerun;
    # any other failure (a dbrain bug, a dying worker) gets its row but is recomputed next time.
    row = {**row, "status": "error", "error": message, "error_type": error_type}
    folder = _store.partition_dir(store, "recordings", item["dataset"], item["subject"])
    _store.write_table(_store.recordings_table(row), folder / f"{row['key']}.parquet")
    if final:
        _store.write_marker(store, row["key"], {"status": "error", "error": message})
    return row


@contextlib.contextmanager
def _allow_child_processes():
    # Some steps start processes (specparam's aperiodic fits use a
    # multiprocessing pool). Two things break that inside a Dask worker:
    # (1) forking a process that runs threads (the worker's event loop, BLAS
    # pools) can deadlock the child — seen here as a worker hanging for good —
    # so this worker process uses the "forkserver" start method (children are
    # forked from a single-threaded server, with the heavy imports preloaded);
    # (2) nanny-started workers are daemons, which may not have children: the
    # flag is lifted for the task only and restored.
    if multiprocessing.get_start_method(allow_none=True) != "forkserver":
        multiprocessing.set_forkserver_preload(["numpy", "scipy", "specparam"])
        multiprocessing.set_start_method("forkserver", force=True)
    process = multiprocessing.current_process()
    daemon = process.daemon
    if daemon:
        process.daemon = False
    try:
        yield
    finally:
        if daemon:
            process.daemon = True


def _task_params(config: dict) -> dict[str, dict]:
    from ..analyze import get_steps

    defaults = {s.name: s.params for s in get_steps()}
    out = {}
    for step in config["steps"]:
        run_only = {k: v for k, v in RUN_ONLY_PARAMS.items() if k in defaults.get(step["name"], {})}
        out[step["name"]] = {**step["params"], **run_only}
    return out


class _Timeout(Exception):
    pass


def _call_with_timeout(func: Callable, timeout: float | None):
    """``func()``, or :class:`_Timeout` when it has not returned after ``timeout`` seconds (it keeps running)."""
    if timeout is None:
        return func()
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="dbrain-analysis", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _Timeout
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _analyse_task(
    item: dict,
    sha256: str,
    key: str,
    config: dict,
    cfg_hash: str,
    store: str,
    timeout: float | None = None,
    report: bool = False,
) -> dict:
    """Run on a worker: analyse one recording with the core's ``analyze`` and write its store rows."""
    from ..analyze import analyze

    store = Path(store)
    done = _store.is_done(store, key)
    if done is not None and done.get("timeout"):  # this task timed out on a worker that was then ended
        return {
            "key": key,
            "sha256": sha256,
            "action": "computed",
            "status": "error",
            "error": done.get("error"),
            "error_type": "Timeout",
        }
    if done is not None:  # another batch finished it meanwhile
        return {"key": key, "action": "skipped", "status": done.get("status"), "error": done.get("error")}
    row = _base_row(item, sha256, key, cfg_hash, config)
    started = time.time()
    out = _store.result_dir(store, key)

    def run():
        with _allow_child_processes():
            return analyze(
                item["path"],
                out,
                only=[s["name"] for s in config["steps"]],
                overwrite=True,
                ledger=False,
                step_params=_task_params(config),
                report=report,
            )

    try:
        output = _call_with_timeout(run, timeout)
    except _Timeout:
        row["seconds"] = round(time.time() - started, 3)
        message = f"analysis did not finish within {timeout:g} s (the batch's timeout); its worker was restarted"
        _write_error(store, item, row, message, "Timeout", final=False)
        _store.write_marker(store, key, {"status": "error", "error": message, "timeout": True})
        # A hung analysis cannot be stopped from inside Python, and it holds this worker: end the worker
        # process. Its nanny starts a fresh one, and the scheduler reruns this task, which finds the marker.
        logger.warning("batch: %s timed out after %g s; ending worker process %d", item["path"], timeout, os.getpid())
        os._exit(70)
    except Exception as exc:  # noqa: BLE001 - fault isolation: any failure of one recording is its error row
        row["seconds"] = round(time.time() - started, 3)
        final = isinstance(exc, DbrainError)
        return {**_write_error(store, item, row, _error_message(exc), type(exc).__name__, final=final), "action": "computed"}
    summary = output.summary
    rec = summary["recording"]
    channel_types = rec.get("channel_types") or {}
    row.update(
        status="ok",
        format=rec.get("format"),
        start_time=rec.get("start_time"),
        duration=rec.get("duration"),
        sfreq=rec.get("sfreq"),
        n_channels=rec.get("n_channels"),
        n_eeg=int(channel_types.get("eeg", 0)),
        n_events=summary.get("n_events"),
        seconds=round(time.time() - started, 3),
    )
    d, s = item["dataset"], item["subject"]
    name = f"{key}.parquet"
    if len(output.events):
        _store.write_table(_store.events_table(key, output.events), _store.partition_dir(store, "events", d, s) / name)
    features = _store.features_table(key, summary["steps"])
    if features.num_rows:
        _store.write_table(features, _store.partition_dir(store, "features", d, s) / name)
    for table in sorted(out.glob("*.parquet")):
        if table.stem in _store.SCHEMAS or table.stem in _store.RESERVED:
            continue
        frame = pd.read_parquet(table)
        _store.write_table(_store.step_table(key, frame), _store.partition_dir(store, table.stem, d, s) / name)
    _store.write_table(_store.recordings_table(row), _store.partition_dir(store, "recordings", d, s) / name)
    _store.write_marker(store, key, {"status": "ok", "steps": [st["name"] for st in summary["steps"]]})
    return {**row, "action": "computed"}


def _ledger_exists() -> bool:
    from ..utils import dbrain_home

    return bool(os.environ.get("DBRAIN_DATABASE_URL")) or (dbrain_home() / "dbrain.sqlite").is_file()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _local_worker_env(n_workers: int) -> tuple[dict[str, str], dict[str, str | None]]:
    """Environment of a local cluster's worker processes.

    Parameters
    ----------
    n_workers : int
        Worker processes of the local cluster.

    Returns
    -------
    env : dict of str to str
        Set in each worker once it runs: ``DBRAIN_FILTER_THREADS``, the CPUs
        of this machine shared among the workers (at least 1). An analysis
        runs its streaming steps and filters in that many threads; with every
        worker busy, more threads than cores only cost CPU (~10 % per 10-min
        recording with 2 threads vs 1 on a 2-core machine). Results do not
        depend on it.
    pre_spawn : dict of str to str or None
        Dask configuration (``distributed.nanny.pre-spawn-environ``: variables
        a worker process must have when it starts, as glibc reads them then).
        Dask's default ``MALLOC_TRIM_THRESHOLD_=65536`` is left out: setting
        that variable switches off glibc's dynamic mmap threshold, so every
        array above 128 kB was mapped and unmapped afresh (10-min recordings:
        10-25× the page faults, ~2 s more system time each; the analysis
        hands freed memory back itself with ``malloc_trim`` between steps).
        ``MALLOC_ARENA_MAX=2``: the cap the engine sets when it runs steps
        side by side, which one analysis thread no longer does (~60 MB less
        peak memory per worker, same CPU).

    Notes
    -----
    A variable already set in this process's environment is kept as it is.
    """
    env = {}
    if not os.environ.get("DBRAIN_FILTER_THREADS"):
        env["DBRAIN_FILTER_THREADS"] = str(max(1, _cpus() // max(1, n_workers)))
    key = "distributed.nanny.pre-spawn-environ."
    pre_spawn: dict[str, str | None] = {}
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        pre_spawn[key + "MALLOC_TRIM_THRESHOLD_"] = None
    if "MALLOC_ARENA_MAX" not in os.environ:
        pre_spawn[key + "MALLOC_ARENA_MAX"] = "2"
    return env, pre_spawn


def _make_client(workers, scheduler, memory_limit):
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler, timeout="20s"), None
    env, pre_spawn = _local_worker_env(workers)
    # Read by each nanny when it is created (and kept for its worker's restarts). A nanny also puts
    # these variables into this process's environment before it starts a worker: restored below, so
    # that processes this one starts later do not inherit them.
    with dask.config.set(pre_spawn):
        names = {*dask.config.get("distributed.nanny.pre-spawn-environ"), "PYTHONHASHSEED"}
        saved = {name: os.environ.get(name) for name in names}
        try:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit,
                dashboard_address=":0",  # any free port: two batches (or a notebook cluster) never clash on 8787
                env=env,
            )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return Client(cluster), cluster


@renamed_parameter("workers", "n_jobs", since="0.2")
@verbose
def run_batch(
    data: str | os.PathLike | list[BatchInput],
    store: str | os.PathLike,
    *,
    steps: list[str] | None = None,
    step_params: dict[str, dict] | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    memory_limit: str | float | None = "auto",
    retries: int = 2,
    retry_errors: bool = False,
    timeout: float | None = None,
    ledger: bool | None = None,
    report: bool = False,
    on_result: Callable[[dict, int, int], None] | None = None,
    verbose=None,
) -> BatchResult:
    """Analyse many recordings on a Dask cluster into a Parquet feature store.

    Each recording is one Dask task that calls :func:`dbrain.analyze.analyze`
    (the same code as ``dbrain analyze``) into ``STORE/results/<key>`` and
    turns its outputs into store rows. ``key`` is the recording's SHA-256
    (first 24 hex digits) and the configuration hash (first 12): a rerun skips
    recordings already done, a changed configuration recomputes them. A
    recording that fails gets an error row with the one-line reason and the
    batch goes on; a task whose worker dies is rerun on another worker.

    Parameters
    ----------
    data : path-like | list of BatchInput
        A BIDS dataset, a folder of recordings, a manifest CSV (see
        :func:`collect_inputs`) or the inputs themselves.
    store : path-like
        The feature store folder (created).
    steps : list of str | None
        Analysis steps to run (default: all registered steps).
    step_params : dict of str to dict | None
        Step parameter overrides, as for :func:`dbrain.analyze.analyze`.
    n_jobs : int | None
        Worker processes of the local cluster (one thread each); None or -1:
        the number of CPUs. Ignored with ``scheduler``. (Formerly ``workers``.)
    scheduler : str | None
        Address of an existing Dask scheduler (``tcp://HOST:8786``); the
        workers must see ``data`` and ``store`` under the same paths.
    memory_limit : str | float | None
        Memory limit per local worker (``"4GB"``, ``"auto"`` = RAM / workers);
        a worker over it is restarted and its task retried.
    retries : int
        Times a task that raised inside Dask is retried (worker loss is
        handled by the scheduler's own rescheduling).
    retry_errors : bool
        Recompute recordings whose stored result is an error row.
    timeout : float | None
        Seconds one recording's analysis may take. A recording over it gets
        an error row (a rerun skips it unless ``retry_errors``) and its
        worker process is ended, because a hung analysis cannot be stopped
        otherwise: the workers must be nanny-managed (a local cluster and
        ``dask worker`` without ``--no-nanny`` are), so that a fresh one
        takes its place. None: no limit.
    ledger : bool | None
        Append an ``analysis-run`` entry per computed recording to the
        provenance ledger; default (None): only if the ledger exists.
    report : bool
        Also render each recording's figures and ``report.html``/``report.pdf``
        (off by default: the store holds numbers). Not part of the
        configuration hash, so it does not recompute recordings already done.
    on_result : callable | None
        Called as ``on_result(row, n_done, n_total)`` after each recording.
    verbose : bool | str | int | None
        Log level for this call.

    Returns
    -------
    result : BatchResult
    """
    started = time.time()
    _check_batch_args(retries=retries, report=report, timeout=timeout, n_jobs=n_jobs, scheduler=scheduler)
    inputs = list(data) if isinstance(data, list) else collect_inputs(data)
    config = analysis_config(steps, step_params)
    cfg_hash = config_hash(config)
    store = _prepare_store(store, config, cfg_hash)
    use_ledger = _ledger_exists() if ledger is None else bool(ledger)
    items = [{"path": i.path, "dataset": i.dataset, "subject": i.subject, "meta": dict(i.meta)} for i in inputs]
    run = _Run(store, config, cfg_hash, len(items), on_result)
    n_workers = n_jobs if n_jobs not in (None, -1) else os.cpu_count() or 1
    client, cluster = _make_client(n_workers, scheduler, memory_limit)
    try:
        hashes = client.gather(client.map(_hash_task, [i["path"] for i in items], pure=False))
        task = {"timeout": None if timeout is None else float(timeout), "report": bool(report), "retries": retries}
        futures, by_key = _submit(client, run, items, hashes, retry_errors=retry_errors, task=task)
        _collect(run, futures, by_key, use_ledger=use_ledger)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return run.result(time.time() - started)


def _check_batch_args(*, retries, report, timeout, n_jobs, scheduler) -> None:
    """Types and ranges of :func:`run_batch`'s scalar arguments."""
    _validate_type(retries, int, "retries")
    _validate_type(report, bool, "report")
    if timeout is not None:
        _check_range("timeout", timeout, 0, None, inclusive=False)
    if n_jobs is not None:
        _validate_type(n_jobs, int, "n_jobs")
        if n_jobs < 1 and n_jobs != -1:
            raise ParameterError(f"n_jobs must be at least 1 (or -1: every CPU), got {n_jobs}")
    if scheduler is not None:
        _validate_type(scheduler, str, "scheduler")


def _prepare_store(store, config: dict, cfg_hash: str) -> Path:
    """Create the store folder and write the configuration under its hash."""
    store = Path(store).expanduser().resolve()
    store.mkdir(parents=True, exist_ok=True)
    (store / "_config").mkdir(exist_ok=True)
    (store / "_config" / f"{cfg_hash[:12]}.json").write_text(json.dumps(config, indent=2, default=str) + "\n", encoding="utf-8")
    return store


@dataclass
class _Run:
    """One batch in progress: what it writes to and the rows it has finished."""

    store: Path
    config: dict
    cfg_hash: str
    total: int
    on_result: Callable[[dict, int, int], None] | None
    rows: list[dict] = field(default_factory=list)
    entries: list = field(default_factory=list)

    def finish(self, item: dict, row: dict) -> None:
        """Record one recording's row (and tell ``on_result``)."""
        row = {**row, "dataset": item["dataset"], "subject": item["subject"], "path": item["path"]}
        self.rows.append(row)
        if self.on_result is not None:
            self.on_result(row, len(self.rows), self.total)

    def result(self, seconds: float) -> BatchResult:
        """The rows as a table, logged in one line."""
        frame = pd.DataFrame(self.rows)
        for col in ("key", "status", "error", "action"):
            if col not in frame:
                frame[col] = None
        logger.info(
            "batch: %d recordings, %d computed, %d skipped, %d errors in %.1f s",
            self.total,
            int((frame["action"] != "skipped").sum()),
            int((frame["action"] == "skipped").sum()),
            int((frame["status"] == "error").sum()),
            seconds,
        )
        return BatchResult(store=self.store, rows=frame, seconds=seconds, config_hash=self.cfg_hash, ledger_entries=self.entries)


def _submit(client, run: _Run, items: list[dict], hashes, *, retry_errors: bool, task: dict):
    """Submit one analysis task per recording not yet done (once per content); finish the others at once.

    Returns the futures (future → (item, sha256, key)) and the items of each key.
    """
    futures = {}
    by_key: dict[str, list] = {}
    for item, (sha, err) in zip(items, hashes, strict=True):
        if sha is None:
            key = "path-" + hashlib.sha256(item["path"].encode()).hexdigest()[:19] + "-" + run.cfg_hash[:12]
            row = _write_error(run.store, item, _base_row(item, None, key, run.cfg_hash, run.config), err, "OSError", final=False)
            run.finish(item, {**row, "action": "computed"})
            continue
        key = f"{sha[:24]}-{run.cfg_hash[:12]}"
        done = _store.is_done(run.store, key)
        if done is not None and not (retry_errors and done.get("status") == "error"):
            run.finish(
                item,
                {"key": key, "sha256": sha, "action": "skipped", "status": done.get("status"), "error": done.get("error")},
            )
            continue
        if done is not None:  # an error row to retry: it is not done any more
            (_store.result_dir(run.store, key) / _store.SUCCESS).unlink(missing_ok=True)
        if key in by_key:  # the same content twice: analysed once
            by_key[key].append(item)
            continue
        by_key[key] = [item]
        future = client.submit(
            _analyse_task,
            item,
            sha,
            key,
            run.config,
            run.cfg_hash,
            str(run.store),
            task["timeout"],
            task["report"],
            key=f"dbrain-analyse-{key}",
            retries=task["retries"],
            pure=False,
        )
        futures[future] = (item, sha, key)
    return futures, by_key


def _collect(run: _Run, futures: dict, by_key: dict[str, list], *, use_ledger: bool) -> None:
    """Finish each recording as its task completes: an error row for a failed task, a ledger entry for a computed one."""
    from distributed import as_completed

    for future in as_completed(list(futures)):
        item, sha, key = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker (died too often) and the like: an error row
            message = f"task failed on the cluster ({type(exc).__name__}): {_one_line(exc)}"
            base = _base_row(item, sha, key, run.cfg_hash, run.config)
            row = {**_write_error(run.store, item, base, message, type(exc).__name__, final=False), "action": "failed"}
        if use_ledger and row.get("action") == "computed" and row.get("status") == "ok":
            from ..analyze._provenance import record_analysis_run

            run.entries.append(record_analysis_run(_store.result_dir(run.store, key), item["path"], sha, run.config["steps"]))
        for same in by_key[key]:
            run.finish(same, row if same is item else {**row, "action": "skipped"})
        future.release()
