"""dbrain analyze reading a feature store: z-scores against norms (--norms) and similar cases (--store)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dbrain.analyze import analyze
from dbrain.batch import analysis_values, build_norms, case_table, read_norms, recording_values, run_batch, zscores
from dbrain.errors import ParameterError
from dbrain.simulate import write_simulated_edf

STEPS = ["recording", "qeeg", "network", "diagnosis"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Four simulated 1-min recordings (three normal, one patient), batch-analysed into a store, and their norms."""
    root = tmp_path_factory.mktemp("cohort")
    lines = ["path,subject,age,group,outcome"]
    for i, (age, group, outcome) in enumerate(
        [(25, "normal", "healthy"), (33, "normal", ""), (41, "normal", "healthy"), (50, "patient", "epilepsy")]
    ):
        write_simulated_edf(root / f"r{i}.edf", "1min", seed=300 + i, spikes=3 * (group == "patient"))
        lines.append(f"r{i}.edf,r{i},{age},{group},{outcome}")
    for side in root.glob("*_events.tsv"):
        side.unlink()
    (root / "cohort.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = root / "store"
    result = run_batch(root / "cohort.csv", store, steps=STEPS, n_jobs=1, ledger=False)
    assert (result.rows["status"] == "ok").all(), result.rows[["path", "error"]]
    norms = build_norms(store, group="normal", age_bins=[18, 30, 60])
    norms.to_parquet(root / "norms.parquet", index=False)
    return root, store, result.rows.set_index("subject")["key"]


def test_recording_values_are_means_over_clean_minutes(cohort):
    from dbrain.batch import query

    _, store, keys = cohort
    values = recording_values(store, keys["r3"])
    assert len(values) > 100 and set(values["source"]) == {"qeeg", "network"}
    assert "artifact_strength" not in set(values["feature"])  # a quality measure, not a feature with a norm
    qeeg = query(f"SELECT start, channel, measure, value FROM qeeg WHERE key = '{keys['r3']}'", store)
    art = qeeg[qeeg["measure"] == "artifact_strength"].set_index(["start", "channel"])["value"]
    alpha = qeeg[(qeeg["measure"] == "rel_alpha") & (qeeg["channel"] == "O1")].set_index(["start", "channel"])["value"]
    clean = alpha[art.reindex(alpha.index).to_numpy() < 0.5]
    got = values[(values["feature"] == "rel_alpha") & (values["channel"] == "O1")]["value"].item()
    assert len(clean) and got == pytest.approx(clean.mean(), rel=1e-6)


def test_analyze_with_norms_gives_the_zscores_of_the_store(cohort, tmp_path):
    root, store, keys = cohort
    norms = read_norms(root / "norms.parquet")
    out = analyze(
        root / "r3.edf",
        tmp_path / "out",
        only=["recording", "qeeg", "network", "norms"],
        step_params={"norms": {"norms": str(root / "norms.parquet"), "age": 50.0}},
        ledger=False,
    )
    z = pd.read_parquet(out.out_dir / "zscores.parquet")
    expected = zscores(recording_values(store, keys["r3"]), norms, age=50.0)
    cols = ["source", "feature", "channel"]
    got = z.sort_values(cols).reset_index(drop=True)
    want = expected.sort_values(cols).reset_index(drop=True)
    assert got[cols].equals(want[cols])
    np.testing.assert_allclose(got["z"], want["z"], rtol=1e-6, equal_nan=True)
    assert (got["age_min"].dropna() == 30.0).all() and got["age_min"].notna().any()  # the 30-60 y bin, where it exists
    step = next(s for s in out.summary["steps"] if s["name"] == "norms")["summary"]
    assert step["computed"] and step["n_features"] == int(np.isfinite(got["z"]).sum()) > 50
    html = out.report_html.read_text(encoding="utf-8")
    assert "Normative comparison" in html and "only 2 recordings" in html  # the 30-60 y bin: ages 33 and 41


def test_norms_step_without_norms_or_features(cohort, tmp_path):
    root, _, _ = cohort
    out = analyze(root / "r0.edf", tmp_path / "a", only=["recording", "norms"], ledger=False)
    step = next(s for s in out.summary["steps"] if s["name"] == "norms")["summary"]
    assert step == {"computed": False, "reason": "no normative database given (--norms FILE)"}
    assert "Normative comparison" not in out.report_html.read_text(encoding="utf-8")
    out = analyze(
        root / "r0.edf",
        tmp_path / "b",
        only=["recording", "norms"],
        step_params={"norms": {"norms": str(root / "norms.parquet")}},
        ledger=False,
    )
    step = next(s for s in out.summary["steps"] if s["name"] == "norms")["summary"]
    assert not step["computed"] and "no qEEG or network features" in step["reason"]
    assert not (out.out_dir / "zscores.parquet").exists()


def test_case_table_and_similar_cases_from_the_store(cohort, tmp_path):
    root, store, _ = cohort
    cases = case_table(store)
    assert sorted(cases["recording"]) == ["cohort/r0", "cohort/r1", "cohort/r2", "cohort/r3"]
    outcome = dict(zip(cases["recording"], cases["outcome"], strict=True))
    assert outcome == {"cohort/r0": "healthy", "cohort/r1": "normal", "cohort/r2": "healthy", "cohort/r3": "epilepsy"}
    from dbrain.diagnosis import FEATURES

    features = set(cases.columns) - {"recording", "sha256", "outcome"}
    assert {"alpha_peak", "rel_alpha_occipital"} <= features <= set(FEATURES)
    out = analyze(
        root / "r3.edf",
        tmp_path / "out",
        only=["recording", "diagnosis"],
        step_params={"diagnosis": {"store": str(store)}},
        ledger=False,
    )
    doc = json.loads((out.out_dir / "diagnosis.json").read_text())
    similar = doc["similar_cases"]
    assert [c["recording"] for c in similar] and "cohort/r3" not in [c["recording"] for c in similar]  # itself left out
    assert len(similar) == 3 and all(np.isfinite(c["distance"]) and c["n_features"] > 10 for c in similar)
    assert [c["distance"] for c in similar] == sorted(c["distance"] for c in similar)


def test_case_table_needs_the_diagnosis_step(tmp_path):
    write_simulated_edf(tmp_path / "a.edf", "1min", seed=1)
    store = tmp_path / "store"
    run_batch(tmp_path, store, steps=["recording"], n_jobs=1, ledger=False)
    with pytest.raises(ParameterError, match="no recordings analysed with the diagnosis step"):
        case_table(store)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dbrain", *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--norms", "missing.parquet", "does not exist"),
        ("--norms", "r0.edf", "is not a normative-values Parquet file"),
        ("--norms", "cohort.csv", "is not a normative-values Parquet file"),
        ("--store", ".", "is not a dbrain feature store"),
        ("--age", "-3", "--age"),
    ],
)
def test_analyze_rejects_bad_norms_and_store(cohort, tmp_path, option, value, message):
    root, _, _ = cohort
    arg = value if value.startswith("-") else root / value
    proc = _cli("analyze", root / "r0.edf", "--out", tmp_path / "out", option, arg, "--no-ledger")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbrain: ") and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_analysis_values_need_results():
    assert analysis_values({}).empty
