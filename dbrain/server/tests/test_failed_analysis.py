"""Upload keeps labels whole; an analysis without a usable EEG channel fails and cannot be signed (issue #15 item 6)."""

from __future__ import annotations

from pathlib import Path

from dbrain.server.tests.conftest import upload


def _sim(tmp_path: Path, *, no_eeg: bool) -> Path:
    from dbrain.simulate import write_simulated_edf

    path, _ = write_simulated_edf(tmp_path / "src" / "sim.edf", 20, seed=4)
    data = bytearray(path.read_bytes())
    ns = int(data[252:256])
    if no_eeg:
        for i in range(ns):
            if data[256 + 16 * i : 272 + 16 * i].strip() != b"EDF Annotations":
                data[256 + 16 * i : 272 + 16 * i] = f"EMG{i + 1}".encode().ljust(16)
    out = tmp_path / "upload" / ("no_eeg.edf" if no_eeg else "sim.edf")
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(bytes(data))
    return out


def test_upload_keeps_labels_of_a_simulated_eeg_patient(sqlite_world, tmp_path):
    """The patient field 'X X X Simulated_EEG' once turned every 'EEG Fp1-REF' into 'XXX Fp1-REF'."""
    w = sqlite_world
    src = _sim(tmp_path, no_eeg=False)
    rec = upload(w, src).json()
    stored = w.app.state.store.path(rec["sha256"]).read_bytes()
    ns = int(stored[252:256])
    labels = [stored[256 + 16 * i : 272 + 16 * i].strip() for i in range(ns)]
    assert b"EEG Fp1-REF" in labels and not [x for x in labels if x.startswith(b"XXX")]
    assert b"Simulated" not in stored[: 256 + 256 * ns]


def test_no_eeg_analysis_fails_with_reason_and_cannot_be_signed(sqlite_world, tmp_path):
    from dbrain.server import Worker

    w = sqlite_world
    rec = upload(w, _sim(tmp_path, no_eeg=True)).json()
    aid = w.client.post(f"/api/recordings/{rec['id']}/analyses", json={}, headers=w.as_("tech")).json()["id"]
    worker = Worker(w.app.state.settings, worker_id="w")
    try:
        assert worker.run_once() is True
        assert worker.run_once() is False  # failed for a reason: not retried
    finally:
        worker.close()
    a = w.client.get(f"/api/analyses/{aid}", headers=w.as_("clin")).json()
    assert a["status"] == "failed" and a["job"]["status"] == "failed", a
    assert a["error"].startswith("no usable EEG channel in ") and "EMG1" in a["error"]
    assert a["results"] == {}
    r = w.client.post(f"/api/analyses/{aid}/report/sign", headers=w.as_("clin"))
    assert r.status_code == 409 and "no usable EEG channel" in r.json()["detail"]
    assert w.client.get(f"/api/analyses/{aid}/report", headers=w.as_("clin")).status_code == 404
