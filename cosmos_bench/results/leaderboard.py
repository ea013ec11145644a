"""Leaderboards rebuilt from the results store: means with CIs over test pairs and paired comparisons.

Why intervals over *test pairs*: the seeds of one test pair share a prompt and a first frame, so
their scores are correlated; treating rows as independent would pretend we have ``samples × seeds``
observations and give intervals that are too narrow. Each test pair is reduced to its mean and the
interval is formed over pair means, by the rule of :mod:`.stats` (a model's mean: studentized
bootstrap from 5 pairs, t below; a paired difference: t; none below 2 pairs, shown as "n too
small"). The method is printed beside the numbers.

Why Holm, and why a sign-flip test: a board with 4 candidates × 6 metrics makes 24 comparisons;
marking each one whose own interval excludes 0 marks at least one of them in most boards where
nothing differs. Bold marks follow Holm-adjusted p-values over every comparison on the board (raw
and adjusted in the CSV). Holm needs each test to hold its level at alpha / 24, deep in the tail,
so the p-values come from a paired sign-flip test (:mod:`.signflip`), exact there whatever the
scores' distribution, not from the t-test the intervals use. Its price: with n test pairs no
p-value is below 2 / 2^n, so a board of few test pairs can mark nothing, and says so.

Why paired comparisons: every candidate is generated from the same prompts, images and seeds as
``base``, so the per-(sample, seed) difference removes most of the prompt-to-prompt variance and
shows small adapter effects that two independent means would hide.

Everything here is deterministic (seeded bootstrap, sorted output): regenerating a leaderboard from
the same store gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import catalog
from ..atomic import atomic_write_text
from ..names import NAME_RULE, is_safe_name
from ..owned import OwnedFolder, check_owned
from . import signflip, stats
from .selection import GenerationChoice, newest_generation
from .store import ResultRow, ResultStore
from ..errors import InputError, MissingInputError

# The benchmark's own metrics: always shown (as "not run" when the store has no rows for them), in
# this order, so a table regenerated from the store alone equals the one a run printed.
STANDARD_METRICS = catalog.standard_directions()
METRIC_ORDER = catalog.display_order()
NOT_RUN_HINT = catalog.not_run_hints()

SAMPLE_COLUMNS = (
    "suite", "model", "generation_key", "sample", "seed", "metric", "metric_version",
    "direction", "value", "status", "reason", "provenance",
)


LOW_MOTION = 0.5  # a candidate whose mean motion is under this fraction of the baseline's gets a note


@dataclass
class MetricSummary:
    """One cell of the leaderboard: a model's score on one metric, with how much to trust it."""

    model: str
    metric: str
    metric_version: str
    direction: str
    mean: float
    ci_low: float
    ci_high: float
    n: int
    n_degenerate: int
    n_error: int
    method: str = "t"  # how the interval was formed: t, bootstrap, or none (fewer than 2 test pairs)
    n_test_pairs: int = 0
    n_static: int = 0  # videos whose content does not move: no geometry to score, never averaged

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

    @property
    def n_total(self) -> int:
        return self.n + self.n_degenerate + self.n_error + self.n_static


@dataclass
class PairedComparison:
    """Candidate minus baseline over the (sample, seed) pairs both scored."""

    model: str
    baseline: str
    metric: str
    direction: str
    diff: float
    ci_low: float
    ci_high: float
    n_pairs: int
    p_value: float = math.nan  # two-sided sign-flip p of "no difference"
    p_adjusted: float = math.nan  # Holm over every comparison on the board
    alpha: float = 0.05
    method: str = "t"  # how the interval was formed
    n_test_pairs: int = 0
    n_missing: int = 0  # baseline (sample, seed) pairs the candidate has no row for
    n_unpaired: int = 0  # (sample, seed) pairs one side has a row for and the other not, either way
    test: str = ""  # how p_value was computed (signflip.describe)
    p_floor: float = math.nan  # the smallest p_value this test can give with n_test_pairs
    testable: bool = True  # False: no data could make this cell significant on this board (too few test pairs)

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

    @property
    def significant(self) -> bool:
        """Holm-adjusted p below alpha (or, for a comparison built without p-values, the CI excludes 0)."""
        if math.isfinite(self.p_adjusted):
            return self.p_adjusted < self.alpha
        return self.has_interval and (self.ci_low > 0 or self.ci_high < 0)

    @property
    def verdict(self) -> str:
        """'better', 'worse', 'no sig. difference' or 'n too small to test', taking the metric's direction into account."""
        if not self.significant:
            return "no sig. difference" if self.testable else "n too small to test"
        improved = self.diff < 0 if self.direction == "lower" else self.diff > 0
        return "better" if improved else "worse"


