"""The clinical report: ``report.html`` and the same report as ``report.pdf``.

Steps contribute :class:`Section` objects made of small typed blocks;
nothing a caller passes is trusted as HTML, so an annotation text can never
inject markup into a report.
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
