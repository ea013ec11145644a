"""The page model: which rows, which candidate − base differences, which order, which status text."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.data.video import write_video
from cosmos_bench.report import report_model
from cosmos_bench.report.model import comparison_rows, curves_from_details, row_index
from cosmos_bench.report.sources import collect_outputs, training_logs
from cosmos_bench.report.write import write_report
from cosmos_bench.results.leaderboard import MetricSummary, build_leaderboard
from cosmos_bench.results.store import ResultRow

# (model, sample, seed) -> tse value; None = degenerate
TSE = {
    ("base", "a", 0): 1.0, ("base", "a", 1): 2.0, ("base", "b", 0): 1.5, ("base", "b", 1): 1.0,
    ("cand", "a", 0): 1.25, ("cand", "a", 1): 1.5, ("cand", "b", 0): 3.5, ("cand", "b", 1): None,
}
# higher is better: cand - base = -2 on (a, 0), +1 elsewhere
PHYSICS = {(m, s, k): (2.0 if (m, s, k) == ("cand", "a", 0) else 4.0 if m == "base" else 5.0)
           for (m, s, k) in TSE}


def row(model: str, sample: str, seed: int, metric: str, value: float | None, *, version: str = "v1",
        key: str = "g1", status: str | None = None, reason: str | None = None, details: dict | None = None,
        created: float = 1.0, direction: str = "lower") -> ResultRow:
    status = status or ("ok" if value is not None else "degenerate")
    return ResultRow("s", model, key, sample, seed, metric, version, direction, value, status,
                     reason or (None if status == "ok" else "all 8 pairs degenerate (too few matches)"),
                     details or {}, {}, created)


def rows() -> list[ResultRow]:
    out = [row(*k, "tse", v) for k, v in TSE.items()]
    out += [row(*k, "physics", v, direction="higher", details={"samples": [
        {"index": 0, "status": "ok", "score": v, "reasoning": f"thinking about {k}", "raw_reply": f"Score: {v}"}]})
        for k, v in PHYSICS.items()]
    return out


def board_of(rs: list[ResultRow]):
    return build_leaderboard(rs, "s", baseline="base", model_order=["base", "cand"], n_boot=200)


def test_one_row_per_pair_and_seed_in_name_order_with_candidates_in_board_order() -> None:
    board = board_of(list(reversed(rows())))
    got = comparison_rows(board)
    assert [(r.sample, r.seed) for r in got] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert all([c.model for c in r.cells] == ["base", "cand"] for r in got)
    assert [r.anchor for r in got] == ["a/seed0", "a/seed1", "b/seed0", "b/seed1"]


def test_deltas_are_candidate_minus_base_on_the_same_pair_and_seed_and_absent_when_not_both_ok() -> None:
    got = {(r.sample, r.seed): r for r in comparison_rows(board_of(rows()))}
    assert got[("a", 0)].delta("cand", "tse") == pytest.approx(0.25)
    assert got[("a", 1)].delta("cand", "tse") == pytest.approx(-0.5)
    assert got[("b", 0)].delta("cand", "tse") == pytest.approx(2.0)
    assert got[("b", 1)].delta("cand", "tse") is None  # candidate degenerate: no number to subtract
    assert got[("a", 0)].delta("base", "tse") is None  # the baseline has no delta against itself
    assert got[("a", 0)].delta("cand", "physics") == pytest.approx(-2.0)


def test_loss_is_positive_where_the_candidate_did_worse_for_either_direction() -> None:
    board = board_of(rows())
    index = {r["id"]: r for r in row_index(comparison_rows(board), board)}
    assert index["b/seed0"]["l"]["tse"]["cand"] == pytest.approx(2.0)  # lower is better: +2 px is worse
    assert index["a/seed1"]["l"]["tse"]["cand"] == pytest.approx(-0.5)
    assert index["a/seed0"]["l"]["physics"]["cand"] == pytest.approx(2.0)  # higher is better: −2 points is worse
    assert index["a/seed1"]["l"]["physics"]["cand"] == pytest.approx(-1.0)
    assert "cand" not in index["b/seed1"]["l"].get("tse", {})  # no difference on a degenerate video


def test_status_is_the_worst_of_the_videos_metrics_and_says_why() -> None:
    rs = rows() + [row("cand", "a", 1, m, None, status="error", reason="x.mp4: truncated after 3 frames") for m in ("cse", "cse_mean")]
    got = {(r.sample, r.seed): r for r in comparison_rows(board_of(rs))}
    assert got[("b", 1)].cell("cand").status == "degenerate"
    assert got[("b", 1)].cell("cand").reasons == ["tse: all 8 pairs degenerate (too few matches)"]
    assert got[("a", 1)].cell("cand").status == "error"
    assert got[("a", 1)].cell("cand").reasons == ["cse, cse_mean: x.mp4: truncated after 3 frames"]
    assert got[("a", 0)].cell("cand").status == "ok" and got[("a", 0)].cell("cand").reasons == []
    board = board_of(rs)
    assert row_index(comparison_rows(board), board)[1]["status"] == {"base": "ok", "cand": "error"}


def test_only_the_leaderboards_metric_version_and_the_newest_generation_are_shown() -> None:
    rs = rows() + [row("cand", "a", 0, "tse", 9.0, version="v0", created=0.5)]  # old metric version
    rs += [row("cand", "b", 0, "tse", 1.75, key="g2", created=2.0)]  # retrained: new generation key, newer
    got = {(r.sample, r.seed): r for r in comparison_rows(build_leaderboard(rs, "s", versions={"tse": "v1", "physics": "v1"}, n_boot=200))}
    # one generation key per model, as the leaderboard's verdicts use (issue 16): the retrained adapter's
    # g2 rows only; a pair it has not produced yet is missing, never filled in from the old adapter
    assert got[("b", 0)].value("cand", "tse") == 1.75
    assert got[("a", 0)].value("cand", "tse") is None
    assert next(c for c in got[("a", 0)].cells if c.model == "cand").status == "missing"


def test_curves_follow_the_pairs_and_break_at_degenerate_ones() -> None:
    details = {"pairs": [
        {"view": "left", "frame": 1, "status": "ok", "median": 0.2}, {"view": "left", "frame": 0, "status": "ok", "median": 0.1},
        {"view": "right", "frame": 0, "status": "degenerate", "median": None}, {"view": "right", "frame": 1, "status": "ok", "median": 0.3},
    ]}
    curves = {c.label: c.points for c in curves_from_details(details)}
    assert curves == {"left": ((0, 0.1), (1, 0.2)), "right": ((0, None), (1, 0.3))}
    cse = curves_from_details({"pairs": [{"view_pair": "left|right", "frame": 0, "status": "ok", "median": 0.5}]})
    assert [(c.label, c.points) for c in cse] == [("left|right", ((0, 0.5),))]


def test_judge_reasoning_and_answer_reach_the_cell() -> None:
    got = comparison_rows(board_of(rows()))[0].cell("cand").metrics["physics"].judge
    assert [(s.score, s.reasoning, s.answer) for s in got] == [(2.0, "thinking about ('cand', 'a', 0)", "Score: 2.0")]


@dataclasses.dataclass
class SummaryWithMethod(MetricSummary):
    interval_method: str = "t over test-pair means"


def test_fields_a_newer_leaderboard_adds_are_rendered_not_dropped(tmp_path: Path) -> None:
    board = board_of(rows())
    board.summaries = {k: SummaryWithMethod(**dataclasses.asdict(s)) for k, s in board.summaries.items()}
    index = write_report(report_model(board), tmp_path / "r", plots=False)
    html = index.read_text()
    assert html.count("interval_method: t over test-pair means") == len(board.summaries)
    assert f'data-mean="{board.summaries[("cand", "tse")].mean!r}"' in html


def _sidecar(directory: Path, model: str, sample: str, seed: int, files: dict, adapter: Path | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    side = {"format": "cosmos-bench.generation/1", "model": model, "sample": sample, "seed": seed, "prompt": f"prompt of {sample}",
            "image": {"path": str(directory / "cond.png")}, "files": files,
            "model_info": {"adapter": {"file": str(adapter), "sha256": "abc"}} if adapter else {}}
    path = directory / f"{sample}.json"
    path.write_text(json.dumps(side))
    return path


def test_sources_probe_videos_and_flag_what_a_browser_cannot_play(tmp_path: Path) -> None:
    import av

    frames = np.zeros((4, 32, 48, 3), np.uint8)
    write_video(tmp_path / "good" / "a.mp4", frames, 8)
    with av.open(str(tmp_path / "bad.mp4"), "w") as container:  # MPEG-4 part 2: plays in no browser
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    (tmp_path / "badside").mkdir()
    (tmp_path / "bad.mp4").rename(tmp_path / "badside" / "a.mp4")
    good = _sidecar(tmp_path / "good", "base", "a", 0, {"left": "a.mp4", "right": "a.mp4"})
    bad = _sidecar(tmp_path / "badside", "cand", "a", 0, {"left": "a.mp4"})
    rs = [dataclasses.replace(row("base", "a", 0, "tse", 1.0), provenance={"video": str(good)}),
          dataclasses.replace(row("cand", "a", 0, "tse", 1.0), provenance={"video": str(bad)}),
          dataclasses.replace(row("cand", "a", 1, "tse", None, status="error", reason="generation failed: boom"), provenance={"video": None}),
          dataclasses.replace(row("base", "a", 1, "tse", 1.0), provenance={"video": "gone/a.json"})]
    facts = collect_outputs(rs, root=tmp_path)
    (file,) = facts[("base", "a", 0)].files
    assert file.views == ("left", "right") and file.info.codec == "h264" and file.info.frames == 4 and file.problem is None
    assert facts[("base", "a", 0)].prompt == "prompt of a"
    assert "will not play in most browsers" in facts[("cand", "a", 0)].files[0].problem
    assert facts[("cand", "a", 1)].problem == "no generated video (generation failed)"
    assert facts[("base", "a", 1)].problem == f"{tmp_path / 'gone/a.json'}: sidecar missing or unreadable"
    model = report_model(build_leaderboard(rs, "s", n_boot=200), facts)
    assert len(model.problems) == 3


def test_training_log_is_found_beside_the_adapter_and_flagged_when_retrained(tmp_path: Path) -> None:
    adapter_dir = tmp_path / "runs" / "train" / "lora8"
    adapter_dir.mkdir(parents=True)
    (adapter_dir / "pytorch_lora_weights.safetensors").write_bytes(b"x")
    (adapter_dir / "loss.csv").write_text("step,epoch,loss,lr,grad_norm,seconds\n1,0,0.5,1e-4,1,1\n2,0,0.25,1e-4,1,1\n")
    (adapter_dir / "train_info.json").write_text(json.dumps({"adapter_sha256": "abc"}))
    side = _sidecar(tmp_path / "v", "lora8", "a", 0, {"left": "a.mp4"}, adapter=adapter_dir / "pytorch_lora_weights.safetensors")
    rs = [dataclasses.replace(row("lora8", "a", 0, "tse", 1.0), provenance={"video": str(side)})]
    outputs = collect_outputs(rs)
    (log,) = training_logs(outputs, ["lora8"])
    assert (log.steps, log.losses, log.note) == ((1, 2), (0.5, 0.25), None)
    html = write_report(report_model(build_leaderboard(rs, "s", n_boot=200), outputs, [log]), tmp_path / "r", plots=False).read_text()
    assert '<svg class="loss"' in html and "polyline" in html.split('<svg class="loss"')[1]
    (adapter_dir / "train_info.json").write_text(json.dumps({"adapter_sha256": "retrained"}))
    (log,) = training_logs(collect_outputs(rs), ["lora8"])
    assert "retrained since" in log.note


def test_videos_are_referenced_relative_to_the_report_or_copied_into_a_bundle(tmp_path: Path) -> None:
    write_video(tmp_path / "runs" / "v" / "a.mp4", np.zeros((4, 32, 48, 3), np.uint8), 8)
    side = _sidecar(tmp_path / "runs" / "v", "base", "a", 0, {"left": "a.mp4"})
    rs = [dataclasses.replace(row("base", "a", 0, "tse", 1.0), provenance={"video": str(side)})]
    model = report_model(build_leaderboard(rs, "s", n_boot=200), collect_outputs(rs))
    write_report(model, tmp_path / "boards" / "s.report", plots=False)
    text = (tmp_path / "boards" / "s.report" / "rows" / "00000.js").read_text()
    assert 'src=\\"../../runs/v/a.mp4\\"' in text
    assert not (tmp_path / "boards" / "s.report" / "media").exists()
    write_report(model, tmp_path / "pub", bundle=True, plots=False)
    text = (tmp_path / "pub" / "rows" / "00000.js").read_text()
    assert 'src=\\"media/base/seed0/a.mp4\\"' in text
    assert (tmp_path / "pub" / "media" / "base" / "seed0" / "a.mp4").read_bytes() == (tmp_path / "runs" / "v" / "a.mp4").read_bytes()


def test_curves_plot_the_headline_statistic_of_each_pair_when_rows_have_it():
    details = {"pairs": [{"view": "v", "frame": 0, "status": "ok", "median": 0.1, "value": 0.02, "q95": 0.9}]}
    assert {c.label: c.points for c in curves_from_details(details)} == {"v": ((0, 0.02),)}
