"""The access-control matrix: every endpoint x every role x own/other site x no/wrong credentials.

The endpoints are enumerated from the FastAPI app itself, so a new endpoint
without a row in :data:`SPEC` fails this test instead of escaping it. Every
case runs as a fresh user (and token) of its role, against fresh target
objects where the request changes them, through the real routes, database
and object store. No site role may ever succeed on another site's object
(admin actions included), and every success of a site role's list must list
its own site's rows only.
"""

from __future__ import annotations

import io
import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

import dbrain
from dbrain.server.roles import (
    CAN_ACK_ALARM,
    CAN_ANALYSE,
    CAN_ANNOTATE,
    CAN_MANAGE_BEDS,
    CAN_MANAGE_USERS,
    CAN_POST_WARD,
    CAN_PRESCRIBE_NFB,
    CAN_RUN_NFB,
    CAN_SEE_IDENTITY,
    CAN_SIGN,
    CAN_UNBLIND,
    CAN_UPLOAD,
    CAN_WATCH_WARD,
    INSTANCE_ADMIN,
    ROLES,
    SITE_ROLES,
)

from .conftest import PASSWORD, _make_world, password_hash

SAMPLE = Path(dbrain.__file__).parent / "data" / "sample" / "iiic_seizure_sample.edf"
PUBLIC = "public"
ANY = ROLES  # every signed-in user, the instance administrator included


@dataclass
class Rule:
    """Who may call an endpoint and what a successful call answers.

    ``target`` names the kind of object the request is about (None: the
    caller's own things, no other site to aim at); ``instance_any_site``: the
    instance administrator manages every site, so both targets succeed.
    """

    allowed: tuple | str
    ok: int
    target: str | None = None
    body: object = None
    params: dict = field(default_factory=dict)
    instance_any_site: bool = False
    #: What the instance administrator gets when it differs from the rule above (a site's ledger entry: 404).
    instance_expected: int | None = None


