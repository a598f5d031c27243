"""dbrain batch on a local Dask cluster: results, error rows, resumption, the store and queries."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dbrain.batch import (
    EVENTS_SCHEMA,
    FEATURES_SCHEMA,
    RECORDINGS_SCHEMA,
    QueryError,
    analysis_config,
    collect_inputs,
    config_hash,
    query,
    run_batch,
)
from dbrain.errors import ParameterError, RecordingError
from dbrain.simulate import write_simulated_edf

STEPS = ["recording", "qeeg"]
TEST_EDF = "formats/eeglab-sample-data/sample_data/test_data/test.edf"
BIDS = "formats/eeglab-sample-data/sample_data/test_data/BIDS_test"


@pytest.fixture(scope="module")
def batch_data(tmp_path_factory):
    """Two simulated 1-min recordings, one real EDF and a truncated copy of it, plus a manifest."""
    from dbrain.conftest import SHARED_DATA

    root = tmp_path_factory.mktemp("batch_data")
    folder = root / "site-a"
    folder.mkdir()
    for i in range(2):
        write_simulated_edf(folder / f"sim{i}.edf", "1min", seed=i)
    real = SHARED_DATA / TEST_EDF
    if real.is_file():
        shutil.copy(real, folder / "real.edf")
        (folder / "corrupt.edf").write_bytes(real.read_bytes()[:4000])
    return folder


def test_collect_inputs(batch_data, shared_data, tmp_path):
    items = collect_inputs(batch_data)
    assert {i.subject for i in items} >= {"sim0", "sim1"}
    assert {i.dataset for i in items} == {"site-a"}
    assert not any(i.path.endswith("_events.tsv") for i in items)
    manifest = tmp_path / "cohort.csv"
    manifest.write_text(f"path,subject,dataset,age,group\n{batch_data}/sim0.edf,p 1,study/x,31,normal\n", encoding="utf-8")
    (item,) = collect_inputs(manifest)
    assert (item.subject, item.dataset, item.meta) == ("p_1", "study_x", {"age": "31", "group": "normal"})
    bids = collect_inputs(shared_data / BIDS)
    assert [(i.dataset, i.subject, i.meta.get("Age")) for i in bids] == [("BIDS_test", "S1", "32")]
    bad = tmp_path / "bad.csv"
    bad.write_text("file\nx.edf\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="no 'path' column"):
        collect_inputs(bad)
    with pytest.raises(RecordingError, match="does not exist"):
        collect_inputs(tmp_path / "nothing")


def test_config_hash():
    base = config_hash(analysis_config(STEPS))
    assert base == config_hash(analysis_config(STEPS))
    assert base != config_hash(analysis_config(["recording"]))
    assert base != config_hash(analysis_config(STEPS, {"qeeg": {"window": 4.0}}))
    assert base == config_hash(analysis_config(STEPS, {"qeeg": {"n_jobs": 1}}))  # how it runs, not what
    with pytest.raises(ValueError, match="step"):
        analysis_config(["nope"])


def test_batch_local_cluster(batch_data, shared_data, tmp_path, monkeypatch):
    store = tmp_path / "store"
    seen = []
    result = run_batch(batch_data, store, steps=STEPS, n_jobs=2, on_result=lambda row, done, total: seen.append((done, total)))
    rows = result.rows.set_index("subject")
    assert seen[-1] == (4, 4)
    assert result.n_computed == 4 and result.n_skipped == 0
    # The corrupt file: one error row with the reader's one-line reason; every other result is there.
    assert rows.loc["corrupt", "status"] == "error"
    assert rows.loc["corrupt", "error"].startswith("cannot read 'corrupt.edf': ")
    assert "\n" not in rows.loc["corrupt", "error"]
    assert (rows.drop("corrupt")["status"] == "ok").all()

    # The store: documented schemas, partitioned by dataset and subject.
    for table, schema in (("recordings", RECORDINGS_SCHEMA), ("features", FEATURES_SCHEMA)):
        files = sorted((store / table).glob("dataset=site-a/subject=*/*.parquet"))
        assert files and all(pq.read_schema(f).remove_metadata() == schema for f in files)
    events_files = list((store / "events").rglob("*.parquet"))
    assert all(pq.read_schema(f).remove_metadata() == EVENTS_SCHEMA for f in events_files)
    key = rows.loc["sim0", "key"]
    assert (store / "results" / key / "_SUCCESS").is_file() and (store / "results" / key / "summary.json").is_file()
    assert not (store / "results" / key / "report.html").exists()  # a batch renders nothing unless asked (report=True)

    recs = query("SELECT subject, status, duration, n_eeg, sfreq FROM recordings ORDER BY subject", store)
    assert list(recs["subject"]) == ["corrupt", "real", "sim0", "sim1"]
    assert recs.set_index("subject").loc["sim0", "duration"] == pytest.approx(60.0)
    assert recs.set_index("subject").loc["sim0", "n_eeg"] == 19
    qeeg = query("SELECT subject, count(*) AS n FROM qeeg GROUP BY subject ORDER BY subject", store)
    assert list(qeeg["subject"]) == ["real", "sim0", "sim1"] and (qeeg["n"] > 0).all()
    feats = query("SELECT value FROM features WHERE step = 'qeeg' AND feature = 'n_epochs' AND subject = 'sim0'", store)
    assert feats["value"].iloc[0] > 0
    with pytest.raises(QueryError, match="nope"):
        query("SELECT * FROM nope", store)

    # A rerun does no work; a changed configuration recomputes (only what it must, with new keys).
    again = run_batch(batch_data, store, steps=STEPS, n_jobs=2)
    assert again.n_computed == 0 and again.n_skipped == 4
    before = result.rows.set_index("subject")["status"].to_dict()
    assert again.rows.set_index("subject")["status"].to_dict() == before
    retried = run_batch(batch_data, store, steps=STEPS, n_jobs=1, retry_errors=True)
    assert retried.rows.set_index("subject")["action"].to_dict() == {
        "corrupt": "computed",
        "real": "skipped",
        "sim0": "skipped",
        "sim1": "skipped",
    }
    changed = run_batch(batch_data, store, steps=["recording"], n_jobs=1)
    assert changed.n_computed == 4
    assert set(changed.rows["key"]).isdisjoint(result.rows["key"])
    configs = query("SELECT DISTINCT config_hash FROM recordings", store)
    assert len(configs) == 2


def test_cli_batch_and_query(batch_data, tmp_path, capsys):
    from dbrain.cli import main

    store = tmp_path / "store"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "batch",
                str(batch_data / "sim0.edf").rsplit("/", 1)[0],
                "--out",
                str(store),
                "--steps",
                "recording",
                "--workers",
                "1",
            ]
        )
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    assert "0 skipped" in out and "computed" in out
    if (batch_data / "corrupt.edf").exists():
        assert "error: " in err and "corrupt.edf" in err
    csv = tmp_path / "r.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["query", "SELECT subject, status FROM recordings ORDER BY subject", "--store", str(store), "--csv", str(csv)])
    assert exit_info.value.code == 0
    table = pd.read_csv(csv)
    assert "sim0" in set(table["subject"])
    with pytest.raises(SystemExit) as exit_info:
        main(["query", "SELECT * FROM missing_table", "--store", str(store)])
    assert exit_info.value.code == 2
    assert "missing_table" in capsys.readouterr().err
    summary = json.loads((store / "_config").glob("*.json").__next__().read_text())
    assert [s["name"] for s in summary["steps"]] == ["recording"]


def test_norms(batch_data, tmp_path, capsys):
    from dbrain.batch import build_norms, recording_values, zscores
    from dbrain.cli import main

    lines = ["path,subject,age,group"]
    for i, age in enumerate([25, 33, 41]):
        write_simulated_edf(tmp_path / f"n{i}.edf", "1min", seed=100 + i)
        lines.append(f"n{i}.edf,n{i},{age},normal")
    lines.append(f"{batch_data / 'sim0.edf'},patient,50,patient")
    (tmp_path / "cohort.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = tmp_path / "store"
    result = run_batch(tmp_path / "cohort.csv", store, steps=STEPS, n_jobs=1)
    assert (result.rows["status"] == "ok").all()
    assert query("SELECT count(*) AS n FROM recordings WHERE \"group\" = 'normal' AND age IS NOT NULL", store)["n"][0] == 3

    norms = build_norms(store, group="normal", age_bins=[18, 30, 60])
    overall = norms[norms["age_min"].isna()]
    alpha = overall[(overall["feature"] == "rel_alpha") & (overall["channel"] == "O1")].iloc[0]
    assert alpha["n"] == 3 and alpha["sd"] > 0
    assert set(norms["age_min"].dropna()) == {30.0}  # [18, 30) holds one recording: below min_count
    assert {"qeeg"} <= set(norms["source"])

    key = result.rows.set_index("subject").loc["patient", "key"]
    z = zscores(recording_values(store, key), norms, age=50)
    row = z[(z["feature"] == "rel_alpha") & (z["channel"] == "O1")].iloc[0]
    assert row["z"] == pytest.approx((row["value"] - row["mean"]) / row["sd"])
    assert row["age_min"] == 30.0 and np.isfinite(z["z"]).sum() > 10

    with pytest.raises(ParameterError, match="no recordings with group 'control'"):
        build_norms(store, group="control")
    with pytest.raises(SystemExit) as exit_info:
        main(["norms", "build", str(store), "--out", str(tmp_path / "norms.parquet"), "--age-bins", "18,30,60"])
    assert exit_info.value.code == 0
    assert pd.read_parquet(tmp_path / "norms.parquet").shape == norms.shape


def test_batch_appends_to_an_existing_ledger(batch_data, tmp_path):
    from dbrain.ledger import Ledger

    store = tmp_path / "store"
    no_ledger = run_batch(batch_data, tmp_path / "store0", steps=["recording"], n_jobs=1)
    assert no_ledger.ledger_entries == []  # no ledger yet: nothing created
    with Ledger():  # creates $DBRAIN_HOME/dbrain.sqlite
        pass
    result = run_batch(batch_data, store, steps=["recording"], n_jobs=1)
    ok = result.rows[result.rows["status"] == "ok"]
    assert len(result.ledger_entries) == len(ok) > 0
    with Ledger() as ledger:
        runs = ledger.find(kind="analysis-run")
        assert len(runs) == len(ok)
        assert {r.record["details"]["input"] for r in runs} == set(ok["path"])
        assert ledger.verify().ok


def test_timeout_gives_an_error_row_and_the_batch_goes_on(tmp_path):
    # An 8 h recording's spike detection takes well over 3 s (about 10 s on this machine); a 1-min one well under.
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(2):
        write_simulated_edf(folder / f"short{i}.edf", "1min", seed=40 + i)
    write_simulated_edf(folder / "long.edf", "8h", seed=42)
    for side in folder.glob("*_events.tsv"):
        side.unlink()
    store = tmp_path / "store"
    steps = ["recording", "spikes"]
    result = run_batch(folder, store, steps=steps, n_jobs=1, timeout=3.0, ledger=False)
    rows = result.rows.set_index("subject")
    assert rows.loc["long", "status"] == "error", rows
    assert "did not finish within 3 s" in rows.loc["long", "error"]
    assert (rows.drop("long")["status"] == "ok").all()  # the worker that ran the long one was replaced
    stored = query("SELECT subject, status, coalesce(error_type, '') AS t FROM recordings ORDER BY subject", store)
    assert stored.values.tolist() == [["long", "error", "Timeout"], ["short0", "ok", ""], ["short1", "ok", ""]]
    again = run_batch(folder, store, steps=steps, n_jobs=1, timeout=3.0, ledger=False)
    assert again.n_computed == 0 and again.n_skipped == 3  # the timed-out recording is an error row: skipped too
    with pytest.raises(ParameterError, match="timeout"):
        run_batch(folder, store, steps=steps, n_jobs=1, timeout=0, ledger=False)