@dataclass
class Leaderboard:
    suite: str
    models: list[str]
    metrics: list[str]
    versions: dict[str, str]
    directions: dict[str, str]
    summaries: dict[tuple[str, str], MetricSummary]
    comparisons: dict[tuple[str, str], PairedComparison]
    baseline: str | None
    rows: list[ResultRow] = field(default_factory=list)
    confidence: float = 0.95
    n_boot: int = 2000
    seed: int = 0
    interval: str = "auto"
    generations: dict[str, GenerationChoice] = field(default_factory=dict)
    n_flips: int = signflip.MIN_FLIPS  # random sign flips of the bold marks' test beyond the exact range

    def judge_agreement(self) -> dict[tuple[str, str], Any]:
        """Test-retest agreement of the judge per (model, judge metric), from the rows asked with two or
        more samples (``--judge-samples N``); empty when none was."""
        from ..judge.agreement import agreement_of_rows

        judged = set(catalog.metrics_of_stage("judge"))
        rows = [r for r in self.rows if r.metric in judged and len((r.details or {}).get("samples") or []) >= 2]
        return agreement_of_rows(rows) if rows else {}

    def judge_controls(self) -> dict[tuple[str, str], Any]:
        """Per (model, judge metric), how much the judge's controls lowered the score (``--controls``); empty
        when none was asked. Controls live in the rows' details, never in the scores above."""
        from ..judge.controls import control_reports_of_rows

        judged = set(catalog.metrics_of_stage("judge"))
        return control_reports_of_rows(r for r in self.rows if r.metric in judged)

    def missing(self, metric: str) -> tuple[str, str]:
        """Why ``metric`` has no rows: ("not requested", why) when its stage ran for another metric of
        this board (the judge scored ``physics``, so an empty ``if`` was left out by ``--metrics``, not
        missed), else ("not run", the catalogue's usual reason). Read from the rows alone, so a board
        regenerated from the store says the same as the run's."""
        info = catalog.METRICS.get(metric)
        if info is not None and info.stage == "judge":
            ran = [m for m in self.versions if m != metric and m in catalog.METRICS and catalog.METRICS[m].stage == "judge"]
            if ran:
                return "not requested", f"the judge scored {', '.join(ran)} but {metric} was not in --metrics"
        return "not run", NOT_RUN_HINT.get(metric, "no rows in the store")

    # ----------------------------------------------------------------- rendering
    def to_markdown(self) -> str:
        pct = int(round(self.confidence * 100))
        lines = [f"# Leaderboard: {self.suite}", ""]
        lines.append(
            f"Mean over test pairs per model and metric with a {pct}% CI over test pairs, its method beside it "
            f"(bootstrap: studentized bootstrap over test pairs, {self.n_boot} resamples, seed {self.seed}, from "
            f"{stats.BOOTSTRAP_MIN_PAIRS} test pairs; t: Student t on pair means, below that; \"n too small\": fewer "
            "than 2 test pairs); n = scored videos; "
            "deg/err = degenerate or failed videos, static = videos whose content does not move (no geometry to "
            "score), never averaged in. Regenerated from the results store."
        )
        lines.append("")
        header = ["model"] + [f"{m} ({'↓' if self.directions[m] == 'lower' else '↑'})" for m in self.metrics]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for model in self.models:
            cells = [model]
            for metric in self.metrics:
                s = self.summaries.get((model, metric))
                cells.append(_format_summary(s) if s is not None or metric in self.versions else self.missing(metric)[0])
            lines.append("| " + " | ".join(cells) + " |")
        if self.comparisons:
            lines += ["", f"## Paired comparison against `{self.baseline}`", ""]
            lines.append(
                f"Candidate − {self.baseline} over the same samples and seeds, {pct}% CI over test pairs "
                "(t: Student t on per-pair mean differences); "
                f"**bold** = different at {1 - self.confidence:g} by a paired sign-flip test on the per-pair mean "
                f"differences (exact over all 2^n sign patterns up to {signflip.EXACT_MAX_PAIRS} test pairs, else "
                f"{self.n_flips} random flips, seed {self.seed}), after Holm's correction over the "
                f"{len(self.comparisons)} comparisons of this table (the CIs are unadjusted; raw and adjusted p "
                "in the CSV). \"k unpaired\": videos only one of the two has, left out of the cell."
            )
            lines += [""] + self._untestable_note()
            lines.append("| model | " + " | ".join(self.metrics) + " |")
            lines.append("|---|" + "---|" * len(self.metrics))
            for model in self.models:
                if model == self.baseline:
                    continue
                cells = [model]
                for metric in self.metrics:
                    c = self.comparisons.get((model, metric))
                    cells.append(_format_comparison(c))
                lines.append("| " + " | ".join(cells) + " |")
        lines += self._motion_note()
        agreement = self.judge_agreement()
        if agreement:
            judged = [m for m in self.metrics if any(key[1] == m for key in agreement)]
            lines += ["", "## Judge agreement", "",
                      "How well the judge agrees with itself over its samples of each video: Krippendorff's ordinal α "
                      "over videos × samples (1 = always the same score, 0 = no better than chance; failed samples are "
                      "missing), and how many videos got samples 2+ points apart.", "",
                      "| model | " + " | ".join(judged) + " |", "|---|" + "---|" * len(judged)]
            for model in self.models:
                cells = [model]
                for metric in judged:
                    a = agreement.get((model, metric))
                    cells.append("—" if a is None else f"{a.summary()}; {len(a.flagged)} disagree by 2+")
                lines.append("| " + " | ".join(cells) + " |")
        controls = self.judge_controls()
        if controls:
            lines += ["", "## Judge controls", "",
                      "Videos also scored as a control that must score lower (physics: frames shuffled in time; if: "
                      "another video's instruction): mean drop original − control with its 95% t-interval, and the share "
                      "of controls that scored at least as high. A judge whose interval is not above 0 is **not shown "
                      "to discriminate**. Controls never enter the scores above.", "",
                      "| model | metric | controls | mean drop | control ≥ original | verdict |", "|---|---|---|---|---|---|"]
            for (model, metric), rep in sorted(controls.items()):
                drop = "—" if rep.mean_drop is None else f"{rep.mean_drop:.2f}" + (
                    "" if rep.low is None else f" [{rep.low:.2f}, {rep.high:.2f}]")
                share = "—" if rep.share_not_lower is None else f"{rep.share_not_lower:.0%}"
                verdict = {True: "discriminates", False: "**not shown to discriminate**", None: "too few"}[rep.discriminates]
                lines.append(f"| {model} | {metric} | {rep.pairs} | {drop} | {share} | {verdict} |")
        notes = [c.note() for c in self.generations.values() if c.dropped]
        if notes:
            lines += ["", "## Generation keys", ""] + [f"- {n}" for n in notes]
        lines += ["", "## Metric versions", ""]
        for metric in self.metrics:
            if metric in self.versions:
                lines.append(f"- `{metric}`: `{self.versions[metric]}`")
            else:
                lines.append("- `{}`: {} ({})".format(metric, *self.missing(metric)))
        return "\n".join(lines) + "\n"

    def _motion_note(self) -> list[str]:
        """Candidates that move much less than the baseline (a still video is trivially consistent, so
        their tse/cse are not comparable), if any."""
        base = self.summaries.get((self.baseline, "motion")) if self.baseline else None
        if base is None or not (base.n and base.mean > 0):
            return []
        slow = [(m, s.mean) for m in self.models if m != self.baseline
                and (s := self.summaries.get((m, "motion"))) is not None and s.n and s.mean < LOW_MOTION * base.mean]
        if not slow:
            return []
        return ["", "## Less dynamic than the baseline", ""] + [
            f"- `{m}` moves {v:.3g} px/frame against {base.mean:.3g} for `{self.baseline}` (under "
            f"{LOW_MOTION:g}×): its geometric consistency is measured on less motion and reads better for it."
            for m, v in slow]

    def _untestable_note(self) -> list[str]:
        """Why cells can never be bold on this board (too few test pairs for the sign-flip test), if any."""
        alpha = 1 - self.confidence
        tested = [c for c in self.comparisons.values() if math.isfinite(c.p_floor)]
        family = len(tested)  # Holm's family: the comparisons with a p-value
        if tested and not any(c.testable for c in tested):
            most = max(c.n_test_pairs for c in tested)
            return [f"**No cell of this table can be bold, whatever the data**: with at most {most} test pairs the "
                    f"sign-flip test's smallest two-sided p is 2/2^{most} = {signflip.smallest_p(most):.3g}, and Holm "
                    f"over {family} comparisons needs p < {alpha:g}/{family} = {alpha / family:.3g} for a first mark; "
                    f"that takes at least {signflip.fewest_pairs(alpha / family)} test pairs.", ""]
        if any(not c.testable for c in tested):
            return [f"\"n too small to test\": fewer than {signflip.fewest_pairs(alpha)} test pairs, where the "
                    f"sign-flip test's smallest two-sided p (2/2^n) is not below {alpha:g}; such a cell cannot be bold.", ""]
        return []

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([
            "suite", "model", "metric", "metric_version", "direction", "mean", "ci_low", "ci_high",
            "n", "n_degenerate", "n_error", "baseline", "diff_vs_baseline", "diff_ci_low", "diff_ci_high",
            "n_pairs", "verdict", "ci_method", "n_test_pairs", "diff_ci_method", "diff_p_value", "diff_p_holm",
            "n_missing_pairs", "diff_p_test", "n_unpaired_pairs",
        ])
        for model in self.models:
            for metric in self.metrics:
                s = self.summaries.get((model, metric))
                if s is None:
                    continue
                c = self.comparisons.get((model, metric))
                writer.writerow([
                    self.suite, model, metric, s.metric_version, s.direction, _num(s.mean), _num(s.ci_low),
                    _num(s.ci_high), s.n, s.n_degenerate, s.n_error, self.baseline or "",
                    _num(c.diff) if c else "", _num(c.ci_low) if c else "", _num(c.ci_high) if c else "",
                    c.n_pairs if c else "", c.verdict if c else "", s.method, s.n_test_pairs,
                    c.method if c else "", _num(c.p_value) if c else "", _num(c.p_adjusted) if c else "",
                    c.n_missing if c else "", c.test if c else "", c.n_unpaired if c else "",
                ])
        return buf.getvalue()

    def rank(self, metric: str) -> list[str]:
        """Models ordered best first on ``metric``, by their means over the (sample, seed) videos that
        *every* ranked model scored (models without a score are left out).

        Each cell's own mean runs over whatever that model has; ranking on those would let a model
        missing its hardest pairs rank first while its paired cell says ``worse``. Over the shared
        videos the order agrees with the paired differences. With no video shared by all, the
        order falls back to the cells' own means.
        """
        scored = [m for (m, met), s in self.summaries.items() if met == metric and s.n > 0]
        ok: dict[str, dict[tuple[str, int], float]] = {m: {} for m in scored}
        for r in self.rows:
            if r.metric == metric and r.model in ok and r.status == "ok":
                ok[r.model][(r.sample, r.seed)] = float(r.value)
        shared = set.intersection(*(set(v) for v in ok.values())) if ok else set()
        if shared:
            keys = sorted(shared)
            means = {m: float(stats.pair_means([ok[m][k] for k in keys], [k[0] for k in keys]).mean()) for m in scored}
        else:
            means = {m: self.summaries[(m, metric)].mean for m in scored}
        reverse = self.directions.get(metric) == "higher"
        return [m for _, m in sorted(((means[m], m) for m in scored), reverse=reverse)]


