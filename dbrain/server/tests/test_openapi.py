"""The served OpenAPI spec, checked with schemathesis (bounded and deterministic)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance  # noqa: E402

from .conftest import _make_world, upload  # noqa: E402


@pytest.fixture(scope="module")
def api_world(tmp_path_factory, shared_data):
    home = tmp_path_factory.mktemp("openapi")
    w = _make_world(f"sqlite:///{home / 'dc.sqlite'}", home / "home", ledger=False)
    edf = shared_data / "formats" / "eeglab-sample-data" / "sample_data" / "test_data" / "test.edf"
    if edf.is_file():
        with w.client:
            assert upload(w, edf).status_code == 201
    yield w
    w.app.state.engine.dispose()


def test_spec_is_served(api_world):
    spec = api_world.client.get("/openapi.json").json()
    assert spec["info"]["title"] == "dbrain data centre"
    assert {"/api/recordings", "/api/recordings/{recording_id}/window", "/api/annotations/{annotation_id}"} <= set(spec["paths"])


def test_api_conforms_to_its_spec(api_world):
    """Every operation, a few generated requests each (fixed seed): no 5xx, documented status codes and bodies.

    The pytest plugin of schemathesis (``from_fixture``) does not run under this pytest, so the
    operations are driven through Hypothesis directly.
    """
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", api_world.app)
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    headers = api_world.as_("clin")  # a clinician of site A reaches most operations; admin-only ones answer 403
    n = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/ward/stream":
            continue  # an open-ended event stream (up to an hour per request): test_ward reads it from a real server

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            case.call_and_validate(headers=headers, checks=checks)

        run()
        n += 1
    assert n >= 20
