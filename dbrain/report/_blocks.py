"""Report building blocks: a :class:`Section` holds small typed blocks.

No block carries HTML. Every text a caller gives (a paragraph, a table cell,
an annotation label read from a file) is escaped when rendered, so a report
cannot be made to run scripts or load anything by the data it shows.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils.check import _check_option, _validate_type

# Room for a figure on an A4 page inside the report's margins (see templates/report.html),
# less a heading and a caption, in inches: (width, height).
_PORTRAIT_ROOM = ((210 - 2 * 14) / 25.4, 9.3)
_LANDSCAPE_ROOM = ((297 - 2 * 14) / 25.4, 6.5)

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


@dataclass
class Paragraph:
    """A paragraph of plain text.

    Parameters
    ----------
    text : str
        Shown as written; line breaks are kept, markup is escaped.
    """

    text: str
    kind: str = field(default="paragraph", init=False, repr=False)

    def __post_init__(self):
        self.text = str(self.text)


@dataclass
class Note:
    """A highlighted remark, e.g. skipped derivations or missing data.

    Parameters
    ----------
    text : str
        The remark.
    level : str
        ``"info"`` (blue), ``"warning"`` (amber, the default) or ``"alert"`` (red).
    """

    text: str
    level: str = "warning"
    kind: str = field(default="note", init=False, repr=False)

    def __post_init__(self):
        self.text = str(self.text)
        _check_option("level", self.level, ("info", "warning", "alert"))


@dataclass
class KeyValues:
    """Label/value pairs shown as a two-column table.

    Parameters
    ----------
    items : list of (str, object) | dict
        Labels and values, in display order; values are shown as text
        (``None`` and NaN as ``n/a``).
    """

    items: list
    kind: str = field(default="keyvalues", init=False, repr=False)

    def __post_init__(self):
        pairs = self.items.items() if isinstance(self.items, dict) else self.items
        try:
            self.items = [(str(label), _cell(value)) for label, value in pairs]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"KeyValues items must be (label, value) pairs: {exc}") from None


@dataclass
class Table:
    """A table from a DataFrame; rows beyond ``max_rows`` are counted, not shown.

    Parameters
    ----------
    data : pandas.DataFrame
        The table; its index is not shown (reset it to show it).
    max_rows : int | None
        Show at most this many rows; None shows all.
    caption : str
        Shown under the table.
    more_in : str | None
        Where the rows left out can be found (``"events.tsv"``), for the
        line "N more rows in events.tsv".
    """

    data: pd.DataFrame
    max_rows: int | None = None
    caption: str = ""
    more_in: str | None = None
    kind: str = field(default="table", init=False, repr=False)

    def __post_init__(self):
        _validate_type(self.data, pd.DataFrame, "data", "pandas.DataFrame")
        if self.max_rows is not None:
            _validate_type(self.max_rows, int, "max_rows")
            if self.max_rows < 0:
                raise ParameterError(f"max_rows must be >= 0, got {self.max_rows}.")

    @property
    def columns(self) -> list[str]:
        """Column headings as text."""
        return [str(c) for c in self.data.columns]

    @property
    def numeric(self) -> list[bool]:
        """Whether each column holds numbers (shown right-aligned)."""
        return [pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) for dtype in self.data.dtypes]

    def rows(self) -> list[list[str]]:
        """The rows shown, every cell as text."""
        shown = self.data if self.max_rows is None else self.data.head(self.max_rows)
        return [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]

    @property
    def hidden(self) -> int:
        """How many rows are left out."""
        return 0 if self.max_rows is None else max(len(self.data) - self.max_rows, 0)


@dataclass
class Figure:
    """A matplotlib figure, embedded as a PNG at print resolution.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure; it is drawn with the Agg canvas, no GUI backend is used.
    caption : str
        Shown under the figure.
    dpi : int
        Resolution of the embedded PNG.
    landscape : bool | None
        Print the section holding this figure on A4 landscape pages. By default
        (None) a figure goes landscape when it is too wide for a portrait page
        and prints larger on a landscape one. A figure prints at its own size
        when it fits (so an EEG page keeps its µV/mm), shrunk to fit otherwise.
    colors : int | None
        Reduce the PNG to this many colours (2–256). Line drawings such as an
        EEG page look the same with 64 colours at about a third of the size;
        leave None for images and colour maps.
    """

    figure: object
    caption: str = ""
    dpi: int = 200
    landscape: bool | None = None
    colors: int | None = None
    kind: str = field(default="figure", init=False, repr=False)

    def __post_init__(self):
        from matplotlib.figure import Figure as MplFigure

        _validate_type(self.figure, MplFigure, "figure", "matplotlib.figure.Figure")
        _validate_type(self.dpi, int, "dpi")
        if not 50 <= self.dpi <= 600:
            raise ParameterError(f"dpi must be in [50, 600], got {self.dpi}.")
        if self.colors is not None:
            _validate_type(self.colors, int, "colors")
            if not 2 <= self.colors <= 256:
                raise ParameterError(f"colors must be in [2, 256], got {self.colors}.")

    @property
    def size_in(self) -> tuple[float, float]:
        """Width and height of the figure in inches."""
        if self.figure is None:  # rasterized: the size was kept
            return self._size
        w, h = self.figure.get_size_inches()
        return float(w), float(h)

    def _draw_elsewhere(self, submit) -> bool:
        """Hand the figure to ``submit(payload)`` (a drawing process) and let go of it.

        ``payload`` is ``(figure, dpi, colors)`` pickled; ``submit`` returns a job whose ``result()``
        is the PNG :meth:`data_uri` would give (:func:`dbrain.utils._png.png_data_uri`) and whose
        ``payload()`` gives the pickle back if the drawing failed. Returns False, having drawn the
        figure here, when it cannot be pickled or handed over, and False for a figure already drawn
        or handed over.
        """
        import pickle

        if self.figure is None:
            return False
        try:
            payload = pickle.dumps((self.figure, self.dpi, self.colors), protocol=pickle.HIGHEST_PROTOCOL)
            job = submit(payload)
        except Exception:  # noqa: BLE001 - e.g. an artist holding a lambda, or the worker gone: drawn here
            self.rasterize()
            return False
        self._size = self.size_in
        self._job = job
        self.figure = None
        return True

    def _resolve(self) -> None:
        """The PNG of a figure handed to a drawing process (waits for it; drawn here if that failed)."""
        import pickle

        try:
            self._uri = self._job.result()
        except Exception:  # noqa: BLE001 - the worker died or failed on it: the same figure, drawn here
            from ..utils._png import png_data_uri

            self._uri = png_data_uri(*pickle.loads(self._job.payload()))
        self._job = None

    def rasterize(self) -> Figure:
        """Draw the PNG now and let go of the matplotlib figure (and the data it holds).

        ``dbrain analyze`` calls this as soon as a step's section is made, so
        that a long recording's figures are not all held until the report is
        written. :meth:`data_uri` then returns the PNG drawn here.

        Returns
        -------
        self : Figure
        """
        if self.figure is not None:
            self._size = self.size_in
            self._uri = self.data_uri()
            self.figure = None
        return self

    @staticmethod
    def _fit(size, room) -> float:
        return min(1.0, room[0] / size[0], room[1] / size[1])

    @property
    def is_landscape(self) -> bool:
        """Whether the figure prints on a landscape page."""
        if self.landscape is not None:
            return bool(self.landscape)
        size = self.size_in
        return size[0] > _PORTRAIT_ROOM[0] + 0.01 and self._fit(size, _LANDSCAPE_ROOM) > self._fit(size, _PORTRAIT_ROOM)

    @property
    def print_width_in(self) -> float:
        """Printed width in inches: the figure's own, or less so that it fits its page."""
        size = self.size_in
        return size[0] * self._fit(size, _LANDSCAPE_ROOM if self.is_landscape else _PORTRAIT_ROOM)

    def data_uri(self) -> str:
        """The figure as a ``data:image/png;base64,…`` URI."""
        from ..utils._png import png_data_uri

        if self.figure is None:
            if getattr(self, "_job", None) is not None:
                self._resolve()
            return self._uri
        return png_data_uri(self.figure, self.dpi, self.colors)


