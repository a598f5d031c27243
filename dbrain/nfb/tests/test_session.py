"""Whole sessions: reward fraction on target over 10 minutes, blocks, sham, outputs, command line."""

import json
import threading

import numpy as np
import pandas as pd
import pytest

from dbrain.cli import main
from dbrain.errors import DbrainError, ParameterError
from dbrain.nfb import run_session


def test_ten_minute_synthetic_session_holds_target(tmp_path):
    values = []
    # seed 11: not among the seeds (1, 2, 7) on which the threshold step was chosen
    res = run_session("theta-beta", "synthetic", minutes=10, speed=1e5, out_dir=tmp_path, on_feedback=values.append, seed=11)
    s = json.loads((tmp_path / "session.json").read_text())
    target = s["target_reward_fraction"]
    assert target == 0.65 and s["ended"] == "completed" and s["duration_s"] == 600
    # the session as a whole, and every minute after the first (the threshold's convergence)
    minutes = s["reward_fraction_per_minute"]
    assert len(minutes) == 10
    assert all(abs(f - target) <= 0.1 for f in minutes[1:]), minutes
    assert abs(s["reward_fraction"] - target) <= 0.03
    # delivered reward (inhibited updates count as unrewarded): the session as a whole
    assert abs(s["reward_fraction_delivered"] - target) <= 0.1
    # >= 4 Hz feedback, from the first full window on
    assert s["n_updates"] == 4 * 600 - 7 and len(values) == s["n_updates"]
    assert np.allclose(np.diff([v["t"] for v in values]), 0.25)
    df = pd.read_parquet(tmp_path / "feedback.parquet")
    for col in ("t", "feature", "threshold", "reward", "inhibit", "level", "displayed_reward", "latency_ms"):
        assert col in df
    # an inhibited update is never rewarded; reward = feature passes the threshold (down-training)
    assert not (df["reward"] & df["inhibit"]).any()
    ok = ~df["inhibit"]
    assert (df.loc[ok, "reward"] == (df.loc[ok, "feature"] < df.loc[ok, "threshold"])).all()
    assert 0 < s["artifact_fraction"] < 0.2
    assert s["latency_ms_p95"] is not None and set(values[-1]) >= {"t", "feature", "threshold", "reward", "inhibit", "level",
                                                                   "block", "quality", "latency_ms"}  # fmt: skip
    assert set(values[-1]["quality"]) >= {"Cz", "Fp1", "O2"}
    assert res.reward_fraction == s["reward_fraction"]
    assert (tmp_path / "signal_raw.fif").is_file()


@pytest.mark.parametrize("name", ["smr", "alpha", "scp"])
def test_other_protocols_hold_target(tmp_path, name):
    s = run_session(name, "synthetic", minutes=4, speed=1e5, out_dir=tmp_path, record=False, seed=3).summary
    assert abs(s["reward_fraction"] - 0.65) <= 0.1, s["reward_fraction_per_minute"]
    assert abs(s["reward_fraction"] - 0.65) <= 0.05
    assert abs(s["reward_fraction_delivered"] - 0.65) <= 0.1


