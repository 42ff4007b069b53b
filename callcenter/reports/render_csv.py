"""The report as CSV for spreadsheets: UTF-8 with a BOM (so Excel reads the Japanese),
one block per table (its title, the header, the rows, the total), every row in full.

Numbers are written as numbers in the figures' own units (rates as fractions, times in
seconds, as in `metrics --json`); the header names the unit.
"""

from __future__ import annotations

import csv
import io

from callcenter.reports.i18n import WORDS, Lang, Measured, fmt, pick
from callcenter.reports.layout import sections
from callcenter.reports.model import Column, MonthlyReport

UNITS = {
    "rate": ("（比率）", " (fraction)"),
    "points": ("（比率の差）", " (difference of fractions)"),
    "seconds": ("（秒）", " (s)"),
    "minutes": ("（分）", " (min)"),
    "count": ("（件）", ""),
    "score": ("（点）", ""),
}


def _header(c: Column, lang: Lang) -> str:
    unit = UNITS.get(c.kind)
    return pick(c.label, lang) + (pick(unit, lang) if unit else "")


def _value(v: object, c: Column, lang: Lang) -> object:
    if v is None:
        return ""
    if isinstance(v, Measured):
        # A mixed column: the number with its unit, as the report prints it.
        return fmt(v.kind, v.value, lang, signed=c.signed) if v.value is not None else ""
    if isinstance(v, tuple):
        return pick(v, lang)
    if isinstance(v, bool) or c.kind == "met":
        return fmt("met", v, lang)
    return v


def render_csv(report: MonthlyReport, lang: Lang) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([pick(WORDS["title"], lang), report.month, report.timezone])
    for s in sections(report):
        for t in s.tables:
            w.writerow([])
            w.writerow([f"{pick(s.title, lang)} / {pick(t.title, lang)}"])
            w.writerow([_header(c, lang) for c in t.columns])
            for row in t.rows:
                w.writerow([_value(v, c, lang) for v, c in zip(row, t.columns, strict=True)])
            if t.total is not None and t.rows:
                w.writerow([pick(WORDS["total"], lang),
                            *(_value(v, c, lang) for v, c in zip(t.total, t.columns[1:],
                                                                  strict=True))])  # fmt: skip
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
