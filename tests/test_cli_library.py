"""The library functions the CLI used to hold itself (issue 17): callable, and right, without the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cosmos_bench.results.store import ResultRow


def _row(suite: str, model: str, sample: str = "p0") -> ResultRow:
    return ResultRow(suite=suite, model=model, generation_key=f"k{model}", sample=sample, seed=0, metric="tse",
                     metric_version="v1", direction="lower", value=1.0, status="ok")


def test_gate_rows_pick_each_side_of_one_suite_and_name_what_is_missing() -> None:
    from cosmos_bench.results.selection import MissingRowsError, SuiteChoiceError, gate_rows, only_suite

    rows = [_row("a", "base"), _row("a", "lora"), _row("b", "lora")]
    chosen = gate_rows(rows, suite="a", candidate="lora", baseline="base")
    assert (chosen.baseline, [r.model for r in chosen.baseline_rows], [r.suite for r in chosen.candidate_rows]) == \
        ("base", ["base"], ["a"])
    earlier = [_row("a", "lora", "old")]
    assert gate_rows(rows, suite="a", candidate="lora", baseline_rows=earlier).baseline_rows == earlier
    with pytest.raises(MissingRowsError, match=r"candidate 'dora' in suite 'a' of store.sqlite; models there: \['base', 'lora'\]"):
        gate_rows(rows, suite="a", candidate="dora", current_from="store.sqlite")
    with pytest.raises(MissingRowsError, match="baseline model 'base' in suite 'b' of old.csv"):
        gate_rows(rows, suite="b", candidate="lora", baseline="base", baseline_rows=earlier, baseline_from="old.csv")
    assert only_suite(rows[:2]) == "a"
    with pytest.raises(SuiteChoiceError) as several:
        only_suite(rows)
    assert several.value.suites == ["a", "b"] and "--" not in str(several.value)  # the CLI names the option


def test_register_adapter_writes_once_keeps_the_same_and_refuses_another(tmp_path: Path, request) -> None:
    from cosmos_bench.models.base import load_models_config, register_kind, unregister_kind
    from cosmos_bench.models.registration import ModelExistsError, adapter_entry, adapter_option, register_adapter

    built = []

    class Stub:
        name, identity, generate = "stub", dict, None

    register_kind("registration-test", lambda spec: built.append(spec.name) or Stub())
    request.addfinalizer(lambda: unregister_kind("registration-test"))
    models = tmp_path / "models.yaml"
    models.write_text("# mine\nmodels:\n  base: {kind: registration-test}\n")
    adapter = tmp_path / "runs" / "lora8"
    adapter.mkdir(parents=True)
    assert adapter_option(adapter, models) == "runs/lora8" and adapter_option("/elsewhere/a", models) == "/elsewhere/a"
    entry = adapter_entry(adapter, models, base="base", fuse=True)
    assert entry == {"extends": "base", "adapter": "runs/lora8", "fuse": True}
    done = register_adapter("lora8", entry, load_models_config(models))
    assert done.added and models.read_text().startswith("# mine") and built == ["lora8"]  # built before written
    assert yaml.safe_load(models.read_text())["models"]["lora8"] == entry
    again = register_adapter("lora8", entry, load_models_config(models), keep_same=True)
    assert not again.added
    with pytest.raises(ModelExistsError) as same:
        register_adapter("lora8", entry, load_models_config(models))
    assert same.value.same_adapter and "--" not in str(same.value)
    with pytest.raises(ModelExistsError, match="with another adapter"):
        register_adapter("lora8", {**entry, "adapter": "other"}, load_models_config(models), keep_same=True)
    with pytest.raises(Exception, match="adapter not found"):
        adapter_entry(tmp_path / "nothing", models, base="base")


def test_file_views_split_a_grid_window_by_window_and_refuse_a_wrong_name_count(tmp_path: Path) -> None:
    from cosmos_bench.data.video import VideoError, iter_file_views, read_video, tile_grid, view_names, write_video

    rng = np.random.default_rng(0)
    views = {n: (rng.random((5, 32, 48, 3)) * 255).astype(np.uint8) for n in ("l", "r")}
    path = write_video(tmp_path / "g.mp4", tile_grid(views, 1, 2), fps=8)
    parts = list(iter_file_views(path, 1, 2, view_names("l,r", 1, 2), window=2))
    assert [p["r"].shape for p in parts] == [(2, 32, 48, 3), (2, 32, 48, 3), (1, 32, 48, 3)]
    assert all(list(p) == ["l", "r"] for p in parts)
    whole = read_video(path).frames
    assert np.array_equal(np.concatenate([p["l"] for p in parts]), whole[:, :, :48])
    (only,) = list(iter_file_views(path))  # 5 small frames: one default window
    assert list(only) == ["view0"] and only["view0"].shape[0] == 5
    with pytest.raises(VideoError, match="3 view name"):
        view_names("a,b,c", 1, 2)


def test_summary_lines_show_each_metric_and_its_groups() -> None:
    from cosmos_bench.metrics.base import MetricResult
    from cosmos_bench.metrics.summary import summary_lines

    group = {"value": 0.5, "mean_of_means": None, "n_ok": 2, "n_pairs": 3, "n_degenerate": 1}
    details = {"n_ok": 4, "n_pairs": 6, "n_degenerate": 2, "degenerate_reasons": {"few_matches": 2},
               "mean_of_means": 0.25, "n_static_camera_pairs": 1, "views": {"a": group, "b": group}}
    ok = MetricResult(name="tse", value=0.123456, status="ok", version="v", direction="lower", details=details)
    bad = MetricResult(name="cse", value=float("nan"), status="degenerate", version="v", direction="lower", reason="too few",
                       details={"n_ok": 0, "n_pairs": 2, "n_degenerate": 2})
    lines = summary_lines({"tse": ok, "cse": bad})
    assert [(x.label, x.group) for x in lines] == [("TSE", False), ("a", True), ("b", True), ("CSE", False)]
    assert (lines[0].value, lines[0].mean_of_means, lines[0].degenerate, lines[0].static_pairs) == \
        ("0.1235", "0.2500", "2 (few_matches 2)", "1")
    assert (lines[1].value, lines[1].mean_of_means, lines[1].pairs_ok) == ("0.5000", "-", "2/3")
    assert lines[3].failed == "degenerate" and lines[3].pairs_ok == "0/2"


def test_the_judge_is_on_only_when_an_endpoint_is_named() -> None:
    from cosmos_bench.judge.client import judge_config_if_asked

    generic = {"OPENAI_BASE_URL": "http://theirs/v1", "OPENAI_API_KEY": "secret"}
    assert judge_config_if_asked(None, env=generic) is None
    on = judge_config_if_asked(None, env={**generic, "COSMOS_BENCH_JUDGE_URL": "http://judge/v1"}, samples=2)
    assert (on.base_url, on.api_key, on.samples) == ("http://judge/v1", "EMPTY", 2)
    assert judge_config_if_asked("http://given/v1", env={}).base_url == "http://given/v1"


class _NoEnvironment(dict):
    """An environment that fails the test if anything looks at it."""

    def get(self, *args):
        raise AssertionError(f"environment read after the config was resolved: {args}")

    __getitem__ = get


def test_a_resolved_judge_config_is_taken_as_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Issue 17: the judge config is resolved once where a run starts, not again per judge metric."""
    from cosmos_bench.judge import JudgeConfig, load_rubric
    from cosmos_bench.judge.client import judge_settings
    from cosmos_bench.runner import RunConfig, resolve_config

    monkeypatch.setenv("COSMOS_BENCH_JUDGE_MODEL", "judge-one")
    cfg = resolve_config(RunConfig(models=["base"], suite=tmp_path, store=tmp_path / "r.sqlite", metrics="tse,physics",
                                   judge=JudgeConfig(base_url="http://judge/v1")))
    assert cfg.metrics == ["tse", "physics"] and cfg.judge.is_resolved and cfg.judge.model == "judge-one"
    assert cfg.judge.resolved(_NoEnvironment()) is cfg.judge
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_MODEL", "judge-two")  # a change halfway through a run is not seen
    assert judge_settings(load_rubric("video_physics"), cfg.judge)["model"] == "judge-one"
    with pytest.raises(AssertionError, match="environment read"):
        JudgeConfig(base_url="http://judge/v1").resolved(_NoEnvironment())  # unresolved: it must look
