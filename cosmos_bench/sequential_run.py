"""``cosmos-bench run --sequential``: generate test pair after test pair until every verdict is known.

The loop asks :class:`~cosmos_bench.results.sequential.SequentialMonitor` for the next pair of its
seeded order, generates that pair for the baseline and every still-pending candidate (all seeds,
the same generation keys and noise as a fixed run, so every video is one a fixed run would also
have made and reuses), scores just those outputs with the runner's own geometric and judge stages,
and feeds the pair's values back. A candidate stops being generated once every gated metric of it
is decided; the run stops when all are decided or the budget is spent.

**Resume.** Nothing of the loop lives only in memory: the monitor is rebuilt at start by replaying
the store's rows (current generation keys and metric versions only) in the recorded order, with the
GPU-seconds from the videos' sidecars. A run killed at any point and started again therefore sees
the same pairs, reaches the same verdicts, regenerates nothing (a generated video is skipped by its
sidecar, a scored one by its row) and decides nothing twice.

**Provenance** is one JSON file next to the store, ``<store stem>.sequential/<suite>.json``: the
monitor's provenance (order seed and order, alphas, rules, population, budget), the baseline and
candidates' generation keys and the metric versions. A rerun with a different design (other order
seed, margins, alpha, candidates, seeds or keys) would not be the same sequential run, so it is
refused with one line; only the budget may change (the rule's last look is the suite's last pair
whatever the budget, so its intervals stay valid when a run is extended or cut short).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from .atomic import atomic_write_text
from .results.sequential import Budget, Decision, PairValues, SequentialMonitor, metric_rules
from .results.selection import newest_generation
from .results.sequential_report import SequentialCost, write_sequential_report
from .results.store import ResultRow, ResultStore
from .runner import (
    JUDGE_METRICS, Reporter, RunConfig, RunSummary, _claims, _drive, _emit, _score_and_publish, _stages, resolve_config,
)
from .errors import InputError

PROVENANCE_FORMAT = "cosmos-bench.sequential/1"


@dataclass(frozen=True)
class SequentialOptions:
    """The sequential design of a run (``--margin``, ``--bound``, ``--alpha``, budget, order, population)."""

    margin: str = "if=0.25,physics=0.25,tse=5%,cse=5%"
    bound: str | None = None
    alpha: float = 0.05
    budget: Budget = Budget()
    order_seed: int = 0
    population: Literal["prompts", "suite"] = "prompts"

    @classmethod
    def from_provenance(cls, provenance: Mapping[str, Any]) -> "SequentialOptions":
        """The design a sequential run recorded (so ``check --sequential`` replays exactly that run)."""
        return cls(margin=provenance["margin"], bound=provenance.get("bound"), alpha=float(provenance["alpha"]),
                   budget=Budget(**provenance.get("budget", {})), order_seed=int(provenance["order_seed"]),
                   population=provenance["population"])


@dataclass
class SequentialSummary:
    """What a sequential run did: its decisions, its cost against the fixed protocol, the usual summary."""

    run: RunSummary
    decisions: list[Decision]
    cost: SequentialCost
    provenance: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def provenance_path(store: str | Path, suite: str) -> Path:
    store = Path(store)
    return store.parent / f"{store.stem}.sequential" / f"{suite}.json"


def _check_design(store: str | Path, design: dict[str, Any]) -> None:
    """Refuse to continue a recorded sequential run under another design (the budget may change)."""
    recorded = read_provenance(store, design["suite"])
    if recorded is None:
        return
    design = json.loads(json.dumps(design))  # compare as recorded (lists, not tuples)

    def fixed(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k != "budget"}

    if fixed(recorded) != fixed(design):
        changed = sorted(k for k in set(recorded) | set(design) if k != "budget" and recorded.get(k) != design.get(k))
        raise InputError(f"{provenance_path(store, design['suite'])}: this store holds a sequential run with another design (differs in {', '.join(changed)}); "
                         "use another store or the recorded order seed, or move the file away")


def pair_values(rows: Iterable[ResultRow], pair: str) -> dict[str, dict[str, dict[int, float | None]]]:
    """model → metric → seed → value (None = failed) of one test pair."""
    table: dict[str, dict[str, dict[int, float | None]]] = {}
    for r in rows:
        if r.sample == pair:
            table.setdefault(r.model, {}).setdefault(r.metric, {})[r.seed] = r.value
    return table


def counts_as_result(row: ResultRow) -> bool:
    """Whether a row is an outcome of its video (and so enters the statistics) or work still to do.

    A failed generation and a video the geometric metrics cannot score are outcomes (the worst
    difference for the side that failed). A judge error is not: a judge that was down or gave no
    score says nothing about the video, so the pair waits until a rerun scores it.
    """
    if row.status != "error" or row.metric not in JUDGE_METRICS:
        return True
    return (row.reason or "").startswith("generation failed")


def _current_rows(store: ResultStore, suite: str, keys: Mapping[str, str], versions: Mapping[str, str]) -> list[ResultRow]:
    """The rows the monitor may see: these models' current generation keys and metric versions, outcomes only."""
    return [r for metric, version in versions.items() for r in store.rows(suite=suite, metric=metric, metric_version=version)
            if keys.get(r.model) == r.generation_key and counts_as_result(r)]


