"""Tests of dbrain.simulate: ground truth, physiology, determinism, EDF output, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from dbrain.errors import DbrainError, OutputError, ParameterError
from dbrain.events import EVENT_COLUMNS, read_events
from dbrain.simulate import (
    CHANNELS,
    EDF_LABELS,
    SPIKE_PEAK_LATENCY,
    events_path_for,
    parse_duration,
    simulate_eeg,
    write_simulated_edf,
)
from dbrain.simulate._engine import Simulation

SFREQ = 256.0


def _rows(names):
    return [CHANNELS.index(n) for n in names]


def _samples(events, kind):
    sel = events[events.eventType == kind]
    return [
        (int(round(r.onset * SFREQ)), int(round(r.duration * SFREQ)), r.channels.split(",")) for r in sel.itertuples(index=False)
    ]


def _band_power(x, lo, hi, sfreq=SFREQ):
    f, p = signal.welch(x, fs=sfreq, nperseg=int(4 * sfreq), axis=-1)
    return p[..., (f >= lo) & (f < hi)].sum(axis=-1)


def _line_length(x):
    return np.abs(np.diff(x, axis=-1)).mean(axis=-1)


@pytest.fixture(scope="module")
def spiky():
    """Four minutes with spikes and artifacts (no seizure)."""
    raw, events = simulate_eeg(240, spikes=12, artifacts=True, seed=3)
    return raw.get_data() * 1e6, events


@pytest.fixture(scope="module")
def seizure():
    """A focal seizure (seed 10: left temporal focus, six electrodes involved)."""
    raw, events = simulate_eeg(200, seizures=1, seed=10)
    return raw.get_data() * 1e6, events


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), (90, 90.0), (12.5, 12.5), ("90s", 90.0), ("10min", 600.0), ("1h", 3600.0), ("24h", 86400.0),
     ("1h30m", 5400.0), ("1h 30min 10s", 5410.0), ("1.5h", 5400.0), ("2d", 172800.0), (" 45 sec ", 45.0)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1x", "h", "1h-30m", "10 minutes ago", "-5", "0", "0s", "nan", "1h,30m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ParameterError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"duration": 5}, "duration must be in"),
        ({"duration": 60, "sfreq": 100}, "sfreq must be in"),
        ({"duration": 60, "sfreq": 250.5}, "whole number of Hz"),
        ({"duration": 60, "seizures": -1}, "seizures must be in"),
        ({"duration": 60, "spikes": 1.5}, "spikes must be an instance of int"),
        ({"duration": 60, "artifacts": "yes"}, "artifacts must be an instance of bool"),
        ({"duration": 60, "line_freq": 55}, "line_freq"),
        ({"duration": 60, "seed": -1}, "seed must be in"),
        ({"duration": 120, "seizures": 2}, "too many events for duration=120 s"),
        ({"duration": 60, "spikes": 100}, "too many events"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        simulate_eeg(**kwargs)


def test_bad_edf_parameters(tmp_path):
    with pytest.raises(ParameterError, match=r"\.edf"):
        write_simulated_edf(tmp_path / "rec.fif", 20)
    with pytest.raises(ParameterError, match="whole number of seconds"):
        write_simulated_edf(tmp_path / "rec.edf", 20.5)
    with pytest.raises(ParameterError, match="chunk_duration"):
        write_simulated_edf(tmp_path / "rec.edf", 20, chunk_duration=0)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- determinism
def test_deterministic_per_seed():
    raw_a, ev_a = simulate_eeg(20, spikes=2, artifacts=True, seed=5)
    raw_b, ev_b = simulate_eeg(20, spikes=2, artifacts=True, seed=5)
    raw_c, ev_c = simulate_eeg(20, spikes=2, artifacts=True, seed=6)
    assert np.array_equal(raw_a.get_data(), raw_b.get_data())
    assert ev_a.equals(ev_b)
    assert not np.allclose(raw_a.get_data(), raw_c.get_data())
    assert not ev_a.onset.equals(ev_c.onset)


def test_chunking_does_not_change_the_signal():
    def render(chunk):
        sim = Simulation(70, spikes=4, artifacts=True, seed=8)
        return np.concatenate([block for _, block in sim.chunks(chunk)], axis=1)

    whole = render(70 * 256)
    for chunk in (256 * 7, 1000, 8192 + 1):
        assert np.array_equal(render(chunk), whole), chunk
    # Seams are continuous: no sample-to-sample jump at a chunk edge stands out.
    steps = np.abs(np.diff(whole[:19], axis=1))
    seams = np.arange(1000, whole.shape[1], 1000) - 1
    assert np.all(steps[:, seams] <= np.percentile(steps, 99.9, axis=1, keepdims=True))


# --------------------------------------------------------------------------- ground truth
def test_events_table(spiky):
    _, events = spiky
    assert list(events.columns) == EVENT_COLUMNS
    assert events.eventType.value_counts().to_dict() == {"spike": 12, "eyeblink": 8, "muscle": 1, "electrode_pop": 1}
    onset, end = events.onset.to_numpy(), (events.onset + events.duration).to_numpy()
    assert np.all(np.diff(onset) > 0) and np.all(end[:-1] <= onset[1:]), "events overlap"
    assert onset[0] >= 1 and end[-1] <= 239
    assert np.allclose(onset * SFREQ, np.round(onset * SFREQ)), "onsets are not on samples"
    assert (events.recordingDuration == 240).all()
    assert events.dateTime.iloc[0].startswith("2020-01-01T00:0")
    assert events.confidence.isna().all()


def test_large_schedule_fits_without_overlap():
    sim = Simulation(3600, seizures=3, spikes=50, artifacts=True, seed=0)
    events = sim.events_table()
    counts = events.eventType.value_counts().to_dict()
    assert counts == {"sz": 3, "spike": 50, "eyeblink": 120, "muscle": 20, "electrode_pop": 4}
    end = (events.onset + events.duration).to_numpy()
    assert np.all(end[:-1] <= events.onset.to_numpy()[1:])
    seizures = events[events.eventType == "sz"]
    assert seizures.duration.between(30, 90).all()


def test_spike_peaks_where_the_ground_truth_says(spiky):
    data, events = spiky
    latency = round(SPIKE_PEAK_LATENCY * SFREQ)
    exact = 0
    for onset, length, channels in _samples(events, "spike"):
        x = data[CHANNELS.index(channels[0])]
        peak = onset + latency
        window = x[peak - 8 : peak + 9]
        found = peak - 8 + int(np.argmin(window))
        assert abs(found - peak) <= 1
        exact += found == peak
        # A sharp surface-negative transient standing out of the background.
        assert x[peak] < np.median(x[onset - 64 : onset]) - 40
        # The after-going slow wave is negative too.
        assert x[onset + length // 2 : onset + length].mean() < x[onset - 64 : onset].mean()
        # The field: listed channels are neighbours of the peak channel.
        assert len(set(channels)) == len(channels)
    assert exact >= 0.9 * len(_samples(events, "spike"))


def test_artifacts_where_the_ground_truth_says(spiky):
    data, events = spiky
    fp, occ = _rows(["Fp1", "Fp2"]), _rows(["O1", "O2"])
    for onset, length, channels in _samples(events, "eyeblink"):
        assert channels[:2] == ["Fp1", "Fp2"]
        seg = data[:, onset : onset + length]
        base = data[:, onset - 64 : onset].mean(axis=1, keepdims=True)
        rise = (seg - base).max(axis=1)
        assert rise[fp].min() > 50 and rise[fp].min() > 2 * rise[occ].max()
    (onset, length, channels), = _samples(events, "muscle")  # fmt: skip
    rows = _rows(channels)
    high = signal.sosfiltfilt(signal.butter(4, 30, "highpass", fs=SFREQ, output="sos"), data[rows], axis=-1)
    hf_in = high[:, onset : onset + length].std(axis=1)
    hf_out = high[:, onset - 256 : onset - 64].std(axis=1)
    assert np.all(hf_in > 3 * hf_out)
    (onset, length, channels), = _samples(events, "electrode_pop")  # fmt: skip
    x = data[CHANNELS.index(channels[0])]
    assert abs(x[onset] - x[onset - 1]) > 80


def test_seizure_in_involved_channels_only(seizure):
    data, events = seizure
    ((onset, length, channels),) = _samples(events, "sz")
    involved = _rows(channels)
    others = [i for i in range(19) if i not in involved]
    assert channels[0] == "T7" and others, "seed 10 should give a focal left temporal seizure"
    ictal = data[:19, onset + length // 2 : onset + length]
    before = data[:19, onset - 40 * 256 : onset - 5 * 256]
    ratio = _line_length(ictal) / _line_length(before)
    assert np.all(ratio[involved] > 1.5) and ratio[involved].mean() > 2
    assert np.all(np.abs(ratio[others] - 1) < 0.15)
    power = _band_power(ictal, 1, 30) / _band_power(before, 1, 30)
    assert np.all(power[involved] > 6) and np.all(power[others] < 1.4)


def test_seizure_evolves(seizure):
    data, events = seizure
    ((onset, length, channels),) = _samples(events, "sz")
    x = data[CHANNELS.index(channels[0])]

    def dominant(a, b):
        seg = x[onset + int(a * length) : onset + int(b * length)]
        f, p = signal.welch(seg, fs=SFREQ, nperseg=512)
        keep = (f >= 1.5) & (f <= 40)
        return f[keep][np.argmax(p[keep])], seg.std()

    early_f, early_a = dominant(0.25, 0.45)
    late_f, late_a = dominant(0.8, 1.0)
    assert early_f > late_f + 2  # slows down
    assert late_f < 6
    assert late_a > early_a  # grows
    # Offset: back to background right after the end.
    after = x[onset + length + 128 : onset + length + 128 + 5 * 256]
    assert after.std() < 0.5 * late_a


# --------------------------------------------------------------------------- physiology
def test_posterior_alpha():
    raw, _ = simulate_eeg(60, seed=0, ekg=False)
    data = raw.get_data() * 1e6
    assert raw.ch_names == list(CHANNELS)
    rel = _band_power(data, 8, 13) / _band_power(data, 1, 30)
    occipital, frontal = rel[_rows(["O1", "O2"])], rel[_rows(["Fp1", "Fp2"])]
    assert occipital.min() > 1.5 * frontal.max()
    f, p = signal.welch(data[CHANNELS.index("O1")], fs=SFREQ, nperseg=1024)
    assert 8.5 <= f[np.argmax(p * (f > 2))] <= 11.5
    rms = data.std(axis=1)
    assert np.all((rms > 5) & (rms < 60))


@pytest.mark.parametrize("line_freq", [50, 60])
def test_line_noise(line_freq):
    def peak_ratio(artifacts):
        raw, _ = simulate_eeg(30, artifacts=artifacts, line_freq=line_freq, seed=1)
        f, p = signal.welch(raw.get_data(picks="eeg"), fs=SFREQ, nperseg=512)
        p = p.mean(axis=0)
        at = p[np.argmin(np.abs(f - line_freq))]
        near = p[(np.abs(f - line_freq) > 2) & (np.abs(f - line_freq) < 6)]
        return at / np.median(near)

    assert peak_ratio(True) > 10
    assert peak_ratio(False) < 3


def test_ecg_channel():
    raw, _ = simulate_eeg(60, seed=2)
    assert raw.ch_names[-1] == "ECG" and raw.get_channel_types()[-1] == "ecg"
    ecg = raw.get_data(picks="ecg")[0] * 1e6
    peaks, _ = signal.find_peaks(ecg, height=300, distance=int(0.3 * SFREQ))
    assert 50 <= peaks.size <= 90  # beats per minute


# --------------------------------------------------------------------------- EDF output
def test_edf_matches_memory_and_reads_everywhere(tmp_path):
    import edfio
    import mne

    pyedflib = pytest.importorskip("pyedflib")
    kwargs = {"spikes": 3, "artifacts": True, "seed": 2}
    raw, events = simulate_eeg(40, **kwargs)
    edf_path, tsv_path = write_simulated_edf(tmp_path / "rec.edf", "40s", chunk_duration=7, **kwargs)
    assert edf_path == tmp_path / "rec.edf" and tsv_path == tmp_path / "rec_events.tsv"
    assert tsv_path == events_path_for(edf_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.edf", "rec_events.tsv"]
    expected = raw.get_data()
    quantum = 0.05e-6 + 1e-12

    mne_raw = mne.io.read_raw_edf(edf_path, preload=True, verbose="error")
    assert mne_raw.ch_names == [*EDF_LABELS, "EKG"]
    assert mne_raw.info["sfreq"] == SFREQ and mne_raw.n_times == 40 * 256
    assert mne_raw.info["meas_date"].isoformat() == "2020-01-01T00:00:00+00:00"
    assert np.abs(mne_raw.get_data() - expected).max() <= quantum

    from dbrain.io import read_recording

    db_raw, info = read_recording(edf_path)
    assert db_raw.ch_names == raw.ch_names and info.format == "EDF+C"
    assert np.abs(db_raw.get_data() - expected).max() <= quantum

    edf = edfio.read_edf(edf_path)
    assert edf.num_signals == 20 and edf.duration == 40
    assert edf.signals[0].label == "EEG Fp1-REF" and edf.signals[0].physical_dimension == "uV"
    assert np.abs(edf.signals[8].data * 1e-6 - expected[8]).max() <= quantum

    with pyedflib.EdfReader(str(edf_path)) as reader:
        assert reader.getSignalLabels() == [*EDF_LABELS, "EKG"]
        assert reader.getFileDuration() == 40
        assert np.abs(reader.readSignal(12) * 1e-6 - expected[12]).max() <= quantum

    back = read_events(tsv_path)
    assert list(back.eventType) == list(events.eventType)
    assert np.array_equal(np.round(back.onset * SFREQ), np.round(events.onset * SFREQ))
    assert list(back.channels) == list(events.channels)


def test_edf_overwrite(tmp_path):
    path = tmp_path / "rec.edf"
    write_simulated_edf(path, 12, seed=1)
    first = path.read_bytes()
    with pytest.raises(OutputError, match="exists"):
        write_simulated_edf(path, 12, seed=2, overwrite=False)
    write_simulated_edf(path, 12, seed=2)
    assert path.read_bytes() != first
    assert len(first) == 256 * 22 + 12 * (20 * 256 * 2 + 32)


# --------------------------------------------------------------------------- CLI
def _app():
    import typer

    from dbrain.cli.simulate import register

    app = typer.Typer()

    @app.callback()
    def _root():
        """Test app."""

    register(app)
    return app


def test_cli(tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    out = tmp_path / "sim.edf"
    args = ["simulate", "--duration", "30s", "--spikes", "2", "--artifacts", "--seed", "4", "--out", str(out)]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out), str(tmp_path / "sim_events.tsv")]
    assert read_events(tmp_path / "sim_events.tsv").eventType.tolist().count("spike") == 2
    # Same seed, same file.
    again = runner.invoke(_app(), [*args[:-1], str(tmp_path / "again.edf")])
    assert again.exit_code == 0 and (tmp_path / "again.edf").read_bytes() == out.read_bytes()
    # Existing output needs --overwrite.
    result = runner.invoke(_app(), args)
    assert isinstance(result.exception, ParameterError) and "--overwrite" in str(result.exception)
    assert runner.invoke(_app(), [*args, "--overwrite"]).exit_code == 0
    for bad, match in [
        (["--duration", "ten minutes"], "cannot read duration"),
        (["--duration", "30", "--line-freq", "55"], "line_freq"),
    ]:
        result = runner.invoke(_app(), ["simulate", *bad, "--out", str(tmp_path / "bad.edf")])
        assert isinstance(result.exception, DbrainError) and match in str(result.exception)
    assert not (tmp_path / "bad.edf").exists()


def test_cli_main_exit_codes(tmp_path, capsys):
    from dbrain.cli import main

    out = tmp_path / "main.edf"
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--duration", "15", "--no-ekg", "--out", str(out)])
    assert exc.value.code == 0
    assert capsys.readouterr().out.split() == [str(out), str(tmp_path / "main_events.tsv")]
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--duration", "60", "--seizures", "3", "--out", str(tmp_path / "x.edf")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dbrain: too many events") and err.count("\n") == 1


# --------------------------------------------------------------------------- model
def test_jansen_rit_linearisation():
    from dbrain.simulate._background import P_ALPHA_RANGE, P_BROADBAND, jansen_rit_transfer

    def response(p, branch):
        num, den = jansen_rit_transfer(p, branch)
        assert np.all(np.roots(den).real < 0), "fixed point must be stable"
        w, h = signal.freqs(num, den, worN=2 * np.pi * np.linspace(0.5, 40, 800))
        return w / (2 * np.pi), np.abs(h)

    for p in P_ALPHA_RANGE:
        f, h = response(p, "high")
        assert 9.3 <= f[np.argmax(h)] <= 10.9  # alpha resonance
        assert h.max() > 5 * h[0]
    f, h = response(P_BROADBAND, "low")
    assert f[np.argmax(h)] < 4 and h.max() < 1.5 * h[0]  # no resonance: broadband
