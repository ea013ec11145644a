"""Sequential paired comparison: stop generating once a verdict is known, with a valid error bound.

The unit is the test pair: for every pair, the mean over seeds of (candidate − base), because the
seeds of one prompt are correlated. Pairs are processed in a seeded random order; after every pair
the repeated confidence interval (``confseq.repeated_confidence_path``) for the mean paired
difference is updated, and a (candidate, metric) is decided as soon as its interval says

* ``better``: the whole interval is on the improving side of 0;
* ``worse``: the whole interval is beyond the margin on the worsening side (the regression a gate
  cares about);
* ``equivalent``: the whole interval lies inside ±margin;

and ``inconclusive at budget`` when the pairs, videos or GPU-hours run out first. The intervals cover
the mean at every pair count up to the suite's size at once, so looking after every pair and
stopping at will costs no validity (asymptotically: the guarantee is exact for Gaussian per-pair
differences and rests on the central limit theorem otherwise; ``benchmarks/sequential_bench.py``
measures it on the Sampson-like and judge-like models). Every verdict is about the *population* of
prompts and seeds the suite's pairs are drawn from ("is dora32 better than base?"), never about
these videos only. Each of the K candidates × M gated metrics gets alpha / (K·M) (Bonferroni:
valid whatever the dependence between metrics and between candidates that share ``base``), so the
chance that *any* verdict of the run is wrong is at most alpha.

What the numbers are (pre-registered, in ``MetricRule``): a margin given in percent (``tse=5%``)
makes the metric's difference *relative*: per pair, the log of candidate seed-mean / base
seed-mean, so ``tse=5%`` means a ratio outside [1/1.05, 1.05]. Logs, not ``c/b − 1``, because two
models that do not differ give a log ratio symmetric about 0, while ``E[c/b] − 1 > 0`` (Jensen)
would make identical models look worse. A plain number (``if=0.25``) makes the difference absolute.
Differences are *not* clipped: the interval is studentized, so the estimand is the plain mean
per-pair difference, which for a candidate x% worse is log(1 + x) (or the points) whatever the
number of seeds. (The clipped mean the betting sequence needed moved with the seeds: a candidate 8%
worse read inside a 5% margin with 1 seed.) The bound is kept for two things: a pair whose
candidate produced no usable value while base did counts as the worst difference (−bound in the
improving direction), the reverse as the best, both failing as 0, so failures are part of the
estimand instead of silently shrinking the pool (the decisions count such pairs); and the
``suite`` description below. Judge scores (1–5) default to a bound of 1 point, relative
differences to a ratio of 1.5 (either way).

Everything is a pure function of (pair order, values): replaying a store gives the same decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np

from .. import catalog
from .confseq import RCI_MIN_PAIRS, RCI_SHAPE, betting_confidence_path, repeated_confidence_path
from .store import ResultRow
from ..errors import EXIT_FAILED_WORK, EXIT_OK, EXIT_UNDECIDED, InputError

Verdict = Literal["better", "worse", "equivalent", "inconclusive at budget", "undecided"]
DECIDED: tuple[str, ...] = ("better", "worse", "equivalent")
JUDGE_METRICS = frozenset(catalog.metrics_of_stage("judge"))  # scored 1–5 by the VLM judge
DEFAULT_JUDGE_BOUND = 1.0
DEFAULT_RELATIVE_BOUND = 0.5
DEFAULT_MARGINS = "if=0.25,physics=0.25,tse=5%,cse=5%"
# recorded with a run: a store whose sequential run used another rule (the clipped betting sequence before
# issue 29) is not continued under this one (``sequential_run`` refuses a changed design)
RULE_NAME = f"repeated-ci/wang-tsiatis-{RCI_SHAPE}/min-{RCI_MIN_PAIRS}/unclipped"


@dataclass(frozen=True)
class MetricRule:
    """How one metric's per-pair difference is formed, bounded and judged (fixed before any data)."""

    metric: str
    margin: float  # in difference units: points, or log ratio when relative
    relative: bool
    bound: float

    def describe(self) -> str:
        if self.relative:
            return (f"{self.metric}: log ratio candidate/base, margin ratio {math.exp(self.margin):.3g}, "
                    f"a failed side counts as ratio {math.exp(self.bound):.3g} (either way)")
        return f"{self.metric}: difference in points, margin ±{self.margin:g}, a failed side counts as ±{self.bound:g}"

    def as_percent(self, x: float) -> float:
        """A difference as the user reads it: percent change of the ratio when relative, else as is."""
        return 100 * math.expm1(x) if self.relative else x


