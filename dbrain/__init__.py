"""dbrain: open clinical EEG review and analysis.

The verbs a notebook needs are here, on plain MNE objects, imported lazily so
``import dbrain`` stays fast::

    import dbrain
    raw, info = dbrain.read_recording("patient.edf")        # any format, channels normalised
    raw = dbrain.normalize_raw(mne.io.read_raw_edf(...))    # or bring your own Raw
    qeeg = dbrain.compute_qeeg(raw)                         # QEEGResult; .to_frame(), .bandpower()
    seizures = dbrain.detect_seizures(raw)                  # events DataFrame
    spikes = dbrain.detect_spikes(raw)
    patterns = dbrain.detect_patterns(raw)                  # LPD/GPD/LRDA/GRDA events
    dbrain.analyze("patient.edf", "results/")               # the whole analysis and report

Everything else stays in its package, one per concern: ``dbrain.io``,
``dbrain.channels``, ``dbrain.montages``, ``dbrain.events``, ``dbrain.qeeg``,
``dbrain.detect``, ``dbrain.network``, ``dbrain.diagnosis``, ``dbrain.deid``,
``dbrain.simulate``, ``dbrain.analyze``, ``dbrain.report``, ``dbrain.batch``,
``dbrain.ledger`` and ``dbrain.server``.
"""

import importlib.metadata

import lazy_loader as _lazy

try:
    __version__ = importlib.metadata.version("dbrain")
except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"

_lazy_getattr, _lazy_dir, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "io": ["read_recording"],
        "channels": ["normalize_raw"],
        "qeeg": ["compute_qeeg"],
        "detect": ["SeizureDetector", "PatternClassifier", "detect_seizures"],
        "detect.patterns": ["detect_patterns"],
        "detect.spikes": ["SpikeDetector", "detect_spikes"],
        "network": ["compute_connectivity"],
    },
)
__all__ = sorted([*__all__, "analyze", "__version__"])


def __getattr__(name):
    if name == "analyze":
        # The package is callable (dbrain.analyze(...) runs dbrain.analyze.analyze), so the verb and the
        # package can share the name whichever is imported first.
        return importlib.import_module(f"{__name__}.analyze")
    return _lazy_getattr(name)


def __dir__():
    return sorted({*_lazy_dir(), "analyze"})