def _num(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.6g}"


def _format_summary(s: MetricSummary | None) -> str:
    if s is None:
        return "not run"
    extra = []
    if s.n_degenerate:
        extra.append(f"deg {s.n_degenerate}")
    if s.n_error:
        extra.append(f"err {s.n_error}")
    if s.n_static:
        extra.append(f"static {s.n_static}")
    counts = f"n={s.n}" + (", " + ", ".join(extra) if extra else "")
    if s.n == 0:
        return f"— ({counts})"
    if not s.has_interval:
        return f"{s.mean:.3f}, n too small ({counts})"
    return f"{s.mean:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}] {s.method} ({counts})"


def _format_comparison(c: PairedComparison | None) -> str:
    if c is None:
        return "—"
    unpaired = f" ({c.n_unpaired} unpaired)" if c.n_unpaired else ""
    if c.n_pairs == 0:
        return "—" + unpaired
    if not c.has_interval:
        return f"{c.diff:+.3f}, n too small{unpaired}"
    text = f"{c.diff:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}] {c.method}"
    if not c.testable:
        return f"{text}, n too small to test{unpaired}"
    if c.significant:
        text = f"**{text} {c.verdict}**"
    return text + unpaired


# --------------------------------------------------------------------------------- statistics
def cluster_bootstrap_ci(
    values: Sequence[float],
    clusters: Sequence[str],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean and percentile CI of ``values``, resampling whole clusters (test pairs) with replacement."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(vals.mean())
    names = sorted(set(clusters))
    if len(names) < 2:
        return mean, math.nan, math.nan
    index = {n: i for i, n in enumerate(names)}
    ids = np.array([index[c] for c in clusters])
    sums = np.bincount(ids, weights=vals, minlength=len(names))
    counts = np.bincount(ids, minlength=len(names)).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(n_boot, len(names)))
    boot = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return mean, float(low), float(high)