def _parse_amounts(spec: str, option: str) -> dict[str, tuple[float, bool]]:
    """``"if=0.25,tse=5%"`` → ``{"if": (0.25, False), "tse": (0.05, True)}``; one clear line on bad input."""
    out: dict[str, tuple[float, bool]] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, amount = part.partition("=")
        name, amount = name.strip(), amount.strip()
        relative = amount.endswith("%")
        try:
            value = float(amount[:-1] if relative else amount)
        except ValueError:
            value = math.nan
        if not sep or not name or not math.isfinite(value) or value <= 0:
            raise InputError(f"{part!r} is not metric=amount with a positive amount (e.g. tse=5%)", option=option)
        if name in out:
            raise InputError(f"{name!r} given twice", option=option)
        out[name] = (value / 100 if relative else value, relative)
    if not out:
        raise InputError("no metric=amount given", option=option)
    return out


def metric_rules(margins: str = DEFAULT_MARGINS, bounds: str | None = None) -> dict[str, MetricRule]:
    """Rules from margin (and optional bound) strings; the gated metrics are the margins' keys."""
    margin_of = _parse_amounts(margins, "margin")
    bound_of = _parse_amounts(bounds, "bound") if bounds else {}
    unknown = sorted(set(bound_of) - set(margin_of))
    if unknown:
        raise InputError(f"{', '.join(unknown)} has no margin (the margins name the gated metrics)", option="bound")
    rules = {}
    for metric, (margin, relative) in margin_of.items():
        if metric in bound_of:
            bound, bound_relative = bound_of[metric]
            if bound_relative != relative:
                raise InputError(f"{metric} must be given in the margin's unit ({'%' if relative else 'absolute'})", option="bound")
        elif relative:
            bound = DEFAULT_RELATIVE_BOUND
        elif metric in JUDGE_METRICS:
            bound = DEFAULT_JUDGE_BOUND
        else:
            raise InputError(f"{metric} has an absolute margin but no known scale: "
                             f"give it in % or a bound {metric}=<largest per-pair difference>", option="margin")
        if bound <= margin:
            raise InputError(f"{metric}'s bound {bound:g} must exceed its margin {margin:g}", option="bound")
        if relative:
            margin, bound = math.log1p(margin), math.log1p(bound)
        rules[metric] = MetricRule(metric, margin, relative, bound)
    return rules


@dataclass(frozen=True)
class Budget:
    """When to stop even if undecided; ``None`` = no limit (the suite's pairs are always a limit)."""

    max_pairs: int | None = None
    max_videos: int | None = None
    gpu_hours: float | None = None


def pair_order(pairs: Iterable[str], seed: int) -> list[str]:
    """The seeded random order of the test pairs (independent of the order they were listed in)."""
    ordered = sorted(set(pairs))
    perm = np.random.default_rng(np.random.SeedSequence([seed, 20])).permutation(len(ordered))
    return [ordered[i] for i in perm]


