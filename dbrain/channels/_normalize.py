"""Map vendor channel labels to 10-20/10-10 electrode names and MNE channel types.

Clinical systems spell the same electrode many ways: ``EEG FP1-REF`` (TUH,
Natus), ``EEG Fp1-LE`` (linked ears), ``POL Fp1`` (Nihon Kohden EDF export),
``Fp1-A1``, plain ``FP1``. The normalised name is the 10-10 spelling
(``Fp1``, ``Fpz``, ``FCz``), and the old temporal names T3/T4/T5/T6 become
T7/T8/P7/P8 as in the ACNS 2006 guideline, so that montages and models see one
name per electrode. The original label is always kept in the mapping.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pandas as pd

# 10-10 names (ACNS/ACNS-compatible spelling) plus ear/mastoid references and the
# clinical extras used with the 10-20 system (T1/T2 anterior temporal,
# Sp1/Sp2 sphenoidal, Pg1/Pg2 nasopharyngeal).
_ROWS = {
    "Fp": ["1", "z", "2"],
    "AF": ["9", "7", "5", "3", "1", "z", "2", "4", "6", "8", "10"],
    "F": ["9", "7", "5", "3", "1", "z", "2", "4", "6", "8", "10"],
    "FT": ["9", "7", "8", "10"],
    "FC": ["5", "3", "1", "z", "2", "4", "6"],
    "T": ["9", "7", "8", "10"],
    "C": ["5", "3", "1", "z", "2", "4", "6"],
    "TP": ["9", "7", "8", "10"],
    "CP": ["5", "3", "1", "z", "2", "4", "6"],
    "P": ["9", "7", "5", "3", "1", "z", "2", "4", "6", "8", "10"],
    "PO": ["9", "7", "5", "3", "1", "z", "2", "4", "6", "8", "10"],
    "O": ["1", "z", "2"],
    "I": ["1", "z", "2"],
}
TEN_TEN: tuple[str, ...] = tuple(row + pos for row, positions in _ROWS.items() for pos in positions) + (
    "A1",
    "A2",
    "M1",
    "M2",
    "T1",
    "T2",
    "Sp1",
    "Sp2",
    "Pg1",
    "Pg2",
    "Nz",
)
#: Old 10-20 temporal names and their 10-10 equivalents.
OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

_CANONICAL = {name.upper(): name for name in TEN_TEN}
_CANONICAL.update({old.upper(): new for old, new in OLD_TO_NEW.items()})

# Reference suffixes that mean "this electrode against a common reference".
_REF_SUFFIXES = ("REF", "LE", "RE", "AR", "AV", "AVG", "AVE", "CAR", "LER", "M1", "M2", "A1", "A2", "A1A2", "M1M2", "CZ")
_PREFIX = re.compile(r"^(EEG|POL|SEEG|ECOG)[\s_\-:]+", re.IGNORECASE)

# Non-EEG channel families: (pattern on the upper-cased label without prefix, type, canonical stem).
_OTHER = [
    (re.compile(r"^(EKG|ECG)[\s_\-]*(\d*)([\s_\-].*)?$"), "ecg", "ECG"),
    (re.compile(r"^EMG[\s_\-]*(\d*)([\s_\-].*)?$"), "emg", "EMG"),
    (re.compile(r"^(CHIN|SUBMENTAL)[\s_\-]*(\d*)([\s_\-].*)?$"), "emg", "EMG"),
    (re.compile(r"^(LEG|LAT|RAT|TIB)[\s_\-]*(\d*)([\s_\-].*)?$"), "emg", "EMG"),
    (re.compile(r"^(EOG|VEOG|HEOG)[\s_\-]*(\d*)([\s_\-].*)?$"), "eog", "EOG"),
    (re.compile(r"^(LOC|ROC)([\s_\-].*)?$"), "eog", None),
    (re.compile(r"^(PHOTIC|PHO|PHOT|PS)[\s_\-]*(\d*)([\s_\-].*)?$"), "stim", "PHOTIC"),
    (re.compile(r"^DC[\s_\-]*(\d+)([\s_\-].*)?$"), "misc", "DC"),
    (re.compile(r"^(SPO2|SAO2|SP02|OSAT|SAT|OXIMETRY)([\s_\-].*)?$"), "bio", "SpO2"),
    (re.compile(r"^(PULSE|PR|HR|PLETH)([\s_\-].*)?$"), "bio", None),
    (re.compile(r"^(RESP|RESPIRATION|THOR|THORAX|ABD|ABDOMEN|AIRFLOW|FLOW|NASAL|CHEST)([\s_\-].*)?$"), "resp", None),
    (re.compile(r"^(STATUS|TRIGGER|TRIG|STI[\s_]*\d*|EVENT|MARKER|EVENTS/MARKERS)$"), "stim", None),
]


@dataclass(frozen=True)
class ChannelMapping:
    """How one channel's label was understood.

    Attributes
    ----------
    original : str
        The label as stored in the file.
    name : str
        Normalised name (10-10 spelling for electrodes; ``ECG``, ``EMG``,
        ``EOG``, ``PHOTIC``, ``DC1``, ``SpO2`` … for others; the stripped
        original for unknown channels).
    type : str
        MNE channel type (``eeg``, ``ecg``, ``emg``, ``eog``, ``stim``,
        ``resp``, ``bio`` or ``misc``).
    reference : str
        The reference named in the label (``REF``, ``LE``, ``A1`` …), the
        second electrode of a bipolar label, or ``""``.
    recognised : bool
        False for channels kept as ``misc`` because the label was not understood.
    """

    original: str
    name: str
    type: str
    reference: str = ""
    recognised: bool = True


def _electrode(token: str) -> str | None:
    return _CANONICAL.get(token.strip().upper())


def normalize_label(label: str) -> ChannelMapping:
    """Normalise one channel label.

    Parameters
    ----------
    label : str
        The label as stored in the recording.

    Returns
    -------
    mapping : ChannelMapping
        The normalised name, type and reference.

    Examples
    --------
    >>> normalize_label("EEG T3-REF").name
    'T7'
    >>> normalize_label("EKG").type
    'ecg'
    """
    original = label
    text = _PREFIX.sub("", label.strip()).strip()
    upper = text.upper()

    # Electrode, possibly with a reference or a second electrode after '-'.
    parts = re.split(r"\s*[-–]\s*", text, maxsplit=1)
    first = _electrode(parts[0])
    if first is not None:
        if len(parts) == 1 or not parts[1].strip():
            return ChannelMapping(original, first, "eeg")
        second_raw = parts[1].strip()
        if second_raw.upper().replace(" ", "") in _REF_SUFFIXES:
            return ChannelMapping(original, first, "eeg", second_raw)
        second = _electrode(second_raw)
        if second is not None:
            return ChannelMapping(original, f"{first}-{second}", "eeg", second)
    # A label like "FP1REF" or "Fp1 Ref" without the dash.
    match = re.match(r"^([A-Za-z]+\d*z?)\s*(REF|LE|AVG|AV)$", text, re.IGNORECASE)
    if match and _electrode(match.group(1)):
        return ChannelMapping(original, _electrode(match.group(1)), "eeg", match.group(2))

    for pattern, ch_type, stem in _OTHER:
        m = pattern.match(upper)
        if m is None:
            continue
        if stem is None:
            name = text.split("-")[0].strip() or text
            if ch_type == "eog":
                name = m.group(1)
        else:
            digits = next((g for g in m.groups() if g and g.isdigit()), "")
            name = f"{stem}{digits}"
        return ChannelMapping(original, name, ch_type)
    return ChannelMapping(original, label.strip() or label, "misc", recognised=False)


def normalize_channels(labels) -> pd.DataFrame:
    """Normalise a list of labels, keeping every channel and every name unique.

    Two labels that normalise to the same name (``EEG FP1-REF`` beside
    ``EEG FP1-LE``) keep the first normalised name; the later ones keep their
    original label, so no channel is dropped or renamed onto another.

    Parameters
    ----------
    labels : sequence of str
        Channel labels in file order.

    Returns
    -------
    mapping : pandas.DataFrame
        One row per channel with columns ``original``, ``name``, ``type``,
        ``reference`` and ``recognised``.
    """
    rows = []
    used: set[str] = set()
    for label in labels:
        m = normalize_label(str(label))
        name = m.name
        if name in used:
            name = m.original
            suffix = 2
            while name in used:
                name = f"{m.original}-{suffix}"
                suffix += 1
        used.add(name)
        row = asdict(m)
        row["name"] = name
        rows.append(row)
    return pd.DataFrame(rows, columns=["original", "name", "type", "reference", "recognised"])
