"""``leaderboard/site/index.html``: one self-contained page (inline CSS, script and SVG; no network, no CDN).

The page offers what the Markdown cannot: click-to-sort columns, a protocol filter that hides every row of
other protocols, and per-task charts. Reproduced, oracle and reported rows carry distinct classes and badges
so the papers' numbers are never mistaken for measurements. A Content-Security-Policy forbids any fetch, which
also makes an accidental external reference fail loudly in the browser test.
"""

from __future__ import annotations

from html import escape

from foresight.leaderboard.board import DASH, STUDIES_INTRO, Board, Column, Row, Table
from foresight.leaderboard.chartdata import chart_for
from foresight.leaderboard.svg import render_svg

CSS = """
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --rep:#f6f8fa; --good:#1a7f37; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; }
header, main, nav { max-width: 1400px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 { font-size: 24px; margin: 8px 0; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 4px; }
p.protocol, p.difference, p.note, blockquote { margin: 2px 0; color: var(--muted); }
p.difference { color: var(--warn); }
blockquote { border-left: 3px solid var(--line); padding-left: 8px; font-size: 12px; }
.controls { position: sticky; top: 0; background: #fff; padding: 8px 0; z-index: 1;
  border-bottom: 1px solid var(--line); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
td.num { text-align: right; white-space: nowrap; } td.notes { color: var(--muted); font-size: 12px; max-width: 420px; }
tr.kind-reported td { background: var(--rep); font-style: italic; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; font-style: normal;
  border: 1px solid; }
.badge.kind-reproduced { color: var(--good); } .badge.kind-oracle { color: var(--warn); }
.badge.kind-reported { color: var(--muted); }
svg.chart { display: block; margin: 6px 0 14px; }
svg .grid { stroke: #e5e7eb; } svg .tick, svg .legend { font-size: 11px; fill: var(--muted); }
svg .ci { stroke: #222; stroke-width: 1; fill: none; }
""".strip()

SCRIPT = """
(function () {
  "use strict";
  function sortValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-sort");
    if (numeric) { return raw === null || raw === "" ? null : parseFloat(raw); }
    return (raw === null ? cell.textContent : raw).trim().toLowerCase();
  }
  function sortBy(th) {
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var first = numeric ? "descending" : "ascending";  // best score first, names A-Z
    var dir = current ? (current === "descending" ? "ascending" : "descending") : first;
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: sortValue(row, index, numeric), i: i };
    });
    rows.sort(function (a, b) {
      if (a.key === null && b.key === null) { return a.i - b.i; }
      if (a.key === null) { return 1; }
      if (b.key === null) { return -1; }
      if (a.key < b.key) { return -sign; }
      if (a.key > b.key) { return sign; }
      return a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  function applyFilter(group) {
    document.querySelectorAll("div.board-table[data-group]").forEach(function (box) {
      var visible = 0;
      box.querySelectorAll("tbody tr").forEach(function (tr) {
        var show = group === "" || tr.getAttribute("data-group") === group;
        tr.hidden = !show;
        if (show) { visible += 1; }
      });
      box.hidden = visible === 0;
    });
    document.querySelectorAll("section.board").forEach(function (sec) {
      sec.hidden = sec.querySelectorAll("div.board-table:not([hidden])").length === 0;
    });
  }
  document.querySelectorAll("table.sortable th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(th); } });
  });
  var filter = document.getElementById("protocol-filter");
  filter.addEventListener("change", function () { applyFilter(filter.value); });
})();
""".strip()

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _numeric(table: Table, col: Column) -> bool:
    return any(r.cells.get(col.key) is not None and r.cells[col.key].value is not None for r in table.rows)


def _num(v: float) -> str:
    return repr(float(v))


def _row_html(table: Table, row: Row, rank: str, columns: list[Column], numeric: dict[str, bool]) -> str:
    tds = [f'<td class="num" data-sort="{rank if rank != DASH else ""}">{rank}</td>'] if table.group else []
    tds.append(f"<td>{escape(row.method)}</td>")
    tds.append(f'<td><span class="badge kind-{row.kind}">{row.kind}</span></td>')
    for c in columns:
        cell = row.cells.get(c.key)
        if cell is None:
            tds.append(f'<td class="num" data-sort="">{DASH}</td>' if numeric[c.key] else f"<td>{DASH}</td>")
        elif cell.value is not None:
            tds.append(f'<td class="num" data-sort="{_num(cell.value)}">{escape(cell.text)}</td>')
        else:
            tds.append(
                f'<td class="num">{escape(cell.text)}</td>' if numeric[c.key] else f"<td>{escape(cell.text)}</td>"
            )
    source = escape(row.source)
    if row.href:
        source = f'<a href="../{_attr(row.href)}">{source}</a>'
    tds.append(f"<td>{source}</td>")
    tds.append(f'<td class="notes">{escape(row.notes)}</td>')
    group = f' data-group="{_attr(table.group)}"' if table.group else ""
    return f'<tr class="kind-{row.kind}" data-kind="{row.kind}"{group}>' + "".join(tds) + "</tr>"


