"""Per-task grouped-bar charts as inline SVG, drawn here so the site needs no script library or network.

Coordinates are printed with one decimal so the markup, like everything else the build writes, is a pure
function of the data.
"""

from __future__ import annotations

from html import escape

from foresight.leaderboard.chartdata import Chart

PLOT_H = 200.0
LEFT, RIGHT, TOP, X_LABELS = 44.0, 12.0, 12.0, 28.0
BAR_W, GROUP_GAP = 9.0, 14.0
LEGEND_ROW_H, CHAR_W = 18.0, 6.6


def _f(x: float) -> str:
    return f"{x:.1f}"


def _legend(chart: Chart, width: float, y0: float) -> tuple[list[str], float]:
    parts, x, y = [], LEFT, y0
    for s in chart.series:
        item_w = 16 + CHAR_W * len(s.label) + 14
        if x + item_w > width - RIGHT and x > LEFT:
            x, y = LEFT, y + LEGEND_ROW_H
        parts.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{s.color}"/>')
        parts.append(f'<text x="{_f(x + 14)}" y="{_f(y)}" class="legend">{escape(s.label)}</text>')
        x += item_w
    return parts, y + LEGEND_ROW_H


def render_svg(chart: Chart) -> str:
    """An ``<svg>`` element with one bar per (task, row), Wilson whiskers where known, and a legend."""
    n = len(chart.series)
    group_w = max(n * BAR_W + GROUP_GAP, 360.0 / len(chart.categories))  # few bars still span the axis
    plot_w = len(chart.categories) * group_w
    width = LEFT + plot_w + RIGHT
    y_max = 100.0

    def y(v: float) -> float:
        return TOP + PLOT_H * (1 - v / y_max)

    body = []
    for tick in (0, 25, 50, 75, 100):
        body.append(
            f'<line x1="{_f(LEFT)}" x2="{_f(LEFT + plot_w)}" y1="{_f(y(tick))}" y2="{_f(y(tick))}" class="grid"/>'
        )
        body.append(f'<text x="{_f(LEFT - 6)}" y="{_f(y(tick) + 4)}" class="tick" text-anchor="end">{tick}</text>')
    for ci, (cat, full) in enumerate(zip(chart.categories, chart.category_titles, strict=True)):
        gx = LEFT + ci * group_w + (group_w - n * BAR_W) / 2
        for si, s in enumerate(chart.series):
            v = s.values[ci]
            if v is None:
                continue
            bx = gx + si * BAR_W
            interval = s.cis[ci]
            tip = f"{s.label} · {full}: {v:.1f}{chart.unit}"
            if interval:
                tip += f" [{interval[0]:.1f}, {interval[1]:.1f}]"
            body.append(
                f'<rect x="{_f(bx)}" y="{_f(y(v))}" width="{_f(BAR_W - 1)}" height="{_f(y(0) - y(v))}" '
                f'fill="{s.color}"><title>{escape(tip)}</title></rect>'
            )
            if interval:
                cx = bx + (BAR_W - 1) / 2
                body.append(
                    f'<path d="M{_f(cx)} {_f(y(interval[0]))}V{_f(y(interval[1]))}M{_f(cx - 2.5)} {_f(y(interval[0]))}'
                    f'H{_f(cx + 2.5)}M{_f(cx - 2.5)} {_f(y(interval[1]))}H{_f(cx + 2.5)}" class="ci"/>'
                )
        label_x = gx + n * BAR_W / 2
        body.append(
            f'<text x="{_f(label_x)}" y="{_f(y(0) + 16)}" class="tick" text-anchor="middle">{escape(cat)}'
            f"<title>{escape(full)}</title></text>"
        )
    legend, height = _legend(chart, width, y(0) + X_LABELS + 10)
    title = escape(f"{chart.title}: per-task success ({chart.unit or 'value'})")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" role="img" aria-label="{title}"><title>{title}</title>'
        + "".join(body + legend)
        + "</svg>"
    )