def _metric_rows(rows: Iterable[ResultRow], versions: dict[str, str]) -> dict[str, list[ResultRow]]:
    by_metric: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        if versions.get(r.metric) == r.metric_version:
            by_metric[r.metric].append(r)
    return by_metric


def summarize(rows: Sequence[ResultRow], model: str, metric: str, *, n_boot: int, confidence: float, seed: int,
              interval: str = "auto") -> MetricSummary:
    """One cell: the mean over test pairs of the model's ``ok`` rows, with the interval the rule picks."""
    mine = [r for r in rows if r.model == model and r.metric == metric]
    ok = [r for r in mine if r.status == "ok"]
    ci = stats.mean_interval([r.value for r in ok], [r.sample for r in ok], confidence=confidence,
                             method=interval, n_boot=n_boot, seed=seed)
    ref = mine[0]
    low, high = _within_range(metric, ci.low, ci.high)
    return MetricSummary(
        model=model, metric=metric, metric_version=ref.metric_version, direction=ref.direction,
        mean=ci.estimate, ci_low=low, ci_high=high, n=len(ok),
        n_degenerate=sum(r.status == "degenerate" for r in mine),
        n_error=sum(r.status == "error" for r in mine),
        method=ci.method, n_test_pairs=ci.n_pairs, n_static=sum(r.status == "static" for r in mine),
    )


