"""The generation loop: every (model, test pair, seed) of a suite to an mp4 with a JSON sidecar.

Output layout (``out`` is the ``--out`` folder)::

    out/<model>/<generation key>/generation.json          what the key stands for
    out/<model>/<generation key>/seed<seed>/<sample>.mp4  the video, in the suite's storage form
    out/<model>/<generation key>/seed<seed>/<sample>.json its sidecar (written last)

so ``suite.read_views(out/<model>/<key>/seed<seed>, sample)`` reads an output exactly like a
reference video, and a grid suite's output is one grid video.

**Generation key** = first 16 hex digits of SHA-256 over the canonical JSON of
``{"format": 1, "model": model.identity(), "settings": settings, "noise": NOISE_VERSION}``:
``identity()`` holds the base model id + revision (or a local folder's content fingerprint), the
adapter file's SHA-256, fuse/scale, dtype, safety checker, compile and the model's default guidance
and negative prompt; ``settings`` are frames, height, width, steps, guidance override and fps
(left out for kinds whose output does not depend on them, e.g. ``folder``). A retrained adapter or
changed settings get a new folder; old videos are never reused for them, and are not overwritten.

**Resume.** Each output's sidecar also stores an *input hash* (prompt, conditioning image bytes,
seed, and per-request facts a model reports such as a folder source's hash). An output is skipped
when its sidecar exists with the same key and input hash and every file it lists is present with
the recorded size. Videos and sidecars are written to temporary names and renamed, the sidecar
last, so an interrupted run leaves either a complete output or nothing that counts.

**Scale-out.** ``shard=(i, n)`` keeps items ``i, i+n, i+2n, ...`` of the deterministic work list
(models in the given order, test pairs sorted by name, seeds ascending). Under ``accelerate
launch`` or ``torchrun`` the shard defaults to ``(RANK, WORLD_SIZE)`` and each process uses GPU
``LOCAL_RANK``. The initial noise depends on neither the device nor the process, so N shards on
one kind of device write what one process would (bit-identical on the CPU, as the tests check).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from ..atomic import atomic_copy, atomic_write_text, sweep_temporaries
from ..owned import OwnedFolder, check_owned
from ..provenance import canonical_json, runtime_versions, sha256_hex
from ..data.layout import TestPair, list_test_pairs, read_image
from ..data.suite import Suite, load_suite
from ..data.video import tile_grid, write_video
from .base import GeneratedVideo, GenerationRequest, ModelConfigError, WorldModel, file_sha256
from .noise import NOISE_VERSION
from .outputs import SIDECAR_FORMAT, Output, Sidecar
from ..errors import InputError

log = logging.getLogger(__name__)

KEY_FORMAT = 1
KEY_LENGTH = 16
DEFAULT_SEEDS = 5
DEFAULT_FRAMES = 93
DEFAULT_SIZE = (432, 768)
DEFAULT_STEPS = 36
DEFAULT_FPS = 16.0


# ------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class GenerationSettings:
    """Settings shared by every video of a run (the seed's evaluation by default).

    ``height``/``width`` are the generated stream's size (for a grid suite, the whole grid).
    ``guidance=None`` keeps each model's own default (Cosmos: the pipeline's 7.0).
    """

    num_frames: int = DEFAULT_FRAMES
    height: int = DEFAULT_SIZE[0]
    width: int = DEFAULT_SIZE[1]
    steps: int = DEFAULT_STEPS
    guidance: float | None = None
    fps: float = DEFAULT_FPS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_for_suite(
    suite: Suite,
    *,
    frames: int | None = None,
    size: tuple[int, int] | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    fps: float | None = None,
) -> GenerationSettings:
    """Settings for ``suite``: explicit values, else the suite's manifest, else the seed's defaults.

    A suite's ``size`` is one view's; for grid storage the generated stream is the whole grid.
    """
    if size is None:
        if suite.size is not None:
            h, w = suite.size
            if suite.storage.kind == "grid":
                h, w = h * suite.storage.rows, w * suite.storage.cols
            size = (h, w)
        else:
            size = DEFAULT_SIZE
    return GenerationSettings(
        num_frames=int(frames if frames is not None else (suite.frames or DEFAULT_FRAMES)),
        height=int(size[0]),
        width=int(size[1]),
        steps=int(steps if steps is not None else DEFAULT_STEPS),
        guidance=None if guidance is None else float(guidance),
        fps=float(fps if fps is not None else (suite.fps or DEFAULT_FPS)),
    )


def expected_output(suite: Suite, settings: GenerationSettings, *, uses_settings: bool) -> dict[str, Any]:
    """What an output's file(s) must hold, for the probe before scoring (``Suite.check_sample``).

    A model that follows the settings was asked for their frames and size (the suite's, unless the run
    overrode them); one that does not (``folder``) must match what ``suite.yaml`` declares.
    """
    if uses_settings:
        return {"frames": settings.num_frames, "size": [settings.height, settings.width], "source": "the run asked for"}
    size = suite.file_size()
    return {"frames": suite.frames, "size": None if size is None else list(size), "source": "suite.yaml says"}


def key_definition(model: WorldModel, settings: GenerationSettings) -> dict[str, Any]:
    """What the generation key of ``model`` under ``settings`` hashes."""
    uses = getattr(model, "uses_settings", True)
    return {
        "format": KEY_FORMAT,
        "model": model.identity(),
        "settings": settings.to_dict() if uses else None,
        "noise": NOISE_VERSION if uses else None,
    }


def generation_key(model: WorldModel, settings: GenerationSettings) -> str:
    """16 hex digits identifying (model identity, settings, noise algorithm)."""
    return sha256_hex(canonical_json(key_definition(model, settings)))[:KEY_LENGTH]


# ------------------------------------------------------------------------------------ sharding
def parse_shard(spec: str | None) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N; ``None`` -> the launcher's (RANK, WORLD_SIZE) or (0, 1)."""
    if spec is None or spec == "":
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        rank = int(os.environ.get("RANK", "0") or 0)
        return (rank, world) if world > 1 else (0, 1)
    try:
        i_s, n_s = str(spec).split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise InputError(f"shard must look like I/N (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"shard I/N needs 0 <= I < N, got {spec!r}")
    return i, n


@dataclass(frozen=True)
class WorkItem:
    """One output to produce."""

    index: int  # position in the full (unsharded) work list
    model: str
    sample: str
    seed: int


def plan(model_names: Sequence[str], samples: Sequence[str], seeds: Sequence[int], shard: tuple[int, int] = (0, 1)) -> list[WorkItem]:
    """The deterministic work list (models in order, samples sorted, seeds ascending), sharded."""
    i, n = shard
    items = []
    index = 0
    for model in model_names:
        for sample in sorted(samples):
            for seed in sorted(seeds):
                if index % n == i:
                    items.append(WorkItem(index, model, sample, int(seed)))
                index += 1
    return items


# ------------------------------------------------------------------------------------ files
def is_videos_folder(folder: Path) -> bool:
    """Videos generated before the folder kept a manifest: ``<model>/<key>/generation.json`` is there."""
    return any(folder.glob("*/*/generation.json"))


def check_videos_folder(out: str | os.PathLike) -> None:
    """Refuse (exit 2), before any work, an ``--out`` that is a file or holds files no generation wrote."""
    check_owned(out, "videos", recognise=is_videos_folder, option="out")


def model_dir(out: str | os.PathLike, model: str, key: str) -> Path:
    return Path(out) / model / key


def seed_dir(out: str | os.PathLike, model: str, key: str, seed: int) -> Path:
    return model_dir(out, model, key) / f"seed{seed}"


def sidecar_path(out: str | os.PathLike, model: str, key: str, seed: int, sample: str) -> Path:
    return seed_dir(out, model, key, seed) / f"{sample}.json"


def is_complete(sidecar: Path, key: str, input_hash: str) -> bool:
    """True when ``sidecar`` records ``key`` and ``input_hash`` and all its files are intact."""
    side = Sidecar.read(sidecar)
    return side is not None and side.generation_key == key and side.input_hash == input_hash and side.files_intact(sidecar.parent)


def frames_sha256(frames: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(tuple(frames.shape)).encode())
    h.update(np.ascontiguousarray(frames).tobytes())
    return h.hexdigest()


def write_output(suite: Suite, directory: Path, sample: str, video: GeneratedVideo) -> tuple[dict[str, Path], str]:
    """Write ``video`` as ``sample``'s file(s) in ``suite``'s storage form; returns (files, content hash)."""
    targets = suite.sample_files(directory, sample)
    storage = suite.storage.kind
    if video.files:
        missing = [v for v in targets if v not in video.files]
        if missing:
            raise ValueError(f"model returned files for views {sorted(video.files)}, suite needs {suite.views}")
        copied: dict[Path, str] = {}
        for view, dst in targets.items():
            if dst not in copied:
                atomic_copy(Path(video.files[view]), dst)
                copied[dst] = file_sha256(dst, use_cache=False)
        content = sha256_hex("".join(sorted(copied.values())))
        return targets, content
    frames = video.frames
    if frames is None:
        raise ValueError("model returned neither frames nor files")
    if isinstance(frames, dict):
        unknown = set(frames) - set(suite.views)
        if unknown or len(frames) != len(suite.views):
            raise ValueError(f"model returned views {sorted(frames)}, suite {suite.name!r} has {suite.views}")
        if storage == "files":
            for view, dst in targets.items():
                write_video(dst, frames[view], video.fps)
            content = sha256_hex("".join(frames_sha256(frames[v]) for v in suite.views))
            return targets, content
        ordered = {v: frames[v] for v in suite.views}
        stream = ordered[suite.views[0]] if storage == "single" else tile_grid(ordered, suite.storage.rows, suite.storage.cols)
    else:
        stream = np.asarray(frames)
        if storage == "files" and len(suite.views) > 1:
            raise ValueError(
                f"model returned one stream but suite {suite.name!r} stores {len(suite.views)} views as separate "
                "files; the model must return {view: frames}"
            )
        if storage == "grid":
            rows, cols = suite.storage.rows, suite.storage.cols
            if stream.ndim != 4 or stream.shape[1] % rows or stream.shape[2] % cols:
                raise ValueError(f"generated frames {stream.shape} do not divide into the suite's {rows}x{cols} grid")
    dst = next(iter(targets.values()))
    write_video(dst, stream, video.fps)
    return targets, frames_sha256(stream)


# ------------------------------------------------------------------------------------ the loop
class Claims(Protocol):
    """Leases on work items shared by concurrent runs (``cosmos_bench.results.claims.WorkClaims``)."""

    def acquire(self, item: str) -> str | None:
        """None when the item is ours to do, else who holds it."""

    def release(self, item: str) -> None: ...


def claim_id(out: str | os.PathLike, item: WorkItem, key: str) -> str:
    """The work item a run leases before generating ``item``: one output file in one ``out`` folder."""
    return f"generate|{Path(out).resolve()}|{item.model}|{key}|{item.sample}|{item.seed}"


@dataclass
class ItemResult:
    item: WorkItem
    status: str  # "generated" | "skipped" | "failed" | "claimed" (another run is generating it)
    sidecar: Path | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class GenerationReport:
    out: Path
    shard: tuple[int, int]
    keys: dict[str, str] = field(default_factory=dict)  # model -> generation key
    results: list[ItemResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.results if r.status == "failed"]

    def summary(self) -> str:
        claimed = f", {self.count('claimed')} left to another run" if self.count("claimed") else ""
        return (
            f"{self.count('generated')} generated, {self.count('skipped')} skipped (already done), "
            f"{self.count('failed')} failed{claimed}; shard {self.shard[0]}/{self.shard[1]}"
        )


def _image_sha256(pair: TestPair) -> str:
    return file_sha256(pair.image_path, use_cache=False)


def _input_hash(prompt: str, image_sha: str, sample: str, seed: int, extra: Any) -> str:
    data = {"prompt": prompt, "image_sha256": image_sha, "sample": sample, "seed": int(seed), "model_inputs": extra}
    return sha256_hex(canonical_json(data))


@dataclass(frozen=True)
class PlannedRun:
    """What a run will generate: each model's generation key, the test pairs, the work list."""

    keys: dict[str, str]
    pairs: dict[str, TestPair]
    items: list[WorkItem]


def plan_run(
    models: Sequence[WorldModel],
    suite: Suite,
    settings: GenerationSettings,
    *,
    seeds: int | Iterable[int] = DEFAULT_SEEDS,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
) -> PlannedRun:
    """The checks and the deterministic work list that every executor starts from, so the local loop
    and a cluster's workers produce the same items under the same generation keys."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else sorted({int(s) for s in seeds})
    if not seed_list:
        raise InputError("no seeds to generate")
    if any(s < 0 for s in seed_list):
        raise InputError(f"seeds must be >= 0, got {seed_list}")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InputError(f"model names repeat: {names}")
    pairs = list_test_pairs(suite.root)
    if not pairs:
        raise InputError(f"{suite.root}: no test pairs (<name>.txt + <name>.png)")
    if limit is not None:
        pairs = pairs[: max(int(limit), 0)]
    by_name = {p.name: p for p in pairs}
    keys = {m.name: generation_key(m, settings) for m in models}
    return PlannedRun(keys, by_name, plan(names, list(by_name), seed_list, shard))


def generate(
    models: Sequence[WorldModel],
    suite: Suite | str | os.PathLike,
    out: str | os.PathLike,
    *,
    seeds: int | Iterable[int] = DEFAULT_SEEDS,
    settings: GenerationSettings | None = None,
    limit: int | None = None,
    shard: tuple[int, int] | str | None = None,
    overwrite: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
    raise_errors: bool = False,
    background_writes: bool = True,
    claims: Claims | None = None,
    items: Sequence[WorkItem] | None = None,
    release_models: bool = True,
    model_lock: contextlib.AbstractContextManager | None = None,
) -> GenerationReport:
    """Generate every (model, test pair, seed) of this shard of ``suite`` into ``out``.

    ``seeds`` is a count (seeds 0..n-1) or explicit seeds; ``limit`` keeps the first N test pairs
    by name. Failures of single items are recorded in the report and the loop goes on (unless
    ``raise_errors``); configuration errors (a model that cannot load) stop it at once.
    ``on_start(total)`` and ``on_item(result)`` report progress. With ``background_writes`` each
    video is encoded and written while the next one generates (see :class:`_OutputWriter`).
    With ``claims``, each missing output is leased before it is generated and released once written;
    an output another run holds is left to it (status ``claimed``), so concurrent runs split the work.
    ``items`` replaces the planned work list (an executor hands a worker its items one by one);
    ``release_models=False`` keeps a model loaded after its last item here, for a worker that
    will be handed more of its items later. ``model_lock`` is held around each model call (and its
    timing), for a worker that runs several ``generate`` calls at once on one GPU.
    """
    started = time.time()  # temporary files older than this are a killed writer's (swept once the item is ours)
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    settings = settings or settings_for_suite(suite)
    shard_t = parse_shard(shard) if not isinstance(shard, tuple) else shard
    planned = plan_run(models, suite, settings, seeds=seeds, limit=limit, shard=shard_t)
    by_name = planned.pairs
    by_model = {m.name: m for m in models}
    out = OwnedFolder.adopt(out, "videos", recognise=is_videos_folder, option="out").path  # never somebody else's folder
    report = GenerationReport(out=out, shard=shard_t, keys=dict(planned.keys))
    for model in models:
        key = report.keys[model.name]
        meta = model_dir(out, model.name, key) / "generation.json"
        if not meta.exists():
            definition = key_definition(model, settings)
            atomic_write_text(meta, json.dumps({"model": model.name, "kind": model.kind, "generation_key": key, "definition": definition}, indent=2, sort_keys=True, default=str) + "\n")

    if items is None:
        items = planned.items
    else:
        unknown = sorted({i.sample for i in items} - set(by_name)) + sorted({i.model for i in items} - set(by_model))
        if unknown:
            raise InputError(f"work items name unknown test pairs or models: {unknown}")
    if on_start:
        on_start(len(items))
    context = _RunContext(suite=suite, settings=settings, shard=shard_t)

    def on_record(result: ItemResult) -> None:
        if claims is not None and result.status in ("generated", "failed"):
            claims.release(claim_id(out, result.item, report.keys[result.item.model]))
        if on_item:
            on_item(result)

    writer = _OutputWriter(report, on_record, background=background_writes)
    last_item_of = {item.model: item.index for item in items}
    try:
        for item in items:
            model = by_model[item.model]
            pair = by_name[item.sample]
            key = report.keys[model.name]
            side = sidecar_path(out, model.name, key, item.seed, item.sample)
            try:
                prompt = pair.prompt()
                image_sha = _image_sha256(pair)
                request = GenerationRequest(
                    prompt=prompt,
                    image=read_image(pair.image_path),
                    num_frames=settings.num_frames,
                    height=settings.height,
                    width=settings.width,
                    seed=item.seed,
                    steps=settings.steps,
                    guidance=settings.guidance,
                    fps=settings.fps,
                    sample=item.sample,
                    views=tuple(suite.views),
                    suite=suite,
                )
                extra = model.request_inputs(request) if hasattr(model, "request_inputs") else None
                input_hash = _input_hash(prompt, image_sha, item.sample, item.seed, extra)
                if not overwrite and is_complete(side, key, input_hash):
                    writer.done(ItemResult(item, "skipped", side))
                elif claims is not None and (holder := claims.acquire(claim_id(out, item, key))) is not None:
                    writer.done(ItemResult(item, "claimed", side, error=f"being generated by another run ({holder})"))
                elif claims is not None and not overwrite and is_complete(side, key, input_hash):
                    claims.release(claim_id(out, item, key))  # finished by another run since the first look
                    writer.done(ItemResult(item, "skipped", side))
                else:
                    sweep_temporaries([side, *suite.sample_files(side.parent, item.sample).values()], started)
                    with model_lock or contextlib.nullcontext():
                        t0 = time.perf_counter()
                        video = model.generate(request)
                        seconds = time.perf_counter() - t0
                    output = _FinishedVideo(item, model, key, side, pair, request, input_hash, image_sha, video, seconds)
                    writer.submit(functools.partial(_store, context, output, raise_errors))
            except ModelConfigError:
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # one bad item must not lose a night of generation
                if raise_errors:
                    raise
                writer.done(_failed(item, side, exc))
            if release_models and last_item_of[item.model] == item.index and hasattr(model, "release"):
                model.release()  # free its memory before the next model loads
    finally:
        writer.close()  # the last video is written (and reported) even when the loop is interrupted
    return report


@dataclass(frozen=True)
class _RunContext:
    suite: Suite
    settings: GenerationSettings
    shard: tuple[int, int]


@dataclass(frozen=True)
class _FinishedVideo:
    """A video the model returned, not yet written, with what its sidecar needs."""

    item: WorkItem
    model: WorldModel
    key: str
    side: Path
    pair: TestPair
    request: GenerationRequest
    input_hash: str
    image_sha: str
    video: GeneratedVideo
    seconds: float


def _failed(item: WorkItem, side: Path, exc: BaseException) -> ItemResult:
    log.error("generation failed for %s/%s seed %d: %s: %s", item.model, item.sample, item.seed, type(exc).__name__, exc)
    log.debug("traceback of that failure:\n%s", "".join(traceback.format_exception(exc)))  # shown by --debug
    return ItemResult(item, "failed", side, error=f"{type(exc).__name__}: {exc}")


def _store(context: _RunContext, o: _FinishedVideo, raise_errors: bool) -> ItemResult:
    """Write ``o``'s file(s), then its sidecar (last: the sidecar is what marks an output complete)."""
    try:
        files, content = write_output(context.suite, o.side.parent, o.item.sample, o.video)
        unique = sorted({p for p in files.values()})
        sidecar = Sidecar(
            model=o.model.name,
            kind=o.model.kind,
            generation_key=o.key,
            input_hash=o.input_hash,
            suite=context.suite.name,
            sample=o.item.sample,
            seed=o.item.seed,
            prompt=o.request.prompt,
            image={"path": str(o.pair.image_path), "sha256": o.image_sha, "size": list(o.request.image.shape[:2])},
            settings=context.settings.to_dict(),
            model_identity=o.model.identity(),
            model_info=o.video.info,
            views=list(context.suite.views),
            storage=context.suite.storage.to_dict(),
            # the files' hashes too: a bitstream damaged later can decode without a decoder error
            expect={**expected_output(context.suite, context.settings, uses_settings=getattr(o.model, "uses_settings", True)),
                    "sha256": {p.name: file_sha256(p, use_cache=False) for p in unique}},
            files={v: p.name for v, p in files.items()},
            file_sizes={p.name: p.stat().st_size for p in unique},
            content_sha256=content,
            fps=o.video.fps,
            seconds=round(o.seconds, 4),
            shard=list(context.shard),
            versions=runtime_versions(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        atomic_write_text(o.side, sidecar.to_json())
    except Exception as exc:
        if raise_errors:
            raise
        return _failed(o.item, o.side, exc)
    return ItemResult(o.item, "generated", o.side, seconds=o.seconds)


class _OutputWriter:
    """Writes each generated video while the next one is being generated.

    Encoding a 93-frame 432x768 mp4 takes 1.5-2.5 s of CPU with the reproducible one-thread x264
    settings, and PyAV releases the GIL while it encodes, so a background thread hides that time
    behind the GPU's. One write at a time is in flight (a finished video waits in memory for at most
    one generation), and results are reported in work order.
    """

    def __init__(self, report: GenerationReport, on_item: Callable[[ItemResult], None] | None, *, background: bool):
        self._report = report
        self._on_item = on_item
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cosmos-bench-write") if background else None
        self._pending: Future | None = None

    def _record(self, result: ItemResult) -> None:
        self._report.results.append(result)
        if self._on_item:
            self._on_item(result)

    def flush(self) -> None:
        """Wait for the write in flight and report it (re-raises what a ``raise_errors`` write raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._record(pending.result())

    def done(self, result: ItemResult) -> None:
        self.flush()
        self._record(result)

    def submit(self, job: Callable[[], ItemResult]) -> None:
        self.flush()
        if self._pool is None:
            self._record(job())
        else:
            self._pending = self._pool.submit(job)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def output_of(result: ItemResult, key: str, out: str | os.PathLike) -> Output:
    """The scoring stages' view of one ``generate()`` result (read back from its sidecar)."""
    item = result.item
    if result.status == "failed":
        return Output.failed(model=item.model, key=key, sample=item.sample, seed=item.seed, error=str(result.error))
    side = result.sidecar or sidecar_path(out, item.model, key, item.seed, item.sample)
    return Output.read(side, model=item.model, key=key, sample=item.sample, seed=item.seed)


def find_outputs(out: str | os.PathLike, model: str | None = None, key: str | None = None) -> list[Output]:
    """Every complete output under ``out`` (optionally one model / key), as the scoring stages read it.

    ``rescore`` scores these exactly as ``run`` scores :func:`output_of` of a fresh generation.
    """
    found = []
    for side in sorted(Path(out).glob(f"{model or '*'}/{key or '*'}/seed*/*.json")):
        data = Sidecar.read(side)
        if data is None or data.format != SIDECAR_FORMAT:
            continue
        if all((side.parent / rel).is_file() for rel in data.file_sizes):
            found.append(Output(data.model, data.generation_key, data.sample, data.seed, side.parent, data))
    return found


__all__ = [
    "GenerationReport",
    "GenerationSettings",
    "ItemResult",
    "Output",
    "Sidecar",
    "SIDECAR_FORMAT",
    "Claims",
    "WorkItem",
    "claim_id",
    "check_videos_folder",
    "find_outputs",
    "generate",
    "generation_key",
    "output_of",
    "is_complete",
    "key_definition",
    "parse_shard",
    "plan",
    "plan_run",
    "settings_for_suite",
    "write_output",
]