_BLOCKS = (Paragraph, Note, KeyValues, Table, Figure)


@dataclass
class Section:
    """A titled part of the report.

    Parameters
    ----------
    title : str
        Heading.
    key : str
        Stable identifier, used as the HTML anchor (``eeg-page``): a letter,
        then letters, digits, ``-`` or ``_``.
    blocks : list
        :class:`Paragraph`, :class:`Note`, :class:`KeyValues`, :class:`Table`
        and :class:`Figure` objects, in display order.
    break_before : bool
        Start the section on a new printed page (e.g. an appendix).
    """

    title: str
    key: str
    blocks: list = field(default_factory=list)
    break_before: bool = False

    def __post_init__(self):
        self.title = str(self.title)
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise ParameterError(f"section key must be a letter then letters, digits, '-' or '_', got {self.key!r}.")
        self.blocks = list(self.blocks)
        for block in self.blocks:
            if not isinstance(block, _BLOCKS):
                names = ", ".join(b.__name__ for b in _BLOCKS)
                raise ParameterError(f"section {self.key!r}: a block must be one of {names}, got {type(block).__name__}.")

    @property
    def landscape(self) -> bool:
        """Whether the section prints on landscape pages (it holds a landscape figure)."""
        return any(isinstance(b, Figure) and b.is_landscape for b in self.blocks)


def _cell(value) -> str:
    """One value as the text shown in a table cell."""
    if value is None or value is pd.NaT:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        # never scientific notation for large values (an onset of 26000 s is not "2.6e+04")
        return f"{value:.4g}" if abs(value) < 1e3 else f"{value:.0f}"
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple | set):
        return ", ".join(_cell(v) for v in value)
    return str(value)