def pair_difference(candidate: Mapping[int, float | None], base: Mapping[int, float | None],
                    rule: MetricRule, direction: str) -> tuple[float, bool]:
    """One pair's difference (candidate − base, unclipped) and whether it stands for a failure (at the bound).

    ``candidate``/``base`` map seed → value (None = error or degenerate). Seeds both scored give
    the seed means; failures follow the module's rule (worst for the side that failed).
    """
    seeds = sorted(s for s in candidate if candidate[s] is not None and base.get(s) is not None)
    worse_sign = -1.0 if direction == "higher" else 1.0  # the sign of a worsening difference
    if not seeds:
        cand_ok = any(v is not None for v in candidate.values())
        base_ok = any(v is not None for v in base.values())
        if cand_ok == base_ok:
            return 0.0, False
        return (worse_sign if base_ok else -worse_sign) * rule.bound, True
    c = float(np.mean([candidate[s] for s in seeds]))
    b = float(np.mean([base[s] for s in seeds]))
    return float(differences(np.array(c), np.array(b), rule)), False


def differences(candidate_means: np.ndarray, base_means: np.ndarray, rule: MetricRule) -> np.ndarray:
    """Per-pair differences of seed means in the rule's unit (log ratio when relative), unclipped.

    A relative difference with a zero on one side (a frozen video reads 0.000 px) is taken at the
    bound instead of ±inf: the interval needs finite values.
    """
    c, b = np.asarray(candidate_means, dtype=float), np.asarray(base_means, dtype=float)
    if rule.relative:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(c == b, 0.0, np.log(np.maximum(c, 0.0) / np.maximum(b, 0.0)))
        return np.where(np.isfinite(d), d, np.sign(d) * rule.bound)
    return c - b


