"""``cosmos-bench run``: generate → geometric metrics → judge → results store → leaderboard.

This is the library call the CLI wraps (``cosmos_bench.runner.run``), so notebooks and CI can run
a benchmark without the command line. Every stage is resumable on its own terms:

* generation skips outputs whose sidecar matches the generation key and inputs (``models.generate``);
* metrics and judge skip every (suite, model, generation key, sample, seed, metric, version) that
  already has a final row in the store, and each row is committed the moment it is computed.

So a run killed at any point — even ``kill -9`` — and started again does only the missing work, and
no row is lost or written twice (the store's key forbids duplicates). A video that cannot be read,
a generation that failed, or a judge that is down become ``error`` rows that say why; the rest of
the run completes, and the next run retries exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from . import catalog
from .catalog import SECONDARY_SUFFIX  # noqa: F401  (re-exported: the runner's old name for it)
from .data.suite import Suite, load_suite
from .bounds import check_video_size, check_work_items
from .errors import CosmosBenchError, InputError, MissingInputError
from .interrupts import Interrupted
from .models.outputs import Output
from .results.claims import DEFAULT_LEASE_S, WorkClaims
from .results.leaderboard import Leaderboard, build_leaderboard, leaderboard_from_store, write_leaderboard
from .results.store import ResultRow, ResultStore
from .results.staleness import changed_since_scored
from .results.store_check import check_store
from .stages import GeometryStage, JudgeStage, Stage, rows_per_output

GEOMETRIC_METRICS = catalog.metrics_of_stage("geometry")
JUDGE_METRICS = {m: catalog.METRICS[m].rubric for m in catalog.metrics_of_stage("judge")}  # metric -> rubric
ALL_METRICS = catalog.selectable_metrics()


@dataclass
class StageEvent:
    """One unit of progress, for whatever shows it (rich in the CLI, nothing in tests)."""

    stage: str  # "generate" | "metrics" | "judge"
    kind: str  # "start" (total set) | "advance" | "note"
    total: int = 0
    status: str = ""
    message: str = ""


Reporter = Callable[[StageEvent], None]


@dataclass
class RunConfig:
    """What to run. Defaults follow the seed's evaluation protocol (5 seeds per test pair)."""

    models: Sequence[str]
    suite: str | os.PathLike
    models_file: str | os.PathLike | None = None
    metrics: Sequence[str] = ALL_METRICS
    seeds: int | Sequence[int] = 5
    limit: int | None = None
    out: str | os.PathLike | None = None  # videos; default runs/<suite>
    store: str | os.PathLike = "runs/results.sqlite"
    leaderboards: str | os.PathLike | None = "leaderboards"
    baseline: str = "base"
    frames: int | None = None
    size: tuple[int, int] | None = None
    steps: int | None = None
    guidance: float | None = None
    fps: float | None = None  # frame rate written into the videos (None: the suite's, else 16)
    shard: str | None = None
    backend: str = "opencv"
    device: str | None = None
    stride: int = 1
    cross_view_mode: str = "pooled"
    judge: Any = None  # a cosmos_bench.judge.JudgeConfig, or None: judge columns say "not run"
    judge_cache: str | os.PathLike | None = None
    plots: bool = True
    lease_s: float = DEFAULT_LEASE_S  # how long a claim on a work item lasts without renewal (see results.claims)
    executor: str = "local"  # "local": this process (and --shard); "ray": warm GPU workers on a Ray cluster
    ray: Any = None  # a cosmos_bench.ray_executor.RayOptions for executor="ray" (None: its defaults)
    report: bool = True  # also write leaderboards/<suite>.report/ (the HTML report)
    model_overrides: Any = None  # {model: {option: value}} for this run only (--set; models.overrides)


@dataclass
class RunSummary:
    suite: str
    generation: dict[str, int] = field(default_factory=dict)
    rows_written: int = 0
    rows_skipped: int = 0
    rows_discarded: int = 0  # computed, but another run had stored the same key first
    left_to_others: dict[str, int] = field(default_factory=dict)  # stage -> items another run held a claim on
    awaited: set[tuple] = field(default_factory=set, repr=False)  # row keys of the work left to other runs
    still_awaited: int = 0  # of those, how many were not in the store when this run ended (exit 5)
    errors: list[str] = field(default_factory=list)
    judge_status: str = "not run"
    leaderboard: Leaderboard | None = None
    files: dict[str, Path] = field(default_factory=dict)
    written: set[tuple] = field(default_factory=set, repr=False)  # row keys written by an executor's workers


