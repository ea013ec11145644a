"""CI regression gate: did a candidate get worse than its baseline by more than the noise?

The gate pairs the candidate's videos with the baseline's (same test pair, same seed, same metric
version, one generation key per model), so a retrained adapter is compared on exactly the inputs it
was compared on before. Each gated metric gets two one-sided tests:

* **values**: H0 "the mean worsening over test pairs is at most the margin". The margin is relative
  to the baseline mean (``max_regression=0.05`` allows 5% worse). The test works on per-test-pair
  means of the paired differences (seeds of a pair are correlated) with ``method``: ``t`` (one-sided
  t-test), ``bootstrap`` (studentized bootstrap over test pairs, its Monte Carlo error stated),
  ``wilcoxon`` (signed-rank test) or ``auto`` (the rule of :mod:`.stats`: the t for paired
  differences, so the default verdict has no Monte Carlo error). A video broken on one side only
  enters at the worst value either side scored, so failures count against the side that broke them
  (``_pair``). All run at the
  same one-sided level ``alpha / 2``, which is "the lower bound of the two-sided 1 - alpha interval
  lies above the margin";
* **failures**: H0 "the candidate fails or degenerates no more often than the baseline", an exact
  one-sided McNemar test on the pairs where exactly one side failed, at its own ``failure_alpha``.

Holm's step-down procedure controls the family-wise error over the gated metrics, separately for
the value tests (at ``alpha / 2``) and the failure tests (at ``failure_alpha``), so an unchanged
candidate fails the whole gate with probability at most ``alpha / 2 + failure_alpha`` however many
metrics are gated. With fewer than two test pairs no interval exists and the verdict is "cannot
decide", never a pass. Each verdict states its minimum detectable effect: the true worsening it
catches with 80% probability (``stats.delivered_mde``); a metric that would pass with an MDE above
``max_mde_ratio`` margins is "cannot decide" too.

Why the gate keeps the t-test while the leaderboard's bold marks use a sign-flip test
(:mod:`.signflip`): the sign-flip test is exact under "the two models are exchangeable", i.e. for
H0 "no difference"; the gate's H0 is "worse by at most the margin", where the models are not
exchangeable, so that exactness does not carry over. Its family is the gated metrics only (level
``alpha / 2 / k``, 0.4% for 6 metrics, not the board's 0.2%), where the t-test's false failures
measured at most 0.6% at every size (benchmarks/RESULTS.md). And with 5 test pairs no one-sided
sign-flip p is below 1/32 > 2.5%: a smoke-suite gate could never fail, a silent pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from . import stats
from .selection import GenerationChoice, newest_generation
from .store import ResultRow

Method = Literal["auto", "t", "bootstrap", "wilcoxon"]
METHODS = ("auto", "t", "bootstrap", "wilcoxon")
POWER = 0.8
# exit codes of `cosmos-bench check`
from ..errors import EXIT_BAD_INPUT, EXIT_FAILED_WORK as EXIT_REGRESSION, EXIT_OK as EXIT_PASS, EXIT_UNDECIDED, InputError
MISSING_NAMED = 5  # how many missing (sample, seed) pairs a verdict names
DEFAULT_MARGIN = 0.05
# A pass needs a test that catches 10 margins' worth of worsening (50% at the default 5%) with 80% power.
# Why 10: at the Sampson-like model a 10x2 smoke suite's MDE is ~46% (median), so most smoke
# suites still decide, while 5x2 (~97%) and 2-pair suites (140%+), which passed doublings, cannot.
DEFAULT_MAX_MDE_RATIO = 10.0


@dataclass
class MetricVerdict:
    metric: str
    metric_version: str
    direction: str
    n_pairs: int  # paired (sample, seed) videos both scored ok
    baseline_mean: float
    worsening: float
    ci_low: float
    ci_high: float
    margin: float
    p_value: float | None
    extra_failures: int
    passed: bool
    why: str
    status: str = ""  # "pass", "fail" or "undecided"
    method: str = ""  # the interval / test used: t, bootstrap, wilcoxon, none
    n_test_pairs: int = 0
    p_adjusted: float | None = None
    failures_p: float | None = None
    failures_p_adjusted: float | None = None
    only_candidate_failed: int = 0
    only_baseline_failed: int = 0
    missing: list[str] = field(default_factory=list)  # baseline (sample/seed) the candidate lacks
    missing_baseline: list[str] = field(default_factory=list)  # candidate (sample/seed) the baseline lacks
    mde: float = math.nan  # worsening detected with 80% power
    mc_error: float | None = None  # Monte Carlo standard error of a bootstrap p-value
    sd: float = math.nan  # SD of the per-test-pair worsening

    @property
    def n_missing(self) -> int:
        return len(self.missing)


@dataclass
class GateReport:
    candidate: str
    baseline: str
    method: Method
    verdicts: list[MetricVerdict] = field(default_factory=list)
    alpha: float = 0.05
    failure_alpha: float = 0.01
    generations: dict[str, GenerationChoice] = field(default_factory=dict)  # "baseline"/"candidate" -> choice

    @property
    def passed(self) -> bool:
        return all(v.status == "pass" for v in self.verdicts)

    @property
    def outcome(self) -> str:
        """'regression' if any metric failed, else 'undecided' if any could not be decided, else 'pass'."""
        statuses = {v.status for v in self.verdicts}
        return "regression" if "fail" in statuses else "undecided" if "undecided" in statuses else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": EXIT_PASS, "regression": EXIT_REGRESSION, "undecided": EXIT_UNDECIDED}[self.outcome]

    def notes(self) -> list[str]:
        return [c.note() for c in self.generations.values() if c.dropped]


def _check_level(name: str, value: float) -> None:
    if not (0 < value <= 0.5):
        raise InputError(f"{name} must be in (0, 0.5], got {value}")


def _pick_version(base: Sequence[ResultRow], cand: Sequence[ResultRow]) -> str | None:
    """The newest metric version both sides have (by the candidate's, then the baseline's, latest row)."""
    common = {r.metric_version for r in base} & {r.metric_version for r in cand}
    if not common:
        return None

    def newest(rows: Sequence[ResultRow], version: str) -> float:
        return max(r.created_at for r in rows if r.metric_version == version)

    return max(common, key=lambda v: (newest(cand, v), newest(base, v), v))


@dataclass
class _Paired:
    worse: np.ndarray  # per-test-pair mean worsening
    base_mean: float
    n_videos: int
    only_candidate: int
    only_baseline: int
    missing: list[str]
    missing_baseline: list[str]
    base_pairs: np.ndarray  # per-test-pair means of the videos both scored, aligned with ``worse``
    cand_pairs: np.ndarray


def _pair(base: Sequence[ResultRow], cand: Sequence[ResultRow], direction: str) -> _Paired:
    """Per-test-pair worsening over the (sample, seed) videos both sides have.

    A video that failed (error or degenerate) on one side only enters the value test at the worst value
    either side scored on this metric (the largest for lower-is-better, the smallest otherwise), so
    broken videos count against the side that broke them instead of dropping out (a candidate whose
    failures rise must not look as good as one that renders). Both failed: left out. The baseline mean
    behind the margin is over the baseline's scored videos only.
    """
    b = {(r.sample, r.seed): r for r in base}
    c = {(r.sample, r.seed): r for r in cand}
    shared = sorted(b.keys() & c.keys())
    both_ok = [k for k in shared if b[k].status == "ok" and c[k].status == "ok"]
    scored = [float(side[k].value) for side in (b, c) for k in shared if side[k].status == "ok"]
    worst = (max(scored) if direction == "lower" else min(scored)) if scored else math.nan
    used = [k for k in shared if b[k].status == "ok" or c[k].status == "ok"] if both_ok else []

    def value(r: ResultRow) -> float:
        return float(r.value) if r.status == "ok" else worst

    sign = 1.0 if direction == "lower" else -1.0  # worsening > 0 means worse, whatever the direction
    worse = [sign * (value(c[k]) - value(b[k])) for k in used]
    samples = [k[0] for k in used]
    base_ok = [float(b[k].value) for k in shared if b[k].status == "ok"]
    return _Paired(
        worse=stats.pair_means(worse, samples),
        base_mean=float(stats.pair_means(base_ok, [k[0] for k in shared if b[k].status == "ok"]).mean())
        if base_ok else math.nan,
        n_videos=len(both_ok),
        only_candidate=sum(c[k].status != "ok" and b[k].status == "ok" for k in shared),
        only_baseline=sum(b[k].status != "ok" and c[k].status == "ok" for k in shared),
        missing=[f"{s}/{seed}" for s, seed in sorted(b.keys() - c.keys())],
        missing_baseline=[f"{s}/{seed}" for s, seed in sorted(c.keys() - b.keys())],
        base_pairs=stats.pair_means([value(b[k]) for k in used], samples),
        cand_pairs=stats.pair_means([value(c[k]) for k in used], samples),
    )


def _undecided(metric: str, version: str, direction: str, why: str, **kw) -> MetricVerdict:
    return MetricVerdict(metric, version, direction, kw.pop("n_pairs", 0), kw.pop("baseline_mean", math.nan),
                         kw.pop("worsening", math.nan), math.nan, math.nan, kw.pop("margin", math.nan), None,
                         kw.pop("extra_failures", 0), False, why, status="undecided", method="none", **kw)


def _value_test(x: np.ndarray, margin: float, method: str, *, level: float, k: int, confidence: float,
                n_boot: int, seed: int) -> tuple[stats.Interval, float, float | None]:
    """Interval of the worsening, one-sided p of "worsening <= margin", and the p's Monte Carlo error."""
    interval_method = "t" if method == "wilcoxon" else method
    ci = stats.interval(x, confidence=confidence, method=interval_method, n_boot=n_boot, seed=seed, paired=True)
    if method == "wilcoxon":
        return ci, stats.wilcoxon_p_greater(x, margin), None
    if ci.method == "bootstrap":
        holm_levels = [level / j for j in range(1, k + 1)]
        p, se, _ = stats.bootstrap_p_greater(x, margin, n_boot=n_boot, seed=seed, thresholds=holm_levels)
        return ci, p, se
    return ci, stats.t_p_greater(x, margin), None


