"""The ``ray`` executor: generation on warm GPU workers across a Ray cluster, one writer.

Why Ray and why this shape: a benchmark is thousands of independent (model, test pair, seed) videos,
each a minute of one GPU, and every GPU's pipeline should stay loaded (and compiled) across all the
videos it makes. Ray Core actors give exactly that — one long-lived process per GPU, scheduled on
whatever nodes have GPUs, with failures reported as exceptions on the driver — so nothing here is a
home-made scheduler: the driver only decides *which* item goes to *which* actor next.

* **One actor per GPU** (``gpus_per_worker``) holds its world models; Cosmos candidates share one
  loaded base per process and switch LoRA/DoRA adapters in place (``models.cosmos.LoadedBase``).
* **Adapter affinity**: a worker keeps the candidate it has while that candidate has work, so a fused
  adapter is fused once per worker, not once per video. At most two items are in flight per worker
  (one generating, one queued), so a lost worker loses little.
* **Scoring where the video is**: the worker runs the geometric metrics on the video it just wrote and
  returns the rows; the driver is the **only writer** of the SQLite store (SQLite's locks do not work
  on network file systems, so the store must never be opened from several nodes). Videos go to the
  shared ``out`` folder (``--artifacts``), written atomically as in a local run.
* **Same results as a local run**: the work list and generation keys come from
  :func:`~cosmos_bench.models.generate.plan_run`, and each item is produced by the same
  :func:`~cosmos_bench.models.generate.generate` call, whose noise depends only on the item.
* **Faults**: an item whose worker died (actor error, node lost) or whose generation failed is
  requeued up to ``max_retries`` times, then recorded as failed with every attempt's reason; dead
  workers are replaced when the cluster has room. A killed driver leaves complete videos and committed
  rows, so ``run`` again resumes with nothing duplicated.

Ray is an optional extra (``pip install 'cosmos-bench[ray]'``): nothing imports this module unless
``executor="ray"`` is asked for.
"""

from __future__ import annotations

import collections
import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .models.base import WorldModel, load_models
from .models.generate import GenerationReport, GenerationSettings, ItemResult, WorkItem, generate, plan_run
from .data.suite import Suite
from .results.store import ResultRow
from .errors import WorkFailedError

log = logging.getLogger(__name__)

ITEMS_IN_FLIGHT = 2  # per worker: one generating while the other is written and scored, so the GPU never waits

# A scorer turns one generation result into store rows on the worker: (result, key, out) -> (rows, error message)
Scorer = Callable[[ItemResult, str, Path], "tuple[list[ResultRow], str | None]"]