SPEC: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(PUBLIC, 307),
    ("GET", "/api/health"): Rule(PUBLIC, 200),
    ("POST", "/api/auth/login"): Rule(PUBLIC, 200, body="login"),
    ("POST", "/api/auth/logout"): Rule(ANY, 204),
    ("GET", "/api/auth/me"): Rule(ANY, 200),
    ("GET", "/api/auth/me/settings"): Rule(ANY, 200),
    ("PUT", "/api/auth/me/settings"): Rule(ANY, 200, body={"montages": {"mine": ["Fp1-F7", "C3-AVG"]}}),
    # The caller's own settings only (no id in the path: nobody can aim at another user's or site's).
    ("PATCH", "/api/auth/me/settings"): Rule(ANY, 200, body={"ward_uv_per_row": 200, "channel_gains": {"Cz": 7.0}}),
    ("POST", "/api/auth/password"): Rule(
        ANY, 204, body={"current_password": PASSWORD, "new_password": "violet tram under a quiet harbour"}
    ),
    ("POST", "/api/tokens"): Rule(ANY, 201, body={"name": "m"}),
    ("GET", "/api/tokens"): Rule(ANY, 200),
    ("DELETE", "/api/tokens/{token_id}"): Rule(ANY, 204, target="token"),
    ("GET", "/api/sites"): Rule(CAN_MANAGE_USERS, 200),
    ("POST", "/api/sites"): Rule((INSTANCE_ADMIN,), 201, body="site"),
    ("GET", "/api/users"): Rule(CAN_MANAGE_USERS, 200),
    ("POST", "/api/users"): Rule(CAN_MANAGE_USERS, 201, target="site", body="user", instance_any_site=True),
    ("PATCH", "/api/users/{user_id}"): Rule(
        CAN_MANAGE_USERS, 200, target="user", body={"role": "researcher"}, instance_any_site=True
    ),
    ("DELETE", "/api/users/{user_id}"): Rule(CAN_MANAGE_USERS, 204, target="user", instance_any_site=True),
    ("GET", "/api/audit"): Rule(CAN_MANAGE_USERS, 200),
    ("POST", "/api/recordings"): Rule(CAN_UPLOAD, 201, body="edf"),
    ("GET", "/api/recordings"): Rule(SITE_ROLES, 200),
    ("GET", "/api/recordings/{recording_id}"): Rule(SITE_ROLES, 200, target="recording"),
    ("GET", "/api/recordings/{recording_id}/identity"): Rule(CAN_SEE_IDENTITY, 200, target="recording"),
    ("GET", "/api/recordings/{recording_id}/file"): Rule(SITE_ROLES, 200, target="recording"),
    ("GET", "/api/recordings/{recording_id}/window"): Rule(
        SITE_ROLES, 200, target="recording", params={"start": 1, "duration": 5}
    ),
    ("GET", "/api/recordings/{recording_id}/events"): Rule(SITE_ROLES, 200, target="recording"),
    ("GET", "/api/recordings/{recording_id}/annotations"): Rule(SITE_ROLES, 200, target="recording"),
    ("POST", "/api/recordings/{recording_id}/annotations"): Rule(
        CAN_ANNOTATE, 201, target="recording", body={"onset": 1.0, "description": "m"}
    ),
    ("PATCH", "/api/annotations/{annotation_id}"): Rule(CAN_ANNOTATE, 200, target="annotation", body={"description": "n"}),
    ("DELETE", "/api/annotations/{annotation_id}"): Rule(CAN_ANNOTATE, 204, target="annotation"),
    ("GET", "/api/patients"): Rule(SITE_ROLES, 200),
    ("GET", "/api/patients/{patient_id}/identity"): Rule(CAN_SEE_IDENTITY, 200, target="patient"),
    ("POST", "/api/recordings/{recording_id}/analyses"): Rule(CAN_ANALYSE, 202, target="recording", body={}),
    ("GET", "/api/recordings/{recording_id}/analyses"): Rule(SITE_ROLES, 200, target="recording"),
    ("GET", "/api/analyses/{analysis_id}"): Rule(SITE_ROLES, 200, target="analysis"),
    ("GET", "/api/analyses/{analysis_id}/files/{name}"): Rule(SITE_ROLES, 200, target="analysis"),
    ("GET", "/api/analyses/{analysis_id}/tables/{name}"): Rule(SITE_ROLES, 200, target="analysis"),
    ("GET", "/api/analyses/{analysis_id}/report"): Rule(SITE_ROLES, 200, target="analysis"),
    ("POST", "/api/analyses/{analysis_id}/report/sign"): Rule(CAN_SIGN, 200, target="analysis"),
    ("GET", "/api/analyses/{analysis_id}/report/pdf"): Rule(SITE_ROLES, 200, target="analysis"),
    ("GET", "/api/analyses/{analysis_id}/reviews"): Rule(SITE_ROLES, 200, target="analysis"),
    ("PUT", "/api/analyses/{analysis_id}/reviews"): Rule(
        CAN_ANNOTATE, 200, target="analysis", body={"onset": 1.0, "event_type": "sz", "decision": "accepted"}
    ),
    ("GET", "/api/ledger/checkpoint"): Rule(ANY, 200),
    ("GET", "/api/ledger/entries/{index}/receipt"): Rule(ANY, 200, target="ledger", instance_expected=404),
    # Neurofeedback (docs/nfb-centre.md); the patient display's routes take no login (a one-time code's cookie).
    ("GET", "/api/nfb/protocols"): Rule(CAN_RUN_NFB, 200),
    ("POST", "/api/nfb/courses"): Rule(CAN_PRESCRIBE_NFB, 201, target="patient", body="course"),
    ("GET", "/api/nfb/courses"): Rule(CAN_RUN_NFB, 200),
    ("GET", "/api/nfb/courses/{course_id}"): Rule(CAN_RUN_NFB, 200, target="course"),
    ("GET", "/api/nfb/courses/{course_id}/sessions"): Rule(CAN_RUN_NFB, 200, target="course"),
    ("POST", "/api/nfb/courses/{course_id}/sessions"): Rule(CAN_RUN_NFB, 201, target="course", body={"source": "synthetic"}),
    ("POST", "/api/nfb/courses/{course_id}/unblind"): Rule(
        CAN_UNBLIND, 200, target="course", body={"reason": "serious adverse event review"}
    ),
    ("POST", "/api/nfb/courses/{course_id}/safety"): Rule(CAN_PRESCRIBE_NFB, 200, target="course", body="safety"),
    ("POST", "/api/nfb/courses/{course_id}/safety/override"): Rule(
        CAN_PRESCRIBE_NFB, 200, target="blocked_course", body={"reason": "EEG reviewed: benign variants"}
    ),
    ("POST", "/api/nfb/courses/{course_id}/outcomes"): Rule(
        CAN_PRESCRIBE_NFB, 201, target="course", body={"kind": "cgi-i", "timepoint": "post", "rating": 2}
    ),
    ("GET", "/api/nfb/courses/{course_id}/outcomes"): Rule(CAN_RUN_NFB, 200, target="course"),
    ("GET", "/api/nfb/courses/{course_id}/report"): Rule(CAN_RUN_NFB, 200, target="course"),
    ("GET", "/api/nfb/sessions/{session_id}"): Rule(CAN_RUN_NFB, 200, target="nfb_session"),
    ("POST", "/api/nfb/sessions/{session_id}/code"): Rule(CAN_RUN_NFB, 200, target="nfb_session"),
    ("POST", "/api/nfb/sessions/{session_id}/start"): Rule(CAN_RUN_NFB, 202, target="nfb_session"),
    ("POST", "/api/nfb/sessions/{session_id}/stop"): Rule(CAN_RUN_NFB, 202, target="running_session"),
    ("POST", "/api/nfb/sessions/{session_id}/controls"): Rule(
        CAN_RUN_NFB, 202, target="running_session", body={"target_reward_fraction": 0.6}
    ),
    ("GET", "/api/nfb/sessions/{session_id}/stream"): Rule(CAN_RUN_NFB, 200, target="nfb_session"),
    ("GET", "/api/nfb/sessions/{session_id}/report"): Rule(CAN_RUN_NFB, 200, target="done_session"),
    ("POST", "/api/nfb/display/code"): Rule(PUBLIC, 401, body={"code": "ABCD-EFGH"}),
    ("GET", "/api/nfb/display"): Rule(PUBLIC, 401),
    ("GET", "/api/nfb/display/stream"): Rule(PUBLIC, 401),
    ("POST", "/api/nfb/display/gonogo"): Rule(
        PUBLIC, 401, body={"trials": [{"stimulus": "go", "rt_ms": 300}, {"stimulus": "nogo"}]}
    ),
    ("GET", "/ward"): Rule(PUBLIC, 307),
    ("GET", "/api/ward/beds"): Rule(CAN_WATCH_WARD, 200),
    ("POST", "/api/ward/beds"): Rule(CAN_MANAGE_BEDS, 201, body="bed"),
    ("POST", "/api/ward/beds/{bed}/updates"): Rule(CAN_POST_WARD, 202, target="bed", body="ward_update"),
    ("GET", "/api/ward/beds/{bed}/recent"): Rule(CAN_WATCH_WARD, 200, target="bed"),
    ("POST", "/api/ward/beds/{bed}/recording"): Rule(CAN_ANNOTATE, 200, target="bed", body="ward_link"),
    ("GET", "/api/ward/alarms"): Rule(CAN_WATCH_WARD, 200),
    ("POST", "/api/ward/alarms/{alarm_id}/ack"): Rule(CAN_ACK_ALARM, 201, target="ward_alarm", body={"comment": "m"}),
    # The push stream: max_seconds=0 ends it after its first event, so the matrix reads it whole.
    ("GET", "/api/ward/stream"): Rule(CAN_WATCH_WARD, 200, params={"max_seconds": 0}),
}


