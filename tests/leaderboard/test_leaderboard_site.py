"""The static site in a real headless Chromium: loads cleanly, holds the expected rows, sorts, and filters.

Needs Debian's ``chromium`` package (apt-get install chromium); skipped with that reason when it is absent.
Chromium is driven over ``--remote-debugging-pipe`` (tests/leaderboard/lb_cdp.py), so nothing else is needed.
"""

import json

import pytest
from lb_cdp import Browser, Page, find_chromium
from lb_factories import REPORTED_YAML, calvin_result, libero_protocol, libero_result, study_results

from foresight.leaderboard import add_result
from foresight.leaderboard.build import load_board
from foresight.leaderboard.site import render_site

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium) - browser test skipped"
)
PROTO_A = libero_protocol()
PROTO_B = libero_protocol(trials=20, checkpoints=3)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard")
    (root / "reported.yaml").write_bytes(REPORTED_YAML.read_bytes())
    for res in (
        libero_result("clad"),
        libero_result("dp", successes=(40, 42, 38, 30, 20, 44, 41, 39, 10, 35)),
        libero_result("scripted_expert", successes=(50,) * 10, kind="oracle"),
        libero_result("clad", successes=(57,) * 10, protocol=PROTO_B, steps=(1, 2, 3)),
        calvin_result(),
    ):
        add_result(res.to_dict(), root / "results")
    board = load_board(root)
    # The page only: the PNG plots of a full `build` are not part of the site and take seconds to draw.
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text(render_site(board), encoding="utf-8")
    return root, board


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    browser = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


@pytest.fixture
def page(site, browser):
    """A fresh load of the page for every test: sorting and filtering change it, and tests run in random order."""
    root, _ = site
    page = Page(browser)
    page.goto((root / "site" / "index.html").as_uri())
    return page


def column(page, table_id, index):
    return page.js(
        f"Array.from(document.getElementById('{table_id}').querySelectorAll('tbody tr'))"
        f".map(tr => tr.cells[{index}].textContent.trim())"
    )


def header_index(page, table_id, label):
    labels = page.js(
        f"Array.from(document.getElementById('{table_id}').querySelectorAll('thead th')).map(th => th.textContent)"
    )
    return labels.index(label)


def select_protocol(page, value):
    """Choose a filter option the way a user's choice does: set the value, fire ``change``."""
    page.js(
        "(() => { const s = document.getElementById('protocol-filter');"
        f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()"
    )


def test_page_loads_without_console_errors(page):
    assert page.js("document.title") == "foresight leaderboard"
    assert page.js("document.querySelectorAll('svg.chart').length") > 0
    assert page.errors() == []


def test_every_table_holds_the_board_rows(page, site):
    _, board = site
    tables = [t for s in board.sections for t in s.tables] + [*board.studies, *board.ablations, *board.efficiency]
    counts = page.js(
        "Object.fromEntries(Array.from(document.querySelectorAll('div.board-table'))"
        ".map(d => [d.id, d.querySelectorAll('tbody tr').length]))"
    )
    assert counts == {t.id: len(t.rows) for t in tables}
    table_id = f"libero-libero_10--{PROTO_A.protocol_id}"
    kinds = page.js(
        f"Array.from(document.getElementById('{table_id}').querySelectorAll('tbody tr')).map(tr => tr.dataset.kind)"
    )
    assert column(page, table_id, 1) == ["scripted_expert", "clad", "dp"]
    assert kinds == ["oracle", "reproduced", "reproduced"]
    reported_rows = page.js("document.querySelectorAll('tr.kind-reported').length")
    assert reported_rows == sum(len(t.rows) for t in tables if t.kind == "reported")
    assert page.js(f"document.querySelectorAll('#{table_id} tr.kind-reported').length") == 0


def test_clicking_headers_sorts(page):
    table_id = f"libero-libero_10--{PROTO_A.protocol_id}"
    method = header_index(page, table_id, "Method")
    page.click(f"#{table_id} thead th:nth-child({method + 1})")
    assert column(page, table_id, method) == ["clad", "dp", "scripted_expert"]
    page.click(f"#{table_id} thead th:nth-child({method + 1})")
    assert column(page, table_id, method) == ["scripted_expert", "dp", "clad"]

    t5 = header_index(page, table_id, "T5")  # 45/50, 20/50, 50/50
    page.click(f"#{table_id} thead th:nth-child({t5 + 1})")
    assert [c.split()[0] for c in column(page, table_id, t5)] == ["100.0", "90.0", "40.0"]
    page.click(f"#{table_id} thead th:nth-child({t5 + 1})")
    assert [c.split()[0] for c in column(page, table_id, t5)] == ["40.0", "90.0", "100.0"]
    assert page.js(f"document.querySelector('#{table_id} thead th:nth-child({t5 + 1})').getAttribute('aria-sort')") == (
        "ascending"
    )

    # A larger reported table: Avg. Len. descending on first click, numbers compared as numbers.
    big = next(
        i
        for i in page.js("Array.from(document.querySelectorAll('div.board-table')).map(d => d.id)")
        if i.startswith("calvin-abc_d--r-")
    )
    avg = header_index(page, big, "Avg. Len.")
    page.click(f"#{big} thead th:nth-child({avg + 1})")
    values = [float(v) for v in column(page, big, avg)]
    assert values == sorted(values, reverse=True) and len(values) >= 12
    assert page.errors() == []