def _emit(reporter: Reporter | None, *args: Any, **kwargs: Any) -> None:
    if reporter is not None:
        reporter(StageEvent(*args, **kwargs))


def parse_metrics(spec: str | Sequence[str]) -> list[str]:
    names = [m.strip().lower() for m in (spec.split(",") if isinstance(spec, str) else spec) if m.strip()]
    unknown = sorted(set(names) - set(ALL_METRICS))
    if unknown:
        raise InputError(f"unknown metric(s) {unknown}; choose from {list(ALL_METRICS)}")
    if not names:
        raise InputError("no metrics given")
    return names


def _outputs(report: Any, out: Path) -> list[Output]:
    """The outputs this run scores; those another run is generating are left to it (it scores them)."""
    from .models.generate import output_of

    return [output_of(res, report.keys[res.item.model], out) for res in report.results if res.status != "claimed"]


def _claim_item(stage: str, suite: Suite, o: Output, *versions: str) -> str:
    """The work item a run leases before scoring ``o`` in ``stage`` (metric versions included)."""
    return "|".join((stage, suite.name, o.model, o.key, o.sample, str(o.seed), *versions))


def _left_to_other_run(summary: RunSummary, stage: str, reporter: Reporter | None, keys: Sequence[tuple] = ()) -> None:
    summary.left_to_others[stage] = summary.left_to_others.get(stage, 0) + 1
    summary.awaited.update(keys)
    _emit(reporter, stage, "advance", status="left to another run")


# ----------------------------------------------------------------------------------- the stages
def _geometry_stage(cfg: RunConfig, suite: Suite) -> GeometryStage:
    return GeometryStage.applicable(suite, cfg.metrics, stride=cfg.stride, cross_view_mode=cfg.cross_view_mode,
                                    backend=cfg.backend, device=cfg.device)


@dataclass(frozen=True)
class GeometryScorer:
    """Scores one finished generation where its video is: on an executor's worker, beside the GPU
    that made it, so only rows travel back to the driver (the store's only writer). Picklable."""

    cfg: RunConfig
    suite: Suite

    def __call__(self, res: Any, key: str, out: Path) -> tuple[list[ResultRow], str | None]:
        from .models.generate import output_of

        stage = _geometry_stage(self.cfg, self.suite)
        if not stage.metrics:
            return [], None
        return stage.score_one(output_of(res, key, out), stage.versions())


def _stages(cfg: RunConfig, suite: Suite, claims: WorkClaims, summary: RunSummary,
            reporter: Reporter | None) -> Iterator[Stage]:
    """The run's scoring stages, in order: geometry, then one judge stage per judge metric."""
    geometry = _geometry_stage(cfg, suite)
    if "cse" in cfg.metrics and "cse" not in geometry.metrics:
        _emit(reporter, "metrics", "note", message=f"suite {suite.name!r} has one view: cross-view error (cse) is skipped")
    if geometry.metrics:
        yield geometry
    wanted = [m for m in JUDGE_METRICS if m in cfg.metrics]
    if not wanted:
        return
    if cfg.judge is None:
        summary.judge_status = "not run (no judge endpoint: pass --judge-url or set COSMOS_BENCH_JUDGE_URL)"
        _emit(reporter, "judge", "note", message=summary.judge_status)
        return
    from .judge import JudgeEndpointError, ScoreCache, load_rubric, resolve_endpoint

    cache = ScoreCache(cfg.judge_cache) if cfg.judge_cache else ScoreCache()
    endpoint_error: str | None = None
    judge_cfg = cfg.judge  # with the server's request form decided once, before any version is computed
    try:
        judge_cfg, endpoint = asyncio.run(resolve_endpoint(cfg.judge, timeout_s=min(cfg.judge.timeout_s, 15.0)))
        for note in endpoint.notes:
            _emit(reporter, "judge", "note", message=note)
    except JudgeEndpointError as exc:
        endpoint_error = f"judge endpoint unavailable: {exc}"
        summary.errors.append(endpoint_error)
        _emit(reporter, "judge", "note", message=endpoint_error)
    summary.judge_status = "ran" if endpoint_error is None else endpoint_error
    for metric in wanted:
        def on_progress(event: Any, metric: str = metric) -> None:
            claims.heartbeat()  # a long judge batch keeps its claims
            _emit(reporter, "judge", "note", message=f"{metric}: {event.done}/{event.total} samples")

        yield JudgeStage(suite, metric, load_rubric(JUDGE_METRICS[metric]), judge_cfg, cache, endpoint_error, on_progress)


