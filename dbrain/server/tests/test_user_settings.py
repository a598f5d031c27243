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
