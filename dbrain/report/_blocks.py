"""Report building blocks."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Paragraph:
    """A paragraph of plain text."""

    text: str
    kind: str = field(default="paragraph", init=False)


@dataclass
class Note:
    """A highlighted remark, e.g. skipped derivations or missing data."""

    text: str
    kind: str = field(default="note", init=False)


@dataclass
class KeyValues:
    """Label/value pairs shown as a two-column table."""

    items: list[tuple[str, str]]
    kind: str = field(default="keyvalues", init=False)


@dataclass
class Table:
    """A table from a DataFrame; rows beyond ``max_rows`` are counted, not shown."""

    data: pd.DataFrame
    max_rows: int | None = None
    caption: str = ""
    kind: str = field(default="table", init=False)

    def rows(self) -> list[list[str]]:
        shown = self.data if self.max_rows is None else self.data.head(self.max_rows)
        return [[_cell(v) for v in row] for row in shown.itertuples(index=False)]

    @property
    def hidden(self) -> int:
        return 0 if self.max_rows is None else max(len(self.data) - self.max_rows, 0)


@dataclass
class Figure:
    """A matplotlib figure, embedded as a PNG at print resolution."""

    figure: object
    caption: str = ""
    dpi: int = 150
    kind: str = field(default="figure", init=False)

    def data_uri(self) -> str:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        buf = io.BytesIO()
        FigureCanvasAgg(self.figure)
        self.figure.savefig(buf, format="png", dpi=self.dpi)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Section:
    """A titled part of the report; ``key`` is its stable anchor."""

    title: str
    key: str
    blocks: list = field(default_factory=list)


def _cell(value) -> str:
    if isinstance(value, float):
        if pd.isna(value):
            return "n/a"
        return f"{value:.4g}"
    return str(value)
