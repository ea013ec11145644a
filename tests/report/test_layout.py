"""Issue 33: the report with 6 candidates in a real browser at 1,000 px and at phone width: every candidate
visible (no hidden inner scroll), the sorted candidate on the row's first line, readable cells, and a
forest plot per metric whose marks are the CSV's numbers.

The board is built from rows made here (12 test pairs x 1 seed, known effects), not from a run: six
models' videos at the smallest size take minutes on this machine, and the layout under test is the
page's, which draws a cell the same way with or without its video (videos are 100% of the cell's width).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.report import report_for_board
from cosmos_bench.results.leaderboard import build_leaderboard, write_leaderboard
from cosmos_bench.results.store import ResultRow
from tests.report.test_browser import CHROMIUM, CHROMIUM_ARGS

# model -> (tse factor, physics shift): equal, tiny noise, clearly worse, clearly better, mixed
EFFECTS = {"base": (1.0, 0.0), "same": (1.0, 0.0), "noisy": (1.01, 0.0), "worse": (1.3, -0.6), "better": (0.8, 0.5),
           "sixth": (1.15, 0.0)}
PAIRS = 12
WIDTHS = {"desktop": (1000, 800), "phone": (390, 844)}


def six_rows() -> list[ResultRow]:
    rows = []
    for model, (factor, shift) in EFFECTS.items():
        rng = np.random.default_rng(11)  # the same base draws for every model
        noise = np.random.default_rng(5)  # the small multiplicative noise of "noisy"
        for i in range(PAIRS):
            tse = float(rng.lognormal(0.0, 0.2)) * factor * (1 + 0.01 * noise.standard_normal() if model == "noisy" else 1)
            physics = float(np.clip(rng.integers(2, 5) + shift, 1, 5))
            for metric, version, direction, value in (("tse", "v1", "lower", tse), ("physics", "j1", "higher", physics)):
                rows.append(ResultRow("six", model, f"{model}-key", f"pair{i:02d}", 0, metric, version, direction, value, "ok"))
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("six")
    board = build_leaderboard(six_rows(), "six", model_order=list(EFFECTS))
    write_leaderboard(board, out, plots=False)
    report_for_board(board, out / "six.report", plots=False)
    return out


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(params=sorted(WIDTHS))
def page(request, browser, report: Path):
    width, height = WIDTHS[request.param]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((report / "six.report" / "index.html").as_uri())
    page.wait_for_selector("#rows .row .cell")
    yield page
    page.close()
    assert not errors, errors


def board_csv(report: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (report / "six.csv").open(newline="") as fh:
        return {(r["model"], r["metric"]): r for r in csv.DictReader(fh)}


def test_every_candidate_is_visible_without_an_inner_scroll(page, tmp_path: Path) -> None:
    width = page.viewport_size["width"]
    row = page.locator("#rows .row").first
    boxes = row.locator(".cell").evaluate_all("cs => cs.map(c => { const b = c.getBoundingClientRect(); "
                                              "return {m: c.dataset.model, x: b.left, r: b.right, w: b.width}; })")
    assert [b["m"] for b in boxes] == list(EFFECTS) and len(boxes) == 6
    assert all(b["x"] >= 0 and b["r"] <= width + 0.5 and b["w"] >= 200 for b in boxes), boxes
    grid = row.locator(".grid")
    assert grid.evaluate("g => g.scrollWidth <= g.clientWidth")  # nothing hidden behind a scroll inside the row
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # nor is the page wider than the screen
    page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
    assert (tmp_path / f"report-{width}.png").stat().st_size > 10_000


def test_the_sorted_candidate_comes_right_after_the_baseline(page) -> None:
    page.select_option("select[name=metric]", "tse")
    page.select_option("select[name=model]", "sixth")
    page.select_option("select[name=sort]", "loss")
    page.wait_for_function("() => document.querySelector('#rows .row .cell.chosen')?.dataset.model === 'sixth'")
    row = page.locator("#rows .row").first
    cells = row.locator(".cell").evaluate_all("cs => cs.map(c => { const b = c.getBoundingClientRect(); "
                                              "return [Math.round(b.top), Math.round(b.left), c.dataset.model]; })")
    shown = [m for _, _, m in sorted(cells)]
    assert shown[:2] == ["base", "sixth"], shown
    width = page.viewport_size["width"]
    chosen = next(c for c in cells if c[2] == "sixth")
    base = next(c for c in cells if c[2] == "base")
    if width >= 1000:  # on a desktop screen the two share the row's first line
        assert chosen[0] == base[0]
    row.locator(".cell.chosen").scroll_into_view_if_needed()
    box = row.locator(".cell.chosen").bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= width


def test_cells_show_the_interval_and_n_with_details_on_demand(page) -> None:
    cell = page.locator("td.paired[data-model=worse][data-metric=tse]")
    text = cell.inner_text()
    assert "[" in text and "pairs" in text and "worse" in text
    assert "testable" not in text and "n_test_pairs" not in text and "p_floor" not in text  # closed details
    cell.locator("details.more summary").click()
    assert "n_test_pairs: 12" in cell.inner_text()


def test_tables_fit_or_scroll_visibly_with_the_model_column_kept(page) -> None:
    width = page.viewport_size["width"]
    for table in ("#summary-table", "#comparison-table"):
        box = page.locator(table).locator("xpath=..")
        assert box.bounding_box()["x"] + box.bounding_box()["width"] <= width + 0.5
        if not box.evaluate("b => b.scrollWidth > b.clientWidth"):  # fits: every cell on the screen
            rights = page.locator(f"{table} td, {table} th").evaluate_all("cs => cs.map(c => c.getBoundingClientRect().right)")
            assert max(rights) <= width + 0.5
            continue
        left = box.bounding_box()["x"]
        box.evaluate("b => { b.scrollLeft = 150; }")
        head = page.locator(f"{table} tbody th").first.bounding_box()
        assert abs(head["x"] - left) < 2  # the sticky model column stays at the left edge


def test_forest_plot_marks_are_the_csvs_differences(page, report: Path) -> None:
    rows = board_csv(report)
    width = page.viewport_size["width"]
    for metric in ("tse", "physics"):
        svg = page.locator(f"svg.forest[data-metric={metric}]")
        assert svg.bounding_box()["x"] + svg.bounding_box()["width"] <= width
        axis = svg.evaluate("s => ({x0: +s.dataset.x0, x1: +s.dataset.x1, v0: +s.dataset.v0, v1: +s.dataset.v1,"
                            " w: s.viewBox.baseVal.width})")

        def value(px: float, axis: dict = axis) -> float:
            return axis["v0"] + (px - axis["x0"]) / (axis["x1"] - axis["x0"]) * (axis["v1"] - axis["v0"])

        tol = (axis["v1"] - axis["v0"]) / (axis["x1"] - axis["x0"]) * 0.01  # drawn to 1/100 px
        marks = svg.locator("g.mark").evaluate_all(
            "gs => gs.map(g => ({m: g.dataset.model, bold: g.classList.contains('bold'),"
            " cx: +g.querySelector('circle').getAttribute('cx'),"
            " lo: +g.querySelector('line.ci').getAttribute('x1'), hi: +g.querySelector('line.ci').getAttribute('x2')}))")
        assert [m["m"] for m in marks] == [m for m in EFFECTS if m != "base"]
        for m in marks:
            r = rows[(m["m"], metric)]
            assert value(m["cx"]) == pytest.approx(float(r["diff_vs_baseline"]), abs=tol + 1e-5)
            assert value(m["lo"]) == pytest.approx(float(r["diff_ci_low"]), abs=tol + 1e-5)
            assert value(m["hi"]) == pytest.approx(float(r["diff_ci_high"]), abs=tol + 1e-5)
            assert m["bold"] == (r["verdict"] in ("better", "worse")), (m, r["verdict"])
        base_mean = float(rows[("base", metric)]["mean"])
        margin = float(svg.locator("line.margin").get_attribute("data-margin"))
        assert margin == pytest.approx(0.05 * base_mean * (1 if metric == "tse" else -1), rel=1e-5)
    bold = {(m, metric) for (m, metric), r in rows.items() if r["verdict"] in ("better", "worse")}
    assert ("worse", "tse") in bold and ("better", "tse") in bold and ("same", "tse") not in bold  # both kinds drawn
