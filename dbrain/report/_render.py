"""Render sections to one self-contained HTML page and print it to PDF."""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from pathlib import Path

import jinja2

from .. import __version__
from ..errors import OutputError
from ..utils._atomic import atomic_file

DISCLAIMER = "Decision support only; findings must be confirmed by a qualified clinician."

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("dbrain.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(title: str, sections: list, *, header: dict | None = None, footer: str | None = None) -> str:
    """Render a report as one self-contained HTML page.

    Parameters
    ----------
    title : str
        Report title.
    sections : list of Section
        In display order.
    header : dict | None
        Facts shown under the title (recording, format, start …).
    footer : str | None
        Extra footer text.

    Returns
    -------
    html : str
        HTML with inline CSS and images; it references nothing outside itself.
    """
    template = _env.get_template("report.html")
    return template.render(
        title=title,
        sections=sections,
        header=header or {},
        footer=footer or "",
        version=__version__,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        disclaimer=DISCLAIMER,
    )


def write_report(html: str, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.html`` and, from the same HTML, ``report.pdf`` into ``out_dir``.

    Parameters
    ----------
    html : str
        The page from :func:`render_html`.
    out_dir : path-like
        An existing folder.

    Returns
    -------
    html_path, pdf_path : pathlib.Path
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"report folder '{out_dir}' does not exist")
    # weasyprint and fontTools log font subsetting chatter at INFO/WARNING.
    for name in ("weasyprint", "fontTools", "fontTools.subset", "fontTools.ttLib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html_path = out_dir / "report.html"
    pdf_path = out_dir / "report.pdf"
    with atomic_file(pdf_path) as tmp, warnings.catch_warnings():
        # weasyprint warns about optional system libraries; the PDF is complete without them.
        warnings.simplefilter("ignore")
        # Reports are self-contained: only inline data: URLs may be resolved, nothing is fetched.
        HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf(tmp)
    with atomic_file(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return html_path, pdf_path
