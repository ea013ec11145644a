"""CI regression gate: did a candidate get worse than its baseline by more than the noise?

The gate pairs the candidate's videos with the baseline's (same test pair, same seed), so a
retrained adapter is compared on exactly the inputs it was compared on before. A metric fails
only when the evidence says it got worse by more than an allowed margin:

* ``bootstrap``: the paired cluster-bootstrap CI of the worsening lies entirely above the margin;
* ``wilcoxon``: the mean worsening exceeds the margin and a one-sided Wilcoxon signed-rank test
  of (worsening − margin) > 0 has p < alpha.

The margin is relative to the baseline mean (``max_regression=0.05`` allows 5% worse), so one
setting works for metrics of different scales. A metric with more failed or degenerate videos
than the baseline also fails: a model that breaks more often must not pass because its few
surviving videos look fine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from .leaderboard import cluster_bootstrap_ci, paired_differences
from .store import ResultRow

Method = Literal["bootstrap", "wilcoxon"]


@dataclass
class MetricVerdict:
    metric: str
    metric_version: str
    direction: str
    n_pairs: int
    baseline_mean: float
    worsening: float
    ci_low: float
    ci_high: float
    margin: float
    p_value: float | None
    extra_failures: int
    passed: bool
    why: str


@dataclass
class GateReport:
    candidate: str
    baseline: str
    method: Method
    verdicts: list[MetricVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def _failures(rows: Sequence[ResultRow]) -> int:
    return sum(r.status != "ok" for r in rows)


def check_regression(
    baseline_rows: Sequence[ResultRow],
    candidate_rows: Sequence[ResultRow],
    *,
    candidate: str,
    baseline: str,
    metrics: Sequence[str] | None = None,
    max_regression: float = 0.05,
    method: Method = "bootstrap",
    confidence: float = 0.95,
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
    min_pairs: int = 2,
) -> GateReport:
    """Compare paired samples metric by metric; see the module docstring for the rule."""
    if method not in ("bootstrap", "wilcoxon"):
        raise ValueError(f"method must be 'bootstrap' or 'wilcoxon', got {method!r}")
    if max_regression < 0:
        raise ValueError(f"max_regression must be >= 0, got {max_regression}")
    report = GateReport(candidate=candidate, baseline=baseline, method=method)
    names = sorted({r.metric for r in baseline_rows} & {r.metric for r in candidate_rows})
    if metrics is not None:
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"metric(s) {unknown} are not scored for both {baseline!r} and {candidate!r}; both have {names}")
        names = list(metrics)
    if not names:
        raise ValueError(f"no metric is scored for both baseline {baseline!r} and candidate {candidate!r}")
    for metric in names:
        base = [r for r in baseline_rows if r.metric == metric]
        versions = {r.metric_version for r in base}
        cand = [r for r in candidate_rows if r.metric == metric and r.metric_version in versions]
        version = sorted(versions)[0] if len(versions) == 1 else "mixed"
        direction = base[0].direction
        if not cand:
            report.verdicts.append(MetricVerdict(
                metric, version, direction, 0, math.nan, math.nan, math.nan, math.nan, math.nan, None, 0, False,
                f"candidate has no rows with the baseline's metric version(s) {sorted(versions)}: rerun it with the same settings",
            ))
            continue
        diffs, samples = paired_differences(cand, base)
        sign = 1.0 if direction == "lower" else -1.0  # worsening > 0 means worse, whatever the direction
        worse = [sign * d for d in diffs]
        paired_keys = {(r.sample, r.seed) for r in cand}
        base_paired = [r for r in base if (r.sample, r.seed) in paired_keys]
        extra_failures = _failures(cand) - _failures(base_paired)
        base_mean = float(np.mean([r.value for r in base_paired if r.status == "ok"])) if any(r.status == "ok" for r in base_paired) else math.nan
        margin = max_regression * abs(base_mean) if math.isfinite(base_mean) else 0.0
        mean, low, high = cluster_bootstrap_ci(worse, samples, n_boot=n_boot, confidence=confidence, seed=seed)
        p_value = None
        if len(worse) < min_pairs:
            passed, why = False, f"only {len(worse)} paired sample(s); need at least {min_pairs}"
        elif extra_failures > 0:
            passed, why = False, f"{extra_failures} more failed/degenerate video(s) than the baseline on the same inputs"
        elif method == "bootstrap":
            passed = not (math.isfinite(low) and low > margin)
            why = (f"worse by {mean:+.4g} (CI [{low:+.4g}, {high:+.4g}]), beyond the allowed margin {margin:.4g}"
                   if not passed else f"change {mean:+.4g} (CI [{low:+.4g}, {high:+.4g}]) within margin {margin:.4g}")
        else:
            from scipy.stats import wilcoxon

            shifted = np.asarray(worse) - margin
            if np.allclose(shifted, 0):
                p_value = 1.0
            else:
                p_value = float(wilcoxon(shifted, alternative="greater", zero_method="zsplit").pvalue)
            passed = not (mean > margin and p_value < alpha)
            why = (f"worse by {mean:+.4g} > margin {margin:.4g}, Wilcoxon p={p_value:.3g} < {alpha}"
                   if not passed else f"change {mean:+.4g}, Wilcoxon p={p_value:.3g} (margin {margin:.4g})")
        report.verdicts.append(MetricVerdict(
            metric, version, direction, len(worse), base_mean, mean, low, high, margin, p_value,
            extra_failures, passed, why,
        ))
    return report
