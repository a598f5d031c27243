"""Channel-label normalisation tests."""

import pytest

from dbrain.channels import normalize_channels, normalize_label


@pytest.mark.parametrize(
    ("label", "name", "ch_type", "reference"),
    [
        ("EEG FP1-REF", "Fp1", "eeg", "REF"),
        ("EEG Fp1-LE", "Fp1", "eeg", "LE"),
        ("FP1", "Fp1", "eeg", ""),
        ("Fp1-A1", "Fp1", "eeg", "A1"),
        ("POL Fp1", "Fp1", "eeg", ""),
        ("EEG FPZ-REF", "Fpz", "eeg", "REF"),
        ("EEG T3-REF", "T7", "eeg", "REF"),
        ("T4", "T8", "eeg", ""),
        ("EEG T5-LE", "P7", "eeg", "LE"),
        ("T6", "P8", "eeg", ""),
        ("T7", "T7", "eeg", ""),
        ("P8", "P8", "eeg", ""),
        ("CZ", "Cz", "eeg", ""),
        ("Fp1-F7", "Fp1-F7", "eeg", "F7"),
        ("EEG A1-REF", "A1", "eeg", "REF"),
        ("EKG", "ECG", "ecg", ""),
        ("ECG1", "ECG1", "ecg", ""),
        ("EEG EKG1-REF", "ECG1", "ecg", ""),
        ("EMG", "EMG", "emg", ""),
        ("EOG", "EOG", "eog", ""),
        ("LOC", "LOC", "eog", ""),
        ("PHOTIC", "PHOTIC", "stim", ""),
        ("Photic-REF", "PHOTIC", "stim", ""),
        ("DC1", "DC1", "misc", ""),
        ("DC12", "DC12", "misc", ""),
        ("SpO2", "SpO2", "bio", ""),
        ("SaO2", "SpO2", "bio", ""),
        ("Resp chest", "Resp chest", "resp", ""),
    ],
)
def test_known_labels(label, name, ch_type, reference):
    m = normalize_label(label)
    assert (m.name, m.type, m.reference, m.recognised) == (name, ch_type, reference, True)
    assert m.original == label


@pytest.mark.parametrize("label", ["EEG 26-REF", "foo", "IBI", "BURSTS", "X1"])
def test_unknown_labels_kept_as_misc(label):
    m = normalize_label(label)
    assert m.type == "misc" and not m.recognised and m.name == label


def test_no_channel_dropped_and_names_unique():
    labels = ["EEG FP1-REF", "EEG FP1-LE", "EKG", "ECG", "foo", "foo "]
    df = normalize_channels(labels)
    assert list(df["original"]) == labels
    assert df["name"].is_unique
    assert list(df["name"][:2]) == ["Fp1", "EEG FP1-LE"]  # the second Fp1 keeps its label


def test_both_nomenclatures_same_name():
    old = normalize_channels(["T3", "T4", "T5", "T6"])["name"].tolist()
    new = normalize_channels(["T7", "T8", "P7", "P8"])["name"].tolist()
    assert old == new == ["T7", "T8", "P7", "P8"]