def _within_range(metric: str, low: float, high: float) -> tuple[float, float]:
    """An interval for a mean cut to the values the metric can take (the catalogue's ``value_range``)."""
    info = catalog.METRICS.get(metric)
    if info is None or math.isnan(low) or math.isnan(high):
        return low, high
    least, most = info.value_range
    return float(min(max(low, least), most)), float(max(min(high, most), least))


def paired_differences(candidate: Sequence[ResultRow], baseline: Sequence[ResultRow]) -> tuple[list[float], list[str]]:
    """Candidate − baseline for every (sample, seed) that both scored ``ok``; returns (diffs, samples)."""
    base = {(r.sample, r.seed): r.value for r in baseline if r.status == "ok"}
    diffs, samples = [], []
    for r in sorted(candidate, key=lambda r: (r.sample, r.seed)):
        if r.status == "ok" and (r.sample, r.seed) in base:
            diffs.append(float(r.value) - float(base[(r.sample, r.seed)]))
            samples.append(r.sample)
    return diffs, samples


def compare(rows: Sequence[ResultRow], model: str, baseline: str, metric: str, *, n_boot: int, confidence: float, seed: int,
            interval: str = "auto", n_flips: int = signflip.MIN_FLIPS) -> PairedComparison:
    """Candidate − baseline over test pairs, with its interval and raw two-sided sign-flip p-value (Holm comes later)."""
    cand = [r for r in rows if r.model == model and r.metric == metric]
    base = [r for r in rows if r.model == baseline and r.metric == metric]
    diffs, samples = paired_differences(cand, base)
    x = stats.pair_means(diffs, samples)
    ci = stats.interval(x, confidence=confidence, method=interval, n_boot=n_boot, seed=seed, paired=True)
    p = signflip.sign_flip_p(x, n_flips=n_flips, seed=seed)
    base_keys, cand_keys = {(r.sample, r.seed) for r in base}, {(r.sample, r.seed) for r in cand}
    return PairedComparison(model, baseline, metric, cand[0].direction, ci.estimate, ci.low, ci.high, len(diffs),
                            p_value=p, alpha=1 - confidence, method=ci.method, n_test_pairs=ci.n_pairs,
                            n_missing=len(base_keys - cand_keys), n_unpaired=len(base_keys ^ cand_keys), test=signflip.describe(ci.n_pairs, n_flips, seed),
                            p_floor=signflip.smallest_p(ci.n_pairs, n_flips))


