"""Reading and writing recordings.

:func:`read_recording` reads every EEG format MNE-Python reads (and BIDS via
mne-bids) into an MNE ``Raw`` plus a :class:`RecordingInfo`;
:func:`write_edf` writes EDF+ through edfio.
"""

from ._edf_header import EdfHeader, read_edf_header
from ._info import RecordingInfo
from ._read import list_recordings, read_recording
from ._write import write_edf

__all__ = ["EdfHeader", "RecordingInfo", "list_recordings", "read_edf_header", "read_recording", "write_edf"]
