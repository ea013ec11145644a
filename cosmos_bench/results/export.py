"""The gate's verdicts as one plain document: what ``check --json`` writes and every CI format renders.

Why one document: a CI log line, a JUnit file, a step-summary table and the JSON file must never
disagree, so each is drawn from the same dict (:func:`gate_document` for the fixed design,
:func:`sequential_document` for the sequential rule). Its shape is ``docs/check.schema.json``
(version :data:`SCHEMA_VERSION`): the run's provenance, its outcome and exit code, and one item per
gated (candidate, metric) with the verdict, the estimate and its interval, the margin, the MDE, the
pair counts, the missing pairs and the exit code that item alone would give.

Numbers are JSON numbers or ``null`` (never NaN, which JSON lacks). Pure functions of their input
except :func:`run_provenance`, which reads versions, the clock and the git checkout.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
from collections.abc import Sequence
from typing import Any

from .. import catalog
from ..errors import EXIT_FAILED_WORK, EXIT_OK, EXIT_UNDECIDED
from ..provenance import git_commit, runtime_versions
from .gate import GateReport, MetricVerdict
from .sequential import Decision, gate_exit_code

SCHEMA_VERSION = 1
SCHEMA_ID = "https://cosmos-bench.dev/schemas/check-1.json"
ITEM_EXIT = {"pass": EXIT_OK, "fail": EXIT_FAILED_WORK, "undecided": EXIT_UNDECIDED}


def number(x: Any) -> float | None:
    """A float for JSON: None for missing, NaN or infinite values."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def run_provenance(*, inputs: dict[str, Any], checkout: str = ".") -> dict[str, Any]:
    """Where a verdict came from: tool and library versions, the checkout's commit, the command and its inputs."""
    return {
        "cosmos_bench": runtime_versions().get("cosmos-bench"),
        "versions": runtime_versions(),
        "git": git_commit(checkout),
        "command": sys.argv[1:] if sys.argv else [],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
    }


def _fixed_item(v: MetricVerdict, report: GateReport) -> dict[str, Any]:
    return {
        "candidate": report.candidate,
        "baseline": report.baseline,
        "metric": v.metric,
        "metric_version": v.metric_version,
        "direction": v.direction,
        "verdict": v.status,
        "decided": v.status != "undecided",
        "estimate": number(v.worsening),
        "estimate_of": "worsening",  # candidate − baseline signed so that > 0 is worse, in the metric's unit
        "interval": {"low": number(v.ci_low), "high": number(v.ci_high), "confidence": 1 - report.alpha,
                     "method": v.method},
        "margin": number(v.margin),
        "mde": number(v.mde),
        "baseline_mean": number(v.baseline_mean),
        "p_value": number(v.p_value),
        "p_adjusted": number(v.p_adjusted),
        "n_pairs": v.n_pairs,
        "n_test_pairs": v.n_test_pairs,
        "n_missing_pairs": v.n_missing,
        "missing_pairs": list(v.missing),
        "failures": {"only_candidate": v.only_candidate_failed, "only_baseline": v.only_baseline_failed,
                     "p_value": number(v.failures_p), "p_adjusted": number(v.failures_p_adjusted)},
        "exit_code": ITEM_EXIT[v.status],
        "why": v.why,
    }


def gate_document(report: GateReport, *, suite: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """The fixed-design gate (``check``) as a document of :data:`SCHEMA_VERSION`."""
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "kind": "fixed",
        "suite": suite,
        "candidate": report.candidate,
        "baseline": report.baseline,
        "outcome": report.outcome,
        "exit_code": report.exit_code,
        "settings": {"method": report.method, "alpha": report.alpha, "failure_alpha": report.failure_alpha},
        "generation_keys": {name: {"key": g.key, "dropped": dict(g.dropped)} for name, g in sorted(report.generations.items())},
        "notes": report.notes(),
        "results": [_fixed_item(v, report) for v in report.verdicts],
        "provenance": provenance,
    }


def _sequential_item(d: Decision, baseline: str, missing: Sequence[str]) -> dict[str, Any]:
    rule = d.rule
    return {
        "candidate": d.candidate,
        "baseline": baseline,
        "metric": d.metric,
        "metric_version": None,
        "direction": catalog.METRICS[d.metric].direction if d.metric in catalog.METRICS else None,
        "verdict": d.verdict,
        "decided": d.decided,
        "estimate": number(d.estimate),
        "estimate_of": "log ratio candidate/baseline" if rule.relative else "candidate - baseline",
        "interval": {"low": number(d.low), "high": number(d.high), "confidence": 1 - d.alpha,
                     "method": "repeated confidence intervals"},
        "margin": number(rule.margin),
        "mde": None,  # a sequential rule has no fixed sample size, so no MDE
        "baseline_mean": None,
        "p_value": number(d.p_value),
        "p_adjusted": None,
        "n_pairs": d.videos,
        "n_test_pairs": d.n_pairs,
        "n_missing_pairs": len(missing),
        "missing_pairs": list(missing),
        "failures": None,
        "exit_code": gate_exit_code([d]),
        "why": f"{d.verdict} after {d.n_pairs} test pair(s): {d.interval_text()} ({rule.describe()}; "
               f"{d.n_clipped} pair(s) with a failed side)" + (f"; {d.suite_text()} (a description, not a verdict)"
                                                             if d.suite_text() else ""),
    }


def sequential_document(decisions: Sequence[Decision], *, suite: str, candidate: str, baseline: str,
                        settings: dict[str, Any], provenance: dict[str, Any], notes: Sequence[str] = (),
                        missing: dict[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """``check --sequential`` as a document: exit 1 when any verdict is ``worse``, else 3 when any gated metric
    has no verdict (never a silent pass), else 0. ``missing``: model → pairs of the order it lacks, both sides."""
    lacking = sorted({f"{model}:{pair}" for model, pairs in (missing or {}).items() for pair in pairs})
    items = [_sequential_item(d, baseline, lacking) for d in decisions]
    outcome = "regression" if any(d.verdict == "worse" for d in decisions) else \
        "undecided" if any(not d.decided for d in decisions) else "pass"
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "kind": "sequential",
        "suite": suite,
        "candidate": candidate,
        "baseline": baseline,
        "outcome": outcome,
        "exit_code": gate_exit_code(decisions),
        "settings": settings,
        "generation_keys": {},
        "notes": list(notes),
        "results": items,
        "provenance": provenance,
    }
