"""The live ward API: a monitor's updates (from a real recording), alarms stored and vouched for, acknowledgements,
annotations on the session's recording, site scoping, and the push stream of a real ``dbrain serve`` across a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from dbrain.server import provenance

from . import ward_feed
from .conftest import upload


def _verify(world):
    return provenance.verify_rows(provenance._ledger(world.app.state.settings), world.app.state.engine)


def _baseline(world):
    """Vouch for the fixture's users (made outside the service), as test_integrity does."""
    provenance.seal_baseline(world.app.state.settings, world.app.state.engine, actor="test")


def _bed(world, name="ICU-1", who="admin"):
    r = world.client.post("/api/ward/beds", json={"name": name}, headers=world.as_(who))
    assert r.status_code == 201, r.text
    return r.json()


def _replay(world, bed, stream="icu1-sample", per_post=5, who="tech"):
    outs = []
    for body in ward_feed.updates(stream, per_post=per_post):
        r = world.client.post(f"/api/ward/beds/{bed}/updates", json=body, headers=world.as_(who))
        assert r.status_code == 202, r.text
        outs.append(r.json())
    return outs


def test_replayed_seizure_is_stored_once_acknowledged_and_vouched_for(world):
    c = world.client
    _baseline(world)
    bed = _bed(world)
    frames, alarms = ward_feed.replay()
    assert [a["alarm"]["state"] for a in alarms] == ["raised", "cleared"]  # the sample's seizure, detected
    outs = _replay(world, "ICU-1")
    assert sum(o["frames"] for o in outs) == len(frames)
    assert sum(o["alarms_new"] for o in outs) == 1 and sum(o["alarms_changed"] for o in outs) == 1
    # Resent (a monitor retrying after a lost answer): nothing new, nothing shown twice.
    again = _replay(world, bed["id"])
    assert sum(o["frames"] + o["alarms_new"] + o["alarms_changed"] for o in again) == 0

    listed = c.get("/api/ward/alarms", headers=world.as_("clin")).json()
    assert len(listed) == 1
    alarm = listed[0]
    raised = alarms[0]["alarm"]
    assert (alarm["type"], alarm["state"], alarm["bed"], alarm["raised"], alarm["onset"]) == (
        "seizure",
        "cleared",
        "ICU-1",
        raised["raised"],
        raised["onset"],
    )
    assert alarm["ack"] is None and alarm["channels"] == raised["channels"]
    beds = c.get("/api/ward/beds", headers=world.as_("tech")).json()
    assert beds[0]["stream"] == "icu1-sample" and beds[0]["open_alarms"] == 1

    # The ring: every second's trend, the EEG strip of the last 10 s only.
    recent = c.get(f"/api/ward/beds/{bed['id']}/recent", headers=world.as_("clin")).json()
    assert len(recent["frames"]) == len(frames)
    assert sum(f["strip"] is not None for f in recent["frames"]) == 10
    assert recent["frames"][25]["seizure_probability"] == pytest.approx(frames[25]["seizure_probability"])

    # Acknowledged by a clinician only, once.
    url = f"/api/ward/alarms/{alarm['id']}/ack"
    assert c.post(url, json={"comment": "x"}, headers=world.as_("tech")).status_code == 403
    acked = c.post(url, json={"comment": "seen, lorazepam given"}, headers=world.as_("clin"))
    assert acked.status_code == 201, acked.text
    ack = acked.json()["ack"]
    assert ack["username"] == "clin" and ack["comment"] == "seen, lorazepam given"
    second = c.post(url, json={"comment": "me too"}, headers=world.as_("clin"))
    assert second.status_code == 409 and "acknowledged by clin" in second.json()["detail"]
    assert c.get("/api/ward/alarms", params={"unacknowledged": True}, headers=world.as_("clin")).json() == []
    assert c.get("/api/ward/beds", headers=world.as_("clin")).json()[0]["open_alarms"] == 0

    # The row-state ledger vouches for the alarm (raised, then cleared) and the acknowledgement.
    check = _verify(world)
    assert not check.problems, check.problems
    with world.app.state.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ward_acks SET comment = 'nothing seen' WHERE alarm_id = :i"), {"i": alarm["id"]})
        conn.execute(sa.text("UPDATE ward_alarms SET type = 'artifact' WHERE id = :i"), {"i": alarm["id"]})
    named = {(p.item, p.message.split(" from")[0]) for p in _verify(world).problems}
    with world.session() as db:
        ack_id = db.scalar(sa.text("SELECT id FROM ward_acks WHERE alarm_id = :i"), {"i": alarm["id"]})
    assert (f"ward_acks {ack_id}", "altered: comment differs") in named
    assert (f"ward_alarms {alarm['id']}", "altered: type differs") in named


