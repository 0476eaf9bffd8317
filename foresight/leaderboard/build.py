"""``build``: results store + reported numbers -> README.md, site/index.html and plots/*.png.

Every output is a pure function of the inputs (no timestamps, sorted inputs, fixed PNG metadata) and is
written atomically, so a build twice in a row changes no byte, and a failed build leaves the previous
outputs whole. Plots that no longer correspond to a table are removed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from foresight.fileio import atomic_write_bytes, atomic_write_text
from foresight.leaderboard.board import Board, build_board
from foresight.leaderboard.chartdata import chart_for
from foresight.leaderboard.report import render_report
from foresight.leaderboard.reported import load_reported
from foresight.leaderboard.site import render_site
from foresight.leaderboard.store import load_results


@dataclass(frozen=True)
class LeaderboardPaths:
    """The layout of a leaderboard directory (``leaderboard/`` in the repository)."""

    root: Path

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def reported(self) -> Path:
        return self.root / "reported.yaml"

    @property
    def readme(self) -> Path:
        return self.root / "README.md"

    @property
    def site(self) -> Path:
        return self.root / "site" / "index.html"

    @property
    def plots(self) -> Path:
        return self.root / "plots"


def load_board(root: str | Path) -> Board:
    paths = LeaderboardPaths(Path(root))
    return build_board(load_results(paths.results), load_reported(paths.reported))


def build(root: str | Path) -> list[Path]:
    """Render everything under ``root``; returns the files written, in a stable order."""
    from foresight.leaderboard.plots import render_png  # matplotlib only when plots are drawn

    paths = LeaderboardPaths(Path(root))
    board = load_board(paths.root)
    written: list[Path] = []
    plots: dict[str, str] = {}
    for section in board.sections:
        for table in section.tables:
            chart = chart_for(table)
            if chart is None:
                continue
            name = f"{table.id}.png"
            png = render_png(
                replace(chart, title=f"{section.title}, {table.title.lower()}, protocol: {table.protocol}")
            )
            written.append(atomic_write_bytes(paths.plots / name, png))
            plots[table.id] = name
    if paths.plots.is_dir():
        for stale in sorted(paths.plots.glob("*.png")):
            if stale.name not in plots.values():
                stale.unlink()
    written.append(atomic_write_text(paths.readme, render_report(board, plots)))
    written.append(atomic_write_text(paths.site, render_site(board)))
    return written
