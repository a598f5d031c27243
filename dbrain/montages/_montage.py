"""Clinical montages as linear derivations of the recorded channels.

Every montage here is a matrix: each derived channel is ``active`` minus a
reference, where the reference is one electrode (bipolar), the mean of all
scalp electrodes (common average) or the mean of the nearest neighbours
(Laplacian, Hjorth 1975). The derived ``Raw`` applies the matrix lazily on
each read, so a 72 h recording is never loaded whole. A derivation whose
electrode is missing is skipped and reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import mne
import numpy as np

from ..channels import normalize_label
from ..errors import MontageError
from ..utils.check import _check_option, _suggest

AVERAGE = "AVG"
LAPLACIAN = "LAP"

# Clinical display order of the 10-20 electrodes (left, midline, right).
TEN_TWENTY = ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1", "Fz", "Cz", "Pz", "Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2")


@dataclass(frozen=True)
class Derivation:
    """One derived channel: ``active`` minus ``reference``.

    ``reference`` is an electrode name, ``"AVG"`` for the common average,
    ``"LAP"`` for the nearest-neighbour Laplacian, or ``""`` for the channel
    as recorded.
    """

    active: str
    reference: str = ""

    @property
    def label(self) -> str:
        if not self.reference:
            return self.active
        return f"{self.active}-{self.reference if self.reference not in (AVERAGE, LAPLACIAN) else self.reference.capitalize()}"


@dataclass(frozen=True)
class Montage:
    """A named list of derivations in display groups (blank space between groups)."""

    name: str
    groups: tuple[tuple[Derivation, ...], ...]

    @property
    def derivations(self) -> list[Derivation]:
        return [d for g in self.groups for d in g]


def _chain(*names: str) -> tuple[Derivation, ...]:
    return tuple(Derivation(a, b) for a, b in zip(names[:-1], names[1:], strict=True))


def _pairs(*pairs: str) -> tuple[Derivation, ...]:
    return tuple(Derivation(*p.split("-")) for p in pairs)


#: ACNS guideline 3 (2016) LB-18.1: left temporal, left parasagittal, midline,
#: right parasagittal, right temporal chains.
DOUBLE_BANANA = Montage(
    "double-banana",
    (
        _chain("Fp1", "F7", "T7", "P7", "O1"),
        _chain("Fp1", "F3", "C3", "P3", "O1"),
        _chain("Fz", "Cz", "Pz"),
        _chain("Fp2", "F4", "C4", "P4", "O2"),
        _chain("Fp2", "F8", "T8", "P8", "O2"),
    ),
)
#: ACNS TB-18.1-style transverse bipolar rows, front to back.
TRANSVERSE = Montage(
    "transverse",
    (
        _pairs("F7-Fp1", "Fp1-Fp2", "Fp2-F8"),
        _pairs("F7-F3", "F3-Fz", "Fz-F4", "F4-F8"),
        _pairs("A1-T7", "T7-C3", "C3-Cz", "Cz-C4", "C4-T8", "T8-A2"),
        _pairs("P7-P3", "P3-Pz", "Pz-P4", "P4-P8"),
        _pairs("P7-O1", "O1-O2", "O2-P8"),
    ),
)

BUILTIN_MONTAGES = ("referential", "average", "double-banana", "transverse", "laplacian")


@dataclass
class MontageResult:
    """What :func:`apply_montage` did.

    Attributes
    ----------
    name : str
    applied : list of str
        Labels of the derived channels, in display order.
    skipped : list of (str, list of str)
        Derivations that could not be formed and the electrodes they lacked.
    groups : list of list of str
        ``applied`` split into display groups.
    """

    name: str
    applied: list[str] = field(default_factory=list)
    skipped: list[tuple[str, list[str]]] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)


def _scalp_eeg(raw: mne.io.BaseRaw) -> list[str]:
    """EEG electrodes of the 10-10 system present in ``raw`` (bipolar channels excluded)."""
    types = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
    out = []
    for name in raw.ch_names:
        if types[name] != "eeg" or "-" in name:
            continue
        if normalize_label(name).name == name and normalize_label(name).recognised:
            out.append(name)
    return out


def _referential(raw: mne.io.BaseRaw, reference: str, name: str) -> Montage:
    present = _scalp_eeg(raw)
    order = [c for c in TEN_TWENTY if c in present] + [c for c in present if c not in TEN_TWENTY]
    return Montage(name, (tuple(Derivation(c, reference) for c in order),))


def get_montage(raw: mne.io.BaseRaw, montage: str | os.PathLike | Montage) -> Montage:
    """Resolve a built-in montage name, a montage file or a :class:`Montage`.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording; referential, average and Laplacian montages use its electrodes.
    montage : str | path-like | Montage
        One of :data:`BUILTIN_MONTAGES`, a montage text file, or a Montage.

    Returns
    -------
    montage : Montage
    """
    if isinstance(montage, Montage):
        return montage
    if isinstance(montage, os.PathLike) or (isinstance(montage, str) and (os.sep in montage or montage.endswith(".txt"))):
        return read_montage(montage)
    _check_option("montage", montage, BUILTIN_MONTAGES)
    if montage == "double-banana":
        return DOUBLE_BANANA
    if montage == "transverse":
        return TRANSVERSE
    if montage == "average":
        return _referential(raw, AVERAGE, "average")
    if montage == "laplacian":
        return _referential(raw, LAPLACIAN, "laplacian")
    return _referential(raw, "", "referential")


def read_montage(path: str | os.PathLike) -> Montage:
    """Read a user-defined montage from a small text file.

    Format: one derivation per line, ``ACTIVE-REFERENCE`` (``Fp1-F7``), a
    bare electrode for the channel as recorded (``Cz``), ``ACTIVE-AVG`` for
    the common average, ``ACTIVE-LAP`` for the Laplacian. A blank line starts
    a new display group; ``#`` starts a comment; an optional first line
    ``name: …`` names the montage. Electrode names may use either
    nomenclature (T3 or T7); they are normalised like channel labels.

    Parameters
    ----------
    path : path-like
        The montage text file (UTF-8).

    Returns
    -------
    montage : Montage

    Raises
    ------
    dbrain.errors.MontageError
        With the file and line number of the first invalid line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MontageError(f"cannot read montage '{path}': {getattr(exc, 'strerror', None) or exc}") from exc
    name = path.stem
    groups: list[list[Derivation]] = [[]]
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            if groups[-1]:
                groups.append([])
            continue
        if line.lower().startswith("name:"):
            name = line.split(":", 1)[1].strip() or name
            continue
        parts = [p.strip() for p in line.split("-")]
        if len(parts) > 2 or not all(parts):
            raise MontageError(f"montage '{path.name}' line {lineno}: expected 'ACTIVE-REFERENCE' or 'ELECTRODE', got {line!r}")
        active = _electrode(parts[0], path, lineno)
        ref = ""
        if len(parts) == 2:
            ref = parts[1].upper() if parts[1].upper() in (AVERAGE, LAPLACIAN) else _electrode(parts[1], path, lineno)
        groups[-1].append(Derivation(active, ref))
    groups = [g for g in groups if g]
    if not groups:
        raise MontageError(f"montage '{path.name}' defines no derivations")
    return Montage(name, tuple(tuple(g) for g in groups))