def test_session_recording_gets_the_alarms_and_acks_as_annotations(world):
    c = world.client
    _baseline(world)
    _bed(world, "ICU-2")
    _replay(world, "ICU-2", stream="icu2-s1", per_post=10)
    alarm = c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]
    assert (
        c.post(f"/api/ward/alarms/{alarm['id']}/ack", json={"comment": "confirmed"}, headers=world.as_("clin")).status_code == 201
    )
    # The session ends: its recording (here the replayed file itself) is uploaded and linked to the bed's stream.
    rec = upload(world, ward_feed.SAMPLE).json()
    link = {"stream": "icu2-s1", "recording_id": rec["id"]}
    assert c.post("/api/ward/beds/ICU-2/recording", json=link, headers=world.as_("res")).status_code == 403
    r = c.post("/api/ward/beds/ICU-2/recording", json=link, headers=world.as_("tech"))
    assert r.status_code == 200, r.text
    assert r.json() == {"recording_id": rec["id"], "alarms": 1, "annotations": 2}
    notes = c.get(f"/api/recordings/{rec['id']}/annotations", headers=world.as_("res")).json()
    texts = sorted(n["description"] for n in notes)
    assert texts[0].startswith("ward alarm seizure acknowledged by clin at ") and texts[0].endswith(": confirmed")
    assert texts[1].startswith("ward alarm: seizure (raised at 23.0 s, confidence 0.")
    sz = next(n for n in notes if n["description"].startswith("ward alarm: "))
    assert sz["onset"] == alarm["onset"] and sz["onset"] + sz["duration"] == pytest.approx(alarm["raised"])
    # Linking again adds nothing; another recording is refused.
    assert c.post("/api/ward/beds/ICU-2/recording", json=link, headers=world.as_("tech")).json()["annotations"] == 0
    other = upload(world, ward_feed.SAMPLE, name="again.edf").json()
    assert (
        c.post(
            "/api/ward/beds/ICU-2/recording", json={**link, "recording_id": other["id"]}, headers=world.as_("tech")
        ).status_code
        == 409
    )
    assert c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]["recording_id"] == rec["id"]
    assert not _verify(world).problems


def test_ack_after_link_is_annotated_too(sqlite_world):
    world, c = sqlite_world, sqlite_world.client
    _baseline(world)
    _bed(world, "ICU-3")
    _replay(world, "ICU-3", stream="s3", per_post=25)
    rec = upload(world, ward_feed.SAMPLE).json()
    assert (
        c.post(
            "/api/ward/beds/ICU-3/recording", json={"stream": "s3", "recording_id": rec["id"]}, headers=world.as_("tech")
        ).json()["annotations"]
        == 1
    )
    alarm = c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]
    assert c.post(f"/api/ward/alarms/{alarm['id']}/ack", json={}, headers=world.as_("clin")).status_code == 201
    notes = c.get(f"/api/recordings/{rec['id']}/annotations", headers=world.as_("clin")).json()
    assert any(n["description"].startswith("ward alarm seizure acknowledged by clin") for n in notes)
    assert not _verify(world).problems


def test_two_clinicians_acknowledging_at_once_get_one_ack_and_one_409(world):
    from concurrent.futures import ThreadPoolExecutor

    from dbrain.server.auth import new_token, token_hash
    from dbrain.server.db import ApiToken, User

    from .conftest import password_hash

    c = world.client
    _bed(world, "ICU-6")
    _replay(world, "ICU-6", per_post=25)
    alarm = c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]

    with world.session() as db:  # a second clinician of site A
        user = User(
            username="clin2", password_hash=password_hash(), role="clinician", site_id=db.get(User, world.users["clin"]).site_id
        )
        db.add(user)
        db.flush()
        token = new_token("dbr_")
        db.add(ApiToken(user_id=user.id, name="t", token_hash=token_hash(token)))
        db.commit()
    heads = [world.as_("clin"), {"Authorization": f"Bearer {token}"}]
    url = f"/api/ward/alarms/{alarm['id']}/ack"
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda h: c.post(url, json={"comment": "mine"}, headers=h).status_code, heads))
    assert codes == [201, 409]
    assert c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]["ack"]["username"] in ("clin", "clin2")