def build_leaderboard(
    rows: Sequence[ResultRow],
    suite: str,
    *,
    versions: dict[str, str] | None = None,
    baseline: str | None = "base",
    model_order: Sequence[str] | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "auto",
) -> Leaderboard:
    """Aggregate stored rows of one suite; only the given (or newest) version of each metric and the
    newest generation key of each model count."""
    stats.choose_method(interval, 2)  # reject an unknown method before any work
    rows, generations = newest_generation([r for r in rows if r.suite == suite])
    if versions is None:
        latest: dict[str, tuple[float, str]] = {}
        for r in rows:
            if r.metric not in latest or r.created_at > latest[r.metric][0]:
                latest[r.metric] = (r.created_at, r.metric_version)
        versions = {m: v for m, (_, v) in latest.items()}
    by_metric = _metric_rows(rows, versions)
    kept = [r for m in sorted(by_metric) for r in by_metric[m]]
    present = sorted({r.model for r in kept})
    models = [m for m in (model_order or []) if m in present] + [m for m in present if m not in (model_order or [])]
    if baseline in models:
        models.remove(baseline)
        models.insert(0, baseline)
    present_metrics = set(by_metric) | set(STANDARD_METRICS)
    metrics = [m for m in METRIC_ORDER if m in present_metrics] + sorted(present_metrics - set(METRIC_ORDER))
    directions = {m: by_metric[m][0].direction if by_metric.get(m) else STANDARD_METRICS[m] for m in metrics}
    summaries = {(model, metric): summarize(by_metric[metric], model, metric, n_boot=n_boot, confidence=confidence,
                                            seed=seed, interval=interval)
                 for metric in metrics for model in models if any(r.model == model for r in by_metric.get(metric, []))}
    pairs = [(model, metric) for metric in metrics for model in models
             if baseline in models and model != baseline and (model, metric) in summaries and (baseline, metric) in summaries
             and catalog.judged(metric)]  # motion is noted (_motion_note), not tested
    n_flips = signflip.flips_for(len(pairs), 1 - confidence)  # the family size is known before any p-value
    comparisons = {(model, metric): compare(by_metric[metric], model, baseline, metric, n_boot=n_boot, confidence=confidence,
                                            seed=seed, interval=interval, n_flips=n_flips) for model, metric in pairs}
    _adjust(list(comparisons.values()), 1 - confidence)
    return Leaderboard(
        suite=suite, models=models, metrics=metrics, versions={m: versions[m] for m in metrics if m in by_metric},
        directions=directions, summaries=summaries, comparisons=comparisons,
        baseline=baseline if baseline in models else None, rows=kept,
        confidence=confidence, n_boot=n_boot, seed=seed, interval=interval,
        generations={m: g for m, g in generations.items() if m in models}, n_flips=n_flips,
    )