class Matrix:
    """Two sites, fresh users and fresh objects on demand."""

    def __init__(self, world, tmp: Path):
        self.w = world
        self.tmp = tmp
        self.n = itertools.count()
        with world.session() as db:
            from dbrain.server.db import Site

            self.site = {s.name[-1]: s.id for s in db.scalars(select(Site))}
        # One uploaded recording per site (through the API: real ingest, real ledger entry).
        self.rec = {}
        self.beds: dict[str, int] = {}
        for site, who in (("A", "tech"), ("B", "tech_b")):
            r = self.upload(world.as_(who))
            assert r.status_code == 201, r.text
            self.rec[site] = r.json()

    def upload(self, headers):
        return self.w.client.post(
            "/api/recordings", params={"filename": "sample.edf"}, content=SAMPLE.read_bytes(),
            headers={**headers, "Content-Type": "application/octet-stream"},
        )  # fmt: skip

    def user(self, role: str, site: str | None):
        """A fresh user and its API token."""
        from dbrain.server.auth import new_token, token_hash
        from dbrain.server.db import ApiToken, User

        name = f"m{next(self.n)}-{role}"
        with self.w.session() as db:
            user = User(username=name, password_hash=password_hash(), role=role, site_id=self.site[site] if site else None)
            db.add(user)
            db.flush()
            token = new_token("dbr_")
            row = ApiToken(user_id=user.id, name="m", token_hash=token_hash(token))
            db.add(row)
            db.commit()
            return user.id, name, {"Authorization": f"Bearer {token}"}, row.id

    def analysis(self, site: str) -> int:
        """A finished analysis of the site's recording with a summary, a qEEG table and a draft report."""
        import pandas as pd

        from dbrain.server.db import Analysis, Report

        store = self.w.app.state.store
        results = {}
        summary = self.tmp / f"summary{next(self.n)}.json"
        summary.write_text('{"ok": true}')
        table = self.tmp / f"qeeg{next(self.n)}.parquet"
        pd.DataFrame(
            {"start": [0.0, 1.0], "channel": ["Cz", "Cz"], "measure": ["rel_alpha"] * 2, "value": [0.1, 0.2]}
        ).to_parquet(table)
        from dbrain.events import make_events, write_events

        events = write_events(make_events([1.0], [10.0], "sz", confidence=[0.9]), self.tmp / f"events{next(self.n)}.tsv")
        for name, path in (("summary.json", summary), ("qeeg.parquet", table), ("events.tsv", events)):
            sha, size = store.put_file(path)
            results[name] = {"sha256": sha, "size": size}
        rec = self.rec[site]
        with self.w.session() as db:
            row = Analysis(
                recording_id=rec["id"],
                site_id=rec["site_id"],
                requested_by=self.w.users["tech"],
                status="done",
                results=results,
                n_events=0,
            )
            db.add(row)
            db.flush()
            pdf = self.tmp / f"report{next(self.n)}.pdf"
            pdf.write_bytes(b"%PDF-1.4 report of analysis " + str(row.id).encode())
            pdf_sha, _ = store.put_file(pdf)
            db.add(Report(analysis_id=row.id, recording_id=rec["id"], site_id=rec["site_id"], status="draft", sha256=pdf_sha))
            db.commit()
            return row.id

    def annotation(self, site: str) -> int:
        from dbrain.server.db import Annotation

        rec = self.rec[site]
        with self.w.session() as db:
            row = Annotation(
                recording_id=rec["id"],
                site_id=rec["site_id"],
                onset=1.0,
                duration=0.0,
                description="x",
                channels=[],
                author_id=self.w.users["tech"],
            )
            db.add(row)
            db.commit()
            return row.id

    def course(self, site: str, safety: str = "cleared") -> int:
        """A course of the site's patient (real arm, sealed like the API does), cleared or blocked."""
        from dbrain.server.nfb_db import NfbAllocation, NfbCourse
        from dbrain.server.nfb_service import commitment

        rec = self.rec[site]
        with self.w.session() as db:
            row = NfbCourse(
                site_id=rec["site_id"], patient_id=rec["patient_id"], protocol="theta-beta", n_sessions=50,
                plan=[{"kind": "baseline", "minutes": 0.02}, {"kind": "training", "minutes": 0.03}, {"kind": "transfer", "minutes": 0.02}],
                created_by=self.w.users["clin"], allocation_commitment="0" * 64,
                safety_status=safety, safety={"findings": ["seizure history"]} if safety == "blocked" else {},
            )  # fmt: skip
            db.add(row)
            db.flush()
            row.allocation_commitment = commitment(row.id, "real", "ab" * 32)
            db.add(
                NfbAllocation(course_id=row.id, site_id=row.site_id, arm="real", nonce="ab" * 32, seed="01", sham_fraction=0.0)
            )
            db.commit()
            return row.id

    def nfb_session(self, site: str, state: str) -> int:
        """A planned session (speed 100, a few seconds), a running one, or a finished one with a feedback table."""
        import pandas as pd

        from dbrain.server.nfb_db import NfbCourse, NfbSession
        from dbrain.server.nfb_service import LiveSession

        course_id = self.course(site)
        results = {}
        if state == "done_session":
            table = self.tmp / f"feedback{next(self.n)}.parquet"
            pd.DataFrame(
                {
                    "time": [0.0, 0.25, 0.5],
                    "feature": [1.0, 2.0, 1.5],
                    "threshold": [1.2] * 3,
                    "reward": [False, True, True],
                    "inhibit": [False] * 3,
                }
            ).to_parquet(table)
            sha, size = self.w.app.state.store.put_file(table)
            results = {"feedback.parquet": {"sha256": sha, "size": size}}
        with self.w.session() as db:
            course = db.get(NfbCourse, course_id)
            status = {"running_session": "running", "done_session": "done"}.get(state, "planned")
            row = NfbSession(
                course_id=course.id, site_id=course.site_id, patient_id=course.patient_id, number=1, status=status, source="synthetic",
                speed=100.0, blocks=course.plan, results=results,
            )  # fmt: skip
            db.add(row)
            db.commit()
            if state == "running_session":
                from dbrain.nfb import SessionControl

                control = SessionControl()
                self.w.app.state.nfb.live[row.id] = LiveSession(row.id, stop=control.stop_event, control=control)
            return row.id

    def bed(self, site: str) -> int:
        """The site's bed (made once)."""
        from dbrain.server.db import WardBed

        if site not in self.beds:
            with self.w.session() as db:
                row = WardBed(site_id=self.site[site], name=f"bed-{site}", created_by=self.w.users["admin"])
                db.add(row)
                db.commit()
                self.beds[site] = row.id
        return self.beds[site]

    def ward_alarm(self, site: str) -> int:
        """A fresh, unacknowledged alarm of the site's bed."""
        import uuid

        from dbrain.server.db import WardAlarm

        with self.w.session() as db:
            row = WardAlarm(
                uuid=str(uuid.uuid4()), bed_id=self.bed(site), site_id=self.site[site], stream="s", type="seizure", raised=5.0,
                channels=[], state="raised", posted_by=self.w.users["tech"],
            )  # fmt: skip
            db.add(row)
            db.commit()
            return row.id

    def path(self, route: str, target: str | None, site: str, caller_token_id: int) -> str:
        rec = self.rec[site]
        values = {"recording_id": rec["id"], "patient_id": rec["patient_id"], "index": rec["ledger_index"], "name": None}
        if target == "bed":
            values["bed"] = self.bed(site)
        if target == "ward_alarm":
            values["alarm_id"] = self.ward_alarm(site)
        if target == "user":
            values["user_id"] = self.user("technologist", site)[0]
        if target == "token":
            values["token_id"] = caller_token_id if site == "A" else self.user("technologist", "B")[3]
        if target == "annotation":
            values["annotation_id"] = self.annotation(site)
        if target in ("course", "blocked_course"):
            values["course_id"] = self.course(site, "blocked" if target == "blocked_course" else "cleared")
        if target in ("nfb_session", "running_session", "done_session"):
            values["session_id"] = self.nfb_session(site, target)
        if target == "analysis":
            values["analysis_id"] = self.analysis(site)
            values["name"] = "qeeg" if "/tables/" in route else "summary.json"
        return route.format(**values)

    def body(self, rule: Rule, site: str, username: str):
        if rule.body == "login":
            return {"json": {"username": username, "password": PASSWORD}}
        if rule.body == "site":
            return {"json": {"name": f"Site {next(self.n)}"}}
        if rule.body == "user":
            return {
                "json": {
                    "username": f"new{next(self.n)}",
                    "password": "violet tram under a quiet harbour",
                    "role": "researcher",
                    "site_id": self.site[site],
                }
            }
        if rule.body == "course":
            return {"json": {"patient_id": self.rec[site]["patient_id"], "protocol": "theta-beta", "n_sessions": 2}}
        if rule.body == "safety":
            flags = {"epileptiform_history": False, "seizure_history": False, "anticonvulsants": False}
            return {"json": {"analysis_id": self.analysis(site), **flags}}
        if rule.body == "bed":
            return {"json": {"name": f"bed{next(self.n)}"}}
        if rule.body == "ward_update":
            import uuid

            frame = {"t": float(next(self.n)), "wall": 1.8e9, "seizure_probability": 0.1}
            alarm = {"id": str(uuid.uuid4()), "raised": 1.0, "type": "flat", "channels": "Fp1"}
            return {"json": {"stream": "s", "frames": [frame], "alarms": [alarm]}}
        if rule.body == "ward_link":
            return {"json": {"stream": "s", "recording_id": self.rec[site]["id"]}}
        if rule.body == "edf":
            return {
                "content": SAMPLE.read_bytes(),
                "params": {"filename": "sample.edf"},
                "headers": {"Content-Type": "application/octet-stream"},
            }
        return {} if rule.body is None else {"json": rule.body}