def _ident(o: Output) -> tuple:
    return (o.model, o.key, o.sample, o.seed)


def _drive(stage: Stage, suite: Suite, outputs: list[Output], store: ResultStore, claims: WorkClaims,
           summary: RunSummary, reporter: Reporter | None) -> None:
    """Score what the store lacks: each output is leased as the stage takes it, its rows stored at once."""
    versions = stage.versions()
    done = store.finished_keys(suite.name)

    def key(o: Output, metric: str) -> tuple:
        return (suite.name, o.model, o.key, o.sample, o.seed, metric, versions[metric])

    def stored_before(o: Output, metric: str) -> bool:  # rows an executor's workers wrote during this run don't count
        return key(o, metric) in done and key(o, metric) not in summary.written

    todo = [o for o in outputs if any(key(o, m) not in done and key(o, m) not in summary.written for m in versions)]
    summary.rows_skipped += sum(rows_per_output(m) for o in outputs for m in versions if stored_before(o, m))
    _emit(reporter, stage.name, "start", total=len(todo), message=stage.label)
    held: dict[tuple, str] = {}

    def leased() -> Iterator[Output]:
        for o in todo:
            item = _claim_item(stage.name, suite, o, *stage.claim_tag())
            if claims.acquire(item) is not None:
                _left_to_other_run(summary, stage.name, reporter, [key(o, m) for m in versions])
                continue
            if all(store.is_finished(key(o, m)) for m in versions):  # stored by another run since the stage began
                claims.release(item)
                summary.rows_skipped += sum(rows_per_output(m) for m in versions)
                _emit(reporter, stage.name, "advance", status="skipped", message=o.label)
                continue
            held[_ident(o)] = item
            yield o

    try:
        for o, rows, message in stage.score(leased()):
            if message is not None:
                summary.errors.append(message)
            written = store.put_many(rows)
            summary.rows_written += written
            summary.rows_discarded += len(rows) - written
            item = held.pop(_ident(o), None)
            if item is not None:
                claims.release(item)
            _emit(reporter, stage.name, "advance", status=rows[0].status if rows else "ok", message=o.label)
    finally:
        for item in held.values():
            claims.release(item)


# ----------------------------------------------------------------------------------- the run
def check_config(cfg: RunConfig) -> None:
    """Refuse a config that would fail only after the work (a bad store, backend or range) before any work."""
    from .metrics.matching import BACKENDS

    check_store(cfg.store)
    check_outputs(cfg)
    if cfg.backend not in BACKENDS:
        raise CosmosBenchError(f"must be one of {', '.join(BACKENDS)}, got {cfg.backend!r}", option="backend")
    for option, value in (("frames", cfg.frames), ("steps", cfg.steps)):
        if value is not None and value < 1:
            raise CosmosBenchError(f"must be at least 1, got {value}", option=option)
    n_seeds = cfg.seeds if isinstance(cfg.seeds, int) else len(list(cfg.seeds))
    check_work_items(n_seeds * max(1, len(cfg.models)), option="seeds")  # per test pair, at least


def check_outputs(cfg: RunConfig) -> None:
    """The folders the run writes are new, empty or its own earlier output (``owned.py``), else exit 2."""
    from .models.generate import check_videos_folder
    from .results.leaderboard import check_leaderboards_folder

    if cfg.out is not None:
        check_videos_folder(cfg.out)
    if cfg.leaderboards is not None:
        check_leaderboards_folder(cfg.leaderboards)