def _adjust(comparisons: list[PairedComparison], alpha: float) -> None:
    """Holm over the board's comparisons, and which of them could be significant at all.

    Every Holm-adjusted p is at least its raw p and at least family × the smallest raw p, so a cell
    whose smallest attainable p is not below alpha, or a board where family × every cell's smallest
    attainable p is not below alpha, cannot mark anything whatever the data.
    """
    for c, adjusted in zip(comparisons, stats.holm([c.p_value for c in comparisons])):
        c.p_adjusted = adjusted
    floors = [c.p_floor for c in comparisons if math.isfinite(c.p_floor)]  # Holm counts these only
    board_can_mark = bool(floors) and len(floors) * min(floors) < alpha
    for c in comparisons:
        c.testable = math.isfinite(c.p_floor) and c.p_floor < alpha and board_can_mark


def leaderboard_from_store(store: ResultStore, suite: str, **kwargs) -> Leaderboard:
    return build_leaderboard(store.rows(suite=suite), suite, versions=store.current_versions(suite), **kwargs)


# --------------------------------------------------------------------------------- files
_FORMULA_STARTS = ("=", "+", "-", "@", "'")  # a spreadsheet runs a cell starting with one of the first four


def csv_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: one ``'`` before a leading ``=``, ``+``, ``-``, ``@`` (and ``'``).

    A sample named ``=HYPERLINK(...)`` would otherwise be a formula when the export is opened in a
    spreadsheet (formula injection). :func:`csv_untext` undoes it exactly, so the gate reads the names back.
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_untext(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def samples_csv(rows: Sequence[ResultRow]) -> str:
    """Per-sample export: one row per (model, sample, seed, metric), what the CI gate reads.
    Text cells go through :func:`csv_text`; the seed and the value are numbers and stay as they are."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SAMPLE_COLUMNS)
    for r in sorted(rows, key=lambda r: (r.metric, r.model, r.sample, r.seed, r.metric_version)):
        t = csv_text
        writer.writerow([
            t(r.suite), t(r.model), t(r.generation_key), t(r.sample), r.seed, t(r.metric), t(r.metric_version),
            t(r.direction), "" if r.value is None else repr(float(r.value)), t(r.status), t(r.reason or ""),
            json.dumps(r.provenance, sort_keys=True, default=str),
        ])
    return buf.getvalue()


def read_samples_csv(path: str | os.PathLike) -> list[ResultRow]:
    """Read a per-sample export back into rows (for the gate and for other tools)."""
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"{p}: per-sample export not found")
    try:
        return _read_samples(p)
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text, so not a cosmos-bench samples export ({exc.reason} at byte {exc.start})") from None


def _read_samples(p: Path) -> list[ResultRow]:
    rows = []
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(SAMPLE_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{p}: not a cosmos-bench samples export, missing columns {sorted(missing)}")
        for line_no, raw in enumerate(reader, start=2):
            rec = {k: raw[k] if k in ("seed", "value", "provenance") else csv_untext(raw[k] or "") for k in SAMPLE_COLUMNS}
            try:
                rows.append(ResultRow(
                    suite=rec["suite"], model=rec["model"], generation_key=rec["generation_key"],
                    sample=rec["sample"], seed=int(rec["seed"]), metric=rec["metric"],
                    metric_version=rec["metric_version"], direction=rec["direction"],
                    value=float(rec["value"]) if rec["value"] else None, status=rec["status"],
                    reason=rec["reason"] or None, provenance=json.loads(rec["provenance"] or "{}"),
                    created_at=0.0,
                ))
            except (ValueError, json.JSONDecodeError) as exc:
                raise InputError(f"{p}:{line_no}: bad row ({exc})") from None
    return rows


def plot_metric(board: Leaderboard, metric: str, path: Path) -> Path:
    """Bar chart of one metric with CI whiskers; deterministic (no timestamps in the PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [board.summaries[(m, metric)] for m in board.models
             if (m, metric) in board.summaries and board.summaries[(m, metric)].n > 0]
    models = [c.model for c in cells]
    means = [c.mean for c in cells]

    def whisker(length: float) -> float:  # no CI (one test pair): no whisker
        return max(0.0, length) if math.isfinite(length) else 0.0

    lows = [whisker(c.mean - c.ci_low) for c in cells]
    highs = [whisker(c.ci_high - c.mean) for c in cells]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(models) + 2), 3.5), dpi=100)
    ax.bar(models, means, yerr=[lows, highs], capsize=4, color="#4c72b0")
    arrow = "lower is better" if board.directions[metric] == "lower" else "higher is better"
    ax.set_title(f"{board.suite}: {metric} ({arrow})")
    ax.set_ylabel(metric)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def is_leaderboards_folder(folder: Path) -> bool:
    """Leaderboards written before the folder kept a manifest (a ``<suite>.samples.csv``), or a sequential
    run's decisions written into it just before its first leaderboard (``<suite>.sequential.csv``)."""
    return any(folder.glob("*.samples.csv")) or any(folder.glob("*.sequential.csv"))