@pytest.fixture
def matrix(db_url, tmp_path):
    """On SQLite and on PostgreSQL. The matrix logs in many times from one test client: no throttle here
    (test_login_defence tests it)."""
    w = _make_world(
        db_url, tmp_path / "home", login_client_rate="100000/minute", login_free_failures=100000, lease_seconds=60, heartbeat_seconds=30
    )  # fmt: skip
    with w.client:
        yield Matrix(w, tmp_path)
    w.app.state.engine.dispose()
    shutil.rmtree(tmp_path / "home", ignore_errors=True)


def _routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers with a FastAPI route, hidden ones included.

    Walks included routers too (FastAPI >= 0.16x keeps them as branches), and adds
    the OpenAPI spec's operations as a cross-check.
    """
    found: set[tuple[str, str]] = set()

    def walk(routes, prefix: str) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                found.update((m, prefix + r.path) for m in r.methods)
            elif hasattr(r, "original_router"):
                walk(r.original_router.routes, prefix + getattr(r.include_context, "prefix", ""))

    walk(app.routes, "")
    for path, ops in app.openapi()["paths"].items():
        found.update((m.upper(), path) for m in ops)
    return found


def test_every_endpoint_is_in_the_matrix(sqlite_world):
    routes = _routes(sqlite_world.app)
    missing = sorted(routes - set(SPEC))
    assert not missing, f"endpoints without a row in the access-control matrix (add them to SPEC): {missing}"
    assert not set(SPEC) - routes, f"rows for endpoints that no longer exist: {sorted(set(SPEC) - routes)}"


def test_access_control_matrix(matrix):
    m, client = matrix, matrix.w.client
    results: list[tuple] = []
    cross_site_successes = []
    for (method, route), rule in sorted(SPEC.items()):
        # Every role, as a fresh user of site A (the instance administrator: no site), at site A's and site B's objects.
        for role, site in itertools.product(ROLES, ("A", "B")):
            if rule.target is None and site == "B":
                continue  # nothing of another site to aim at
            uid, username, headers, token_id = m.user(role, None if role == INSTANCE_ADMIN else "A")
            path = m.path(route, rule.target, site, token_id)
            kwargs = m.body(rule, site, username)
            kwargs["headers"] = {**headers, **kwargs.get("headers", {})}
            kwargs.setdefault("params", {}).update(rule.params)
            r = client.request(method, path, follow_redirects=False, **kwargs)
            client.cookies.clear()
            if rule.allowed == PUBLIC:
                expected = rule.ok
            elif role == INSTANCE_ADMIN and rule.instance_expected is not None:
                expected = rule.instance_expected
            elif role not in rule.allowed:
                expected = 403
            elif site == "A" or (role == INSTANCE_ADMIN and rule.instance_any_site):
                expected = rule.ok
            else:
                expected = 404
            results.append((method, route, role, site, r.status_code, expected))
            if site == "B" and role != INSTANCE_ADMIN and r.status_code < 400:
                cross_site_successes.append((method, route, role, r.status_code))
            # A site role's successful list shows its own site's rows only.
            if (
                r.status_code == 200
                and role != INSTANCE_ADMIN
                and r.headers.get("content-type", "").startswith("application/json")
            ):
                data = r.json()
                rows = data if isinstance(data, list) else []
                assert all(row.get("site_id") in (None, m.site["A"]) for row in rows if isinstance(row, dict)), (
                    method,
                    route,
                    role,
                )
        # No or wrong credentials.
        if rule.allowed != PUBLIC:
            path = m.path(route, rule.target, "A", m.user("technologist", "A")[3])
            for creds in ({}, {"Authorization": "Bearer dbr_wrong"}, {"Cookie": "dbrain_session=wrong"}):
                kwargs = m.body(rule, "A", "nobody")
                kwargs["headers"] = {**kwargs.get("headers", {}), **creds}
                kwargs.setdefault("params", {}).update(rule.params)
                client.cookies.clear()
                r = client.request(method, path, follow_redirects=False, **kwargs)
                results.append((method, route, f"creds={creds or 'none'}", "A", r.status_code, 401))
        else:
            kwargs = m.body(rule, "A", "nobody")
            if rule.body == "login":
                kwargs["json"]["password"] = "wrong password"
                r = client.post(route, **kwargs)
                results.append((method, route, "wrong password", "A", r.status_code, 401))
        client.cookies.clear()

    wrong = [r for r in results if r[4] != r[5]]
    assert not cross_site_successes, f"cross-site successes: {cross_site_successes}"
    assert not wrong, "unexpected statuses (method, route, role, target site, got, expected):\n" + "\n".join(map(str, wrong))
    assert len(results) > 300

    # Every refused cross-site admin action is in the TARGET site's audit log.
    from dbrain.server.db import AuditEvent

    with m.w.session() as db:
        denied = list(db.scalars(select(AuditEvent).where(AuditEvent.site_id == m.site["B"], AuditEvent.outcome == "denied")))
    actions = {e.action for e in denied if e.detail.get("reason") == "other site"}
    assert {"user.create", "user.update", "user.delete", "cross-site"} <= actions
    # Data too: every kind of object aimed at in site B is in B's log, with the caller's site.
    probed = {(e.object_type, e.detail.get("from_site")) for e in denied if e.action == "cross-site"}
    assert {t for t, _ in probed} == {
        "recording",
        "analysis",
        "annotation",
        "patient",
        "nfb_course",
        "nfb_session",
        "bed",
        "ward_alarm",
    }
    assert {f for _, f in probed} == {m.site["A"]}


def test_cross_site_admin_cannot_take_over_another_site(matrix):
    """The attack of issue #15: B's admin resets A's clinician's password, logs in as them, reads identities."""
    m, c = matrix, matrix.w.client
    admin_b = m.w.as_("admin_b")
    clin_a = m.w.users["clin"]
    assert (
        c.patch(f"/api/users/{clin_a}", json={"password": "violet tram under a quiet harbour"}, headers=admin_b).status_code
        == 404
    )
    assert (
        c.post("/api/auth/login", json={"username": "clin", "password": "violet tram under a quiet harbour"}).status_code == 401
    )
    assert c.patch(f"/api/users/{m.w.users['admin']}", json={"role": "researcher"}, headers=admin_b).status_code == 404
    assert c.delete(f"/api/users/{m.w.users['admin']}", headers=admin_b).status_code == 404
    user = {"username": "mole", "password": "violet tram under a quiet harbour", "role": "clinician", "site_id": m.site["A"]}
    assert c.post("/api/users", json=user, headers=admin_b).status_code == 404
    # Nothing changed at site A; its admin sees every attempt in its own log.
    me = c.get("/api/auth/me", headers=m.w.as_("admin")).json()["user"]
    assert me["role"] == "admin" and me["active"]
    log = c.get("/api/audit", headers=m.w.as_("admin"), params={"limit": 1000}).json()
    tried = [(e["action"], e["username"]) for e in log if e["outcome"] == "denied" and e["detail"].get("reason") == "other site"]
    assert sorted(tried) == sorted([("user.update", "admin_b")] * 2 + [("user.delete", "admin_b"), ("user.create", "admin_b")])
    # The instance administrator cannot be created or managed through a site's API.
    assert c.post("/api/users", json={**user, "role": INSTANCE_ADMIN}, headers=m.w.as_("admin")).status_code == 422
    assert c.patch(f"/api/users/{m.w.users['root']}", json={"active": False}, headers=m.w.as_("admin")).status_code == 404
    assert c.post("/api/users", json={**user, "username": "mole2"}, headers=m.w.as_("root")).status_code == 201
    # A role listing is one constant: the API's schema offers exactly the site roles.
    spec = c.get("/openapi.json").json()
    assert tuple(spec["components"]["schemas"]["UserIn"]["properties"]["role"]["enum"]) == SITE_ROLES


