"""The data an HTML report is drawn from: a pure function of the leaderboard and what the generator wrote.

Why a separate page model: what a reader sees (which rows, which candidate − base differences, in
which order, with which status) is the part worth testing, and it should not need a browser or a
template to test. :func:`comparison_rows` takes the leaderboard (whose ``rows`` are exactly the
store rows it aggregated: current metric versions only) and the facts read from the sidecars
(:mod:`.sources`), and returns one :class:`ComparisonRow` per (test pair, seed).

Statistics are never recomputed here: the leaderboard table renders the ``Leaderboard`` object's
own summaries and comparisons. The only arithmetic is the per-video difference candidate − base on
the same (test pair, seed), which is what sorting by "where did dora32 lose" needs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..data.video import VideoInfo
from ..results.leaderboard import Leaderboard
from ..results.store import ResultRow

STATUS_RANK = {"ok": 0, "static": 1, "degenerate": 2, "error": 3, "missing": 4}  # static: nothing moved (metrics.base)


@dataclass(frozen=True)
class VideoFile:
    """One file of a generated output (a grid suite has one; a ``files`` suite one per view)."""

    path: Path
    views: tuple[str, ...]
    info: VideoInfo | None
    problem: str | None = None  # unreadable, or not browser-playable


@dataclass(frozen=True)
class OutputFacts:
    """What a sidecar says about one generated video (read by :func:`.sources.collect_outputs`)."""

    model: str
    sample: str
    seed: int
    prompt: str | None
    image: Path | None
    files: tuple[VideoFile, ...]
    adapter_file: Path | None = None
    adapter_sha256: str | None = None
    problem: str | None = None  # e.g. the sidecar is missing


@dataclass(frozen=True)
class Curve:
    """Per-frame values of one view (TSE) or view pair (CSE); None where the pair was degenerate."""

    label: str
    points: tuple[tuple[int, float | None], ...]


@dataclass(frozen=True)
class JudgeSampleView:
    index: int
    status: str
    score: float | None
    reason: str | None
    reasoning: str | None
    answer: str | None


@dataclass(frozen=True)
class MetricCell:
    """One metric of one video: value or why there is none, and what the metric saw."""

    metric: str
    direction: str
    status: str
    value: float | None
    reason: str | None
    curves: tuple[Curve, ...] = ()
    judge: tuple[JudgeSampleView, ...] = ()
    instruction: str | None = None
    delta: float | None = None  # candidate − baseline on this (pair, seed); None for the baseline itself


@dataclass(frozen=True)
class CandidateCell:
    model: str
    status: str  # worst of its metrics: ok < degenerate < error; "missing" when the store has no row
    metrics: Mapping[str, MetricCell]
    output: OutputFacts | None

    @property
    def reasons(self) -> list[str]:
        """Why this video is not ``ok``: one line per distinct reason, naming the metrics that give it."""
        by_reason: dict[str, list[str]] = {}
        for c in self.metrics.values():
            if c.status != "ok" and c.reason:
                by_reason.setdefault(c.reason, []).append(c.metric)
        return [f"{', '.join(metrics)}: {reason}" for reason, metrics in by_reason.items()]


@dataclass(frozen=True)
class ComparisonRow:
    """Every candidate's video of one (test pair, seed), side by side."""

    sample: str
    seed: int
    prompt: str | None
    image: Path | None
    cells: tuple[CandidateCell, ...]

    @property
    def anchor(self) -> str:
        """The deep-link id: ``#row=<sample>/seed<seed>``."""
        return f"{self.sample}/seed{self.seed}"

    def cell(self, model: str) -> CandidateCell:
        return next(c for c in self.cells if c.model == model)

    def value(self, model: str, metric: str) -> float | None:
        c = self.cell(model).metrics.get(metric)
        return None if c is None else c.value

    def delta(self, model: str, metric: str) -> float | None:
        c = self.cell(model).metrics.get(metric)
        return None if c is None else c.delta

    def loss(self, model: str, metric: str, direction: str) -> float | None:
        """How much worse than the baseline ``model`` did here (positive = worse), direction-aware."""
        d = self.delta(model, metric)
        if d is None:
            return None
        return d if direction == "lower" else -d


