"""The report as an Excel workbook (XlsxWriter): one sheet per section, the figures as
numbers (Excel number formats carry the units: 件, 秒, %), and native Excel charts over
a "chart data" sheet, so the charts stay live if someone edits a value.

Every table's cells (header to total) are a workbook-level defined name ``t_<table key>``
(e.g. ``t_by_day``), for people and programs that look a table up (the tests do).
"""

from __future__ import annotations

import io
import re
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from callcenter.reports.i18n import EXCEL_FORMATS, WORDS, Lang, Measured, fmt, local_time, pick
from callcenter.reports.layout import sections
from callcenter.reports.model import Chart, Column, MonthlyReport, Table

COLORS = ("#1F5FA8", "#E08A1E", "#3C9A4B", "#8E44AD")
TARGET_COLOR = "#C0392B"
CHART_COLUMN = 12  # charts go right of the tables, from column M
CHART_ROWS = 16  # rows per chart


class _Formats:
    def __init__(self, wb: Workbook, lang: Lang) -> None:
        self.wb = wb
        self.lang = lang
        self.cache: dict[tuple[str, bool, bool], Format] = {}
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.h2 = wb.add_format({"bold": True, "font_size": 12, "font_color": "#1F5FA8"})
        self.h3 = wb.add_format({"bold": True})
        self.head = wb.add_format({"bold": True, "bg_color": "#EEF2F7", "border": 1,
                                   "text_wrap": True, "valign": "top"})  # fmt: skip
        self.note = wb.add_format({"italic": True, "font_color": "#555555"})

    def cell(self, kind: str, missed: bool, total: bool) -> Format:
        key = (kind, missed, total)
        if key not in self.cache:
            spec: dict[str, Any] = {"border": 1, "valign": "top"}
            if kind in EXCEL_FORMATS:
                spec["num_format"] = EXCEL_FORMATS[kind][self.lang]
            if kind == "text":
                spec["text_wrap"] = True
            if missed:
                spec["bg_color"] = "#FDE2E2"
            if total:
                spec.update(bold=True, bg_color="#F4F4F4")
            self.cache[key] = self.wb.add_format(spec)
        return self.cache[key]


def _sheet_name(text: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", text)[:28].strip() or "sheet"
    base, n = name, 2
    while name.lower() in used:
        name, n = f"{base[:26]} {n}", n + 1
    used.add(name.lower())
    return name


def _write_cell(ws: Worksheet, row: int, col: int, value: object, c: Column, f: _Formats,
                missed: bool, total: bool = False) -> None:  # fmt: skip
    lang = f.lang
    kind: str = c.kind
    if isinstance(value, Measured):
        if value.op is not None:  # a target: the text "≥ 80.0%" says how it is met
            ws.write_string(row, col, fmt(value.kind, value, lang), f.cell("text", missed, total))
            return
        kind = "points" if c.signed and value.kind == "rate" else value.kind
        value = value.value
    if value is None:
        ws.write_blank(row, col, None, f.cell(kind, missed, total))
    elif isinstance(value, tuple):
        ws.write_string(row, col, pick(value, lang), f.cell("text", missed, total))
    elif c.kind == "met" or isinstance(value, bool):
        ws.write_string(row, col, fmt("met", value, lang), f.cell("text", missed, total))
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, f.cell(kind, missed, total))
    else:
        ws.write_string(row, col, str(value), f.cell("text", missed, total))


def _write_table(wb: Workbook, ws: Worksheet, sheet: str, row: int, t: Table,
                 f: _Formats) -> int:  # fmt: skip
    """Writes the table from ``row``; returns the next free row."""
    lang = f.lang
    ws.write_string(row, 0, pick(t.title, lang), f.h3)
    row += 1
    first = row
    for j, c in enumerate(t.columns):
        ws.write_string(row, j, pick(c.label, lang), f.head)
    for i, values in enumerate(t.rows):
        row += 1
        missed = i < len(t.missed) and t.missed[i]
        for j, (v, c) in enumerate(zip(values, t.columns, strict=True)):
            _write_cell(ws, row, j, v, c, f, missed)
    if not t.rows:
        row += 1
        ws.write_string(row, 0, pick(WORDS["no_rows"], lang))
    elif t.total is not None:
        row += 1
        ws.write_string(row, 0, pick(WORDS["total"], lang), f.cell("text", False, True))
        for j, (v, c) in enumerate(zip(t.total, t.columns[1:], strict=True), start=1):
            _write_cell(ws, row, j, v, c, f, False, total=True)
    last_col = xlsxwriter.utility.xl_col_to_name(len(t.columns) - 1)
    wb.define_name(f"t_{t.key}", f"='{sheet}'!$A${first + 1}:${last_col}${row + 1}")
    if t.note is not None and pick(t.note, lang):
        row += 1
        ws.write_string(row, 0, pick(t.note, lang), f.note)
    return row + 2