def test_protocol_filter_hides_other_protocols(page, site):
    _, board = site
    options = page.js("Array.from(document.querySelectorAll('#protocol-filter option')).map(o => o.value)")
    assert options[0] == "" and set(options[1:]) == {g for g, _ in board.groups}
    assert PROTO_B.protocol_id in options

    def visible_groups():
        return page.js(
            "Array.from(document.querySelectorAll('div.board-table[data-group] tbody tr'))"
            ".filter(tr => tr.offsetParent !== null).map(tr => tr.dataset.group)"
        )

    total = len(visible_groups())
    select_protocol(page, PROTO_B.protocol_id)
    shown = visible_groups()
    expected = sum(len(t.rows) for s in board.sections for t in s.tables if t.group == PROTO_B.protocol_id)
    assert shown == [PROTO_B.protocol_id] * expected and expected == 1
    assert page.js(f"document.getElementById('libero-libero_10--{PROTO_A.protocol_id}').hidden") is True
    assert page.js("document.getElementById('calvin-abc_d').hidden") is True  # a section with nothing left

    select_protocol(page, "")
    assert len(visible_groups()) == total
    assert page.errors() == []


def test_error_capture_would_catch_a_broken_page(browser, tmp_path):
    """The no-error assertions above can fail: a CSP-blocked fetch, console.error and an exception are seen."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        'script-src \'unsafe-inline\'"><img src="https://example.com/x.png">'
        '<script>console.error("boom"); missingFunction();</script>'
    )
    other = Page(browser)
    other.goto(bad.as_uri())
    other.js("1")  # flush pending events
    errors = other.errors()
    assert any("violates the following Content Security Policy" in e for e in errors), errors
    assert "console.error: ['boom']" in errors and "exception: Uncaught" in errors


@pytest.fixture(scope="module")
def study_site(tmp_path_factory):
    """A leaderboard holding one study (two arms, two seeds each) filed as `foresight study` files it."""
    root = tmp_path_factory.mktemp("study-leaderboard")
    (root / "reported.yaml").write_bytes(REPORTED_YAML.read_bytes())
    for res in study_results():
        add_result(res, root / "results")
    board = load_board(root)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text(render_site(board), encoding="utf-8")
    return root, board


def test_study_arms_are_side_by_side_on_the_site(study_site, browser):
    root, board = study_site
    (table,) = board.studies
    page = Page(browser)
    page.goto((root / "site" / "index.html").as_uri())
    assert page.errors() == []
    assert "Studies" in page.js("document.querySelector('nav').textContent")
    assert column(page, table.id, 0) == ["Both (m_both)", "None (m_none)"]
    pooled = column(page, table.id, header_index(page, table.id, "Pooled SR (%)"))
    results = [json.loads(p.read_text()) for p in sorted((root / "results").glob("*.json"))]
    for arm, text in zip(("both", "none"), pooled, strict=True):
        mine = [r for r in results if r["study"]["arm"] == arm]
        wins = sum(r["aggregate"]["successes"] for r in mine)
        trials = sum(r["aggregate"]["trials"] for r in mine)
        assert len(mine) == 2 and text.startswith(f"{100 * wins / trials:.1f} [")
    differs = column(page, table.id, header_index(page, table.id, "Differs besides the foresight"))
    assert differs == ["only the foresight", "⚠ head"]


def test_committed_study_arms_are_on_the_repository_site(browser):
    """The committed CPU study's arms, seeds pooled, on the repository's own site (leaderboard/site/index.html)."""
    root = REPORTED_YAML.parent
    board = load_board(root)
    (table,) = [t for t in board.studies if t.id == "study--libero_object_cpu"]
    page = Page(browser)
    page.goto((root / "site" / "index.html").as_uri())
    assert page.errors() == []
    assert column(page, table.id, 0) == [r.method for r in table.rows] != []
    pooled = column(page, table.id, header_index(page, table.id, "Pooled SR (%)"))
    assert pooled == [r.cells["avg"].text for r in table.rows]
    results = [json.loads(p.read_text()) for p in sorted((root / "results").glob("*.json"))]
    mine = [r for r in results if r.get("study", {}).get("name") == "libero_object_cpu"]
    for row, text in zip(table.rows, pooled, strict=True):
        arm = [r for r in mine if row.method.startswith(r["study"]["label"])]
        wins = sum(r["aggregate"]["successes"] for r in arm)
        trials = sum(r["aggregate"]["trials"] for r in arm)
        assert arm and text.startswith(f"{100 * wins / trials:.1f} [")