@dataclass(frozen=True)
class FieldView:
    """A field of a leaderboard object that this report does not know by name, shown as it is."""

    name: str
    value: str


# Fields the leaderboard table renders itself; anything else a newer Leaderboard adds (an interval
# method's name, an adjusted p-value, a sequential verdict) is listed beside the cell, not dropped.
SUMMARY_FIELDS = {"model", "metric", "metric_version", "direction", "mean", "ci_low", "ci_high", "n",
                  "n_degenerate", "n_error"}
COMPARISON_FIELDS = {"model", "baseline", "metric", "direction", "diff", "ci_low", "ci_high", "n_pairs"}
BOARD_FIELDS = {"suite", "models", "metrics", "versions", "directions", "summaries", "comparisons", "baseline", "rows",
                "generations"}  # generations: shown as each model's generation key (and the keys left out)


def extra_fields(obj: Any, known: set[str]) -> list[FieldView]:
    """Dataclass fields of ``obj`` outside ``known``, formatted for display."""
    if obj is None or not dataclasses.is_dataclass(obj):
        return []
    return [FieldView(f.name, format_value(getattr(obj, f.name))) for f in dataclasses.fields(obj)
            if f.name not in known and not f.name.startswith("_")]


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


# ----------------------------------------------------------------------------------------- rows
def curves_from_details(details: Mapping[str, Any]) -> tuple[Curve, ...]:
    """Per-frame curve of each view or view pair from a Sampson row's ``pairs``: each pair's ``value``, the
    headline's statistic on that pair (rows from before it had one: the pair's median)."""
    groups: dict[str, list[tuple[int, float | None]]] = {}
    for pair in details.get("pairs") or []:
        label = pair.get("view") if "view" in pair else pair.get("view_pair")
        stat = "value" if pair.get("value") is not None else "median"
        ok = pair.get("status") == "ok" and pair.get(stat) is not None
        groups.setdefault(str(label), []).append((int(pair.get("frame", 0)), float(pair[stat]) if ok else None))
    return tuple(Curve(label, tuple(sorted(points))) for label, points in groups.items())


def judge_samples(details: Mapping[str, Any]) -> tuple[JudgeSampleView, ...]:
    """Each judge sample's score, reasoning (the ``<think>`` part) and answer text, from a judge row."""
    out = []
    for s in details.get("samples") or []:
        out.append(JudgeSampleView(index=int(s.get("index", len(out))), status=str(s.get("status")), score=s.get("score"),
                                   reason=s.get("reason"), reasoning=s.get("reasoning"), answer=s.get("raw_reply")))
    return tuple(out)


def _metric_cell(row: ResultRow, delta: float | None) -> MetricCell:
    details = row.details or {}
    return MetricCell(metric=row.metric, direction=row.direction, status=row.status, value=row.value, reason=row.reason,
                      curves=curves_from_details(details), judge=judge_samples(details),
                      instruction=details.get("instruction"), delta=delta)


def _newest_generation(rows: Iterable[ResultRow]) -> dict[tuple[str, str, int], str]:
    """(model, sample, seed) → the generation key of its newest row (a retrained adapter wins)."""
    newest: dict[tuple[str, str, int], tuple[float, str]] = {}
    for r in rows:
        k = (r.model, r.sample, r.seed)
        if k not in newest or r.created_at > newest[k][0]:
            newest[k] = (r.created_at, r.generation_key)
    return {k: key for k, (_, key) in newest.items()}


