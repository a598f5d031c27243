"""The job worker: ``dbrain worker`` runs :func:`run_worker` in its own process.

A worker claims a queued analysis (:func:`dbrain.server.jobs.claim`), links
the stored de-identified recording into a scratch folder, calls the core's
:func:`dbrain.analyze.analyze` on it (nothing is re-implemented here), moves
every result file into the object store and records the manifest, summary
and a draft report. A heartbeat thread renews the job's lease and writes the
progress ``analyze`` reports. Run as many workers as there are cores to
spare, on any machine that sees the same database and object store.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
import uuid

from sqlalchemy.exc import OperationalError

from ..errors import DbrainError
from . import provenance
from .db import Analysis, Recording, Report, make_engine, make_sessionmaker, migrate
from .jobs import Claim, claim, finish, heartbeat
from .settings import Settings
from .storage import ObjectStore

log = logging.getLogger("dbrain.server.worker")


class _LeaseLost(Exception):
    """Another worker owns the job now."""


class Worker:
    """One worker: a database connection, the object store and the claim loop.

    Parameters
    ----------
    settings : Settings
    worker_id : str | None
        Default: ``host:pid:random``.
    """

    def __init__(self, settings: Settings, worker_id: str | None = None):
        self.settings = settings
        self.engine = make_engine(settings.db_url)
        migrate(self.engine)
        self.sessions = make_sessionmaker(self.engine, settings)
        self.store = ObjectStore(settings.home)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    def run_once(self) -> bool:
        """Claim and run one job; return False when the queue was empty.

        Returns
        -------
        ran : bool
        """
        with self.sessions() as db:
            job = claim(db, self.id, self.settings.lease_seconds)
        if job is None:
            return False
        log.info("worker %s: job %d (analysis %d), attempt %d", self.id, job.job_id, job.analysis_id, job.attempt)
        self._run(job)
        return True

    def run(self, *, poll_seconds: float = 1.0, once: bool = False, parent_pid: int | None = None) -> None:
        """Work until stopped (SIGTERM/SIGINT finish the current job first).

        Parameters
        ----------
        poll_seconds : float
            Pause between claims when the queue is empty.
        once : bool
            Stop when the queue is empty.
        parent_pid : int | None
            Stop when this process (``dbrain serve`` that started the worker) is gone.
        """
        while not self.stopping.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("worker %s: its 'dbrain serve' process ended; stopping", self.id)
                return
            try:
                ran = self.run_once()
            except OperationalError as exc:
                # A busy or briefly unreachable database (SQLite's "database is locked" while a web request
                # holds the write lock) must not end the worker: wait and claim again.
                log.warning("worker %s: database not available (%s); retrying", self.id, " ".join(str(exc).split())[:200])
                self.stopping.wait(poll_seconds)
                continue
            if not ran:
                if once:
                    return
                self.stopping.wait(poll_seconds)

    # ------------------------------------------------------------------ one job

    def _run(self, job: Claim) -> None:
        from ..analyze import analyze

        state = {"progress": 0.0, "message": "starting", "lost": False}
        done = threading.Event()

        def beat():
            while not done.wait(self.settings.heartbeat_seconds):
                try:
                    with self.sessions() as db:
                        if not heartbeat(db, job, self.settings.lease_seconds, state["progress"], state["message"]):
                            state["lost"] = True
                            return
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the lease covers a few
                    log.warning("heartbeat failed: %s", exc)

        def on_progress(fraction: float, text: str):
            if state["lost"]:
                raise _LeaseLost
            state["progress"], state["message"] = float(fraction), str(text)

        scratch = self.store.scratch()
        beater = threading.Thread(target=beat, name="dbrain-heartbeat", daemon=True)
        beater.start()
        try:
            with self.sessions() as db:
                analysis = db.get(Analysis, job.analysis_id)
                recording = db.get(Recording, analysis.recording_id)
                only, skip = list(analysis.only or []), list(analysis.skip or [])
                rec_id, rec_sha, rec_fmt = recording.id, recording.sha256, recording.format
            if not self.store.exists(rec_sha):
                raise DbrainError(
                    f"recording {rec_id}'s file is not in the object store at {self.store.objects} "
                    "(do the web service and the workers share DBRAIN_HOME?)"
                )
            link = scratch / f"recording-{rec_id}{'.bdf' if rec_fmt.startswith('BDF') else '.edf'}"
            os.symlink(self.store.path(rec_sha), link)
            out = scratch / "results"
            output = analyze(link, out, only=only or None, skip=skip or None, on_progress=on_progress, ledger=False)
            if state["lost"]:
                raise _LeaseLost
            # The summary names the recording by id, not by the server's internal paths.
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            summary["input"] = {"recording_id": rec_id, "sha256": output.summary.get("input", {}).get("sha256")}
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            results = {}
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                sha, size = self.store.put_file(path, move=True)
                results[path.relative_to(out).as_posix()] = {"sha256": sha, "size": size}
            ledger_index = self._ledger(job, rec_sha, results, summary) if self.settings.ledger else None
            with self.sessions() as db:
                owned = finish(
                    db, job, results=results, summary=summary, n_events=int(summary.get("n_events", 0)), ledger_index=ledger_index
                )
                if owned and "report.pdf" in results:
                    report = Report(
                        analysis_id=job.analysis_id,
                        recording_id=rec_id,
                        site_id=analysis.site_id,
                        sha256=results["report.pdf"]["sha256"],
                    )
                    db.add(report)
                    provenance.record_row(db, "report.create", report, actor=f"worker:{self.id}")
                if owned:
                    provenance.record_row(
                        db,
                        "analysis.finish",
                        db.get(Analysis, job.analysis_id, populate_existing=True),
                        actor=f"worker:{self.id}",
                    )
                    db.commit()
            log.info("worker %s: job %d %s", self.id, job.job_id, "done" if owned else "lost its lease; results dropped")
        except _LeaseLost:
            log.warning("worker %s: job %d was taken over by another worker", self.id, job.job_id)
        except DbrainError as exc:
            with self.sessions() as db:
                self._record_finish(db, job, finish(db, job, error=" ".join(str(exc).split())))
        except Exception as exc:  # noqa: BLE001 - a failed job records why; the worker keeps going
            log.exception("job %d failed", job.job_id)
            with self.sessions() as db:
                self._record_finish(
                    db, job, finish(db, job, error=f"internal error ({type(exc).__name__}): {' '.join(str(exc).split())}"[:2000])
                )
        finally:
            done.set()
            beater.join(timeout=self.settings.heartbeat_seconds + 5)
            shutil.rmtree(scratch, ignore_errors=True)

    def _record_finish(self, db, job: Claim, owned: bool) -> None:
        """Vouch for the finished analysis row in the ledger (see :func:`dbrain.server.provenance.record_row`)."""
        if owned:
            provenance.record_row(
                db, "analysis.finish", db.get(Analysis, job.analysis_id, populate_existing=True), actor=f"worker:{self.id}"
            )
            db.commit()

    def _ledger(self, job: Claim, rec_sha: str, results: dict, summary: dict) -> int | None:
        import hashlib

        from ..ledger import Ledger
        from ..ledger.records import canonical_json

        try:
            with Ledger(self.settings.db_url, keys=self.settings.home / "keys" / "ledger") as ledger:
                ingested = ledger.find(kind="recording-ingested", content_hash=rec_sha)
                entry = ledger.record(
                    "analysis-run",
                    [self.store.path(v["sha256"]) for v in results.values()],
                    role="output",
                    content_hash=hashlib.sha256(canonical_json({k: v["sha256"] for k, v in results.items()})).hexdigest(),
                    actor=f"worker:{self.id}",
                    parents=[ingested[-1].leaf_hash.hex()] if ingested else [],
                    model_versions={s["name"]: str(s["version"]) for s in summary.get("steps", [])},
                    details={"analysis_id": job.analysis_id, "recording_sha256": rec_sha},
                )
                return entry.index
        except Exception as exc:  # noqa: BLE001 - provenance failure is logged, the analysis still counts
            log.error("ledger append failed for analysis %d: %s", job.analysis_id, exc)
            return None


def run_worker(settings: Settings, *, poll_seconds: float = 1.0, once: bool = False, parent_pid: int | None = None) -> None:
    """Run a worker loop in this process until SIGTERM/SIGINT (or an empty queue with ``once``).

    Parameters
    ----------
    settings : Settings
    poll_seconds : float
        Pause between claims when the queue is empty.
    once : bool
        Return when the queue is empty.
    parent_pid : int | None
        Also stop when this process is gone (for workers started by ``dbrain serve``).
    """
    import multiprocessing

    # Analysis steps may start process pools (e.g. the qEEG aperiodic fits). Forking a
    # process that runs a heartbeat thread can copy a held lock into the child, which
    # then hangs; children made by a fork server (or spawned) start clean.
    multiprocessing.set_start_method("forkserver", force=True)
    worker = Worker(settings)
    pid = os.getpid()

    def stop(signum, _frame):
        if os.getpid() != pid:
            # A process forked by an analysis step (a multiprocessing pool) inherits this
            # handler; its parent stops it with SIGTERM, so behave as the default would.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        log.info("worker %s: signal %d, stopping after the current job", worker.id, signum)
        worker.stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        worker.run(poll_seconds=poll_seconds, once=once, parent_pid=parent_pid)
    finally:
        worker.close()


def wait_for(predicate, timeout: float, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy (for tests and tools).

    Parameters
    ----------
    predicate : callable
    timeout : float
        Seconds.
    interval : float
        Seconds between polls.

    Returns
    -------
    value : object
        The first truthy value, or None on timeout.
    """
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
