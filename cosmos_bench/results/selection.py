"""Which stored rows may meet in one verdict: one generation key per model, one version per metric.

A retrained adapter registered under the same model name gets a new generation key, while the
store keeps the old adapter's rows. Averaging or pairing both would judge a model that no longer
exists, so every leaderboard and gate verdict uses the *newest* generation key of each model name
and says which keys it left out. Newest by the key's creation (its first row), not its last row:
rescoring an old adapter after a retrain (a new metric version) writes new rows under the old key,
and must not make that key current again. Rows without a time order (a
per-sample export carries no timestamps) and several keys cannot be resolved: that is refused.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import CosmosBenchError
from .store import ResultRow


class MixedGenerationError(CosmosBenchError, ValueError):
    """Rows of one model name carry several generation keys and nothing says which is newest."""


@dataclass(frozen=True)
class GenerationChoice:
    """The generation key used for one model, and the older keys' row counts that were left out."""

    model: str
    key: str
    dropped: dict[str, int] = field(default_factory=dict)

    def note(self) -> str:
        left = ", ".join(f"`{k}` ({n} rows)" for k, n in sorted(self.dropped.items()))
        return f"`{self.model}`: newest generation key `{self.key}` used; older key(s) left out: {left}"


def newest_generation(rows: Sequence[ResultRow]) -> tuple[list[ResultRow], dict[str, GenerationChoice]]:
    """Keep, per model name, only the rows of its newest generation key; returns (rows, choice per model)."""
    created: dict[str, dict[str, float]] = defaultdict(dict)  # model -> key -> time of the key's first row
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        keys = created[r.model]
        keys[r.generation_key] = min(keys.get(r.generation_key, r.created_at), r.created_at)
        counts[r.model][r.generation_key] += 1
    choices: dict[str, GenerationChoice] = {}
    for model, keys in sorted(created.items()):
        newest_time = max(keys.values())
        newest = sorted(k for k, t in keys.items() if t == newest_time)
        if len(newest) > 1:
            raise MixedGenerationError(
                f"model {model!r} has rows of {len(keys)} generation keys {sorted(keys)} and nothing says which "
                "is newest; export or select the rows of one generation key"
            )
        choices[model] = GenerationChoice(model, newest[0], {k: counts[model][k] for k in keys if k != newest[0]})
    kept = [r for r in rows if r.generation_key == choices[r.model].key]
    return kept, choices


class SuiteChoiceError(CosmosBenchError, ValueError):
    """Rows of several suites (or none) where one suite was wanted; ``suites`` lists what was found."""

    def __init__(self, suites: Sequence[str]):
        self.suites = list(suites)
        super().__init__(f"several suites found {self.suites}" if self.suites else "no rows")


class MissingRowsError(CosmosBenchError, ValueError):
    """A model a verdict needs has no rows in the chosen suite."""


def only_suite(rows: Sequence[ResultRow]) -> str:
    """The one suite ``rows`` belong to; none or several cannot be chosen here (the caller names it)."""
    suites = sorted({r.suite for r in rows})
    if len(suites) != 1:
        raise SuiteChoiceError(suites)
    return suites[0]


@dataclass(frozen=True)
class GateRows:
    """The rows one gate verdict compares: the candidate's and its baseline's, of one suite."""

    suite: str
    candidate: str
    baseline: str
    candidate_rows: list[ResultRow]
    baseline_rows: list[ResultRow]


def gate_rows(current: Sequence[ResultRow], *, suite: str, candidate: str, baseline: str | None = None,
              baseline_rows: Sequence[ResultRow] | None = None, current_from: str = "the rows",
              baseline_from: str | None = None) -> GateRows:
    """Pick the candidate's rows from ``current`` and the baseline's from ``baseline_rows`` (an earlier
    export) or, without one, from ``current`` too. ``baseline`` defaults to the candidate itself (its
    earlier results). ``current_from``/``baseline_from`` name where the rows came from, for the message
    when a side has none: an empty side would make the gate pass on nothing.
    """
    base_name = baseline or candidate
    source = baseline_rows if baseline_rows is not None else current
    base = [r for r in source if r.suite == suite and r.model == base_name]
    cand = [r for r in current if r.suite == suite and r.model == candidate]
    if not cand:
        models_there = sorted({r.model for r in current if r.suite == suite})
        raise MissingRowsError(f"no rows for candidate {candidate!r} in suite {suite!r} of {current_from}; "
                               f"models there: {models_there}")
    if not base:
        where = baseline_from if baseline_rows is not None and baseline_from else current_from
        raise MissingRowsError(f"no rows for baseline model {base_name!r} in suite {suite!r} of {where}")
    return GateRows(suite, candidate, base_name, cand, base)