def check_regression(
    baseline_rows: Sequence[ResultRow],
    candidate_rows: Sequence[ResultRow],
    *,
    candidate: str,
    baseline: str,
    metrics: Sequence[str] | None = None,
    max_regression: float = 0.05,
    method: Method = "auto",
    confidence: float | None = None,
    alpha: float = 0.05,
    failure_alpha: float = 0.01,
    n_boot: int = 4000,
    seed: int = 0,
    min_pairs: int = 2,
    max_mde_ratio: float | None = DEFAULT_MAX_MDE_RATIO,
) -> GateReport:
    """Compare paired samples metric by metric; see the module docstring for the rule.

    ``confidence`` defaults to ``1 - alpha`` (the two-sided interval whose lower bound is the test);
    ``min_pairs`` is the fewest test pairs a verdict is decided on (never fewer than 2);
    ``max_mde_ratio``: a metric that would pass with an MDE above this many margins is "cannot decide"
    instead (None: never).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    if max_regression < 0:
        raise InputError(f"max_regression must be >= 0, got {max_regression}")
    _check_level("alpha", alpha)
    _check_level("failure_alpha", failure_alpha)
    confidence = 1 - alpha if confidence is None else confidence
    level = alpha / 2
    baseline_rows, base_gen = newest_generation(baseline_rows)
    candidate_rows, cand_gen = newest_generation(candidate_rows)
    report = GateReport(candidate=candidate, baseline=baseline, method=method, alpha=alpha, failure_alpha=failure_alpha,
                        generations={f"baseline {k}": v for k, v in base_gen.items()}
                        | {f"candidate {k}": v for k, v in cand_gen.items()})
    names = sorted({r.metric for r in baseline_rows} & {r.metric for r in candidate_rows})
    if metrics is not None:
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise InputError(f"metric(s) {unknown} are not scored for both {baseline!r} and {candidate!r}; both have {names}")
        names = list(metrics)
    if not names:
        raise InputError(f"no metric is scored for both baseline {baseline!r} and candidate {candidate!r}")
    k = len(names)
    needed = max(2, min_pairs)
    pending: list[tuple[MetricVerdict, _Paired]] = []
    for metric in names:
        base_all = [r for r in baseline_rows if r.metric == metric]
        cand_all = [r for r in candidate_rows if r.metric == metric]
        direction = base_all[0].direction
        version = _pick_version(base_all, cand_all)
        if version is None:
            report.verdicts.append(_undecided(
                metric, "none", direction,
                f"cannot decide: the candidate has no rows of the baseline's metric version(s) "
                f"{sorted({r.metric_version for r in base_all})}; rerun it with the same settings"))
            continue
        paired = _pair([r for r in base_all if r.metric_version == version],
                       [r for r in cand_all if r.metric_version == version], direction)
        x = paired.worse
        margin = max_regression * abs(paired.base_mean) if math.isfinite(paired.base_mean) else math.nan
        common = dict(n_pairs=paired.n_videos, n_test_pairs=int(x.size), missing=paired.missing,
                      missing_baseline=paired.missing_baseline,
                      only_candidate_failed=paired.only_candidate, only_baseline_failed=paired.only_baseline,
                      extra_failures=paired.only_candidate - paired.only_baseline)
        if x.size < needed:
            verdict = _undecided(metric, version, direction,
                                 f"cannot decide: {x.size} test pair(s) scored by both (an interval needs at least {needed})",
                                 baseline_mean=paired.base_mean, margin=margin,
                                 worsening=float(x.mean()) if x.size else math.nan, **common)
        else:
            ci, p, se = _value_test(x, margin, method, level=level, k=k, confidence=confidence, n_boot=n_boot, seed=seed)
            verdict = MetricVerdict(
                metric, version, direction, paired.n_videos, paired.base_mean, ci.estimate, ci.low, ci.high, margin,
                p, paired.only_candidate - paired.only_baseline, True, "", status="pass",
                method="wilcoxon" if method == "wilcoxon" else ci.method, mc_error=se, sd=ci.sd,
                mde=stats.delivered_mde(paired.base_pairs, paired.cand_pairs, margin, level / k,
                                        direction=direction, power=POWER),
                **{key: val for key, val in common.items() if key not in ("n_pairs", "extra_failures")},
            )
        verdict.failures_p = stats.failures_p_greater(paired.only_candidate, paired.only_baseline)
        report.verdicts.append(verdict)
        pending.append((verdict, paired))
    _decide(report, [v for v, _ in pending], level=level, failure_alpha=failure_alpha)
    if max_mde_ratio is not None:
        for v in report.verdicts:
            _too_weak_to_pass(v, max_mde_ratio, max_regression)
    return report


def _too_weak_to_pass(v: MetricVerdict, ratio: float, max_regression: float) -> None:
    """A pass whose test could not catch ``ratio`` × the margin with 80% power becomes "cannot decide".

    Such a pass says nothing: on 2 test pairs the gate passed a candidate twice as bad (MDE 140%). A
    failure stays a failure (the evidence is there whatever the power). With ``max_regression`` 0 the
    ratio is taken of 5% of the baseline mean (the default margin), so a zero margin is no loophole.
    """
    if v.status != "pass" or not math.isfinite(v.baseline_mean):
        return
    reference = v.margin if v.margin > 0 else DEFAULT_MARGIN * abs(v.baseline_mean)
    if v.mde <= ratio * reference:  # an infinite ratio accepts even a test that detects nothing
        return
    v.status, v.passed = "undecided", False
    caught = (f"detects only a worsening of {v.mde:+.4g} ({_rel(v.mde, v.baseline_mean)})" if math.isfinite(v.mde)
              else "detects no worsening at all")
    v.why = (f"cannot decide: this test {caught} with {POWER:.0%} power, more than {ratio:g} × the margin "
             f"{reference:.4g}; a pass would say nothing (more test pairs or seeds, or a larger --max-mde-ratio). " + v.why)


def _decide(report: GateReport, verdicts: list[MetricVerdict], *, level: float, failure_alpha: float) -> None:
    """Holm over the value tests and, separately, over the failure tests; then write each verdict's why."""
    value_adj = stats.holm([v.p_value if v.status == "pass" else math.nan for v in verdicts])
    fail_adj = stats.holm([v.failures_p for v in verdicts])
    for v, p_adj, f_adj in zip(verdicts, value_adj, fail_adj):
        v.p_adjusted = None if math.isnan(p_adj) else p_adj
        v.failures_p_adjusted = f_adj
        reasons = []
        if f_adj < failure_alpha:
            reasons.append(
                f"{v.extra_failures} more failed/degenerate video(s) than the baseline on the same inputs "
                f"({v.only_candidate_failed} failed only for the candidate, {v.only_baseline_failed} only for the baseline): "
                f"exact one-sided McNemar p={v.failures_p:.3g} (Holm {f_adj:.3g}) < failure α {failure_alpha}")
        if v.status == "undecided":
            text = v.why
        else:
            pct = int(round((1 - 2 * level) * 100))
            ci = f"{pct}% {v.method if v.method != 'wilcoxon' else 't'} CI [{v.ci_low:+.4g}, {v.ci_high:+.4g}]"
            test = "Wilcoxon" if v.method == "wilcoxon" else v.method
            mc = f", bootstrap Monte Carlo error ±{v.mc_error:.2g}" if v.mc_error is not None else ""
            stat = f"one-sided {test} p={v.p_value:.3g}, Holm {p_adj:.3g}{mc}"
            if p_adj < level:
                reasons.insert(0, f"worse by {v.worsening:+.4g} ({ci}), beyond the allowed margin {v.margin:.4g}: {stat} < {level:g}")
            caught = (f"detects a worsening of {v.mde:+.4g} ({_rel(v.mde, v.baseline_mean)})" if math.isfinite(v.mde)
                      else "detects no worsening (however large)")
            text = (f"change {v.worsening:+.4g} ({ci}) not shown beyond margin {v.margin:.4g} ({stat}); "
                    f"{caught} with {POWER:.0%} power")
        if reasons:
            v.status, v.passed = "fail", False
            text = "; ".join(reasons)
        for lacking, side, other in ((v.missing, "baseline", "candidate"), (v.missing_baseline, "candidate", "baseline")):
            if lacking:
                named = ", ".join(lacking[:MISSING_NAMED]) + (", ..." if len(lacking) > MISSING_NAMED else "")
                text += f"; {len(lacking)} {side} pair(s) missing from the {other} ({named})"
        v.why = text


def _rel(value: float, base: float) -> str:
    if not (math.isfinite(value) and math.isfinite(base)) or base == 0:
        return "n/a"
    return f"{value / abs(base):.1%} of the baseline mean"