def _table_html(table: Table) -> str:
    columns = list(table.columns)
    numeric = {c.key: _numeric(table, c) for c in columns}
    score = next((c for c in columns if c.role == "score"), None)
    ths = ['<th data-type="num" tabindex="0" title="rank by the score column">#</th>'] if table.group else []
    ths += ['<th data-type="text" tabindex="0">Method</th>', '<th data-type="text" tabindex="0">Kind</th>']
    for c in columns:
        kind = "num" if numeric[c.key] else "text"
        title = f' title="{_attr(c.title)}"' if c.title else ""
        ths.append(f'<th data-type="{kind}" data-key="{_attr(c.key)}" tabindex="0"{title}>{escape(c.label)}</th>')
    ths += ['<th data-type="text" tabindex="0">Source</th>', '<th data-type="text" tabindex="0">Notes</th>']
    rows = []
    for i, r in enumerate(table.rows):
        ranked = score is not None and r.cells.get(score.key) is not None and r.cells[score.key].value is not None
        rows.append(_row_html(table, r, str(i + 1) if ranked else DASH, columns, numeric))
    parts = [
        f'<div class="board-table" id="{_attr(table.id)}"'
        + (f' data-group="{_attr(table.group)}"' if table.group else "")
        + ">",
        f"<h3>{escape(table.title)}</h3>",
    ]
    if table.protocol:
        parts.append(f'<p class="protocol">Protocol: <strong>{escape(table.protocol)}</strong></p>')
    if table.difference:
        parts.append(f'<p class="difference">{escape(table.difference)}</p>')
    parts += [f"<blockquote>{escape(q)}</blockquote>" for q in table.quotes]
    if table.note:
        parts.append(f'<p class="note">{escape(table.note)}</p>')
    parts.append(
        f'<div class="scroll"><table class="sortable"><thead><tr>{"".join(ths)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    chart = chart_for(table)
    if chart is not None:
        parts.append(f'<div class="scroll">{render_svg(chart)}</div>')
    parts.append("</div>")
    return "\n".join(parts)


def render_site(board: Board) -> str:
    options = ['<option value="">All protocols</option>']
    options += [f'<option value="{_attr(g)}">{escape(label)}</option>' for g, label in board.groups]
    nav = [f'<a href="#{_attr(s.id)}">{escape(s.title)}</a>' for s in board.sections]
    if board.studies:
        nav.append('<a href="#studies">Studies</a>')
    if board.ablations:
        nav.append('<a href="#reported-ablations">Reported ablations</a>')
    if board.efficiency:
        nav.append('<a href="#reported-efficiency">Reported efficiency</a>')
    body = []
    for s in board.sections:
        body.append(f'<section class="board" id="{_attr(s.id)}"><h2>{escape(s.title)}</h2>')
        body += [_table_html(t) for t in s.tables]
        body.append("</section>")
    for sec_id, title, tables, intro in (
        ("studies", "Studies", board.studies, STUDIES_INTRO),
        (
            "reported-ablations",
            "Reported ablations",
            board.ablations,
            "Within-paper comparisons, in the paper's order.",
        ),
        (
            "reported-efficiency",
            "Reported efficiency",
            board.efficiency,
            "As printed, on the hardware each paper names.",
        ),
    ):
        if tables:
            body.append(f'<section class="extra" id="{sec_id}"><h2>{title}</h2><p>{intro}</p>')
            body += [_table_html(t) for t in tables]
            body.append("</section>")
    sources = "".join(
        f"<li><strong>{escape(p.short)}</strong>: {escape(p.title)}. {escape(p.reference)}.</li>" for p in board.papers
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            "<title>foresight leaderboard</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<header><h1>foresight leaderboard</h1>",
            "<p>One table per evaluation protocol; rows are ranked only against rows measured the same way. "
            "Reproduced rows carry Wilson 95% intervals; reported rows are the papers' numbers, shown apart. "
            f"Reproduced results: {board.n_reproduced}.</p>",
            '<div class="controls"><label for="protocol-filter">Protocol </label>'
            f'<select id="protocol-filter">{"".join(options)}</select> '
            '<span class="badge kind-reproduced">reproduced</span> <span class="badge kind-oracle">oracle</span> '
            '<span class="badge kind-reported">reported</span></div>',
            "</header>",
            f"<nav><p>{' · '.join(nav)}</p></nav>",
            "<main>",
            *body,
            f'<section id="sources"><h2>Sources</h2><ul>{sources}</ul></section>',
            "</main>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
