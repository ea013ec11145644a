"""The "Sequential decisions" section of a leaderboard, and what the sequential run cost.

A sequential run writes ``<suite>.sequential.md`` (the section) and ``<suite>.sequential.csv`` (one
row per candidate × gated metric) into the leaderboards folder; :func:`sequential_section` is what
``write_leaderboard`` appends to ``<suite>.md``, so a leaderboard regenerated from the store keeps
the section of the last sequential run on that suite (the section names its design, so it is never
mistaken for the fixed table above it).

Cost: the videos and GPU-hours the run used (GPU-seconds from the videos' sidecars, also for
videos reused from an earlier run, as the time they took when they were made) against the fixed
protocol over the same suite: every pair × every seed × (base + every candidate). The GPU-hours of
the fixed protocol are an estimate: its videos at this run's mean seconds per video.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..atomic import atomic_write_text
from .confseq import RCI_MIN_PAIRS

if TYPE_CHECKING:  # sequential imports the leaderboard, which imports this module
    from .sequential import Decision, SequentialMonitor

SECTION_TITLE = "## Sequential decisions"
CSV_COLUMNS = ("candidate", "metric", "verdict", "n_pairs", "videos", "estimate", "low", "high", "unit", "alpha",
               "p_value", "n_clipped", "rule", "suite_low", "suite_high")


@dataclass(frozen=True)
class SequentialCost:
    """Videos and GPU time used by a sequential run, and the fixed protocol's for the same suite."""

    pairs_done: int
    pairs_in_suite: int
    seeds: int
    candidates: int
    videos: int
    base_videos: int
    gpu_seconds: float
    resumed_pairs: int = 0

    @classmethod
    def of(cls, monitor: "SequentialMonitor", *, resumed_pairs: int = 0) -> "SequentialCost":
        return cls(monitor.pairs_done, len(monitor.order), len(monitor.seeds), len(monitor.candidates),
                   monitor.videos, monitor.pairs_done * len(monitor.seeds), monitor.gpu_seconds, resumed_pairs)

    @property
    def fixed_videos(self) -> int:
        return self.pairs_in_suite * self.seeds * (1 + self.candidates)

    @property
    def fixed_gpu_seconds(self) -> float:
        """The fixed protocol at this run's mean seconds per video (NaN before any video)."""
        return self.gpu_seconds / self.videos * self.fixed_videos if self.videos else math.nan

    def describe(self) -> str:
        share = self.videos / self.fixed_videos if self.fixed_videos else math.nan
        return (f"{self.videos} videos over {self.pairs_done} of {self.pairs_in_suite} test pairs "
                f"({share:.0%} of the fixed protocol's {self.fixed_videos} = {self.pairs_in_suite} pairs × {self.seeds} "
                f"seeds × {1 + self.candidates} models), {self.gpu_seconds / 3600:.3g} GPU-hours of generation against "
                f"≈ {self.fixed_gpu_seconds / 3600:.3g} for the fixed protocol (its videos at this run's mean "
                f"{self.gpu_seconds / max(self.videos, 1):.3g} s per video). {self.base_videos} of the videos are the "
                "baseline's: one set serves every candidate's comparison, and later runs under the same generation "
                "key reuse them (and their scores) instead of generating again.")


def _unit(d: "Decision") -> str:
    return "percent (ratio of seed means)" if d.rule.relative else "points"


def decisions_csv(decisions: Sequence["Decision"]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in decisions:
        est, low, high = (d.rule.as_percent(x) for x in (d.estimate, d.low, d.high))
        writer.writerow([d.candidate, d.metric, d.verdict, d.n_pairs, d.videos, f"{est:.6g}", f"{low:.6g}",
                         f"{high:.6g}", _unit(d), f"{d.alpha:.6g}", f"{d.p_value:.6g}", d.n_clipped, d.rule.describe(),
                         *(("", "") if math.isnan(d.suite_low) else (f"{d.rule.as_percent(d.suite_low):.6g}",
                                                                      f"{d.rule.as_percent(d.suite_high):.6g}"))])
    return buf.getvalue()


def read_decisions_csv(out_dir: Path, suite: str) -> list[dict[str, str]]:
    """The last sequential run's decisions written beside the leaderboards (none if there was no such run)."""
    path = Path(out_dir) / f"{suite}.sequential.csv"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        return []


def decisions_markdown(decisions: Sequence["Decision"], cost: SequentialCost, provenance: dict[str, Any]) -> str:
    rules = provenance.get("rules", {})
    lines = [
        SECTION_TITLE, "",
        f"Sequential run against `{provenance.get('baseline')}`: test pairs in a seeded random order "
        f"(order seed {provenance.get('order_seed')}), repeated confidence intervals per candidate × metric "
        f"(Wang-Tsiatis shape, no verdict before {min(RCI_MIN_PAIRS, len(provenance.get('order', [])) or RCI_MIN_PAIRS)} "
        f"pairs), overall α = {provenance.get('alpha')} split as "
        f"α = {provenance.get('alpha_each', float('nan')):.4g} per comparison (Bonferroni). Intervals are of "
        "candidate − base per test pair (mean over seeds), valid at the stop although the run looked after every pair "
        "(asymptotically: exact for Gaussian per-pair differences); verdicts are about the population of prompts and "
        "seeds, not only these videos.",
        "",
        "| candidate | metric | verdict | pairs | videos | estimate [interval] | α | p (no difference) | failed pairs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in decisions:
        verdict = f"**{d.verdict}**" if d.verdict == "worse" else d.verdict
        lines.append(f"| {d.candidate} | {d.metric} | {verdict} | {d.n_pairs} | {d.videos} | {d.interval_text()} | "
                     f"{d.alpha:.3g} | {d.p_value:.3g} | {d.n_clipped} |")
    described = [d for d in decisions if d.suite_text()]
    if described:
        lines += ["", "Description of this suite's own videos (`--population suite`: the mean over these pairs, seed noise "
                  "included, by a without-replacement betting sequence on differences clipped at the bound). **Not a "
                  "verdict**: models that do not differ still differ on a given suite's videos.", ""]
        lines += [f"- {d.candidate} {d.metric}: {d.suite_text()}" for d in described]
    lines += ["", "Rules (fixed before the run): " + "; ".join(rules.values()) + ".", "",
              "Cost: " + cost.describe()]
    if cost.resumed_pairs:
        lines.append(f"({cost.resumed_pairs} pair(s) were replayed from the store after an interruption; nothing was regenerated.)")
    return "\n".join(lines) + "\n"


def fragment_path(out_dir: Path, suite: str) -> Path:
    return Path(out_dir) / f"{suite}.sequential.md"


def write_sequential_report(out_dir: Path, suite: str, decisions: Sequence["Decision"], cost: SequentialCost,
                            provenance: dict[str, Any]) -> dict[str, Path]:
    """``<suite>.sequential.md`` (the section ``<suite>.md`` includes) and ``<suite>.sequential.csv``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"sequential": fragment_path(out_dir, suite), "sequential_csv": out_dir / f"{suite}.sequential.csv"}
    atomic_write_text(paths["sequential"], decisions_markdown(decisions, cost, provenance))
    atomic_write_text(paths["sequential_csv"], decisions_csv(decisions))
    return paths


def sequential_section(out_dir: Path, suite: str) -> str:
    """The section to append to ``<suite>.md`` ('' when no sequential run wrote one here)."""
    path = fragment_path(out_dir, suite)
    return "\n" + path.read_text(encoding="utf-8") if path.is_file() else ""