def comparison_rows(board: Leaderboard, outputs: Mapping[tuple[str, str, int], OutputFacts] | None = None) -> list[ComparisonRow]:
    """One row per (test pair, seed) of ``board.rows``, candidates in the leaderboard's model order.

    Each cell's ``delta`` is candidate − baseline on the same (pair, seed) when both are ``ok``
    (the per-video terms of the leaderboard's paired comparison). Rows are ordered by test pair
    name, then seed; the report's controls re-sort them.
    """
    outputs = outputs or {}
    generation = _newest_generation(board.rows)
    by_video: dict[tuple[str, str, int], dict[str, ResultRow]] = {}
    for r in board.rows:
        if generation[(r.model, r.sample, r.seed)] == r.generation_key:
            by_video.setdefault((r.model, r.sample, r.seed), {})[r.metric] = r
    keys = sorted({(sample, seed) for (_, sample, seed) in by_video})
    rows = []
    for sample, seed in keys:
        base = by_video.get((board.baseline, sample, seed), {}) if board.baseline else {}
        cells = []
        for model in board.models:
            mine = by_video.get((model, sample, seed), {})
            metrics = {}
            for metric in board.metrics:
                r = mine.get(metric)
                if r is None:
                    continue
                b = base.get(metric)
                delta = None
                if model != board.baseline and b is not None and r.status == "ok" and b.status == "ok":
                    delta = float(r.value) - float(b.value)
                metrics[metric] = _metric_cell(r, delta)
            status = max((c.status for c in metrics.values()), key=STATUS_RANK.__getitem__, default="missing")
            cells.append(CandidateCell(model, status, metrics, outputs.get((model, sample, seed))))
        facts = next((c.output for c in cells if c.output is not None), None)
        rows.append(ComparisonRow(sample, seed, facts.prompt if facts else None, facts.image if facts else None, tuple(cells)))
    return rows


def row_index(rows: Sequence[ComparisonRow], board: Leaderboard) -> list[dict[str, Any]]:
    """The compact per-row facts the page sorts and filters by (JSON for the page's script).

    ``v``: value per metric and model; ``d``: candidate − baseline; ``l``: the same difference signed
    so that positive means the candidate did worse (``d`` for lower-is-better metrics, ``−d`` for
    higher-is-better), so "largest first" reads "where it lost most" for every metric.
    """
    out = []
    for i, row in enumerate(rows):
        values: dict[str, dict[str, float]] = {}
        deltas: dict[str, dict[str, float]] = {}
        losses: dict[str, dict[str, float]] = {}
        for metric in board.metrics:
            direction = board.directions[metric]
            for cell in row.cells:
                c = cell.metrics.get(metric)
                if c is None:
                    continue
                if c.value is not None:
                    values.setdefault(metric, {})[cell.model] = c.value
                if c.delta is not None:
                    deltas.setdefault(metric, {})[cell.model] = c.delta
                    losses.setdefault(metric, {})[cell.model] = row.loss(cell.model, metric, direction)
        out.append({
            "i": i, "id": row.anchor, "sample": row.sample, "seed": row.seed, "prompt": row.prompt or "",
            "status": {c.model: c.status for c in row.cells}, "v": values, "d": deltas, "l": losses,
        })
    return out


@dataclass(frozen=True)
class TrainingLog:
    """The loss curve ``cosmos-bench train`` wrote next to a candidate's adapter."""

    model: str
    path: Path
    steps: tuple[int, ...]
    losses: tuple[float, ...]
    note: str | None = None  # e.g. the log belongs to another adapter file


@dataclass
class ReportModel:
    """Everything ``index.html`` shows."""

    board: Leaderboard
    rows: list[ComparisonRow]
    index: list[dict[str, Any]]
    training: list[TrainingLog] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # videos a browser cannot play, missing sidecars
    sequential: list[dict[str, str]] = field(default_factory=list)  # the last sequential run's verdicts, if any


def report_model(board: Leaderboard, outputs: Mapping[tuple[str, str, int], OutputFacts] | None = None,
                 training: Sequence[TrainingLog] = ()) -> ReportModel:
    """The page model: comparison rows, their sort/filter index, training logs and file problems."""
    rows = comparison_rows(board, outputs)
    problems = []
    for facts in (outputs or {}).values():
        if facts.problem:
            problems.append(f"{facts.model}/{facts.sample}/seed{facts.seed}: {facts.problem}")
        problems += [f"{f.path}: {f.problem}" for f in facts.files if f.problem]
    return ReportModel(board, rows, row_index(rows, board), list(training), sorted(problems))