def _write_chart_data(ws: Worksheet, data_name: str, col: int, chart: Chart, lang: Lang,
                      f: _Formats) -> dict[str, Any]:  # fmt: skip
    """The chart's numbers in columns from ``col``; returns the ranges per series."""
    ws.write_string(0, col, pick(chart.title, lang), f.h3)
    ws.write_string(1, col, pick(chart.x_label, lang) or "", f.head)
    for i, cat in enumerate(chart.categories):
        ws.write_string(2 + i, col, cat if isinstance(cat, str) else pick(cat, lang))
    num = f.cell(chart.y_kind, False, False)
    for k, s in enumerate(chart.series, start=1):
        ws.write_string(1, col + k, pick(s.label, lang), f.head)
        for i, v in enumerate(s.values):
            if v is None:
                ws.write_blank(2 + i, col + k, None, num)
            else:
                ws.write_number(2 + i, col + k, v, num)
    n = len(chart.categories)
    return {
        "categories": [data_name, 2, col, 1 + n, col],
        "series": [
            [data_name, 2, col + k, 1 + n, col + k] for k in range(1, len(chart.series) + 1)
        ],
        "names": [[data_name, 1, col + k] for k in range(1, len(chart.series) + 1)],
    }


def _chart(wb: Workbook, chart: Chart, ranges: dict[str, Any], lang: Lang) -> Any:
    main = wb.add_chart({"type": chart.kind})
    line = wb.add_chart({"type": "line"}) if chart.kind == "column" else main
    color = 0
    for s, values, name in zip(chart.series, ranges["series"], ranges["names"], strict=True):
        spec: dict[str, Any] = {"name": name, "categories": ranges["categories"], "values": values}
        if s.target:
            spec["line"] = {"color": TARGET_COLOR, "dash_type": "dash", "width": 1.75}
            spec["marker"] = {"type": "none"}
            line.add_series(spec)
        else:
            c = COLORS[color % len(COLORS)]
            color += 1
            if chart.kind == "line":
                spec["line"] = {"color": c, "width": 2}
                spec["marker"] = {"type": "circle", "size": 4,
                                  "fill": {"color": c}, "border": {"color": c}}  # fmt: skip
            else:
                spec["fill"] = {"color": c}
            main.add_series(spec)
    if line is not main:
        main.combine(line)
    main.set_title({"name": pick(chart.title, lang), "name_font": {"size": 11}})
    num = EXCEL_FORMATS.get(chart.y_kind, {}).get(lang, "General")
    main.set_y_axis(
        {
            "num_format": "0%" if chart.y_kind == "rate" else num,
            "min": 0,
            "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}},
        }
    )
    main.set_x_axis({"name": pick(chart.x_label, lang) or None})
    main.set_legend({"position": "top"})
    main.set_size({"width": 620, "height": 300})
    return main


def render_xlsx(report: MonthlyReport, lang: Lang) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    wb.set_properties({"title": f"{pick(WORDS['title'], lang)} {report.month}"})
    f = _Formats(wb, lang)
    used: set[str] = set()
    parts = sections(report)
    sheets = [(s, _sheet_name(pick(s.title, lang), used)) for s in parts]
    data_name = _sheet_name(pick(("グラフデータ", "Chart data"), lang), used)
    worksheets = {name: wb.add_worksheet(name) for _, name in sheets}
    data_ws = wb.add_worksheet(data_name)
    data_col = 0
    for n, (s, name) in enumerate(sheets):
        ws = worksheets[name]
        ws.set_column(0, 0, 30)
        ws.set_column(1, 10, 13)
        row = 0
        if n == 0:
            ws.write_string(0, 0, f"{pick(WORDS['title'], lang)} {report.month}", f.title)
            ws.write_string(1, 0, f"{pick(WORDS['generated'], lang)}: "
                            f"{local_time(report.generated_at, report.tz, lang)} "
                            f"({report.timezone})", f.note)  # fmt: skip
            row = 3
        ws.write_string(row, 0, pick(s.title, lang), f.h2)
        row += 1
        for p in s.paragraphs:
            ws.write_string(row, 0, pick(p, lang))
            row += 1
        row += 1
        charts_at = row
        for t in s.tables:
            row = _write_table(wb, ws, name, row, t, f)
        for k, chart in enumerate(s.charts):
            ranges = _write_chart_data(data_ws, data_name, data_col, chart, lang, f)
            data_col += len(chart.series) + 2
            ws.insert_chart(
                charts_at + k * CHART_ROWS, CHART_COLUMN, _chart(wb, chart, ranges, lang)
            )
    wb.close()
    return buf.getvalue()
