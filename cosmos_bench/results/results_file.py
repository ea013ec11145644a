"""``leaderboards/<suite>.json``: one results file per suite, the facts the md, csv and report show.

Why: the facts behind a leaderboard were spread over the store, the sidecars, the md/csv and the
report; a reviewer or a script wants them in one file, as lm-eval writes one JSON per run. The file
holds the settings the numbers were formed with, the tool and library versions, the git commit of the
checkout, each model's generation key (with the provenance its rows share), every metric per model
with its interval and method, the paired differences with their tests, the sequential decisions
written beside the leaderboards, and the judge's agreement.

The cells are the leaderboard objects' own dataclass fields (:func:`dataclasses.asdict`), so a field a
newer leaderboard adds appears here without a change, and the markdown and csv, rendered from the
same objects, cannot disagree with it (a test checks that they do not). Numbers are JSON numbers or
``null`` for NaN. Nothing here depends on the clock: regenerating from the same store and checkout gives
the same file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from ..provenance import canonical_json, git_commit, runtime_versions

# ``board`` below is a :class:`.leaderboard.Leaderboard`; this module does not import it because the
# leaderboard's writer imports this one (the import contract forbids the cycle, even for type checking).
Leaderboard = Any

SCHEMA_VERSION = 1


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, tuples lists, other objects their ``str``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _shared(provenances: list[dict[str, Any]]) -> dict[str, Any]:
    """The entries every one of ``provenances`` records with the same value (a per-video path or hash is left out)."""
    if not provenances:
        return {}
    first = provenances[0]
    return {k: v for k, v in first.items()
            if all(k in p and canonical_json(p[k]) == canonical_json(v) for p in provenances[1:])}


def _generation_provenance(board: Leaderboard) -> dict[str, Any]:
    """Per model: the generation key used, the keys left out, and the provenance all its rows share
    (model identity, generation settings, library versions)."""
    out = {}
    for model in board.models:
        choice = board.generations.get(model)
        mine = [r for r in board.rows if r.model == model]
        out[model] = {"key": choice.key if choice else (mine[0].generation_key if mine else None),
                      "dropped": dict(choice.dropped) if choice else {},
                      "provenance": _shared([r.provenance for r in mine if r.provenance])}
    return out


def board_document(board: Leaderboard, *, sequential: list[dict[str, str]] | None = None,
                   configuration: dict[str, Any] | None = None, checkout: str | Path = ".") -> dict[str, Any]:
    """The results file's content for ``board`` (see the module docstring)."""
    summaries = []
    for model in board.models:
        for metric in board.metrics:
            s = board.summaries.get((model, metric))
            if s is not None:
                summaries.append(dataclasses.asdict(s) | {"has_interval": s.has_interval})
    comparisons = [dataclasses.asdict(c) | {"verdict": c.verdict, "significant": c.significant}
                   for model in board.models for metric in board.metrics
                   if (c := board.comparisons.get((model, metric))) is not None]
    agreement = [{"model": m, "metric": metric} | a.to_dict() for (m, metric), a in sorted(board.judge_agreement().items())]
    return _clean({
        "schema_version": SCHEMA_VERSION,
        "suite": board.suite,
        "baseline": board.baseline,
        "models": list(board.models),
        "metrics": [{"metric": m, "direction": board.directions[m], "version": board.versions.get(m),
                     "run": m in board.versions, "missing": None if m in board.versions else dict(zip(("status", "why"), board.missing(m)))}
                    for m in board.metrics],
        "settings": {"confidence": board.confidence, "n_boot": board.n_boot, "seed": board.seed,
                     "interval": board.interval, "n_flips": board.n_flips},
        "configuration": configuration or {},
        "versions": runtime_versions(),
        "git": git_commit(checkout),
        "generation": _generation_provenance(board),
        "summaries": summaries,
        "comparisons": comparisons,
        "sequential": sequential or [],
        "judge_agreement": agreement,
        "n_rows": len(board.rows),
    })


def results_json(board: Leaderboard, **kwargs: Any) -> str:
    """The results file as text (sorted keys, two-space indent, one trailing newline)."""
    return json.dumps(board_document(board, **kwargs), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
