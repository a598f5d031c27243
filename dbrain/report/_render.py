"""Render sections to one self-contained HTML page and print it to PDF."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import warnings
from pathlib import Path

import jinja2

from .. import __version__
from ..errors import OutputError, ParameterError
from ..utils._atomic import atomic_file
from ._blocks import Section

DISCLAIMER = "Decision support only; findings must be confirmed by a qualified clinician."

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("dbrain.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Loggers of weasyprint and of the libraries it uses to subset fonts.
_QUIET = ("weasyprint", "weasyprint.progress", "fontTools", "fontTools.subset", "fontTools.ttLib", "fontTools.ttLib.ttFont")


def render_html(title: str, sections: list, *, header: dict | None = None, footer: str | None = None) -> str:
    """Render a report as one self-contained HTML page.

    Parameters
    ----------
    title : str
        Report title.
    sections : list of Section
        In display order; their keys must be distinct.
    header : dict | None
        Facts shown in the header box, in order (``{"Patient": "P-0042",
        "Recording": "…"}``); the generation time and dbrain version are added.
    footer : str | None
        Text shown at the end of the report.

    Returns
    -------
    html : str
        HTML with inline CSS and images; it references nothing outside itself.
        Every text is escaped. Printed (see :func:`write_report`) it gives A4
        pages numbered "page n of N" with the disclaimer on each.
    """
    sections = list(sections)
    seen = set()
    for s in sections:
        if not isinstance(s, Section):
            raise ParameterError(f"sections must hold Section objects, got {type(s).__name__}.")
        if s.key in seen:
            raise ParameterError(f"two sections have the key {s.key!r}; keys must be distinct.")
        seen.add(s.key)
    if header is not None and not isinstance(header, dict):
        raise ParameterError(f"header must be a dict, got {type(header).__name__}.")
    facts = [(str(k), "n/a" if v is None else str(v)) for k, v in (header or {}).items()]
    template = _env.get_template("report.html")
    return template.render(
        title=str(title),
        sections=sections,
        header=facts,
        footer=footer or "",
        version=__version__,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        disclaimer=DISCLAIMER,
    )


@contextlib.contextmanager
def _quiet_weasyprint():
    """Silence weasyprint's and fontTools' log chatter and warnings for one call."""
    loggers = [logging.getLogger(name) for name in _QUIET]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            # weasyprint and its libraries warn about optional system features; the PDF is complete without them.
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _url_fetcher():
    """A weasyprint URL fetcher that resolves inline ``data:`` URLs and refuses all others."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, timeout=1, allow_redirects=False)


def _pdf_bytes(html: str) -> bytes:
    with _quiet_weasyprint():
        from weasyprint import HTML

        # Reports are self-contained: nothing is fetched, from the network or from disk.
        return HTML(string=html, url_fetcher=_url_fetcher()).write_pdf()


def write_report(html: str, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.html`` and, from the same HTML, ``report.pdf`` into ``out_dir``.

    Both files appear together or not at all: if printing the PDF fails,
    neither is written (nor is an older pair touched).

    Parameters
    ----------
    html : str
        The page from :func:`render_html`.
    out_dir : path-like
        An existing folder.

    Returns
    -------
    html_path, pdf_path : pathlib.Path
        The two files written.

    Raises
    ------
    OutputError
        If ``out_dir`` is not an existing folder or cannot be written.
    """
    _validate_html(html)
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"report folder '{out_dir}' does not exist")
    html_path = out_dir / "report.html"
    pdf_path = out_dir / "report.pdf"
    with atomic_file(html_path) as tmp_html, atomic_file(pdf_path) as tmp_pdf:
        tmp_html.write_text(html, encoding="utf-8")
        tmp_pdf.write_bytes(_pdf_bytes(html))
    return html_path, pdf_path


def _validate_html(html) -> None:
    if not isinstance(html, str):
        raise ParameterError(f"html must be a str, got {type(html).__name__}.")