def test_monitor_strip_is_shown_at_its_stream_time(sqlite_world):
    """A step at stream time 14.3 s, through the real monitor, the post and the bed's ring, is at 14.3 s on the page's
    time grid (the page draws sample i of a frame at t + i / sfreq): the strip lines up with the alarms' stream times."""
    import numpy as np

    from dbrain.monitor.tests.test_monitor import _marked_stream, page_times

    world = sqlite_world
    _bed(world, "ICU-9")
    frames = [f for f, _, _ in _marked_stream(256.0, 14.3)]
    for i in range(0, len(frames), 5):
        body = {"stream": "marked", "frames": frames[i : i + 5], "alarms": []}
        r = world.client.post("/api/ward/beds/ICU-9/updates", json=body, headers=world.as_("tech"))
        assert r.status_code == 202 and r.json()["frames"] == len(body["frames"]), r.text
    shown = world.client.get("/api/ward/beds/ICU-9/recent", headers=world.as_("clin")).json()["frames"]
    shown = [f for f in shown if f["strip"] is not None]
    assert len(shown) == 10 and shown[-1]["t"] == frames[-1]["t"]
    t, uv = page_times(shown)
    drawn = t[np.argmax(uv > 1000.0)]
    assert 14.3 <= drawn <= 14.3 + 0.06, drawn  # was 15.33: the monitor labelled a frame with its second's end


def test_updates_are_validated_strictly(sqlite_world):
    world, c = sqlite_world, sqlite_world.client
    _bed(world, "ICU-4")
    url, tech = "/api/ward/beds/ICU-4/updates", world.as_("tech")
    good = next(ward_feed.updates("s4"))
    frame = good["frames"][0]

    def post(body=None, raw=None):
        if raw is not None:
            return c.post(url, content=raw, headers={**tech, "Content-Type": "application/json"})
        return c.post(url, json=body, headers=tech)

    assert post(good).status_code == 202
    nan = json.dumps(good).replace(
        '"seizure_probability": ' + json.dumps(frame["seizure_probability"]), '"seizure_probability": NaN'
    )
    assert "NaN" in nan
    r = post(raw=nan)
    assert r.status_code == 422 and "NaN" in r.json()["detail"]
    alarm = {"id": "5f0c8a52-08f0-4b7e-9a49-3f0c2b4f1d11", "raised": 3.0, "type": "seizure", "state": "raised"}
    bad = [
        {**good, "frames": [frame] * 61},  # too many frames in one post
        {**good, "extra": 1},  # unknown field
        {**good, "stream": ""},
        {**good, "frames": [{**frame, "seizure_probability": 1.5}]},
        {**good, "frames": [{**frame, "dsa": {**frame["dsa"], "left": frame["dsa"]["left"][:-1]}}]},
        {**good, "frames": [{**frame, "strip": {**frame["strip"], "data": frame["strip"]["data"][:-1]}}]},
        {**good, "frames": [{**frame, "strip": {**frame["strip"], "data": [[40000] * 50] * 4}}]},
        {**good, "frames": [{**frame, "strip": {**frame["strip"], "data": [[0] * 500] * 4}}]},  # 10 s, not 1 s
        {**good, "alarms": [{**alarm, "type": "Seizure <b>"}]},
        {**good, "alarms": [{**alarm, "id": "not-a-uuid"}]},
        {**good, "alarms": [{**alarm, "state": "maybe"}]},
        {**good, "alarms": [alarm] * 201},
    ]
    for body in bad:
        assert post(body).status_code == 422, body
    # alarms.tsv's one-cell channel list is accepted.
    r = post({**good, "alarms": [{**alarm, "channels": "Fp1-F7, F7-T7"}]})
    assert r.status_code == 202 and r.json()["alarms_new"] == 1
    assert c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]["channels"] == ["Fp1-F7", "F7-T7"]
    assert c.post("/api/ward/beds/nosuchbed/updates", json=good, headers=tech).status_code == 404
    assert c.post("/api/ward/beds", json={"name": "1234"}, headers=world.as_("admin")).status_code == 422  # names are not ids
    assert c.post("/api/ward/beds", json={"name": "ICU-4"}, headers=world.as_("admin")).status_code == 409