class RayExecutorError(WorkFailedError, RuntimeError):
    """The Ray executor cannot run (Ray missing, no cluster, no worker could start)."""


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray. ``address`` None starts a local Ray instance (or joins ``RAY_ADDRESS``);
    ``"auto"`` joins the cluster this node belongs to; ``"ray://host:10001"`` a remote one.

    ``workers`` defaults to the cluster's GPUs divided by ``gpus_per_worker`` (one CPU worker when the
    cluster has no GPUs). ``worker_imports`` are modules each worker imports first, for world-model
    kinds registered in-process rather than through the entry point group. ``compile_cache`` is a
    folder on shared storage for torch.compile artifacts (:mod:`cosmos_bench.models.compile_cache`).
    """

    address: str | None = None
    gpus_per_worker: float = 1.0
    workers: int | None = None
    max_retries: int = 3
    worker_imports: tuple[str, ...] = ()
    compile_cache: str | None = None
    worker_start_timeout_s: float = 600.0
    init_kwargs: dict[str, Any] = field(default_factory=dict)  # extra ray.init arguments (tests: num_cpus, num_gpus)

    def __post_init__(self) -> None:
        if self.gpus_per_worker < 0:
            raise ValueError(f"gpus_per_worker must be >= 0, got {self.gpus_per_worker}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayExecutorError("the ray executor needs Ray: pip install 'cosmos-bench[ray]'") from None
    return ray


class GenerationWorker:
    """One Ray actor: a process with its world models loaded, making one item per call.

    Loaded bases live for the life of the process (``models.cosmos``'s shared bases), so every video
    after the first reuses the loaded and compiled pipeline; the compile cache, if given, is loaded
    before the first compile and saved after each model's first video. Calls run in
    ``ITEMS_IN_FLIGHT`` threads (a threaded actor); the GPU lock keeps generation one at a time.
    """

    def __init__(self, model_names: Sequence[str], models_file: str | None, suite: Suite, out: str,
                 settings: GenerationSettings, seeds: list[int], limit: int | None, scorer: Scorer | None,
                 worker_imports: Sequence[str] = (), compile_cache: str | None = None):
        for module in worker_imports:
            importlib.import_module(module)
        # the actor runs its two in-flight calls in two threads, so one video is written and scored while
        # the next is generated (what the local runner's background writer does); the lock keeps model
        # calls one at a time, and generate() times each call inside it (a sidecar's seconds are GPU time)
        self._gpu = threading.Lock()
        self.models: dict[str, WorldModel] = {m.name: m for m in load_models(list(model_names), models_file)}
        self.suite, self.out, self.settings = suite, Path(out), settings
        self.seeds, self.limit, self.scorer = seeds, limit, scorer
        self.cache = None
        if compile_cache:
            from .models.compile_cache import CompileCache

            self.cache = CompileCache(compile_cache, list(self.models.values()), settings)
            self.cache.load()
        self._warm: set[str] = set()

    def ready(self) -> dict[str, Any]:
        """Called once the actor is placed: where it runs (for logs and tests)."""
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname(), "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "")}

    def run(self, item: WorkItem) -> tuple[ItemResult, list[ResultRow], str | None]:
        model = self.models[item.model]
        report = generate([model], self.suite, self.out, seeds=self.seeds, settings=self.settings, limit=self.limit,
                          items=[item], release_models=False, background_writes=False, model_lock=self._gpu)
        result = report.results[0]
        if self.cache is not None and result.status == "generated" and item.model not in self._warm:
            with self._gpu:  # not while the other thread compiles
                self._warm.add(item.model)
                self.cache.save()  # whatever this model's first video compiled, for the next worker
        rows, message = ([], None)
        if self.scorer is not None and result.status != "failed":
            rows, message = self.scorer(result, report.keys[item.model], self.out)
        return result, rows, message


@dataclass
class _Slot:
    """The driver's view of one worker."""

    actor: Any
    ready_ref: Any
    started: float
    alive: bool = False
    model: str | None = None  # the candidate it is working on (adapter affinity)
    in_flight: int = 0


class _Dispatcher:
    """Hands items to workers with adapter affinity and requeues the items of failed attempts."""

    def __init__(self, items: Iterable[WorkItem], max_retries: int):
        self.pending: dict[str, collections.deque[WorkItem]] = {}
        for item in items:
            self.pending.setdefault(item.model, collections.deque()).append(item)
        self.max_retries = max_retries
        self.attempts: collections.Counter[int] = collections.Counter()
        self.reasons: dict[int, list[str]] = collections.defaultdict(list)

    def has_work(self) -> bool:
        return any(self.pending.values())

    def next_for(self, slot: _Slot, slots: Sequence[_Slot]) -> WorkItem | None:
        if slot.model is None or not self.pending.get(slot.model):
            # the candidate with the most work that no other worker has, else the one with the most work
            taken = {s.model for s in slots if s is not slot and s.alive}
            left = [(len(q), m) for m, q in self.pending.items() if q]
            if not left:
                return None
            free = [x for x in left if x[1] not in taken]
            slot.model = max(free or left)[1]
        return self.pending[slot.model].popleft()

    def failed_attempt(self, item: WorkItem, reason: str) -> bool:
        """Record a failed attempt; True if the item goes back in the queue, False if it is spent."""
        self.attempts[item.index] += 1
        self.reasons[item.index].append(reason)
        if self.attempts[item.index] <= self.max_retries:
            self.pending.setdefault(item.model, collections.deque()).appendleft(item)
            return True
        return False

    def final_error(self, item: WorkItem) -> str:
        reasons = self.reasons[item.index]
        return f"failed after {len(reasons)} attempt(s): " + " | ".join(reasons)


def _worker_resources(opts: RayOptions, ray: Any) -> tuple[int, dict[str, Any]]:
    gpus = float(ray.cluster_resources().get("GPU", 0))
    if opts.gpus_per_worker > 0 and gpus >= opts.gpus_per_worker:
        count = opts.workers or max(int(gpus // opts.gpus_per_worker), 1)
        return count, {"num_gpus": opts.gpus_per_worker, "num_cpus": 1}
    return opts.workers or 1, {"num_gpus": 0, "num_cpus": 1}


def generate_on_ray(
    models: Sequence[WorldModel],
    models_file: str | os.PathLike | None,
    suite: Suite,
    out: str | os.PathLike,
    *,
    seeds: int | Iterable[int],
    settings: GenerationSettings,
    limit: int | None = None,
    options: RayOptions | None = None,
    scorer: Scorer | None = None,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
    on_rows: Callable[[list[ResultRow], str | None], None] | None = None,
    on_worker: Callable[[str, dict[str, Any]], None] | None = None,
) -> GenerationReport:
    """Generate (and score, with ``scorer``) every item of ``suite`` on Ray workers.

    Results stream back as they finish: ``on_item`` for progress, ``on_rows`` with each item's rows
    for the driver to write. ``on_worker(event, info)`` reports worker starts and losses.
    Configuration errors (a model that cannot load) stop the run, as in a local run.
    """
    ray = _import_ray()
    opts = options or RayOptions()
    planned = plan_run(models, suite, settings, seeds=seeds, limit=limit)
    seed_list = sorted({item.seed for item in planned.items})  # the plan's checks and seeds, for every worker
    report = GenerationReport(out=Path(out), shard=(0, 1), keys=dict(planned.keys))
    if on_start:
        on_start(len(planned.items))
    if not planned.items:
        return report
    if not ray.is_initialized():
        ray.init(address=opts.address, include_dashboard=False, log_to_driver=False, **opts.init_kwargs)
    count, resources = _worker_resources(opts, ray)
    worker_cls = ray.remote(max_restarts=0, max_task_retries=0, max_concurrency=ITEMS_IN_FLIGHT, **resources)(GenerationWorker)
    names = [m.name for m in models]
    mfile = None if models_file is None else str(models_file)
    ctor = (names, mfile, suite, str(out), settings, seed_list, limit, scorer, tuple(opts.worker_imports), opts.compile_cache)

    def start() -> _Slot:
        actor = worker_cls.remote(*ctor)
        return _Slot(actor, actor.ready.remote(), time.monotonic())

    slots = [start() for _ in range(min(count, len(planned.items)))]
    queue = _Dispatcher(planned.items, opts.max_retries)
    in_flight: dict[Any, tuple[_Slot, WorkItem]] = {}
    done_by_index: dict[int, ItemResult] = {}

    def finish(result: ItemResult) -> None:
        done_by_index[result.item.index] = result
        report.results.append(result)
        if on_item:
            on_item(result)

    def lose(slot: _Slot, reason: str) -> None:
        if slot in slots:
            slots.remove(slot)
            if on_worker:
                on_worker("lost", {"reason": reason})
            try:
                ray.kill(slot.actor, no_restart=True)
            except Exception:  # already gone
                pass
            slots.append(start())  # placed when the cluster has room again

    def attempt_failed(item: WorkItem, reason: str) -> None:
        if not queue.failed_attempt(item, reason):
            finish(ItemResult(item, "failed", None, error=queue.final_error(item)))

    from ray.exceptions import RayActorError, RayTaskError

    try:
        while queue.has_work() or in_flight:
            for slot in slots:
                while slot.alive and slot.in_flight < ITEMS_IN_FLIGHT:
                    item = queue.next_for(slot, slots)
                    if item is None:
                        break
                    in_flight[slot.actor.run.remote(item)] = (slot, item)
                    slot.in_flight += 1
            starting = {s.ready_ref: s for s in slots if not s.alive}
            if not in_flight and not any(s.alive for s in slots):
                oldest = min((s.started for s in starting.values()), default=time.monotonic())
                if time.monotonic() - oldest > opts.worker_start_timeout_s:
                    raise RayExecutorError(
                        f"no Ray worker could start within {opts.worker_start_timeout_s:.0f} s "
                        f"(each needs {resources}; the cluster has {ray.available_resources()})")
            ready, _ = ray.wait(list(in_flight) + list(starting), num_returns=1, timeout=5.0)
            for ref in ready:
                if ref in starting:
                    slot = starting[ref]
                    try:
                        info = ray.get(ref)
                    except RayActorError as exc:
                        if getattr(exc, "actor_init_failed", False):  # its constructor raised: configuration, not luck
                            raise RayExecutorError(f"a Ray worker could not start: {_last_line(exc)}") from None
                        lose(slot, f"worker died while starting: {_last_line(exc)}")
                        continue
                    slot.alive = True
                    if on_worker:
                        on_worker("started", info)
                    continue
                slot, item = in_flight.pop(ref)
                slot.in_flight -= 1
                try:
                    result, rows, message = ray.get(ref)
                except RayTaskError as exc:  # generate() raised: ModelConfigError or a bug, as in a local run
                    raise _unwrap(exc) from None
                except RayActorError as exc:
                    lose(slot, _last_line(exc))
                    attempt_failed(item, f"worker lost ({type(exc).__name__})")
                    continue
                if result.status == "failed":
                    attempt_failed(item, result.error or "generation failed")
                    continue
                if on_rows:
                    on_rows(rows, message)
                finish(result)
    finally:
        for slot in slots:
            try:
                ray.kill(slot.actor, no_restart=True)
            except Exception:
                pass
    report.results.sort(key=lambda r: r.item.index)  # work order, as a local run reports
    return report


def _last_line(exc: BaseException) -> str:
    """The telling line of a Ray error (its text carries the remote traceback first)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not set(ln.strip()) <= set("^~")]
    return lines[-1] if lines else type(exc).__name__


def _unwrap(exc: Exception) -> BaseException:
    """The exception a worker raised, as the driver would have raised it in a local run."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


__all__ = ["GenerationWorker", "RayExecutorError", "RayOptions", "generate_on_ray"]
