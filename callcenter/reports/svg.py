"""Charts as inline SVG (the HTML report, and through it the PDF): line and column charts
with their target lines dashed. Plain SVG 1.1, no script, no external reference."""

from __future__ import annotations

import math
from html import escape

from callcenter.reports.i18n import Lang, fmt, pick
from callcenter.reports.model import Chart

W, H = 680, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 42
COLORS = ("#1f5fa8", "#e08a1e", "#3c9a4b", "#8e44ad")
TARGET_COLOR = "#c0392b"
FONT = "font-family=\"'Noto Sans CJK JP','Noto Sans JP',sans-serif\""


def _nice_step(top: float, whole: bool) -> float:
    """A round step such that four steps reach ``top``; whole numbers for counts."""
    if top <= 0:
        return 1.0 if whole else 0.25
    raw = top / 4
    exp = float(10.0 ** math.floor(math.log10(raw)))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * exp >= raw and not (whole and (step * exp) % 1):
            return step * exp
    return max(10 * exp, 1.0) if whole else 10 * exp


def _tick_label(kind: str, value: float, lang: Lang) -> str:
    if kind == "rate":
        pct = round(100 * value, 6)
        return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"
    if kind == "minutes":
        return f"{value:g}分" if lang == "ja" else f"{value:g} min"
    return f"{value:,.0f}"


def render_svg(chart: Chart, lang: Lang) -> str:
    values = [v for s in chart.series for v in s.values if v is not None]
    top = 4 * _nice_step(max(values, default=0.0) * 1.05, chart.y_kind == "count")
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(chart.categories), 1)

    def y(v: float) -> float:
        return TOP + ph - (v / top) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" {FONT} font-size="11">',
        f"<title>{escape(pick(chart.title, lang))}</title>",
        f'<text x="{LEFT}" y="14" font-size="13" font-weight="bold">'
        f"{escape(pick(chart.title, lang))}</text>",
    ]
    for i in range(5):  # grid and y ticks
        v = top * i / 4
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">'
                   f"{escape(_tick_label(chart.y_kind, v, lang))}</text>")  # fmt: skip
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}" stroke="#888"/>')
    out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + ph}" y2="{TOP + ph}" '
               'stroke="#888"/>')  # fmt: skip
    slot = pw / n
    every = max(1, math.ceil(n / 16))
    for i, cat in enumerate(chart.categories):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        label = cat if isinstance(cat, str) else pick(cat, lang)
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 14}" text-anchor="middle">'
                   f"{escape(label)}</text>")  # fmt: skip
    if chart.x_label != ("", ""):
        out.append(f'<text x="{LEFT + pw / 2:.1f}" y="{H - 6}" text-anchor="middle" fill="#555">'
                   f"{escape(pick(chart.x_label, lang))}</text>")  # fmt: skip
    bars = [s for s in chart.series if not s.target] if chart.kind == "column" else []
    bar_w = slot * 0.8 / max(len(bars), 1)
    color = 0
    legend_x = LEFT + 260
    for s in chart.series:
        stroke = TARGET_COLOR if s.target else COLORS[color % len(COLORS)]
        if not s.target:
            color += 1
        if s in bars:
            k = bars.index(s)
            for i, bar in enumerate(s.values):
                if bar is None:
                    continue
                x = LEFT + slot * i + slot * 0.1 + bar_w * k
                out.append(
                    f'<rect x="{x:.1f}" y="{y(bar):.1f}" width="{bar_w:.1f}" '
                    f'height="{TOP + ph - y(bar):.1f}" fill="{stroke}">'
                    f"<title>{escape(fmt(chart.y_kind, bar, lang))}</title></rect>"
                )
        else:
            pts = [(LEFT + slot * (i + 0.5), y(v)) for i, v in enumerate(s.values) if v is not None]
            if chart.kind == "column" and s.target:  # a target per category: a short bar
                for x, yy in pts:
                    out.append(f'<line x1="{x - slot * 0.45:.1f}" x2="{x + slot * 0.45:.1f}" '
                               f'y1="{yy:.1f}" y2="{yy:.1f}" stroke="{stroke}" stroke-width="2" '
                               'stroke-dasharray="6 3"/>')  # fmt: skip
            elif pts:
                path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in pts)
                dash = ' stroke-dasharray="6 3"' if s.target else ""
                out.append(f'<polyline points="{path}" fill="none" stroke="{stroke}" '
                           f'stroke-width="2"{dash}/>')  # fmt: skip
        out.append(f'<rect x="{legend_x}" y="6" width="12" height="8" fill="{stroke}"/>')
        out.append(f'<text x="{legend_x + 16}" y="14">{escape(pick(s.label, lang))}</text>')
        legend_x += 24 + (12 if lang == "ja" else 7) * len(pick(s.label, lang))
    out.append("</svg>")
    return "".join(out)
