"""The report as one HTML page: tables, and the charts as inline SVG. The PDF is this
page printed (render_pdf), so the page carries its own A4 print style."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from callcenter.reports.i18n import WORDS, Lang, fmt, local_time, month_title, pick
from callcenter.reports.layout import sections
from callcenter.reports.model import MonthlyReport, Section, Table
from callcenter.reports.months import month_bounds
from callcenter.reports.svg import render_svg

STYLE = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; } }
body { font-family: 'Noto Sans CJK JP', 'Noto Sans JP', sans-serif; font-size: 9.5pt;
  color: #222; margin: 2em; }
@media print { body { margin: 0; } }
h1 { font-size: 17pt; margin: 0 0 .2em; }
h2 { font-size: 13pt; border-bottom: 2px solid #1f5fa8; margin: 1.4em 0 .5em;
  break-after: avoid; }
h3 { font-size: 10.5pt; margin: 1em 0 .3em; break-after: avoid; }
.meta { color: #555; margin: 0 0 1em; }
table { border-collapse: collapse; margin: 0 0 .6em; }
td, th { border: 1px solid #aaa; padding: .15em .45em; text-align: left; }
th { background: #eef2f7; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.miss td { background: #fde2e2; }
tr.total td { font-weight: bold; background: #f4f4f4; }
p.note { color: #555; font-size: 8.5pt; margin: 0 0 .8em; }
figure { margin: .3em 0 .8em; break-inside: avoid; }
tr { break-inside: avoid; }
nav ol { columns: 2; }
"""


def _cell(value: object, kind: str, lang: Lang, signed: bool) -> str:
    text = fmt(kind, value, lang, signed=signed)  # type: ignore[arg-type]
    numeric = kind not in ("text", "met") or not isinstance(value, str | tuple)
    return f'<td class="n">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def table_html(t: Table, lang: Lang) -> str:
    head = "".join(f"<th>{escape(pick(c.label, lang))}</th>" for c in t.columns)
    rows = t.rows if t.print_limit is None else t.rows[: t.print_limit]
    body = []
    for i, row in enumerate(rows):
        cls = ' class="miss"' if i < len(t.missed) and t.missed[i] else ""
        cells = "".join(
            _cell(v, c.kind, lang, c.signed) for v, c in zip(row, t.columns, strict=True)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    if not t.rows:
        body.append(f'<tr><td colspan="{len(t.columns)}">{escape(pick(WORDS["no_rows"], lang))}'
                    "</td></tr>")  # fmt: skip
    if t.total is not None and t.rows:
        cells = "".join(
            _cell(v, c.kind, lang, c.signed) for v, c in zip(t.total, t.columns[1:], strict=True)
        )
        body.append(f'<tr class="total"><td>{escape(pick(WORDS["total"], lang))}</td>{cells}</tr>')
    out = [
        f"<h3>{escape(pick(t.title, lang))}</h3>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
    ]
    if len(rows) < len(t.rows):
        more = pick(WORDS["more_rows"], lang).format(n=len(t.rows) - len(rows))
        out.append(f'<p class="note">{escape(more)}</p>')
    if t.note is not None and pick(t.note, lang):
        out.append(f'<p class="note">{escape(pick(t.note, lang))}</p>')
    return "\n".join(out)


def section_html(s: Section, lang: Lang) -> str:
    out = [f'<section id="{escape(s.key)}"><h2>{escape(pick(s.title, lang))}</h2>']
    out += [f"<p>{escape(pick(p, lang))}</p>" for p in s.paragraphs]
    out += [f"<figure>{render_svg(c, lang)}</figure>" for c in s.charts]
    out += [table_html(t, lang) for t in s.tables]
    out.append("</section>")
    return "\n".join(out)


def render_html(report: MonthlyReport, lang: Lang) -> str:
    title = pick(WORDS["title"], lang)
    parts = sections(report)
    _, _, first_day, next_day = month_bounds(report.month)
    last_day = (date.fromisoformat(next_day) - timedelta(days=1)).isoformat()
    nav = "".join(
        f'<li><a href="#{escape(s.key)}">{escape(pick(s.title, lang))}</a></li>' for s in parts
    )
    generated = local_time(report.generated_at, report.tz, lang)
    return "\n".join([
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{escape(title)} {escape(report.month)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)} {escape(month_title(report.month, lang))}</h1>",
        f'<p class="meta">{escape(pick(WORDS["period"], lang))}: {escape(first_day)} – '
        f"{escape(last_day)} ({escape(report.timezone)}) · "
        f"{escape(pick(WORDS['generated'], lang))}: {escape(generated)}</p>",
        f"<nav><h3>{escape(pick(WORDS['contents'], lang))}</h3><ol>{nav}</ol></nav>",
        *(section_html(s, lang) for s in parts),
        "</body></html>\n",
    ])  # fmt: skip