def _missing(values: PairValues, models: Sequence[str], metrics: Iterable[str], seeds: Sequence[int]) -> list[str]:
    return [f"{m}/{metric}/seed{s}" for m in models for metric in metrics for s in seeds
            if s not in values.get(m, {}).get(metric, {})]


def _sidecar_seconds(out: Path, keys: Mapping[str, str], pairs: Sequence[str], seeds: Sequence[int]) -> dict[tuple[str, str, int], float]:
    """(model, pair, seed) → generation seconds recorded in each existing video's sidecar."""
    from .models.generate import sidecar_path
    from .models.outputs import Sidecar

    found = {}
    for model, key in keys.items():
        for pair in pairs:
            for seed in seeds:
                side = Sidecar.read(sidecar_path(out, model, key, seed, pair))
                if side is not None:
                    found[(model, pair, seed)] = float(side.seconds or 0.0)
    return found


def _per_pair(reporter: Reporter | None) -> Reporter | None:
    """The stages' events of one pair without their 'start' and repeated notes (one progress bar and
    one 'cse is skipped' per pair would be noise)."""
    if reporter is None:
        return None
    seen: set[str] = set()

    def forward(event: Any) -> None:
        if event.kind == "start" or (event.kind == "note" and event.message in seen):
            return
        if event.kind == "note":
            seen.add(event.message)
        reporter(event)

    return forward


