"""Clinical tokens of per-signal header fields, which de-identification never rewrites.

Signal labels (``EEG Fp1-REF``, ``POL DC01``, ``EKG1``) and physical
dimensions (``uV``) are clinical data: an analysis reads them to find its EEG
channels. A patient field such as ``Simulated_EEG`` once made the
de-identifier overwrite every ``EEG`` in every label with ``XXX`` (issue #15),
and the analysis then found no EEG channel at all.

Two rules prevent that:

* a header word that is a clinical token (:data:`CLINICAL_TOKENS`: electrode
  names of the 10-5 system and the clinical extras, channel-type words,
  reference names, units) is never a PHI string: it cannot identify a person
  and it is written in every EEG file;
* in a per-signal text field PHI is matched by token, never by substring: a
  token (a run of letters and digits) is overwritten with ``X`` when it
  contains a PHI string, unless the token is a clinical token, or looks like a
  channel name (``E128``, ``DC01``, ``X12``) without being a PHI string itself.

The per-signal reserved field holds nothing clinical and is always blanked.
"""

from __future__ import annotations

import re

from ..channels._normalize import OLD_TO_NEW, TEN_TEN

_FIVE_PERCENT_ROWS = """
afp aff afff fff fftt ftt fttt tt ttpp tpp tppp ccp ccpp cpp cppp ppo ppoo poo pooo oi poi ooi
""".split()
_CHANNEL_WORDS = """
eeg seeg ecog ieeg pol ekg ecg emg eog veog heog loc roc chin submental leg lat rat tib
photic phot pho ps dc spo2 sao2 sp02 osat sat oximetry pulse pr hr pleth resp respiration
thor thorax abd abdomen airflow flow nasal chest status trigger trig sti stim event events
marker markers annotations annotation edf bdf temp temperature position pos body light
snore sound audio mic micro ref reference avg ave av car ler le re ar a1a2 m1m2 gnd ground
common bipolar mono monopolar ch chan channel elec electrode electrodes lead sig signal
ecog grid strip depth ekgr ekgl ecgr ecgl eegv left right lt rt upper lower arm leg eye eyes
ergo mastoid ear earlobe nose nasion inion vertex
""".split()
_UNITS = """
uv µv μv mv nv pv v volt volts microvolt microvolts millivolt millivolts bpm degc degf
mmhg cmh2o ohm ohms kohm kohms hz khz ms sec s % l/min lpm
""".split()
_FILTER_WORDS = """
hp lp bp n notch hz highpass lowpass bandpass none off on dc ac filter prefiltering
agagcl agcl ag cl gold au tin sn silver electrode electrodes cup disk disc needle
active passive unknown sensor transducer
""".split()

#: Lower-case tokens that are never PHI and never rewritten in a signal field.
CLINICAL_TOKENS: frozenset[str] = frozenset(
    [name.lower() for name in TEN_TEN]
    + [name.lower() for name in OLD_TO_NEW]
    + [f"{row}{pos}" for row in _FIVE_PERCENT_ROWS for pos in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "z", "h")]
    + _CHANNEL_WORDS
    + _UNITS
    + _FILTER_WORDS
)

#: A token shaped like a channel name: a short letter prefix and a number.
_CHANNEL_LIKE = re.compile(rb"[a-z]{0,4}\d{1,3}[a-z]?")
_TOKEN = re.compile(rb"[0-9A-Za-z\x80-\xff]+")


def is_clinical(word: bytes | str) -> bool:
    """Whether a whole word is a clinical token (case ignored)."""
    if isinstance(word, bytes):
        word = word.decode("latin-1")
    return word.strip().lower() in CLINICAL_TOKENS


def all_clinical(value: bytes) -> bool:
    """Whether every token of ``value`` is a clinical token (and there is one)."""
    tokens = _TOKEN.findall(value)
    return bool(tokens) and all(is_clinical(t) for t in tokens)


def signal_field_spans(value: bytes, phi_lower) -> list[tuple[int, int]]:
    """Spans of ``value`` (one per-signal text field) to overwrite with ``X``.

    Parameters
    ----------
    value : bytes
        The field as stored.
    phi_lower : iterable of bytes
        Lower-case PHI strings.

    Returns
    -------
    spans : list of (int, int)
        Whole tokens, sorted and disjoint, that hold a PHI string and are
        not clinical. A PHI string that spans several tokens (``Jane Doe``)
        marks each token it touches.
    """
    low = value.lower()
    hits: list[tuple[int, int]] = []
    for p in phi_lower:
        if not p:
            continue
        pos = low.find(p)
        while pos >= 0:
            hits.append((pos, pos + len(p)))
            pos = low.find(p, pos + 1)
    if not hits:
        return []
    spans = []
    for m in _TOKEN.finditer(value):
        a, b = m.span()
        if not any(ha < b and hb > a for ha, hb in hits):
            continue
        token = low[a:b]
        if is_clinical(token):
            continue
        exact = token in phi_lower
        if not exact and _CHANNEL_LIKE.fullmatch(token):
            continue
        spans.append((a, b))
    return spans