def test_ledger_reads_are_scoped_and_show_no_server_paths(matrix):
    m, c = matrix, matrix.w.client
    home = str(m.w.app.state.settings.home)
    a, b = m.rec["A"]["ledger_index"], m.rec["B"]["ledger_index"]
    mine = c.get(f"/api/ledger/entries/{a}/receipt", headers=m.w.as_("res"))
    assert mine.status_code == 200 and home not in mine.text and '"/' not in mine.text
    assert mine.json()["entry"]["record"]["artifacts"][0]["path"] == "[server path]"
    for who in ("res", "clin", "admin", "root"):
        assert c.get(f"/api/ledger/entries/{b}/receipt", headers=m.w.as_(who)).status_code == 404
    assert c.get(f"/api/ledger/entries/{b}/receipt", headers=m.w.as_("res_b")).status_code == 200
    from dbrain.server.routes.ledger import verify_redacted_receipt

    keys = c.get("/api/ledger/checkpoint", headers=m.w.as_("res")).json()["verifier_keys"]
    assert verify_redacted_receipt(mine.json(), keys) >= 2


def test_failed_upload_audit_keeps_no_file_name(matrix):
    m, c = matrix, matrix.w.client
    name = "Doe_Jane_1961-02-03.edf"
    r = c.post(
        "/api/recordings", params={"filename": name}, content=io.BytesIO(b"0       " + bytes(300)).read(),
        headers={**m.w.as_("tech"), "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert r.status_code == 422
    log = c.get("/api/audit", headers=m.w.as_("admin"), params={"action": "recording.upload"}).json()
    failed = [e for e in log if e["outcome"] == "failed"]
    assert failed and "Doe" not in str(failed) and "Jane" not in str(failed)
    assert len(failed[0]["detail"]["original_sha256"]) == 64 and "[upload]" in failed[0]["detail"]["error"]
