import json
import subprocess
import sys

import mne
import numpy as np
import pandas as pd
import pytest

from dbrain.diagnosis import list_labelled_recordings
from dbrain.errors import ParameterError

# 12 channels: the dementia screen's minimum
CH = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "T7", "T8"]


def _recording(path, alpha, seed):
    rng = np.random.default_rng(seed)
    sf = 128.0
    t = np.arange(int(40 * sf)) / sf
    x = rng.standard_normal((len(CH), t.size)) * 5e-6 + 15e-6 * np.sin(2 * np.pi * alpha * t + rng.uniform(0, 6, (len(CH), 1)))
    raw = mne.io.RawArray(x, mne.create_info(CH, sf, "eeg"), verbose="error")
    raw.save(path, verbose="error")


def test_train_dementia_cli_from_manifest(tmp_path):
    rows = []
    for i in range(8):
        label = "AD" if i % 2 else "control"
        f = tmp_path / f"rec{i}_raw.fif"
        _recording(f, 7.0 if label == "AD" else 10.5, i)
        rows.append({"path": f.name, "label": label, "subject": f"p{i}"})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "model"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dbrain",
            "train",
            "dementia",
            str(tmp_path / "manifest.csv"),
            "--out",
            str(out),
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "nested subject-wise CV" in proc.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert m["nested_cv"]["n_subjects"] == 8 and m["n_train"]["positive"] == 4
    # trained on the dementia screen's own feature path, which analyze then uses too
    assert m["applicability"]["scale_to_uv"] == 10.0 and m["applicability"]["amplitude_action"] == "widen"
    assert "Nested subject-wise cross-validation" in (out / "MODEL_CARD.md").read_text()
    again = subprocess.run(
        [sys.executable, "-m", "dbrain", "train", "dementia", str(tmp_path / "manifest.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_bids_participants_labels(tmp_path):
    (tmp_path / "participants.tsv").write_text("participant_id\tGroup\nsub-001\tA\nsub-002\tC\nsub-003\tF\n")
    for s in ("sub-001", "sub-002", "sub-003"):
        d = tmp_path / s / "eeg"
        d.mkdir(parents=True)
        (d / f"{s}_task-eyesclosed_eeg.set").write_bytes(b"")
    t = list_labelled_recordings(tmp_path, "dementia")
    assert list(t["subject"]) == ["sub-001", "sub-002"] and list(t["label"]) == [1, 0]  # F (FTD) left out
    with pytest.raises(ParameterError, match="no diagnosis column"):
        list_labelled_recordings(tmp_path, "dementia", label_column="dx")
    with pytest.raises(ParameterError, match="neither a manifest CSV nor a BIDS folder"):
        list_labelled_recordings(tmp_path / "sub-001", "epilepsy")
