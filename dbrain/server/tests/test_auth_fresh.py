"""A role change, deactivation or password reset takes effect at the next request in every web process.

The token and its user are read from the database on every request (nothing is cached per process), so a
second app on the same database (another web process of ``dbrain serve --web-workers``) sees a change made
through the first at once.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from dbrain.server import create_app


def test_changes_take_effect_at_once_in_another_process(world):
    other = create_app(world.app.state.settings)  # a second web process on the same database
    with TestClient(other, base_url="https://testserver") as two:
        tech, admin = world.as_("tech"), world.as_("admin")
        me = two.get("/api/auth/me", headers=tech)
        assert me.status_code == 200 and me.json()["user"]["role"] == "technologist"
        assert two.get("/api/recordings", headers=tech).status_code == 200

        # Role change through process one: process two answers with the new role at the next request.
        r = world.client.patch(f"/api/users/{world.users['tech']}", json={"role": "researcher"}, headers=admin)
        assert r.status_code == 200, r.text
        assert two.get("/api/auth/me", headers=tech).json()["user"]["role"] == "researcher"
        up = two.post("/api/recordings?filename=x.edf", content=b"0", headers=tech)
        assert up.status_code == 403  # uploads are not a researcher's

        # Deactivation: 401 at once.
        assert world.client.patch(f"/api/users/{world.users['res']}", json={"active": False}, headers=admin).status_code == 200
        assert two.get("/api/recordings", headers=world.as_("res")).status_code == 401

        # A password reset revokes the user's tokens: 401 at once.
        assert two.get("/api/recordings", headers=world.as_("clin")).status_code == 200
        reset = world.client.patch(
            f"/api/users/{world.users['clin']}", json={"password": "violet harbour engine 93 teacup"}, headers=admin
        )
        assert reset.status_code == 200, reset.text
        assert two.get("/api/recordings", headers=world.as_("clin")).status_code == 401
    other.state.engine.dispose()