def run_sequential(cfg: RunConfig, options: SequentialOptions = SequentialOptions(),
                   reporter: Reporter | None = None) -> SequentialSummary:
    """A sequential benchmark run (local executor); safe to interrupt and to run again."""
    from .data.suite import load_suite
    from .models.base import load_models
    from .models.generate import generate, output_of, plan_run, settings_for_suite

    if cfg.executor != "local" or cfg.shard:
        raise InputError("runs on the local executor without shards (it generates pair by pair)", option="sequential")
    rules = metric_rules(options.margin, options.bound)
    cfg = resolve_config(cfg)
    missing = sorted(set(rules) - set(cfg.metrics))
    if missing:
        raise InputError(f"gates {', '.join(missing)}, which the run's metrics do not include", option="margin")
    if cfg.judge is None and any(m in JUDGE_METRICS for m in rules):
        raise InputError(f"gates judge metrics ({', '.join(m for m in rules if m in JUDGE_METRICS)}) "
                         "but no judge endpoint is configured", option="margin")
    if cfg.baseline not in cfg.models:
        raise InputError(f"the sequential baseline {cfg.baseline!r} is not among them: add it", option="models")
    suite = load_suite(cfg.suite)
    if "cse" in rules and len(suite.views) < 2:
        raise InputError(f"gates cse but suite {suite.name!r} has one view", option="margin")
    out = Path(cfg.out) if cfg.out is not None else Path("runs") / suite.name
    models = load_models(list(cfg.models), cfg.models_file, overrides=cfg.model_overrides)
    by_name = {m.name: m for m in models}
    settings = settings_for_suite(suite, frames=cfg.frames, size=cfg.size, steps=cfg.steps, guidance=cfg.guidance,
                                  fps=cfg.fps)
    planned = plan_run(models, suite, settings, seeds=cfg.seeds, limit=cfg.limit)
    seeds = sorted({i.seed for i in planned.items})
    monitor = SequentialMonitor(
        candidates=[m for m in cfg.models if m != cfg.baseline], pairs=list(planned.pairs), seeds=seeds, rules=rules,
        baseline=cfg.baseline, alpha=options.alpha, order_seed=options.order_seed, budget=options.budget,
        population=options.population)
    keys = {m: planned.keys[m] for m in [cfg.baseline, *monitor.candidates]}
    summary = RunSummary(suite=suite.name, generation={"generated": 0, "skipped": 0, "failed": 0})
    outer, reporter = reporter, _per_pair(reporter)
    with _claims(cfg) as (store, claims):
        # the stages once for the run (the judge's request form is decided once); their versions are the
        # ones this run's rows are written under, so the replay reads exactly those
        stages = list(_stages(cfg, suite, claims, summary, reporter))
        produced = {m: v for stage in stages for m, v in stage.versions().items()}
        versions = {m: produced[m] for m in rules}
        provenance = {"format": PROVENANCE_FORMAT, "suite": suite.name, **monitor.provenance(),
                      "margin": options.margin, "bound": options.bound,
                      "generation_keys": keys, "metric_versions": versions}
        prov_path = provenance_path(cfg.store, suite.name)
        _check_design(cfg.store, provenance)
        atomic_write_text(prov_path, json.dumps(provenance, indent=2, sort_keys=True) + "\n")

        seconds = _sidecar_seconds(out, keys, monitor.order, seeds)
        monitor.replay(_current_rows(store, suite.name, keys, versions), gpu_seconds=seconds)
        resumed = monitor.pairs_done
        _emit(outer, "sequential", "start", total=len(monitor.order), message=f"{resumed} pair(s) replayed from the store")
        for _ in range(resumed):
            _emit(outer, "sequential", "advance", status="pairs")
        try:
            while (pair := monitor.next_pair()) is not None:
                wanted = [cfg.baseline, *monitor.pending()]
                items = [i for i in planned.items if i.sample == pair and i.model in wanted]
                report = generate([by_name[m] for m in wanted], suite, out, seeds=seeds, settings=settings, limit=cfg.limit,
                                  items=items, release_models=False,
                                  on_item=lambda res: _emit(reporter, "generate", "advance", status=res.status,
                                                            message=f"{res.item.model}/{res.item.sample}/seed{res.item.seed}"))
                for status in summary.generation:
                    summary.generation[status] += report.count(status)
                summary.errors += [f"generation {r.item.model}/{r.item.sample}/seed{r.item.seed}: {r.error}" for r in report.failed]
                outputs = [output_of(res, report.keys[res.item.model], out) for res in report.results]
                for stage in stages:
                    _drive(stage, suite, outputs, store, claims, summary, reporter)
                values: PairValues = pair_values(_current_rows(store, suite.name, keys, versions), pair)
                missing = _missing(values, wanted, rules, seeds)
                if missing:  # e.g. the judge was down: stop here, a rerun scores the pair and goes on
                    summary.errors.append(f"sequential run stopped at pair {pair!r}: no usable score for {', '.join(missing[:6])}"
                                          f"{' ...' if len(missing) > 6 else ''}; rerun to continue")
                    break
                spent = sum(float(o.sidecar.seconds or 0.0) for o in outputs if o.sidecar is not None)
                for d in monitor.update(pair, values, gpu_seconds=spent):
                    _emit(outer, "sequential", "note", message=f"decided: {d.candidate} {d.metric} {d.verdict} after {d.n_pairs} pairs")
                _emit(outer, "sequential", "advance", status="pairs", message=pair)
        finally:
            for model in models:
                if hasattr(model, "release"):
                    model.release()
        decisions = monitor.decisions()
        cost = SequentialCost.of(monitor, resumed_pairs=resumed)
        files = {}
        if cfg.leaderboards is not None:
            files = write_sequential_report(Path(cfg.leaderboards), suite.name, decisions, cost, provenance)
        summary = _score_and_publish(cfg, suite, [], summary, reporter, store, claims)  # the leaderboard of everything generated
    summary.files.update(files)
    return SequentialSummary(summary, decisions, cost, provenance, files)