def clipped_differences(candidate_means: np.ndarray, base_means: np.ndarray, rule: MetricRule) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair differences clipped at ±bound (what the suite description's betting sequence needs), and where
    the bound was hit."""
    d = differences(candidate_means, base_means, rule)
    return np.clip(d, -rule.bound, rule.bound), np.abs(d) >= rule.bound


@dataclass
class Decision:
    """Where one (candidate, metric) stands; ``low``/``high`` are candidate − base in the rule's unit."""

    candidate: str
    metric: str
    verdict: Verdict
    n_pairs: int
    videos: int
    estimate: float
    low: float
    high: float
    alpha: float
    p_value: float
    n_clipped: int  # pairs where one side failed, counted at the bound
    rule: MetricRule
    suite_low: float = math.nan  # population="suite": the mean over this suite's pairs (a description, no verdict)
    suite_high: float = math.nan

    @property
    def decided(self) -> bool:
        return self.verdict in DECIDED

    def interval_text(self) -> str:
        unit = "%" if self.rule.relative else ""
        est, low, high = (self.rule.as_percent(x) for x in (self.estimate, self.low, self.high))
        return f"{est:+.3g}{unit} [{low:+.3g}{unit}, {high:+.3g}{unit}]"

    def suite_text(self) -> str:
        """The suite description ('' when not asked for): labelled, never a verdict."""
        if math.isnan(self.suite_low):
            return ""
        unit = "%" if self.rule.relative else ""
        low, high = (self.rule.as_percent(x) for x in (self.suite_low, self.suite_high))
        return f"these videos only: [{low:+.3g}{unit}, {high:+.3g}{unit}]"


VERDICT_CODES: tuple[Verdict, ...] = ("undecided", "better", "worse", "equivalent")


def verdict_codes(low: np.ndarray, high: np.ndarray, margin: float, direction: str) -> np.ndarray:
    """Vectorised verdicts of intervals of candidate − base, as indices into ``VERDICT_CODES``.

    ``worse`` is checked first, then ``better``, then ``equivalent`` (an interval inside (0, margin)
    is reported as ``better``: a true claim, the stronger one).
    """
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if direction == "lower":  # improvement units: positive = better
        low, high = -high, -low
    codes = np.zeros(np.broadcast(low, high).shape, dtype=np.int8)
    codes = np.where((-margin < low) & (high < margin), 3, codes)
    codes = np.where(low > 0, 1, codes)
    return np.where(high < -margin, 2, codes)


def verdict_of(low: float, high: float, margin: float, direction: str) -> Verdict:
    """The verdict an interval of candidate − base supports; 'undecided' if none yet."""
    return VERDICT_CODES[int(verdict_codes(low, high, margin, direction))]


def first_decisions(low: np.ndarray, high: np.ndarray, margin: float, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """For paths of shape (runs, n): the pair count at the first decision (n if none) and its verdict code."""
    codes = verdict_codes(low, high, margin, direction)
    decided = codes > 0
    stop = np.where(decided.any(axis=1), decided.argmax(axis=1), low.shape[1] - 1)
    return stop + 1, codes[np.arange(low.shape[0]), stop]


def wrong_verdicts(codes: np.ndarray, truth: np.ndarray | float, margin: float, direction: str) -> np.ndarray:
    """Where a verdict code contradicts the true mean difference (for simulations with known truth)."""
    gain = np.asarray(truth) * (1 if direction == "higher" else -1)
    return np.select([codes == 1, codes == 2, codes == 3], [gain <= 0, gain >= -margin, np.abs(gain) >= margin], False)


@dataclass
class _Stream:
    """One (candidate, metric): its per-pair differences in pair order and its decision so far."""

    candidate: str
    rule: MetricRule
    direction: str | None = None
    values: list[float] = field(default_factory=list)
    clipped: int = 0
    decision: Decision | None = None


# candidate/base values of one pair: model -> metric -> seed -> value (None = failed)
PairValues = Mapping[str, Mapping[str, Mapping[int, float | None]]]


class SequentialMonitor:
    """Decides candidates against ``baseline`` pair by pair, in a seeded order, within a budget.

    Call :meth:`next_pair` for the pair to generate next (None = stop), generate it for
    :meth:`pending` candidates and the baseline, then :meth:`update` with its values. Or rebuild
    everything from stored rows with :meth:`replay`. Verdicts always treat the suite's pairs as
    draws from a population of prompts (and seeds), so they are about the models, as the
    leaderboard's CIs are. ``population='suite'`` adds, beside each decision, a *description* of
    this suite's own videos: the without-replacement betting sequence for the mean of the clipped
    differences over these pairs (seed noise included). It has no verdict and no exit code: equal
    models differ on a given suite's videos, so verdicts about those said better/worse in 20-35% of
    Sampson-like runs with no model difference (issue 29).
    """

    def __init__(self, *, candidates: Sequence[str], pairs: Iterable[str], seeds: Sequence[int],
                 rules: Mapping[str, MetricRule], baseline: str = "base", alpha: float = 0.05,
                 order_seed: int = 0, budget: Budget = Budget(),
                 directions: Mapping[str, str] | None = None,
                 population: Literal["suite", "prompts"] = "prompts", grid_points: int = 801):
        if not candidates:
            raise InputError("no candidates to compare")
        if baseline in candidates:
            raise InputError(f"the baseline {baseline!r} is also a candidate")
        if not rules:
            raise InputError("no gated metrics given", option="margin")
        if population not in ("suite", "prompts"):
            raise InputError(f"population must be 'suite' or 'prompts', got {population!r}")
        self.candidates = list(candidates)
        self.baseline = baseline
        self.seeds = sorted(int(s) for s in seeds)
        self.rules = dict(rules)
        self.alpha = alpha
        self.alpha_each = alpha / (len(self.candidates) * len(self.rules))
        self.order_seed = order_seed
        self.order = pair_order(pairs, order_seed)
        self.horizon = len(self.order)  # the design's last look: the suite's pairs, whatever the budget
        self.budget = budget
        self.population = population
        self.grid_points = grid_points
        self._directions = {**catalog.standard_directions(), **(directions or {})}
        self._streams = {(c, m): _Stream(c, r) for c in self.candidates for m, r in self.rules.items()}
        self.pairs_done = 0
        self.videos = 0
        self.gpu_seconds = 0.0
        self.missing: dict[str, list[str]] = {}  # model -> pairs of the order it lacks results for (set by replay)
        self.blocked_at: str | None = None  # the pair a replay stopped at because a model it needed lacked results

    # ----------------------------------------------------------------- queries
    def pending(self) -> list[str]:
        """Candidates that still need videos: at least one gated metric undecided, budget left."""
        if self._budget_spent():
            return []
        return [c for c in self.candidates
                if any(self._streams[(c, m)].decision is None for m in self.rules)]

    def next_pair(self) -> str | None:
        """The next test pair to generate, or None when every candidate is decided or the budget is spent."""
        return self.order[self.pairs_done] if self.pending() else None

    def _budget_spent(self) -> bool:
        b = self.budget
        if self.pairs_done >= len(self.order) or (b.max_pairs is not None and self.pairs_done >= b.max_pairs):
            return True
        if b.gpu_hours is not None and self.gpu_seconds >= b.gpu_hours * 3600:
            return True
        undecided = sum(any(self._streams[(c, m)].decision is None for m in self.rules) for c in self.candidates)
        next_videos = len(self.seeds) * (1 + undecided)
        return b.max_videos is not None and self.videos + next_videos > b.max_videos

    def decisions(self) -> list[Decision]:
        """Every (candidate, metric), in candidate then metric order; undecided ones as of now."""
        final = not self.pending()
        out = []
        for (c, m), stream in self._streams.items():
            if stream.decision is not None:
                out.append(stream.decision)
            else:
                d = self._current(stream)
                out.append(replace(d, verdict="inconclusive at budget") if final else d)
        return out

    @property
    def finished(self) -> bool:
        return not self.pending()

    def provenance(self) -> dict:
        """What to record with the run so a rerun rebuilds the same monitor (JSON-ready)."""
        return {
            "rule": RULE_NAME, "order_seed": self.order_seed, "order": list(self.order), "alpha": self.alpha,
            "alpha_each": self.alpha_each, "population": self.population, "baseline": self.baseline,
            "candidates": list(self.candidates), "seeds": list(self.seeds),
            "rules": {m: r.describe() for m, r in self.rules.items()},
            "budget": {"max_pairs": self.budget.max_pairs, "max_videos": self.budget.max_videos,
                       "gpu_hours": self.budget.gpu_hours},
        }

    # ----------------------------------------------------------------- updates
    def update(self, pair: str, values: PairValues, *, gpu_seconds: float = 0.0) -> list[Decision]:
        """Add the pair :meth:`next_pair` asked for; returns the decisions it made."""
        expected = self.next_pair()
        if pair != expected:
            raise InputError(f"pair {pair!r} out of order: the monitor expects {expected!r}")
        needed = self.pending()
        for model in [self.baseline, *needed]:
            for metric in self.rules:
                missing = sorted(set(self.seeds) - set(values.get(model, {}).get(metric, {})))
                if missing:  # a failed video is None; an absent one is not scored yet
                    raise InputError(f"pair {pair!r}: {model!r} has no {metric} result for seeds {missing}")
        made = []
        for c in needed:
            for metric, rule in self.rules.items():
                stream = self._streams[(c, metric)]
                if stream.decision is not None:
                    continue
                d, clipped = pair_difference(values[c].get(metric, {}), values[self.baseline].get(metric, {}),
                                             rule, self._direction(metric))
                stream.values.append(d)
                stream.clipped += clipped
        self.pairs_done += 1
        self.videos += len(self.seeds) * (1 + len(needed))
        self.gpu_seconds += gpu_seconds
        for c in needed:
            for metric in self.rules:
                stream = self._streams[(c, metric)]
                if stream.decision is None:
                    current = self._current(stream)
                    if current.decided:
                        stream.decision = current
                        made.append(current)
        return made

    def _direction(self, metric: str) -> str:
        if metric not in self._directions:
            raise InputError(f"metric {metric!r}: direction unknown (pass directions= or use replay)")
        return self._directions[metric]

    def _current(self, stream: _Stream) -> Decision:
        n = len(stream.values)
        rule = stream.rule
        if n == 0 or self.horizon < 2:  # one pair has no spread to study: never a verdict
            return Decision(stream.candidate, rule.metric, "undecided", n, n * len(self.seeds),
                            float(np.mean(stream.values)) if n else math.nan, -math.inf, math.inf, self.alpha_each,
                            1.0, stream.clipped, rule)
        values = np.asarray(stream.values)
        path = repeated_confidence_path(values, alpha=self.alpha_each, horizon=self.horizon,
                                        min_pairs=min(RCI_MIN_PAIRS, self.horizon))
        low, high = float(path.low[0, -1]), float(path.high[0, -1])
        verdict = verdict_of(low, high, rule.margin, self._direction(rule.metric))
        suite_low = suite_high = math.nan
        if self.population == "suite":
            described = betting_confidence_path(
                np.clip(values, -rule.bound, rule.bound), low=-rule.bound, high=rule.bound, alpha=self.alpha_each,
                pool_size=len(self.order), anchors=(rule.margin, -rule.margin), grid_points=self.grid_points)
            suite_low, suite_high = float(described.low[0, -1]), float(described.high[0, -1])
        return Decision(stream.candidate, rule.metric, verdict, n, n * len(self.seeds),
                        float(np.mean(values)), low, high, self.alpha_each,
                        float(path.p_value[0, -1]), stream.clipped, rule, suite_low, suite_high)

    # ----------------------------------------------------------------- replay
    def replay(self, rows: Iterable[ResultRow], *,
               gpu_seconds: Mapping[tuple[str, str, int], float] | None = None) -> list[Decision]:
        """Feed stored rows in the monitor's order until a pair is incomplete or nothing is pending.

        Rows of other models, metrics or versions are ignored (pass one version per metric: the
        store's current one). ``gpu_seconds`` maps (model, sample, seed) → generation seconds.
        Deterministic: the same rows give the same decisions, however often it is called.
        """
        table: dict[str, dict[str, dict[str, dict[int, float | None]]]] = {}
        models = {self.baseline, *self.candidates}
        for r in rows:
            if r.model in models and r.metric in self.rules and r.seed in self.seeds:
                self._directions.setdefault(r.metric, r.direction)
                table.setdefault(r.sample, {}).setdefault(r.model, {}).setdefault(r.metric, {})[r.seed] = r.value
        self.missing = missing_pairs(table, self.order, [self.baseline, *self.candidates], self.rules, self.seeds)
        while (pair := self.next_pair()) is not None:
            stored = table.get(pair, {})
            needed = [self.baseline, *self.pending()]
            complete = all(len(stored.get(m, {}).get(metric, {})) == len(self.seeds)
                           for m in needed for metric in self.rules)
            if not complete:
                self.blocked_at = pair
                break
            spent = sum((gpu_seconds or {}).get((m, pair, s), 0.0) for m in needed for s in self.seeds)
            self.update(pair, stored, gpu_seconds=spent)
        return self.decisions()


def missing_pairs(table: Mapping[str, PairValues], order: Sequence[str], models: Sequence[str],
                  metrics: Iterable[str], seeds: Sequence[int]) -> dict[str, list[str]]:
    """Per model, the pairs of ``order`` (in order) lacking a result for some gated metric and seed.

    ``table`` is pair → model → metric → seed → value, as :meth:`SequentialMonitor.replay` builds it.
    Both sides are listed: a baseline without a pair blocks every candidate as surely as a candidate
    without it blocks itself, and a gate that names only one side hides why it cannot decide.
    """
    metrics = list(metrics)
    return {m: [p for p in order if any(s not in table.get(p, {}).get(m, {}).get(metric, {})
                                        for metric in metrics for s in seeds)]
            for m in models}


def gate_exit_code(decisions: Sequence[Decision]) -> int:
    """``check --sequential``'s exit code: 1 if any verdict is ``worse``, else 3 ("cannot decide") if any
    (candidate, metric) has no verdict (also when a missing pair stopped the replay), else 0.

    A pass needs a verdict on every gated metric: no verdict is not evidence of no regression (a
    one-pair suite, a candidate missing the first pair of the order and a spent budget all end here).
    """
    if any(d.verdict == "worse" for d in decisions):
        return EXIT_FAILED_WORK
    if not decisions or not all(d.decided for d in decisions):
        return EXIT_UNDECIDED
    return EXIT_OK