def resolve_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` checked, its metric list parsed and its judge config resolved from the environment, once.

    ``run`` and ``rescore`` call it first; everything below them (stages, judge versions, requests)
    takes the result as given, so a run never sees two different environments halfway through.
    """
    check_config(cfg)
    judge = cfg.judge.resolved() if cfg.judge is not None else None
    if judge is not None:
        from .judge.client import check_endpoint_urls

        check_endpoint_urls(judge.base_url)
    return dataclasses.replace(cfg, metrics=parse_metrics(cfg.metrics), judge=judge)


def run(cfg: RunConfig, reporter: Reporter | None = None) -> RunSummary:
    """Run the benchmark described by ``cfg``; safe to interrupt and to run again."""
    from .models.base import load_models
    from .models.generate import generate, settings_for_suite

    cfg = resolve_config(cfg)
    suite = load_suite(cfg.suite)
    out = Path(cfg.out) if cfg.out is not None else Path("runs") / suite.name
    settings = settings_for_suite(suite, frames=cfg.frames, size=cfg.size, steps=cfg.steps, guidance=cfg.guidance,
                                  fps=cfg.fps)
    files = len(suite.views) if suite.storage.kind == "files" else 1  # the size is per file: a grid tiles its views
    check_video_size(settings.num_frames, settings.height, settings.width, files,  # before any model loads
                     option="frames" if cfg.frames is not None else ("size" if cfg.size is not None else None),
                     where="" if cfg.frames is not None or cfg.size is not None else f"suite {suite.name!r}")
    if cfg.leaderboards is not None and cfg.report:  # a foreign report folder: exit 2 now, not after the work
        from .report import check_report_folder, default_report_dir

        check_report_folder(default_report_dir(cfg.leaderboards, suite.name))
    if cfg.model_overrides and cfg.executor != "local":
        raise InputError("model overrides are not passed to the ray executor's workers; use the models YAML", option="set")
    models = load_models(list(cfg.models), cfg.models_file, overrides=cfg.model_overrides)
    summary = RunSummary(suite=suite.name)

    counts = {"total": 0}

    def on_start(total: int) -> None:
        counts["total"] = total
        _emit(reporter, "generate", "start", total=total)

    def on_item(res: Any) -> None:
        _emit(reporter, "generate", "advance", status=res.status,
              message=f"{res.item.model}/{res.item.sample}/seed{res.item.seed}")

    with _claims(cfg) as (store, claims):
        if cfg.executor == "local":
            report = generate(models, suite, out, seeds=cfg.seeds, settings=settings, limit=cfg.limit, shard=cfg.shard,
                              on_start=on_start, on_item=on_item, claims=claims)
        elif cfg.executor == "ray":
            report = _generate_on_ray(cfg, suite, out, models, settings, summary, store, on_start, on_item, reporter)
        else:
            raise InputError(f"unknown executor {cfg.executor!r}; choose 'local' or 'ray'")
        summary.generation = {s: report.count(s) for s in ("generated", "skipped", "failed")}
        if report.count("claimed"):
            summary.left_to_others["generate"] = report.count("claimed")
        summary.errors += [f"generation {r.item.model}/{r.item.sample}/seed{r.item.seed}: {r.error}" for r in report.failed]
        outputs = _outputs(report, out)
        elsewhere = [(r.item.model, report.keys[r.item.model], r.item.sample, r.item.seed)
                     for r in report.results if r.status == "claimed"]
        return _score_and_publish(cfg, suite, outputs, summary, reporter, store, claims, elsewhere)


def _board_of_run(board: Leaderboard, cfg: RunConfig, store: ResultStore, suite: Suite) -> Leaderboard:
    """The leaderboard this run reports: its own models and the baseline, with the paired tests' multiplicity
    of those alone; the files stay whole (every model in the store, as ``cosmos-bench leaderboard`` writes)."""
    keep = set(cfg.models) | {cfg.baseline}
    if not cfg.models or set(board.models) <= keep:
        return board
    rows = [r for r in store.rows(suite=suite.name) if r.model in keep]
    return build_leaderboard(rows, suite.name, versions=store.current_versions(suite.name), baseline=cfg.baseline,
                             model_order=list(cfg.models))


def _without_silent_adapters(outputs: list[Output], summary: RunSummary) -> list[Output]:
    """An adapter identical to its base is an error, not a candidate (``models.adapter_check``)."""
    from .models.adapter_check import flag_silent_adapters

    outputs, notes = flag_silent_adapters(outputs)
    summary.errors += notes
    return outputs


@contextlib.contextmanager
def _claims(cfg: RunConfig):
    """The run's results store and its claims on work items; every claim is released at the end,
    also when SIGINT or SIGTERM stops the run (:class:`Interrupted` then says how many rows it kept)."""
    with ResultStore(cfg.store) as store:
        claims = WorkClaims(store, ttl_s=cfg.lease_s)
        try:
            yield store, claims
        except KeyboardInterrupt as exc:
            raise Interrupted.of(exc, store.written) from None
        finally:
            claims.close()


def _generate_on_ray(cfg: RunConfig, suite: Suite, out: Path, models: list, settings: Any, summary: RunSummary,
                     store: ResultStore, on_start: Callable[[int], None], on_item: Callable[[Any], None],
                     reporter: Reporter | None) -> Any:
    """Generation and geometric scoring on Ray workers; this process writes each item's rows as they arrive.
    The driver claims nothing: concurrent runs on one store split work only with the local executor."""
    from .ray_executor import RayOptions, generate_on_ray

    if cfg.shard:
        raise InputError("splits work between local processes; the ray executor spreads it itself", option="shard")
    scorer = GeometryScorer(dataclasses.replace(cfg, judge=None), suite)  # no endpoint or key travels to workers

    def on_rows(rows: list[ResultRow], message: str | None) -> None:
        summary.rows_written += store.put_many(rows)
        summary.written.update(r.key for r in rows)
        if message is not None:
            summary.errors.append(message)

    def on_worker(event: str, info: dict[str, Any]) -> None:
        _emit(reporter, "generate", "note", message=f"ray worker {event}: {info}")

    return generate_on_ray(models, cfg.models_file, suite, out, seeds=cfg.seeds, settings=settings, limit=cfg.limit,
                           options=cfg.ray or RayOptions(), scorer=scorer, on_start=on_start, on_item=on_item,
                           on_rows=on_rows, on_worker=on_worker)


def _score_and_publish(cfg: RunConfig, suite: Suite, outputs: list[Output], summary: RunSummary,
                       reporter: Reporter | None, store: ResultStore, claims: WorkClaims,
                       elsewhere: Sequence[tuple] = ()) -> RunSummary:
    """Score ``outputs`` stage by stage, then publish; ``elsewhere`` are (model, key, sample, seed) of
    videos another run is generating, whose rows this run then waits for in the store (exit 5 if absent)."""
    outputs = _without_silent_adapters(outputs, summary)
    summary.errors += changed_since_scored(outputs, store.rows(suite=suite.name), store.current_versions(suite.name))
    for stage in _stages(cfg, suite, claims, summary, reporter):
        _drive(stage, suite, outputs, store, claims, summary, reporter)
        summary.awaited.update((suite.name, *ident, m, v) for ident in elsewhere for m, v in stage.versions().items())
    summary.still_awaited = sum(rows_per_output(k[5]) for k in summary.awaited if not store.is_finished(k))  # k[5]: metric
    board = leaderboard_from_store(store, suite.name, baseline=cfg.baseline, model_order=list(cfg.models))
    summary.leaderboard = _board_of_run(board, cfg, store, suite)
    if cfg.leaderboards is not None:
        notes: list[str] = []  # what the leaderboard and report replaced of their earlier versions
        summary.files = write_leaderboard(board, cfg.leaderboards, plots=cfg.plots, notes=notes)
        if cfg.report:
            from .report import default_report_dir, report_for_board

            try:
                summary.files["report"] = report_for_board(board, default_report_dir(cfg.leaderboards, suite.name),
                                                           store=str(cfg.store), plots=cfg.plots, notes=notes)
            except (OSError, CosmosBenchError) as exc:  # the scores are stored; a report that cannot be written must not hide that
                summary.errors.append(f"HTML report not written: {exc}")
        for line in notes:
            _emit(reporter, "report", "note", message=line)
    return summary


def rescore(cfg: RunConfig, reporter: Reporter | None = None) -> RunSummary:
    """Score videos that already exist, without generating: only failed or missing rows are computed.

    Use it after a judge outage, or after changing a metric's settings (a new metric version gets
    its own rows; the old ones stay, unmixed). ``cfg.models`` empty means every model found in
    ``cfg.out``.
    """
    from .models.generate import find_outputs

    cfg = resolve_config(cfg)
    suite = load_suite(cfg.suite)
    out = Path(cfg.out) if cfg.out is not None else Path("runs") / suite.name
    if not out.is_dir():
        raise MissingInputError(f"{out}: no generated videos to rescore (generate them first, or name the folder that holds them)",
                                option="out")
    wanted = set(cfg.models)
    outputs = [o for o in find_outputs(out) if o.sidecar.suite == suite.name and (not wanted or o.model in wanted)]
    if cfg.limit is not None:
        keep = sorted({o.sample for o in outputs})[: cfg.limit]
        outputs = [o for o in outputs if o.sample in keep]
    summary = RunSummary(suite=suite.name)
    if not cfg.models:
        cfg = dataclasses.replace(cfg, models=sorted({o.model for o in outputs}))
    with _claims(cfg) as (store, claims):
        return _score_and_publish(cfg, suite, outputs, summary, reporter, store, claims)