def read_provenance(store: str | Path, suite: str) -> dict[str, Any] | None:
    """The design a sequential run recorded next to ``store`` for ``suite``, or None."""
    path = provenance_path(store, suite)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable sequential provenance ({exc})") from None


def check_sequential(rows: Sequence[ResultRow], *, candidates: Sequence[str], baseline: str,
                     options: SequentialOptions = SequentialOptions(), pairs: Sequence[str] | None = None,
                     seeds: Sequence[int] | None = None) -> list[Decision]:
    """The decisions of :func:`replay_check` (the monitor also says which pairs each side lacks)."""
    return replay_check(rows, candidates=candidates, baseline=baseline, options=options, pairs=pairs,
                        seeds=seeds).decisions()


def replay_check(rows: Sequence[ResultRow], *, candidates: Sequence[str], baseline: str,
                 options: SequentialOptions = SequentialOptions(), pairs: Sequence[str] | None = None,
                 seeds: Sequence[int] | None = None) -> SequentialMonitor:
    """The sequential rule replayed over stored or exported rows of one suite (the CI gate).

    Each model's rows are taken under its newest generation key (by the key's creation, as a
    leaderboard does) and each metric under its most recent version; the pairs are ``pairs`` (a sequential run's whole suite,
    from its provenance) or else every pair either side has (so a pair the baseline lacks blocks the
    replay instead of leaving the suite unseen), in the order of ``options.order_seed``. Give the
    run's own design and candidates to reproduce its verdicts exactly (alpha is split over
    candidates × metrics, and the order depends on the pool of pairs).
    """
    rules = metric_rules(options.margin, options.bound)
    rows, _ = newest_generation([r for r in rows if r.metric in rules and (r.model == baseline or r.model in candidates)])
    latest: dict[tuple[str, str], tuple[float, str, str]] = {}  # (model, metric) -> newest (created_at, key, version)
    for r in rows:
        if r.metric in rules and (r.model == baseline or r.model in candidates):
            slot = (r.model, r.metric)
            if slot not in latest or r.created_at > latest[slot][0]:
                latest[slot] = (r.created_at, r.generation_key, r.metric_version)
    used = [r for r in rows if counts_as_result(r) and (r.model, r.metric) in latest and latest[(r.model, r.metric)][1:] == (r.generation_key, r.metric_version)]
    base_rows = [r for r in used if r.model == baseline]
    if not base_rows:
        raise InputError(f"no rows of the baseline {baseline!r} for the gated metrics {sorted(rules)}")
    absent = [c for c in candidates if not any(r.model == c for r in used)]
    if absent:
        raise InputError(f"no rows of {', '.join(absent)} for the gated metrics {sorted(rules)}")
    monitor = SequentialMonitor(
        candidates=list(candidates), pairs=pairs if pairs is not None else sorted({r.sample for r in used}),
        seeds=sorted(seeds if seeds is not None else {r.seed for r in base_rows}), rules=rules, baseline=baseline,
        alpha=options.alpha, order_seed=options.order_seed, budget=options.budget, population=options.population)
    monitor.replay(used)
    return monitor