def test_blocks(tmp_path):
    plan = [{"kind": "baseline", "minutes": 1}, {"kind": "training", "minutes": 2}, {"kind": "transfer", "minutes": 1}]
    values = []
    res = run_session(
        "theta-beta", "synthetic", blocks=plan, speed=1e5, out_dir=tmp_path, on_feedback=values.append, record=False
    )
    s, df = res.summary, res.feedback
    assert [b["kind"] for b in s["blocks"]] == ["baseline", "training", "transfer"]
    assert [b["name"] for b in s["blocks"]] == ["baseline 1", "training 1", "transfer 1"]
    base, train, transfer = (df[df["block_kind"] == k] for k in ("baseline", "training", "transfer"))
    # no feedback shown outside training, reward still scored
    for part in (base, transfer):
        assert not part["displayed_reward"].any() and (part["displayed_level"] == 0).all() and part["reward"].any()
    assert not [v for v in values if v["block_kind"] != "training" and (v["reward"] or v["level"])]
    # the baseline sets the first threshold (no warm-up inside training); the transfer threshold is frozen
    assert not train["warmup"].any()
    clean_base = base.loc[~base["inhibit"], "feature"]
    assert s["thresholds"]["initial"] == pytest.approx(np.quantile(clean_base, 0.65))  # the whole baseline, p quantile (down)
    assert train["threshold"].iloc[0] == pytest.approx(s["thresholds"]["initial"])
    assert transfer["threshold"].nunique() == 1
    assert transfer["threshold"].iloc[0] == s["thresholds"]["final"]
    assert abs(s["reward_fraction"] - 0.65) <= 0.1
    with pytest.raises(ParameterError, match="block plan lasts 4 min"):
        run_session("theta-beta", "synthetic", minutes=5, blocks=plan, out_dir=tmp_path / "x")
    with pytest.raises(ParameterError, match="no training block"):
        run_session("theta-beta", "synthetic", blocks=[("baseline", 1)], out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_sham_reproduces_other_sessions_timeline(tmp_path):
    kw = {"minutes": 2, "speed": 1e5, "record": False}
    a = run_session("theta-beta", "synthetic", out_dir=tmp_path / "a", seed=1, **kw)
    own = run_session("theta-beta", "synthetic", out_dir=tmp_path / "own", seed=2, **kw)
    shown = []
    sham = run_session("theta-beta", "synthetic", out_dir=tmp_path / "sham", seed=2, on_feedback=shown.append,
                       sham_feedback=tmp_path / "a" / "feedback.parquet", **kw)  # fmt: skip
    fa, fo, fs = a.feedback, own.feedback, sham.feedback
    assert len(fs) == len(fa)
    # the display follows session a's reward timeline exactly ...
    assert (fs["displayed_reward"].to_numpy() == fa["reward"].to_numpy()).all()
    assert np.array_equal(fs["displayed_level"].to_numpy(), fa["level"].to_numpy())
    assert [v["reward"] for v in shown] == fa["reward"].tolist()
    assert np.allclose([v["feature"] for v in shown], fa["feature"], equal_nan=True)
    assert [v["inhibits"]["blink"] for v in shown] == fa["inhibit_blink"].tolist()
    # ... while this session's own signal is analysed and scored as without sham
    for col in ("feature", "threshold", "reward", "inhibit", "level"):
        assert np.array_equal(fs[col].to_numpy(), fo[col].to_numpy()), col
    assert (fs["displayed_reward"] != fs["reward"]).any()
    assert sham.summary["sham"]["feedback_from"].endswith("feedback.parquet")
    # the values given to the display have the same keys as a real session's and do not say "sham"
    real = []
    run_session("theta-beta", "synthetic", out_dir=tmp_path / "real", on_feedback=real.append, **kw)
    assert set(shown[0]) == set(real[0]) and "sham" not in json.dumps(shown[:50])
    with pytest.raises(ParameterError, match="this session needs"):
        run_session("theta-beta", "synthetic", minutes=3, speed=1e5, out_dir=tmp_path / "b",
                    sham_feedback=tmp_path / "a" / "feedback.parquet")  # fmt: skip
    with pytest.raises(ParameterError, match="updates/s"):
        pd.DataFrame({c: fa[c].iloc[::2] for c in ("t", "feature", "threshold", "reward", "inhibit", "level")}).to_parquet(
            tmp_path / "half.parquet"
        )
        run_session("theta-beta", "synthetic", minutes=0.5, out_dir=tmp_path / "c", sham_feedback=tmp_path / "half.parquet")


def test_stop_event_and_existing_output(tmp_path):
    stop = threading.Event()
    seen = []

    def on_feedback(v):
        seen.append(v)
        if len(seen) == 20:
            stop.set()

    res = run_session("alpha", "synthetic", minutes=5, speed=1e5, out_dir=tmp_path, on_feedback=on_feedback, stop_event=stop)
    assert res.summary["ended"] == "stopped" and 20 <= res.summary["n_updates"] < 40
    with pytest.raises(DbrainError, match="already holds a session"):
        run_session("alpha", "synthetic", minutes=1, out_dir=tmp_path)


def test_file_source_missing_electrode(shared_data, tmp_path):
    path = shared_data / "formats/eeglab-sample-data/sample_data/eeglab_data.set"
    s = run_session("smr", f"file:{path}", minutes=1, speed=1e5, out_dir=tmp_path / "ok", record=False).summary
    assert s["reward_channel"] == "C4" and s["inhibit_channels"]["blink"] == ["Fpz"]
    from dbrain.io import read_recording

    raw, _ = read_recording(path, preload=True)
    raw.crop(0, 20).drop_channels(["Cz"]).save(tmp_path / "no_cz_raw.fif", verbose="error")
    with pytest.raises(ParameterError, match="needs electrode Cz or its substitutes FCz, CPz; the source has Fpz, EOG1"):
        run_session("theta-beta", f"file:{tmp_path / 'no_cz_raw.fif'}", minutes=0.3, out_dir=tmp_path / "no")
    assert not (tmp_path / "no").exists()


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli(tmp_path, capsys):
    code, out, _ = _cli(capsys, "nfb", "protocols")
    assert code == 0 and {line.split()[0] for line in out.splitlines()} == {"alpha", "scp", "smr", "theta-beta"}
    code, out, err = _cli(capsys, "nfb", "run", "--protocol", "theta-beta", "--source", "synthetic", "--minutes", "1",
                          "--speed", "100000", "--out", str(tmp_path / "s"), "--no-record")  # fmt: skip
    assert code == 0, err
    s = json.loads((tmp_path / "s" / "session.json").read_text())
    for key in ("protocol", "thresholds", "reward_fraction", "target_reward_fraction", "latency_ms_p50", "latency_ms_p95",
                "artifact_fraction", "blocks"):  # fmt: skip
        assert key in s
    assert (tmp_path / "s" / "feedback.parquet").is_file()
    # a block plan and the sham arm from the command line
    code, _, err = _cli(capsys, "nfb", "run", "--protocol", "theta-beta", "--source", "synthetic", "--blocks",
                        "baseline:0.25,training:0.75", "--speed", "100000", "--seed", "5", "--no-record",
                        "--sham-feedback", str(tmp_path / "s" / "feedback.parquet"), "--out", str(tmp_path / "sham"))  # fmt: skip
    assert code == 0, err
    sham = json.loads((tmp_path / "sham" / "session.json").read_text())
    assert [b["kind"] for b in sham["blocks"]] == ["baseline", "training"] and sham["sham"] is not None
    bad = [
        (["--protocol", "nope", "--source", "synthetic", "--minutes", "1"], "unknown protocol 'nope'"),
        (["--protocol", "smr", "--source", "serial:COM1", "--minutes", "1"], "source must be"),
        (["--protocol", "smr", "--source", "file:/no/such.edf", "--minutes", "1"], "cannot read"),
        (["--protocol", "smr", "--source", "synthetic"], "give the session length"),
        (["--protocol", "smr", "--source", "synthetic", "--minutes", "1", "--blocks", "training:x"], "kind:minutes"),
        (["--protocol", "smr", "--source", "synthetic", "--minutes", "1", "--speed", "0"], "speed must be"),
    ]
    for i, (args, message) in enumerate(bad):
        out_dir = tmp_path / f"bad{i}"
        code, _, err = _cli(capsys, "nfb", "run", *args, "--out", str(out_dir))
        assert code == 2 and message in err and err.count("\n") == 1, err
        assert not out_dir.exists()


def test_session_control(tmp_path):
    """A therapist holds the threshold by hand, releases it, lowers the target, and stops the session."""
    from dbrain.nfb import SessionControl

    control = SessionControl()
    seen = []

    def on_feedback(v):
        seen.append(v)
        if len(seen) == 100:
            control.set_threshold(1.5)
        elif len(seen) == 200:
            control.set_threshold(None)
        elif len(seen) == 300:
            control.set_target(0.3)
        elif len(seen) == 1500:
            control.stop()

    res = run_session("theta-beta", "synthetic", minutes=10, speed=1e5, out_dir=tmp_path, on_feedback=on_feedback,
                      control=control, record=False)  # fmt: skip
    df, s = res.feedback, res.summary
    assert s["ended"] == "stopped" and 1500 <= len(df) < 1510
    assert (df["threshold"].iloc[100:200] == 1.5).all() and df["threshold"].iloc[200:300].nunique() > 10
    assert [c["set"] for c in s["controls"]] == ["threshold", "threshold", "target"]
    late = df.iloc[700:1500]
    assert abs(late.loc[~late["inhibit"], "reward"].mean() - 0.3) <= 0.1
    with pytest.raises(ParameterError, match="target reward fraction must be in"):
        control.set_target(1.2)


def test_course_summary(tmp_path):
    from dbrain.nfb import course_summary

    plan = [{"kind": "baseline", "seconds": 20}, {"kind": "training", "seconds": 60}, {"kind": "transfer", "seconds": 20}]
    dirs = []
    for seed in (1, 2, 3):
        run_session("alpha", "synthetic", blocks=plan, speed=1e5, out_dir=tmp_path / str(seed), seed=seed, record=False)
        dirs.append(tmp_path / str(seed))
    table, curve = course_summary(dirs)
    assert table["session"].tolist() == [1, 2, 3] and (table["protocol"] == "alpha").all()
    df = pd.read_parquet(dirs[1] / "feedback.parquet")
    assert table["training_feature"].iloc[1] == pytest.approx(df.loc[df["block_kind"] == "training", "feature"].mean())
    assert table["baseline_feature"].notna().all() and table["transfer_feature"].notna().all()
    want = np.polyfit([1, 2, 3], table["training_feature"], 1)[0]
    assert curve["slope_per_session"] == pytest.approx(want) and curve["direction"] == "up"
    assert curve["towards_target"] == (want > 0)
    run_session("smr", "synthetic", minutes=0.5, speed=1e5, out_dir=tmp_path / "smr", record=False)
    with pytest.raises(ParameterError, match="one protocol"):
        course_summary([*dirs, tmp_path / "smr"])
    with pytest.raises(ParameterError, match="cannot read"):
        course_summary([tmp_path / "missing"])
