"""A user's viewer settings on the server: montages, screen calibrations and channel gains follow the user."""

from __future__ import annotations

from sqlalchemy import select

from dbrain.server.db import AuditEvent

URL = "/api/auth/me/settings"
GOOD = {
    "montages": {"Temporal chain": ["Fp1-F7", "F7-T3", "T3-T5", "C3-AVG", "Cz-LAP", "ECG"]},
    "calibrations": {"1920x1080@1": 0.2653, "2560x1440@1.25": 0.2331},
    "channel_gains": {"T3-T5": 15.0},
    "ward_uv_per_row": 200,
}


def test_settings_round_trip_per_user(world):
    w = world
    assert w.client.get(URL, headers=w.as_("clin")).json() == {
        "montages": {},
        "calibrations": {},
        "channel_gains": {},
        "ward_uv_per_row": None,
        "updated_at": None,
    }
    put = w.client.put(URL, json=GOOD, headers=w.as_("clin"))
    assert put.status_code == 200, put.text
    got = w.client.get(URL, headers=w.as_("clin")).json()
    assert {k: got[k] for k in GOOD} == GOOD and got["updated_at"]
    # Another user (same site or not) has its own settings; nobody can address someone else's.
    for other in ("tech", "clin_b"):
        assert w.client.get(URL, headers=w.as_(other)).json()["montages"] == {}
    # A PUT replaces the whole set.
    assert w.client.put(URL, json={"montages": {}}, headers=w.as_("clin")).json()["calibrations"] == {}
    with w.session() as db:
        rows = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "settings.update")))
    assert len(rows) == 2 and rows[0].user_id == w.users["clin"] and rows[0].detail["montages"] == 1


def test_bad_settings_are_refused_with_one_line(world):
    w = world
    bad = [
        {"montages": {"x": ["Fp1;drop table"]}},
        {"montages": {"x": []}},
        {"montages": {"<script>": ["Cz"]}},
        {"montages": {f"m{i}": ["Cz"] for i in range(51)}},
        {"calibrations": {"big screen": 0.25}},
        {"calibrations": {"1920x1080@1": 5.0}},
        {"channel_gains": {"Cz": 0.0}},
        {"ward_uv_per_row": 150},  # not one of the ward strip's steps
        {"ward_uv_per_row": "auto"},
        {"unknown": 1},
    ]
    for body in bad:
        r = w.client.put(URL, json=body, headers=w.as_("clin"))
        assert r.status_code == 422, (body, r.text)
    assert w.client.put(URL, json=GOOD).status_code == 401
    assert w.client.get(URL, headers={"Authorization": "Bearer dbr_wrong"}).status_code == 401


def test_patch_changes_only_what_is_sent(world):
    w = world
    assert w.client.put(URL, json=GOOD, headers=w.as_("clin")).status_code == 200
    # The ward's field alone: everything else is kept.
    r = w.client.patch(URL, json={"ward_uv_per_row": 500}, headers=w.as_("clin"))
    assert r.status_code == 200, r.text
    assert r.json() == {**GOOD, "ward_uv_per_row": 500, "updated_at": r.json()["updated_at"]}
    # A key of a map is set or (null) removed; the map's other keys are kept.
    r = w.client.patch(
        URL,
        json={"channel_gains": {"Cz": 7.0}, "calibrations": {"2560x1440@1.25": None}, "montages": {"Mine": ["Cz"]}},
        headers=w.as_("clin"),
    )
    got = w.client.get(URL, headers=w.as_("clin")).json()
    assert got["channel_gains"] == {"T3-T5": 15.0, "Cz": 7.0}
    assert got["calibrations"] == {"1920x1080@1": 0.2653}
    assert set(got["montages"]) == {"Temporal chain", "Mine"} and got["ward_uv_per_row"] == 500
    # null: the ward's default again; a map sent as null is emptied.
    got = w.client.patch(URL, json={"ward_uv_per_row": None, "montages": None}, headers=w.as_("clin")).json()
    assert got["ward_uv_per_row"] is None and got["montages"] == {} and got["channel_gains"] == {"T3-T5": 15.0, "Cz": 7.0}
    # A first change creates the settings; nobody else's change.
    assert w.client.patch(URL, json={"ward_uv_per_row": 20}, headers=w.as_("tech")).json()["calibrations"] == {}
    assert w.client.get(URL, headers=w.as_("clin_b")).json()["ward_uv_per_row"] is None
    assert w.client.get(URL, headers=w.as_("tech")).json()["ward_uv_per_row"] == 20
    with w.session() as db:
        rows = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "settings.update").order_by(AuditEvent.id)))
    assert [r.detail.get("changed") for r in rows[1:]] == [
        ["ward_uv_per_row"],
        ["calibrations", "channel_gains", "montages"],
        ["montages", "ward_uv_per_row"],
        ["ward_uv_per_row"],
    ]


