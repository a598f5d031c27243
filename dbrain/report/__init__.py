"""The clinical report: ``report.html`` and the same report as ``report.pdf``.

Analysis steps contribute :class:`Section` objects made of small typed
blocks (:class:`Paragraph`, :class:`Note`, :class:`KeyValues`,
:class:`Table`, :class:`Figure`). Nothing a caller passes is trusted as
HTML, so an annotation text can never inject markup into a report.
:func:`render_html` makes one self-contained page (inline CSS, images as
``data:`` URIs) and :func:`write_report` writes it with its PDF print (A4,
numbered pages, wide figures on landscape pages), both or neither.

:func:`plot_eeg_page` draws a clinical page of EEG from a recording already
in the montage to show; :func:`select_page_start` picks a representative one.

Example
-------
>>> sections = [Section("Recording", "recording", [KeyValues([("Duration", "0:20:00")])])]
>>> html = render_html("EEG report", sections, header={"Patient": "P-0042"})
>>> "Decision support only" in html
True
"""

from ._blocks import Figure, KeyValues, Note, Paragraph, Section, Table
from ._eegpage import plot_eeg_page, select_page_start
from ._render import render_html, write_report

__all__ = [
    "Figure",
    "KeyValues",
    "Note",
    "Paragraph",
    "Section",
    "Table",
    "plot_eeg_page",
    "render_html",
    "select_page_start",
    "write_report",
]
