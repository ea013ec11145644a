"""Score extraction: the final answer only, never a guess."""

from __future__ import annotations

import pytest

from cosmos_bench.judge import extract_score


@pytest.mark.parametrize(
    "content, reasoning, score",
    [
        ("Score: 4", None, 4),
        ("score:4", None, 4),
        ("**Score:** 5", None, 5),
        ("Final score = 2", None, 2),
        ("The score is 3.", None, 3),
        ("Score: 4/5", None, 4),
        ("3 out of 5", None, 3),
        ("4", None, 4),
        ("**4**", None, 4),
        ("<answer>2</answer>", None, 2),
        (r"\boxed{3}", None, 3),
        ("Score: 4.0", None, 4),
        # reasoning in content: only what follows the last </think> counts
        ("<think>A 2 would be harsh; score 3? The cup bends.</think>\n\nScore: 1", None, 1),
        ("<think>x</think><think>Score: 5</think>Score: 2", None, 2),
        # vLLM reasoning parser: thinking in `reasoning`, answer in content
        ("Score: 5", "Maybe score 1. No: Score: 2", 5),
        # content null: the last line of the reasoning must be the answer
        (None, "The arm moves smoothly.\nScore: 4", 4),
        ("", "Everything rigid.\n\n**Score:** 3\n", 3),
        (None, "<think>fine</think>\nScore: 5", 5),
        (None, "Score: 2", 2),
    ],
)
def test_valid_answers(content, reasoning, score):
    got = extract_score(content, reasoning)
    assert got.score == score and got.reason is None


@pytest.mark.parametrize(
    "content, reasoning, reason",
    [
        (None, None, "empty reply"),
        ("", "  ", "empty reply"),
        ("I like turtles", None, "no score found"),
        ("The video lasts 8 seconds.", None, "no score found"),
        ("Score: 7", None, "outside 1-5"),
        ("Score: 0", None, "outside 1-5"),
        ("Score: 45", None, "outside 1-5"),
        ("Score: 3.5", None, "not a whole number"),
        ("<think>the cup stays rigid, I'd say Score: 4 but", None, "unclosed <think>"),
        ("<think>fine</think>", None, "no answer after the reasoning"),
        (None, "Looks like a 4, but the cup bends, so maybe score 2 or", "no answer line"),
        (None, "Score: 4 seems right.\nBut wait, the hand", "no answer line"),
    ],
)
def test_invalid_answers_give_none_with_a_reason(content, reasoning, reason):
    got = extract_score(content, reasoning)
    assert got.score is None and reason in got.reason


def test_custom_score_range():
    assert extract_score("Score: 9", score_min=1, score_max=10).score == 9
    assert extract_score("Score: 0", score_min=0, score_max=3).score == 0
    assert extract_score("Score: 4", score_min=0, score_max=3).score is None