def test_other_sites_beds_and_alarms_are_refused_and_audited_there(world):
    c = world.client
    bed = _bed(world, "ICU-5")
    _replay(world, "ICU-5", per_post=25)
    alarm = c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]
    body = next(ward_feed.updates("intruder"))
    # Site B's monitor and clinician: A's bed by id, A's alarm by id — 404, never A's data.
    assert c.post(f"/api/ward/beds/{bed['id']}/updates", json=body, headers=world.as_("tech_b")).status_code == 404
    assert c.post("/api/ward/beds/ICU-5/updates", json=body, headers=world.as_("tech_b")).status_code == 404
    assert c.get(f"/api/ward/beds/{bed['id']}/recent", headers=world.as_("clin_b")).status_code == 404
    assert c.post(f"/api/ward/alarms/{alarm['id']}/ack", json={}, headers=world.as_("clin_b")).status_code == 404
    assert c.get("/api/ward/alarms", headers=world.as_("clin_b")).json() == []
    assert c.get("/api/ward/beds", headers=world.as_("clin_b")).json() == []
    assert c.get("/api/ward/beds", headers=world.as_("res")).status_code == 403  # researchers do not watch the ward
    log = c.get("/api/audit", headers=world.as_("admin"), params={"limit": 1000}).json()
    probes = {(e["object_type"], e["username"]) for e in log if e["action"] == "cross-site"}
    assert {("bed", "tech_b"), ("bed", "clin_b"), ("ward_alarm", "clin_b")} <= probes
    # A's alarm is unchanged: no ack, still the stream A posted.
    assert c.get("/api/ward/alarms", headers=world.as_("clin")).json()[0]["ack"] is None


def test_hub_drops_a_stalled_page_and_keeps_bounded_rings():
    """A page that stops reading gets ``reset`` (then reconnects) instead of a queue that grows; rings are bounded."""
    import asyncio

    from dbrain.server.ward import QUEUE_SIZE, STRIP_FRAMES, TREND_SECONDS, WardHub

    hub = WardHub()
    frame = next(ward_feed.updates("s"))["frames"][0]

    async def scenario():
        stalled, reader = hub.subscribe(1), hub.subscribe(1)
        other_site = hub.subscribe(2)
        got = []
        for i in range(QUEUE_SIZE + 10):
            hub.publish(1, "frames", {"i": i})
            await asyncio.sleep(0)  # the thread-safe hand-over runs in the loop
            got.append(await reader.get())
        assert [json.loads(t)["i"] for _, t in got] == list(range(QUEUE_SIZE + 10))
        drained = [stalled.get_nowait() for _ in range(stalled.qsize())]
        assert drained == [("reset", "{}")]  # everything it had not read was dropped
        assert other_site.empty()  # another site's page gets nothing of site 1

    asyncio.run(scenario())
    kept = hub.add_frames(7, "s", [{**frame, "t": float(t)} for t in range(TREND_SECONDS + 50)])
    assert len(kept) == TREND_SECONDS + 50
    stream, frames = hub.recent(7)
    assert stream == "s" and len(frames) == TREND_SECONDS and frames[0]["t"] == 50.0
    assert sum(f["strip"] is not None for f in frames) == STRIP_FRAMES
    # The ring itself keeps only those strips (600 strips were ~17 MB per bed at 8 channels × 128 Hz); the frames
    # handed to the pages are not changed.
    assert sum(f["strip"] is not None for f in hub._beds[7].frames) == STRIP_FRAMES
    assert all(f["strip"] is not None for f in kept)
    assert hub.add_frames(7, "s", [{**frame, "t": 3.0}]) == []  # an old second again: not kept
    assert len(hub.add_frames(7, "s2", [{**frame, "t": 0.0}])) == 1 and len(hub.recent(7)[1]) == 1  # a new session


# --------------------------------------------------------------------------- a real server: push and restart

httpx = pytest.importorskip("httpx2")

