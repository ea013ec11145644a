"""Rubric schema: the shipped rubrics load; malformed ones are rejected with a clear error."""

from __future__ import annotations

import copy

import pytest
import yaml

from cosmos_bench.judge import Rubric, RubricError, available_rubrics, judge_version, load_rubric
from tests.judge.conftest import fast_config

GOOD = {
    "name": "my_rubric",
    "version": 2,
    "description": "test",
    "needs_instruction": True,
    "score_range": [1, 5],
    "system_prompt": "You judge videos.",
    "user_prompt": 'Instruction: "{instruction}". Does the video follow it? JSON like {{"a": 1}} is literal.',
    "answer_format": "End with Score: N, N from {score_min} to {score_max}.",
}


def _rubric(**changes) -> Rubric:
    d = copy.deepcopy(GOOD)
    for k, v in changes.items():
        if v is ...:
            del d[k]
        else:
            d[k] = v
    return Rubric.from_dict(d, source="test.yaml")


def test_shipped_rubrics_load_and_render():
    physics, follow = load_rubric("video_physics"), load_rubric("video_IF")
    assert not physics.needs_instruction and follow.needs_instruction
    assert (physics.score_min, physics.score_max) == (follow.score_min, follow.score_max) == (1, 5)
    text = follow.render("Pick up the apple with the right hand.")
    assert "Pick up the apple with the right hand." in text and "from 1 to 5" in text
    assert "{" not in physics.render() and "</think>" in physics.render()
    for r in (physics, follow):  # every anchor of the scale is spelled out
        assert all(f"{n} =" in r.user_prompt for n in range(1, 6))
    assert "hand" in follow.user_prompt and "left" in follow.user_prompt
    assert {"video_physics", "video_IF"} <= set(available_rubrics())


def test_render_needs_an_instruction_when_the_rubric_does():
    r = _rubric()
    with pytest.raises(RubricError, match="needs an instruction"):
        r.render(None)
    with pytest.raises(RubricError, match="needs an instruction"):
        r.render("   ")
    assert '{"a": 1}' in r.render("go {left}")  # braces in the instruction are not placeholders
    assert "go {left}" in r.render("go {left}")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"temperature": 0.5}, r"unknown key\(s\) \['temperature'\]"),
        ({"system_prompt": ...}, r"missing key\(s\) \['system_prompt'\]"),
        ({"user_prompt": "Does the video follow the instruction?"}, "no {instruction} placeholder"),
        ({"user_prompt": "Rate {instruction} on {criteria}."}, r"unknown placeholder\(s\) \['{criteria}'\]"),
        ({"needs_instruction": False}, "uses {instruction} but needs_instruction is false"),
        ({"answer_format": "Score {score}"}, r"unknown placeholder\(s\) \['{score}'\]"),
        ({"system_prompt": "You judge {instruction}"}, "'system_prompt' uses unknown placeholder"),
        ({"user_prompt": "Rate {instruction} {"}, "malformed braces"),
        ({"user_prompt": "Rate {instruction} {0}"}, "invalid placeholder"),
        ({"score_range": [5, 1]}, "min < max"),
        ({"score_range": [1, 5.5]}, "two integers"),
        ({"needs_instruction": "yes"}, "true or false"),
        ({"name": "bad name!"}, "must match"),
        ({"user_prompt": ""}, "non-empty string"),
    ],
)
def test_bad_rubrics_are_rejected_with_a_clear_error(changes, message):
    with pytest.raises(RubricError, match=message) as err:
        _rubric(**changes)
    assert str(err.value).startswith("test.yaml:")


def test_user_rubric_by_path_and_by_directory(tmp_path, monkeypatch):
    path = tmp_path / "my_rubric.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert load_rubric(path).name == "my_rubric"
    assert load_rubric(str(path)).source == str(path)
    monkeypatch.setenv("COSMOS_BENCH_RUBRICS", str(tmp_path))
    assert load_rubric("my_rubric").version == "2"
    with pytest.raises(RubricError, match="unknown rubric 'nope'"):
        load_rubric("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(RubricError, match="not valid YAML"):
        load_rubric(bad)
    with pytest.raises(RubricError, match="not found"):
        load_rubric(tmp_path / "missing.yaml")


def test_rubric_text_change_changes_the_judge_version_but_comments_do_not(tmp_path):
    cfg = fast_config(None)
    base = judge_version(_rubric(), cfg)
    assert judge_version(_rubric(system_prompt="You judge videos strictly."), cfg) != base
    assert judge_version(_rubric(score_range=[1, 10]), cfg) != base
    assert judge_version(_rubric(description="reworded help text"), cfg) == base
    path = tmp_path / "r.yaml"
    path.write_text("# a comment\n" + yaml.safe_dump(GOOD))
    assert judge_version(load_rubric(path), cfg) == base