def test_bad_patches_are_refused_and_change_nothing(world):
    w = world
    assert w.client.put(URL, json=GOOD, headers=w.as_("clin")).status_code == 200
    before = w.client.get(URL, headers=w.as_("clin")).json()
    bad = [
        {"ward_uv_per_row": 150},
        {"montages": {"x": []}},
        {"montages": {"<script>": ["Cz"]}},
        {"calibrations": {"1920x1080@1": 5.0}},
        {"channel_gains": {"Cz": 0.0}},
        {"unknown": 1},
        [{"op": "replace", "path": "/ward_uv_per_row", "value": 200}],  # a JSON Patch, not a merge patch
    ]
    for body in bad:
        r = w.client.patch(URL, json=body, headers=w.as_("clin"))
        assert r.status_code == 422, (body, r.text)
    # Valid alone, too many once merged: 49 more montages on top of the one kept (at most 50).
    r = w.client.patch(URL, json={"montages": {f"m{i}": ["Cz"] for i in range(50)}}, headers=w.as_("clin"))
    assert r.status_code == 422 and "montages" in r.json()["detail"], r.text
    assert w.client.get(URL, headers=w.as_("clin")).json() == before
    assert w.client.patch(URL, json={"ward_uv_per_row": 200}).status_code == 401
    assert w.client.patch(URL, json={"ward_uv_per_row": 200}, headers={"Authorization": "Bearer dbr_wrong"}).status_code == 401


def test_two_concurrent_patches_keep_both_fields(world, monkeypatch):
    """The viewer and the ward tab save at the same moment: both read the same settings before either writes.
    Each change is kept (a whole-set PUT, or a patch written over the other's, loses one of them)."""
    import threading

    from dbrain.server.schemas import UserSettingsPatch

    w = world
    assert w.client.put(URL, json=GOOD, headers=w.as_("clin")).status_code == 200
    both_read = threading.Barrier(2, timeout=30)
    apply, first = UserSettingsPatch.apply, threading.local()

    def racing_apply(self, current):
        out = apply(self, current)
        if not getattr(first, "done", False):  # the first attempt of each request waits for the other's read
            first.done = True
            both_read.wait()
        return out

    monkeypatch.setattr(UserSettingsPatch, "apply", racing_apply)
    bodies = [{"ward_uv_per_row": 1000}, {"channel_gains": {"Cz": 7.0}, "calibrations": {"1920x1080@1": None}}]
    answers: list = [None, None]

    def send(i):
        answers[i] = w.client.patch(URL, json=bodies[i], headers=w.as_("clin"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    got = w.client.get(URL, headers=w.as_("clin")).json()
    assert got["ward_uv_per_row"] == 1000
    assert got["channel_gains"] == {"T3-T5": 15.0, "Cz": 7.0} and got["calibrations"] == {"2560x1440@1.25": 0.2331}
    assert got["montages"] == GOOD["montages"]