PASSWORD = "a long ward test password"


def _make_user(env, db, user, role):
    made = subprocess.run(
        [sys.executable, "-m", "dbrain", "admin", "create-user", "--username", user, "--site", "Site A", "--role", role, "--db", db],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def _token(base, user):
    with httpx.Client(base_url=base, timeout=30) as c:
        login = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Cookie": f"dbrain_session={login.cookies['dbrain_session']}", "X-CSRF-Token": login.json()["csrf_token"]}
        return {"Authorization": f"Bearer {c.post('/api/tokens', json={'name': user}, headers=headers).json()['token']}"}


class _Listener(threading.Thread):
    """Reads the ward's push stream of a real server into a list of (event, data)."""

    def __init__(self, base, headers, n_frames):
        super().__init__(daemon=True)
        self.base, self.headers, self.events, self.error, self.n_frames = base, headers, [], None, n_frames
        self.open = threading.Event()

    def run(self):
        try:
            with httpx.Client(base_url=self.base, timeout=30) as c:
                with c.stream("GET", "/api/ward/stream", params={"max_seconds": 60}, headers=self.headers) as r:
                    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                    event = None
                    for line in r.iter_lines():
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event:
                            self.events.append((event, json.loads(line[5:])))
                            if event == "hello":
                                self.open.set()
                            got = sum(len(d["frames"]) for e, d in self.events if e == "frames")
                            if got >= self.n_frames and any(e == "alarm" and d["state"] == "cleared" for e, d in self.events):
                                return
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.open.set()


def test_push_stream_and_alarms_survive_a_restart(tmp_path):
    from .test_live import running_server

    home = tmp_path / "home"
    db = f"sqlite:///{home / 'dbrain.sqlite'}"
    env = {**os.environ, "DBRAIN_HOME": str(home), "DBRAIN_ADMIN_PASSWORD": PASSWORD}
    for user, role in (("boss", "admin"), ("clin", "clinician"), ("mon", "technologist")):
        _make_user(env, db, user, role)
    with running_server(env, db, tmp_path / "serve1.log", workers=0) as base:
        boss, clin, mon = _token(base, "boss"), _token(base, "clin"), _token(base, "mon")
        assert httpx.post(f"{base}/api/ward/beds", json={"name": "ICU-7"}, headers=boss).status_code == 201
        listener = _Listener(base, clin, len(ward_feed.replay()[0]))
        listener.start()
        assert listener.open.wait(30) and listener.error is None, listener.error
        t0 = time.monotonic()
        for body in ward_feed.updates("icu7", per_post=2):
            r = httpx.post(f"{base}/api/ward/beds/ICU-7/updates", json=body, headers=mon, timeout=30)
            assert r.status_code == 202, r.text
        listener.join(30)
        assert listener.error is None, listener.error
        kinds = [e for e, _ in listener.events]
        frames = [f for e, d in listener.events if e == "frames" for f in d["frames"]]
        assert len(frames) == len(ward_feed.replay()[0]), kinds
        assert [d["state"] for e, d in listener.events if e == "alarm"] == ["raised", "cleared"]
        # A frame is pushed as posted, within a second on this (loaded) machine.
        assert time.monotonic() - t0 < 60
        alarm = httpx.get(f"{base}/api/ward/alarms", headers=clin).json()[0]
        r = httpx.post(f"{base}/api/ward/alarms/{alarm['id']}/ack", json={"comment": "seen at the bedside"}, headers=clin)
        assert r.status_code == 201, r.text
        assert len(httpx.get(f"{base}/api/ward/beds/ICU-7/recent", headers=clin).json()["frames"]) == len(frames)
    with running_server(env, db, tmp_path / "serve2.log", workers=0) as base:
        after = httpx.get(f"{base}/api/ward/alarms", headers=clin).json()
        assert [(a["id"], a["state"], a["ack"]["username"], a["ack"]["comment"]) for a in after] == [
            (alarm["id"], "cleared", "clin", "seen at the bedside")
        ]
        # Frames lived in the first process's memory only.
        assert httpx.get(f"{base}/api/ward/beds/ICU-7/recent", headers=clin).json()["frames"] == []
    verify = subprocess.run(
        [sys.executable, "-m", "dbrain", "ledger", "verify", "--db", db], env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
