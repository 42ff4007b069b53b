"""The report as an A4 PDF: the HTML page (tables and SVG charts) printed by WeasyPrint,
with the Japanese font embedded (subset) from the system's Noto Sans CJK
(scripts/install-system-deps.sh installs fonts-noto-cjk). docs/decisions/0011."""

from __future__ import annotations

from callcenter.reports.i18n import Lang
from callcenter.reports.model import MonthlyReport
from callcenter.reports.render_html import render_html


def render_pdf(report: MonthlyReport, lang: Lang) -> bytes:
    # Imported here: WeasyPrint loads Pango at import, and only the PDF needs it.
    from weasyprint import HTML

    pdf = HTML(string=render_html(report, lang)).write_pdf()
    assert pdf is not None  # no target given: the bytes are returned
    return bytes(pdf)
