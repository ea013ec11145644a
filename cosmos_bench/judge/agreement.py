"""How much the judge agrees with itself: test-retest reliability over ``--samples N >= 2``.

Each video is a *unit* and each sample index a *rater* (the same judge asked again with another
seed). Krippendorff's alpha at the ordinal level fits 1-5 scores: it uses rank distances, accepts
videos with missing samples (a failed sample is missing, never a number) and is 1 for perfect
agreement, 0 for agreement no better than chance. A video whose samples span two or more points
(e.g. 2 and 4) is flagged: its mean hides a judge that could not make up its mind.

Computed with the ``krippendorff`` package; this module only shapes the judge's results into its
reliability matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["Agreement", "DISAGREEMENT_POINTS", "judge_agreement", "agreement_of_results", "agreement_of_rows",
           "scores_of_details"]

DISAGREEMENT_POINTS = 2


@dataclass(frozen=True)
class Agreement:
    """Test-retest agreement of one rubric's judge over a set of videos.

    ``alpha`` is ``None`` when it is undefined: fewer than two videos with two or more valid
    samples, or every score identical (no variation to agree on; ``note`` says which).
    """

    alpha: float | None
    n_videos: int  # videos with at least two valid samples (the ones alpha uses)
    n_samples: int  # valid samples in those videos
    flagged: list[str] = field(default_factory=list)  # videos whose samples span >= DISAGREEMENT_POINTS
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "n_videos": self.n_videos, "n_samples": self.n_samples,
                "flagged": list(self.flagged), "note": self.note}

    def summary(self) -> str:
        """One cell for a table: ``α 0.81 (12 videos)`` or why there is none."""
        if self.alpha is None:
            return f"α - ({self.note})"
        return f"α {self.alpha:.2f} ({self.n_videos} videos)"


def judge_agreement(scores: Mapping[str, Sequence[float | None]], *, points: int = DISAGREEMENT_POINTS) -> Agreement:
    """Ordinal Krippendorff's alpha over ``scores[video] = [score of sample 0, sample 1, ...]``.

    ``None`` / NaN entries are failed samples (missing). Videos with fewer than two valid samples
    carry no test-retest information and are left out.
    """
    import krippendorff  # local: only needed when agreement is asked for
    import numpy as np

    rows = {}
    for video, values in scores.items():
        valid = [float(v) for v in values if v is not None and not math.isnan(float(v))]
        if len(valid) >= 2:
            rows[video] = [math.nan if v is None else float(v) for v in values]
    flagged = [v for v, vals in rows.items() if _span(vals) >= points]
    n_samples = sum(sum(not math.isnan(x) for x in vals) for vals in rows.values())
    if len(rows) < 2:
        return Agreement(None, len(rows), n_samples, flagged, "needs 2+ videos with 2+ valid samples")
    width = max(len(vals) for vals in rows.values())
    # krippendorff's reliability_data: raters x units
    matrix = np.full((width, len(rows)), np.nan)
    for j, vals in enumerate(rows.values()):
        matrix[: len(vals), j] = vals
    observed = matrix[~np.isnan(matrix)]
    if np.unique(observed).size < 2:
        return Agreement(None, len(rows), n_samples, flagged, "every score is the same")
    alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal"))
    return Agreement(alpha, len(rows), n_samples, flagged)


def _span(values: Sequence[float]) -> float:
    valid = [v for v in values if not math.isnan(v)]
    return max(valid) - min(valid) if valid else 0.0


def scores_of_details(details: Mapping[str, Any]) -> list[float | None]:
    """Per-sample scores from a judge row's details (:meth:`JudgeResult.to_dict`, as the results
    store keeps it): failed samples are ``None``."""
    samples = sorted(details.get("samples") or [], key=lambda s: s.get("index", 0))
    return [s.get("score") if s.get("status") == "ok" else None for s in samples]


def agreement_of_results(results: Iterable[Any], *, points: int = DISAGREEMENT_POINTS) -> dict[str, Agreement]:
    """Agreement per rubric over :class:`~cosmos_bench.judge.client.JudgeResult` objects (or their
    ``to_dict()`` forms), keyed by rubric name."""
    by_rubric: dict[str, dict[str, list[float | None]]] = {}
    for res in results:
        d = res if isinstance(res, Mapping) else res.to_dict()
        by_rubric.setdefault(d["rubric"], {})[str(d["id"])] = scores_of_details(d)
    return {rubric: judge_agreement(scores, points=points) for rubric, scores in by_rubric.items()}


def agreement_of_rows(rows: Iterable[Any], *, points: int = DISAGREEMENT_POINTS) -> dict[tuple[str, str], Agreement]:
    """Agreement per (model, metric) over results-store rows (anything with ``model``, ``metric`` and
    ``details``): the judge rows the runner writes keep every sample's score in ``details``. Rows
    without samples (an endpoint that was down) carry nothing and are skipped; the videos are the
    rows' ``sample``/``seed`` pairs."""
    grouped: dict[tuple[str, str], dict[str, list[float | None]]] = {}
    for row in rows:
        details = getattr(row, "details", None) or {}
        if not details.get("samples"):
            continue
        video = f"{getattr(row, 'sample', '')}/seed{getattr(row, 'seed', '')}"
        grouped.setdefault((row.model, row.metric), {})[video] = scores_of_details(details)
    return {key: judge_agreement(scores, points=points) for key, scores in grouped.items()}