def _electrode(token: str, path: Path, lineno: int) -> str:
    mapping = normalize_label(token)
    if mapping.type != "eeg" or not mapping.recognised or "-" in mapping.name:
        from ..channels import TEN_TEN

        raise MontageError(
            f"montage '{path.name}' line {lineno}: {token!r} is not a 10-20/10-10 electrode.{_suggest(token, TEN_TEN)}"
        )
    return mapping.name


@lru_cache(maxsize=1)
def _positions() -> dict[str, np.ndarray]:
    montage = mne.channels.make_standard_montage("colin27_1005")
    pos = montage.get_positions()["ch_pos"]
    for old, new in (("T3", "T7"), ("T4", "T8"), ("T5", "P7"), ("T6", "P8")):
        pos.setdefault(new, pos.get(old))
    return {k: np.asarray(v) for k, v in pos.items() if v is not None}


def _laplacian_neighbours(present: list[str], k: int = 4) -> dict[str, list[str]]:
    """The ``k`` nearest present electrodes of each electrode (Hjorth's neighbours).

    On a full 10-20 set these are the adjacent grid electrodes; neighbours
    farther than 1.6 times the median neighbour distance are dropped so an
    edge electrode does not borrow from across the head.
    """
    pos = _positions()
    known = [c for c in present if c in pos]
    if len(known) < 2:
        return {}
    xyz = np.array([pos[c] for c in known])
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    kk = min(k, len(known) - 1)
    nearest = np.argsort(dist, axis=1)[:, :kk]
    typical = np.median(dist[np.arange(len(known))[:, None], nearest])
    out = {}
    for i, c in enumerate(known):
        picks = [known[j] for j in nearest[i] if dist[i, j] <= 1.6 * typical]
        out[c] = picks or [known[nearest[i, 0]]]
    return out


