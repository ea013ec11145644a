"""Robust extraction of the final score from a judge reply.

Replies come in three shapes (see NOTES.md, "Cosmos Reason2 as the judge"):

* ``content`` = ``"<think>…</think>\\nScore: 4"`` (server without a reasoning parser);
* ``content`` = ``"Score: 4"`` and the thinking in ``reasoning`` / ``reasoning_content``
  (vLLM ``--reasoning-parser qwen3``);
* ``content`` = ``None`` and everything in ``reasoning`` (the model never closed ``</think>``, or
  answered without thinking): then only the **last line** counts, because a truncated chain of
  thought mentions candidate scores that are not answers. It counts when it is an answer line
  (``Score: 4``) or ends in an explicitly labelled final answer (``... motion is smooth. Final
  score: 4``); a reply cut at the token limit never counts.

Extraction never guesses: no score, several different bare numbers, a non-integer or an
out-of-range number all give ``score=None`` with a reason, and the caller re-asks or records an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Extraction", "extract_score", "answer_text"]

_THINK_CLOSE = re.compile(r"</think\s*>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think\s*>", re.IGNORECASE)
_NUM = r"([+-]?\d+(?:[.,]\d+)?)"
# "Score: 4", "**Score**: 4", "final score = 4", "Rating - 4/5", "score of 4", "the score is 4", "Answer: 4"
_LABELLED = re.compile(
    r"(?:final\s+)?(?:score|rating|grade|answer)\s*\**\s*(?:is|of|[:=\-–])?\s*\**\s*[\[(]?\s*" + _NUM + r"(?![\d.,]\d)",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\{\s*" + _NUM + r"\s*\}")
_OUT_OF = re.compile(r"(?<![\d.])" + _NUM + r"\s*(?:/|out\s+of)\s*\d+\b", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
# a whole line that is only an answer: "Score: 4", "**Final score:** 4/5", "4"
_ANSWER_LINE = re.compile(
    r"^[\s*_`'\"#>\-]*(?:(?:final\s+)?(?:score|rating|grade|answer)\s*\**\s*(?:is|[:=\-–])?\s*\**\s*)?"
    + _NUM
    + r"(?:\s*(?:/|out\s+of)\s*\d+)?[\s*_`'\".!]*$",
    re.IGNORECASE,
)
# the end of a line that closes on a labelled answer: "... is smooth. Final score: 4", "... so Score = 3/5."
_FINAL_AT_END = re.compile(
    r"(?:^|[\s.;,!*_(\[])(?:final\s+)?(?:score|rating|grade|answer)\s*\**\s*(?:is|[:=])\s*\**\s*"
    + _NUM
    + r"(?:\s*(?:/|out\s+of)\s*\d+)?[\s*_`'\")\].!]*$",
    re.IGNORECASE,
)
_BARE = re.compile(r"^[\s*_`'\"#.:\[\]()]*" + _NUM + r"[\s*_`'\".!\[\]()]*$")


@dataclass(frozen=True)
class Extraction:
    """``score`` is an int in range, or ``None`` with ``reason`` saying why."""

    score: int | None
    answer: str
    reason: str | None = None


def answer_text(content: str | None, reasoning: str | None = None) -> tuple[str, bool]:
    """The part of a reply that should hold the answer, and whether it is reasoning-only text.

    ``content`` wins when it has any text; the part after the last ``</think>`` is the answer. A
    ``content`` that opens ``<think>`` and never closes it was truncated: its answer is empty.
    """
    if content is not None and content.strip():
        text = content
        closes = list(_THINK_CLOSE.finditer(text))
        if closes:
            return text[closes[-1].end():].strip(), False
        if _THINK_OPEN.search(text):
            return "", False  # thinking never finished: no answer
        return text.strip(), False
    if reasoning is not None and reasoning.strip():
        closes = list(_THINK_CLOSE.finditer(reasoning))
        if closes:
            return reasoning[closes[-1].end():].strip(), False
        return _THINK_OPEN.sub("", reasoning).strip(), True
    return "", False


def extract_score(
    content: str | None,
    reasoning: str | None = None,
    score_min: int = 1,
    score_max: int = 5,
    *,
    truncated: bool = False,
) -> Extraction:
    """Find the final score in a reply (see module docstring for the accepted shapes).

    ``truncated``: the server stopped the reply at the token limit (``finish_reason`` "length").
    """
    text, reasoning_only = answer_text(content, reasoning)
    if not text:
        if (content is None or not content.strip()) and (reasoning is None or not reasoning.strip()):
            return Extraction(None, "", "empty reply")
        return Extraction(None, "", "no answer after the reasoning (unclosed <think>: truncated?)")
    if reasoning_only:
        # only a last line that is nothing but the answer counts: a cut-off chain of thought
        # ("maybe score 2 or") mentions scores that are not answers
        lines = [ln for ln in text.splitlines() if ln.strip()]
        text = lines[-1].strip() if lines else ""
        snippet = text if len(text) <= 80 else "..." + text[-77:]
        if truncated:
            return Extraction(None, text, f"reasoning-only reply cut at the token limit, ending {snippet!r}")
        last = _ANSWER_TAG.sub(lambda m: m.group(1), text)
        line = _ANSWER_LINE.match(last) or _FINAL_AT_END.search(last)
        if line is None:
            return Extraction(None, text, f"no answer line at the end of the reasoning-only reply {snippet!r}")
        text = line.group(0).strip(" \t.;,!([")
    tag = _ANSWER_TAG.findall(text)
    if tag:
        text = tag[-1]

    raw = _find(text)
    if raw is None:
        snippet = text if len(text) <= 80 else text[:77] + "..."
        return Extraction(None, text, f"no score found in answer {snippet!r}")
    try:
        value = float(raw.replace(",", "."))
    except ValueError:  # pragma: no cover - regex only yields numbers
        return Extraction(None, text, f"unreadable score {raw!r}")
    if value != int(value):
        return Extraction(None, text, f"score {raw} is not a whole number")
    score = int(value)
    if not score_min <= score <= score_max:
        return Extraction(None, text, f"score {score} outside {score_min}-{score_max}")
    return Extraction(score, text)


def _find(text: str) -> str | None:
    """Last labelled number, else a boxed number, else "N/5", else a bare number; ``None`` if absent."""
    for pattern in (_LABELLED, _BOXED, _OUT_OF):
        hits = pattern.findall(text)
        if hits:
            return hits[-1]
    bare = _BARE.match(text)
    if bare:
        return bare.group(1)
    return None
