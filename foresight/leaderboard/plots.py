"""PNG charts of per-task results for the docs (``leaderboard/plots/``), drawn with matplotlib's Agg canvas.

The figure is built through the object API (``Figure`` + ``FigureCanvasAgg``), never pyplot, so building plots
does not switch the backend of whatever process imports this module. PNGs are byte-stable: the ``Software``
metadata entry (matplotlib's version string) is dropped and the SVG hash salt is pinned.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from foresight.leaderboard.chartdata import Chart

DPI = 100
RC = {"svg.hashsalt": "foresight-leaderboard", "font.size": 9, "axes.titlesize": 10}


def render_png(chart: Chart) -> bytes:
    """Grouped bars per task, one colour per row, Wilson whiskers where the counts are known."""
    n_series, n_cats = len(chart.series), len(chart.categories)
    bar_w = 0.8 / n_series
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(max(6.0, 0.22 * n_series * n_cats + 2.0), 3.6 + 0.18 * ((n_series + 2) // 3)), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for si, s in enumerate(chart.series):
            xs = [ci + (si - (n_series - 1) / 2) * bar_w for ci in range(n_cats)]
            present = [(x, v, s.cis[i]) for i, (x, v) in enumerate(zip(xs, s.values, strict=True)) if v is not None]
            ax.bar([p[0] for p in present], [p[1] for p in present], width=bar_w * 0.95, color=s.color, label=s.label)
            with_ci = [p for p in present if p[2] is not None]
            if with_ci:
                ax.errorbar(
                    [p[0] for p in with_ci],
                    [p[1] for p in with_ci],
                    yerr=[[p[1] - p[2][0] for p in with_ci], [p[2][1] - p[1] for p in with_ci]],
                    fmt="none",
                    ecolor="#222222",
                    elinewidth=0.8,
                    capsize=2,
                )
        ax.set_xticks(range(n_cats), chart.categories)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"success ({chart.unit})" if chart.unit else "value")
        ax.set_title(chart.title, loc="left")
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(3, n_series), frameon=False, fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
