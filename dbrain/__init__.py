"""dbrain: open clinical EEG review and analysis.

The public entry points live in the sub-packages, one per concern:
``dbrain.io`` (reading recordings), ``dbrain.channels`` (label normalisation),
``dbrain.montages``, ``dbrain.events`` (the project's one events table),
``dbrain.deid`` (de-identification), ``dbrain.simulate`` (synthetic EEG with
ground truth), ``dbrain.analyze`` (the pluggable analysis pipeline) and
``dbrain.report``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