def check_leaderboards_folder(out_dir: str | os.PathLike) -> None:
    """Refuse (exit 2), before any work, a leaderboards folder that is a file or holds files no leaderboard wrote."""
    check_owned(out_dir, "leaderboards", recognise=is_leaderboards_folder, option="leaderboards")


def write_leaderboard(board: Leaderboard, out_dir: str | os.PathLike, *, plots: bool = True,
                      notes: list[str] | None = None) -> dict[str, Path]:
    """Write ``<suite>.md``, ``<suite>.csv``, ``<suite>.json`` (the results file), ``<suite>.samples.csv`` and one PNG per metric.

    Only this suite's files of an earlier leaderboard are replaced (a chart of a metric no longer
    scored is removed); a line saying so is appended to ``notes``. Other files in the folder stay.
    """
    if not is_safe_name(board.suite):  # the name becomes a file name: it must not lead elsewhere
        raise ValueError(f"suite name {board.suite!r} in the results must be {NAME_RULE}; leaderboard not written")
    owned = OwnedFolder.adopt(out_dir, "leaderboards", board.suite, recognise=is_leaderboards_folder,
                              option="leaderboards")
    out = owned.path
    paths = {
        "markdown": owned.target(f"{board.suite}.md"),
        "csv": owned.target(f"{board.suite}.csv"),
        "samples": owned.target(f"{board.suite}.samples.csv"),
    }
    from .results_file import results_json  # the one results file the md, csv and report are views of
    from .sequential_report import read_decisions_csv, sequential_section  # the last sequential run's decisions, if any

    paths["results"] = owned.target(f"{board.suite}.json")
    atomic_write_text(paths["markdown"], board.to_markdown() + sequential_section(out, board.suite))
    atomic_write_text(paths["csv"], board.to_csv())
    atomic_write_text(paths["results"], results_json(board, sequential=read_decisions_csv(out, board.suite), checkout=out))
    atomic_write_text(paths["samples"], samples_csv(board.rows))
    if plots:
        for metric in board.metrics:
            if not any(board.summaries[(m, metric)].n > 0 for m in board.models if (m, metric) in board.summaries):
                continue  # nothing scored (all failed or degenerate): no empty chart
            paths[f"plot:{metric}"] = plot_metric(board, metric, owned.target(f"{board.suite}.{metric}.png"))
    line = owned.describe(owned.finish())
    if line is not None and notes is not None:
        notes.append(line)
    return paths
