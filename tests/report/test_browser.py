"""The report in a real browser (Debian's chromium driven by Playwright), built from a small real run.

The run: a 2-view synthetic suite (2 test pairs, 9 frames, 96×160 per view), ``base`` and ``warp3``
(a 3 px elastic warp), 2 seeds, TSE + CSE + the physics judge from a scripted local server. The
page is opened from disk (file://), as a user or a CI artifact would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.data.video import probe_video
from cosmos_bench.results.leaderboard import leaderboard_from_store
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig, run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
MODELS = ["base", "warp3"]
HAVE_FUTURE_DATA = 3
REASONING = "The box slides without tipping; contact looks right."


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cosmos_bench.judge import JudgeConfig
    from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply

    root = tmp_path_factory.mktemp("report")
    write_synthetic_suite(root / "suite", SceneConfig(frames=9, height=96, width=160, seed=3), samples=2, name="tiny")
    (root / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n  warp3: {kind: synthetic, degrade: [elastic:3]}\n")
    with FakeJudgeServer(lambda req: Reply("Score: 4", reasoning=REASONING), lifetime_s=300) as server:
        judge = JudgeConfig(base_url=server.base_url, api_key="k", timeout_s=20, retries=0)
        run(RunConfig(models=MODELS, suite=root / "suite", models_file=root / "models.yaml", metrics=["tse", "cse", "physics"],
                      seeds=2, out=root / "runs" / "tiny", store=root / "runs" / "results.sqlite",
                      leaderboards=root / "leaderboards", judge=judge, judge_cache=root / "runs" / "judge.jsonl"))
    return root


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the report's browser tests need Debian's chromium (apt-get install chromium; "
                    ".ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, bench: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, errors


def open_report(page, bench: Path, fragment: str = "") -> None:
    page.goto((bench / "leaderboards" / "tiny.report" / "index.html").as_uri() + fragment)
    page.wait_for_selector("#rows .row")


def test_run_writes_the_report_beside_the_leaderboards(bench: Path) -> None:
    index = bench / "leaderboards" / "tiny.report" / "index.html"
    assert index.is_file() and (bench / "leaderboards" / "tiny.md").is_file()
    assert len(list((index.parent / "rows").glob("*.js"))) == 2 * 2  # test pairs x seeds


def test_leaderboard_numbers_are_the_stores(page, bench: Path) -> None:
    open_report(page, bench)
    with ResultStore(bench / "runs" / "results.sqlite") as store:
        board = leaderboard_from_store(store, "tiny")
        stored = store.rows(suite="tiny")
    cells = page.eval_on_selector_all("td.summary", "tds => tds.map(td => ({...td.dataset}))")
    assert len(cells) == len(board.summaries) and len(cells) >= len(MODELS) * 3
    for cell in cells:
        s = board.summaries[(cell["model"], cell["metric"])]
        assert float(cell["mean"]) == s.mean and float(cell["ciLow"]) == s.ci_low and float(cell["ciHigh"]) == s.ci_high
        ok = [r for r in stored if (r.model, r.metric, r.status) == (cell["model"], cell["metric"], "ok")]
        assert int(cell["n"]) == len(ok) == s.n
        assert float(cell["mean"]) == pytest.approx(sum(r.value for r in ok) / len(ok), rel=1e-12)
    paired = page.eval_on_selector_all("td.paired", "tds => tds.map(td => ({...td.dataset}))")
    assert {(c["model"], c["metric"]) for c in paired} == {k for k in board.comparisons}
    for c in paired:
        assert float(c["diff"]) == board.comparisons[(c["model"], c["metric"])].diff


def test_a_row_plays_every_candidate_in_sync(page, bench: Path, tmp_path: Path) -> None:
    open_report(page, bench)
    row = page.locator("#rows .row").first
    videos = row.locator("video")
    assert videos.count() == len(MODELS)
    assert row.locator(".cell").evaluate_all("cs => cs.map(c => c.dataset.model)") == MODELS
    page.wait_for_function("row => [...row.querySelectorAll('video')].every(v => v.readyState >= 3)",
                           arg=row.element_handle(), timeout=30_000)
    sources = videos.evaluate_all("vs => vs.map(v => v.src)")
    durations = videos.evaluate_all("vs => vs.map(v => v.duration)")
    for src, duration in zip(sources, durations):
        info = probe_video(Path(src.removeprefix("file://")))
        assert info.browser_playable
        assert duration == pytest.approx(info.frames / info.fps, abs=1.0 / info.fps)

    row.locator(".play").click()  # one button starts every video of the row
    page.wait_for_function("row => [...row.querySelectorAll('video')].every(v => !v.paused)", arg=row.element_handle())
    row.locator(".play").click()
    page.wait_for_function("row => [...row.querySelectorAll('video')].every(v => v.paused)", arg=row.element_handle())

    row.locator(".scrub").evaluate("s => { s.value = 500; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    times = videos.evaluate_all("vs => vs.map(v => v.currentTime)")
    half = min(durations) / 2
    assert all(t == pytest.approx(half, abs=0.02) for t in times), times
    heads = row.locator("svg.curve .playhead").evaluate_all("ls => ls.map(l => Number(l.getAttribute('x1')))")
    starts = row.locator("svg.curve").evaluate_all("ss => ss.map(s => Number(s.dataset.x0))")
    assert heads and all(h > s for h, s in zip(heads, starts))  # the curves' playheads moved too
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_sorting_by_worst_delta_puts_the_candidates_biggest_loss_first(page, bench: Path) -> None:
    with ResultStore(bench / "runs" / "results.sqlite") as store:
        tse = {(r.model, r.sample, r.seed): r.value for r in store.rows(suite="tiny", metric="tse")}
    losses = {(s, k): v - tse[("base", s, k)] for (m, s, k), v in tse.items() if m == "warp3"}
    worst = max(losses, key=losses.get)
    best = min(losses, key=losses.get)
    open_report(page, bench)
    page.select_option("select[name=metric]", "tse")
    page.select_option("select[name=model]", "warp3")
    page.select_option("select[name=sort]", "loss")
    page.wait_for_function("id => document.querySelector('#rows .row')?.dataset.row === id",
                           arg=f"{worst[0]}/seed{worst[1]}")
    page.select_option("select[name=dir]", "asc")
    page.wait_for_function("id => document.querySelector('#rows .row')?.dataset.row === id",
                           arg=f"{best[0]}/seed{best[1]}")
    assert "sort=loss" in page.evaluate("location.hash")  # the view is a link too


def test_prompt_filter_and_deep_link(page, bench: Path) -> None:
    open_report(page, bench)
    prompt = (bench / "suite" / "scene_001.txt").read_text().strip()
    page.fill("input[name=q]", "scene_001")
    page.wait_for_function("() => document.querySelectorAll('#rows .row').length === 2")
    assert set(page.locator("#rows .row").evaluate_all("rs => rs.map(r => r.dataset.row)")) == {"scene_001/seed0", "scene_001/seed1"}
    assert page.locator("#rows .row .prompt").first.inner_text() == prompt
    page.fill("input[name=q]", "no prompt says this")
    page.wait_for_function("() => document.querySelectorAll('#rows .row').length === 0")

    open_report(page, bench, "#row=scene_001/seed1")
    page.wait_for_selector(".row.target")
    assert page.locator(".row.target").get_attribute("data-row") == "scene_001/seed1"
    judge = page.locator(".row.target .cell").first.locator(".metric[data-metric=physics] .judge")
    assert "score 4" in judge.inner_text() and REASONING in judge.locator("pre").first.text_content()


def test_report_command_regenerates_and_bundles(bench: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    store = str(bench / "runs" / "results.sqlite")
    result = cli.invoke(app, ["report", "--store", store, "--suite", "tiny", "--out", str(tmp_path / "pub"), "--bundle"])
    assert result.exit_code == 0, result.output
    media = sorted(p.relative_to(tmp_path / "pub" / "media").as_posix() for p in (tmp_path / "pub" / "media").rglob("*.mp4"))
    assert media == [f"{m}/seed{k}/scene_00{s}.mp4" for m in MODELS for k in (0, 1) for s in (0, 1)]
    assert sorted(p.name for p in (tmp_path / "pub" / "media" / "inputs").iterdir()) == ["scene_000.png", "scene_001.png"]
    assert "../" not in "".join(p.read_text() for p in (tmp_path / "pub" / "rows").glob("*.js"))
    missing = cli.invoke(app, ["report", "--store", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "nope.sqlite: results store not found" in " ".join(missing.output.split())


# ------------------------------------------------------------------ issue 30: hostile text, owned folders
HOSTILE = "<!--<script> & \u2028\u2029 the rest of the page is inside a comment now"


def test_hostile_prompts_and_judge_replies_leave_every_row_in_the_page(browser, tmp_path: Path) -> None:
    """``<!--<script>`` in the inline index put the tokenizer in its double-escaped state (0 rows)."""
    from cosmos_bench.judge import JudgeConfig
    from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply

    write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=2, name="evil")
    for prompt in (tmp_path / "suite").glob("scene_*.txt"):
        prompt.write_text(f"push the box {HOSTILE}")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n  warp3: {kind: synthetic, degrade: [elastic:3]}\n")
    with FakeJudgeServer(lambda req: Reply(f"Score: 3 {HOSTILE}", reasoning=HOSTILE), lifetime_s=300) as server:
        judge = JudgeConfig(base_url=server.base_url, api_key="k", timeout_s=20, retries=0)
        cfg = RunConfig(models=MODELS, suite=tmp_path / "suite", models_file=tmp_path / "models.yaml", metrics=["tse", "physics"],
                        seeds=2, out=tmp_path / "runs", store=tmp_path / "results.sqlite", leaderboards=tmp_path / "boards",
                        judge=judge, judge_cache=tmp_path / "judge.jsonl", plots=False)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop; the judge needs one
            pool.submit(run, cfg).result()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((tmp_path / "boards" / "evil.report" / "index.html").as_uri())
    page.wait_for_selector("#rows .row")
    assert page.locator("#rows .row").count() == 2 * 2  # test pairs x seeds: none swallowed
    assert page.title() != "owned" and not errors, errors
    shown = page.evaluate("JSON.parse(document.getElementById('report-index').textContent).rows.map(r => r.prompt)")
    assert shown == [f"push the box {HOSTILE}"] * 4  # the same text after the round trip through the page
    page.close()


def test_report_never_deletes_or_overwrites_files_it_did_not_write(bench: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    store = str(bench / "runs" / "results.sqlite")
    mine = tmp_path / "mine"
    (mine / "media").mkdir(parents=True)
    (mine / "media" / "holiday.jpg").write_bytes(b"jpeg")
    (mine / "rows").mkdir()
    (mine / "rows" / "app.js").write_text("app")
    refused = cli.invoke(app, ["report", "--store", store, "--suite", "tiny", "--out", str(mine)])
    assert refused.exit_code == 2 and "holds no earlier report output" in " ".join(refused.output.split()), refused.output
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*") if p.is_file()) == ["media/holiday.jpg", "rows/app.js"]
    home = tmp_path / "home"
    (home / "media").mkdir(parents=True)
    (home / "media" / "photo.png").write_bytes(b"png")
    assert cli.invoke(app, ["report", "--store", store, "--suite", "tiny", "--out", str(home)]).exit_code == 2
    assert (home / "media" / "photo.png").read_bytes() == b"png"

    pub = tmp_path / "pub"
    first = cli.invoke(app, ["report", "--store", store, "--suite", "tiny", "--out", str(pub), "--bundle"])
    assert first.exit_code == 0, first.output
    (pub / "media" / "notes.txt").write_text("mine")  # a user's file inside the report's own folder
    again = cli.invoke(app, ["report", "--store", store, "--suite", "tiny", "--out", str(pub)])  # no --bundle now
    assert again.exit_code == 0, again.output
    out = " ".join(again.output.split())
    assert "replaced" in out and "removed 10 of its files" in out, out  # 8 videos + 2 images of the bundle
    assert sorted(p.relative_to(pub).as_posix() for p in (pub / "media").rglob("*") if p.is_file()) == ["media/notes.txt"]
    (tmp_path / "afile.txt").write_text("x")
    as_file = cli.invoke(app, ["report", "--store", store, "--out", str(tmp_path / "afile.txt")])
    assert as_file.exit_code == 2 and "afile.txt: is a file" in " ".join(as_file.output.split()), as_file.output
