"""What a per-task chart shows, shared by the site's inline SVG and the PNG plots so both draw the same data."""

from __future__ import annotations

from dataclasses import dataclass

from foresight.leaderboard.board import Table

# Okabe-Ito colour-blind-safe palette, then darker variants, cycled when a table has more rows.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#7F7F7F",
    "#8C564B",
    "#1F4E79",
    "#7B3F00",
)


@dataclass(frozen=True)
class Series:
    label: str
    kind: str
    values: tuple[float | None, ...]
    cis: tuple[tuple[float, float] | None, ...]
    color: str


@dataclass(frozen=True)
class Chart:
    table_id: str
    title: str
    categories: tuple[str, ...]
    category_titles: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str


def chart_for(table: Table) -> Chart | None:
    """A grouped-bar chart of the table's per-task columns, or None when there is nothing to compare."""
    cats = table.task_columns
    if len(cats) < 2:
        return None
    rows = [r for r in table.rows if any(r.cells.get(c.key) and r.cells[c.key].value is not None for c in cats)]
    if not rows:
        return None
    labels = [r.method for r in rows]
    series = []
    for i, r in enumerate(rows):
        label = r.method if labels.count(r.method) == 1 else f"{r.method} ({r.source})"
        cells = [r.cells.get(c.key) for c in cats]
        series.append(
            Series(
                label=label,
                kind=r.kind,
                values=tuple(c.value if c else None for c in cells),
                cis=tuple(c.ci if c else None for c in cells),
                color=PALETTE[i % len(PALETTE)],
            )
        )
    return Chart(
        table.id,
        table.title,
        tuple(c.label for c in cats),
        tuple(c.title or c.label for c in cats),
        tuple(series),
        table.unit,
    )
