"""De-identification of EDF/EDF+/BDF/BDF+ recordings.

:func:`deidentify` writes a copy whose header holds no patient or recording
identifiers and whose annotation texts hold no personal names, with the
signal samples copied byte for byte. :func:`phi_strings` lists the
identifying strings of a file's header and :func:`find_phi` checks that none
of them is left in a file's text (header fields and annotation texts).

Other formats are converted to EDF first (``dbrain convert``).
"""

from ._deid import DeidReport, deidentify
from ._phi import find_phi, phi_strings

__all__ = ["DeidReport", "deidentify", "find_phi", "phi_strings"]