class RawDerived(mne.io.BaseRaw):
    """A lazy Raw whose channels are ``weights @ inner`` (a linear montage)."""

    def __init__(self, inner: mne.io.BaseRaw, weights: np.ndarray, labels: list[str], sources: list[str]):
        info = mne.create_info(labels, inner.info["sfreq"], "eeg")
        with info._unlock():
            info["meas_date"] = inner.info["meas_date"]
            info["highpass"] = inner.info["highpass"]
            info["lowpass"] = inner.info["lowpass"]
            info["line_freq"] = inner.info["line_freq"]
        super().__init__(
            info,
            preload=False,
            first_samps=(inner.first_samp,),
            last_samps=(inner.last_samp,),
            filenames=inner.filenames[:1] or (None,),
            # MNE lets a reader see only _raw_extras and filenames while reading.
            raw_extras=[{"inner": inner, "weights": weights, "picks": sources, "first": inner.first_samp}],
            orig_format="double",
            verbose="error",
        )
        self.set_annotations(inner.annotations, emit_warning=False)

    @property
    def weights(self) -> np.ndarray:
        """The derivation matrix, shape (n_derivations, n_sources): ``derived = weights @ inner[sources]``."""
        return self._raw_extras[0]["weights"]

    @property
    def sources(self) -> list[str]:
        """The referential channels the derivations are formed from, in the columns' order."""
        return list(self._raw_extras[0]["picks"])

    def _read_segment_file(self, data, idx, fi, start, stop, cals, mult):
        extra = self._raw_extras[fi]
        src = extra["inner"].get_data(picks=extra["picks"], start=start - extra["first"], stop=stop - extra["first"])
        one = extra["weights"] @ src
        if mult is not None:
            data[:] = mult @ one[idx]
        else:
            data[:] = one[idx] * cals


def apply_montage(
    raw: mne.io.BaseRaw, montage: str | os.PathLike | Montage = "double-banana"
) -> tuple[mne.io.BaseRaw, MontageResult]:
    """Derive montage channels from a referential recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording read by :func:`dbrain.io.read_recording` (normalised
        names). It may be lazy; the result is lazy too.
    montage : str | path-like | Montage
        ``"referential"``, ``"average"``, ``"double-banana"``,
        ``"transverse"``, ``"laplacian"``, a montage text file (see
        :func:`read_montage`) or a :class:`Montage`.

    Returns
    -------
    derived : mne.io.BaseRaw
        One EEG channel per derivation that could be formed.
    result : MontageResult
        Applied and skipped derivations.

    Raises
    ------
    dbrain.errors.MontageError
        If no derivation of the montage can be formed from the recording.
    """
    spec = get_montage(raw, montage)
    present = set(raw.ch_names)
    scalp = _scalp_eeg(raw)
    neighbours = _laplacian_neighbours(scalp) if any(d.reference == LAPLACIAN for d in spec.derivations) else {}
    result = MontageResult(spec.name)
    rows, labels = [], []
    sources = sorted(
        {
            *scalp,
            *[d.active for d in spec.derivations if d.active in present],
            *[d.reference for d in spec.derivations if d.reference in present],
        },
        key=raw.ch_names.index,
    )
    col = {c: i for i, c in enumerate(sources)}
    for group in spec.groups:
        applied = []
        for d in group:
            missing = [e for e in (d.active, d.reference) if e and e not in (AVERAGE, LAPLACIAN) and e not in present]
            if d.reference == AVERAGE and len(scalp) < 3:
                missing.append("average reference (fewer than 3 scalp electrodes)")
            if d.reference == LAPLACIAN and d.active not in neighbours:
                missing.append(f"neighbours of {d.active}")
            if missing:
                result.skipped.append((d.label, missing))
                continue
            w = np.zeros(len(sources))
            w[col[d.active]] += 1.0
            if d.reference == AVERAGE:
                for c in scalp:
                    w[col[c]] -= 1.0 / len(scalp)
            elif d.reference == LAPLACIAN:
                for c in neighbours[d.active]:
                    w[col[c]] -= 1.0 / len(neighbours[d.active])
            elif d.reference:
                w[col[d.reference]] -= 1.0
            label = d.label
            if label in labels:
                continue
            rows.append(w)
            labels.append(label)
            applied.append(label)
        if applied:
            result.groups.append(applied)
    if not rows:
        lacking = sorted({m for _, ms in result.skipped for m in ms})
        raise MontageError(
            f"montage '{spec.name}' cannot be formed from this recording: missing {', '.join(lacking) or 'EEG channels'}"
        )
    result.applied = labels
    return RawDerived(raw, np.array(rows), labels, sources), result
