#!/usr/bin/env python
"""Training speed: seconds per sample-step and peak memory of the LoRA/DoRA trainer's step.

Full size (the default, for one GPU): the real ``CosmosTransformer3DModel`` with the 2B config
(in_channels 17, 16 heads x 128, 28 layers, cross-attention projection 100352 -> 1024), random
weights, bf16, a rank-32 adapter on to_q/to_k/to_v/to_out.0/ff.net.0.proj/ff.net.2 in float32,
93 frames at 432x768 (latents 16x24x54x96 = 31,104 tokens), 512 text tokens. Two paths:

- ``cached`` (what ``cosmos-bench train`` does): prompt embeddings ``(512, 100352)`` and window latents
  are read from a :class:`~cosmos_bench.train.cache.TrainCache` on disk (written once at start with
  random values of the real shapes), conditioning/sigma/noise drawn per sample by the trainer's code,
  all in a background thread as the trainer prefetches; then the trainer's own ``micro_step`` and
  ``apply_update`` (AdamW, clipping, schedule). No text encoder, no VAE on the device.
- ``encode`` (the seed's encode-every-step baseline): each step decodes the clip's mp4 (93 frames at
  432x768), runs the Wan 2.1 VAE encoder on it and the 7B Qwen2.5-VL text encoder (random weights, the
  real architecture, built on the device; ``--text-encoder none`` leaves it out and says so) through the
  pipeline's own ``encode_prompt``, then the same step.

``--checkpointing`` takes a comma list of ``none | full | partial:N | selective | selective:N`` and
``--compile`` a comma list of ``false | blocks | full``; every combination is one ``run`` record of the
cached path; the ``encode`` path runs once with the first combination (``--baseline/--no-baseline``).
An out-of-memory configuration gives ``"status": "oom"`` and the script goes on. Every record is one
JSON line (stdout, and appended to ``--out``)::

    {"record": "run", "path": "cached", "checkpointing": "selective", "compile": "blocks",
     "seconds_per_sample_step": 2.1, "step_seconds": [...], "peak_allocated_gib": 21.3, "peak_reserved_gib": 23.0,
     "trainable_parameters": 45891584, "tflops_per_second": ..., "status": "ok", ...}

``tflops_per_second`` divides the NOTES.md estimate of a step's work (1.3e15 FLOPs per sample at full
size) by the time. Under ``accelerate launch --num_processes N`` the cached path runs as DDP over N
GPUs with ``--batch-size`` samples per GPU (what ``benchmarks/train_scaling.py`` does): the record then
holds ``processes``, ``sample_steps_per_second`` (all GPUs) and every rank's peak memory.

Run here on the CPU at tiny size (a check that the script works, not a measurement)::

    .venv/bin/python benchmarks/train_bench.py --small

On the GPU machine (diffusers and peft are not installed there: carry their wheels)::

    pip install --no-deps wheels/diffusers-*.whl wheels/peft-*.whl
    python benchmarks/train_bench.py --checkpointing full,selective --compile false --out benchmarks/train.jsonl
    python benchmarks/train_bench.py --checkpointing selective,selective:24 --compile blocks --no-baseline --out benchmarks/train.jsonl
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared benchmark helpers

from bench_io import emit as write_record  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from cosmos_bench.models.cosmos import TRANSFORMER_2B_CONFIG, NoSafetyChecker, library_versions  # noqa: E402
from cosmos_bench.train.cache import TrainCache, encode_caption, encode_window, normalize_latents, vae_stats  # noqa: E402
from cosmos_bench.train.flow import draw_sample, sample_rng  # noqa: E402
from cosmos_bench.train.recipe import parse_recipe  # noqa: E402
from cosmos_bench.train.trainer import (  # noqa: E402
    add_adapter,
    apply_update,
    configure_compile,
    configure_gradient_checkpointing,
    make_accelerator,
    make_optimizer,
    micro_step,
)

FLOPS_PER_SAMPLE_STEP = 1.3e15  # NOTES.md: one 93x432x768 training step of the 2B DiT
CAPTION = (
    "A humanoid robot stands at a kitchen counter, picks up a red cup with its right hand and places it "
    "on the shelf, while the camera stays still."
)


# ------------------------------------------------------------------------------------ helpers
def emit(record: dict[str, Any], out_path: Path | None, main: bool = True) -> None:
    """Only the main process reports (under DDP every rank runs this script)."""
    if main:
        write_record(record, out_path)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory(device: torch.device) -> dict[str, float | None]:
    if device.type != "cuda":
        return {"peak_allocated_gib": None, "peak_reserved_gib": None}
    return {"peak_allocated_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved(device) / 2**30, 3)}


def reset_memory(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


class on_device:
    """Build modules directly on ``device`` in ``dtype`` (a random 2B/7B init on the CPU takes minutes)."""

    def __init__(self, device, dtype):
        self.device, self.dtype = device, dtype

    def __enter__(self):
        self.old = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)
        self.ctx = torch.device(self.device)
        self.ctx.__enter__()

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)
        torch.set_default_dtype(self.old)


def qwen25_vl_7b_config():
    """Qwen2.5-VL-7B (Cosmos Predict 2.5's text encoder) architecture, as benchmarks/generation_bench.py builds it."""
    from generation_bench import qwen25_vl_7b_config as config

    return config()


# ------------------------------------------------------------------------------------ components
def build_transformer(args, device, dtype):
    from diffusers import CosmosTransformer3DModel

    from cosmos_bench.models.tiny import build_tiny_transformer

    torch.manual_seed(args.seed)
    if args.small:
        return build_tiny_transformer(args.seed).to(device=device, dtype=dtype)
    with on_device(device, dtype):
        return CosmosTransformer3DModel(**TRANSFORMER_2B_CONFIG)


def build_encoders(args, device, dtype):
    """A pipeline without DiT for the baseline: Wan 2.1 VAE and (unless ``none``) the 7B text encoder."""
    from diffusers import AutoencoderKLWan, Cosmos2_5_PredictBasePipeline
    from transformers import Qwen2_5_VLForConditionalGeneration

    from cosmos_bench.models.tiny import build_scheduler, build_tiny_text_encoder, build_tiny_tokenizer, build_tiny_vae

    note = None
    torch.manual_seed(args.seed + 1)
    if args.small:
        vae, encoder = build_tiny_vae(args.seed).to(device), build_tiny_text_encoder(args.seed).to(device)
    else:
        with on_device(device, dtype):
            vae = AutoencoderKLWan().eval()  # diffusers' defaults are the Wan 2.1 VAE
        encoder = None
        if args.text_encoder == "full":
            try:
                with on_device(device, dtype):
                    encoder = Qwen2_5_VLForConditionalGeneration(qwen25_vl_7b_config()).eval()
            except Exception as exc:  # noqa: BLE001 - recorded, the baseline runs without it
                note = f"7B text encoder not built ({type(exc).__name__}: {str(exc)[:200]}); baseline omits text encoding"
                reset_memory(device)
        else:
            note = "text encoder omitted (--text-encoder none): baseline is mp4 decode + VAE encode + DiT step"
    pipe = Cosmos2_5_PredictBasePipeline(text_encoder=encoder, tokenizer=build_tiny_tokenizer(), transformer=None, vae=vae,
                                         scheduler=build_scheduler(), safety_checker=NoSafetyChecker())
    return pipe, note


def bench_recipe(args, checkpointing: str, compile_mode: str):
    return parse_recipe({
        "name": "bench",
        "model": {"dtype": args.dtype},
        "adapter": {"type": args.adapter, "rank": args.rank},
        "data": {"num_frames": args.frames, "height": args.height, "width": args.width},
        "train": {"batch_size": args.batch_size, "learning_rate": 1e-4, "lr_warmup_steps": 2, "epochs": 1,
                  "mixed_precision": "bf16" if args.dtype == "bfloat16" else "no", "gradient_checkpointing": checkpointing,
                  "compile": False if compile_mode == "false" else compile_mode, "seed": args.seed},
    })


# ------------------------------------------------------------------------------------ data
def latent_shape(args) -> tuple[int, int, int, int]:
    return (16, (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8)


def write_synthetic_cache(root: Path, args, n: int) -> tuple[TrainCache, list[str], list[str]]:
    """``n`` prompt-embedding and latent entries of the real shapes (random values), as the trainer's cache holds them."""
    cache = TrainCache(root)
    width = 64 if args.small else TRANSFORMER_2B_CONFIG["crossattn_proj_in_channels"]
    dtype = getattr(torch, args.dtype)
    text_keys, latent_keys = [], []
    g = torch.Generator().manual_seed(args.seed)
    for i in range(n):
        tk, lk = f"bench-text-{i:04d}", f"bench-latent-{i:04d}"
        cache.save_text(tk, torch.randn((512, width), generator=g).to(dtype), CAPTION)
        cache.save_latents(lk, torch.randn(latent_shape(args), generator=g).to(dtype), [0.0] * 16, [1.0] * 16, {"bench": i})
        text_keys.append(tk)
        latent_keys.append(lk)
    return cache, text_keys, latent_keys


def cached_batch(cache: TrainCache, text_keys, latent_keys, recipe, args, step: int, rank: int, world: int) -> dict[str, Any]:
    """One micro-batch the way ``Trainer._micro_inputs`` assembles it (disk cache + per-sample draws)."""
    b = args.batch_size
    positions = [step * b * world + rank * b + j for j in range(b)]
    draws = [draw_sample(sample_rng(args.seed, 0, p), latent_shape(args), conditional_choices=recipe.latent_conditional_choices,
                         sigma_config=recipe.sigma) for p in positions]
    idx = [p % len(text_keys) for p in positions]
    return {
        "x0": torch.stack([cache.load_latents(latent_keys[i]) for i in idx]),
        "embeds": torch.stack([cache.load_text(text_keys[i]) for i in idx]),
        "noise": torch.stack([torch.from_numpy(d.noise) for d in draws]),
        "sigma": torch.tensor([d.sigma for d in draws], dtype=torch.float32),
        "num_conditional": [d.num_conditional for d in draws],
    }


class Prefetcher:
    """Load step ``k + 1`` while step ``k`` runs, as the trainer does."""

    def __init__(self, fn, first: int):
        self.fn, self.result, self.error = fn, None, None
        self._start(first)

    def _start(self, step: int) -> None:
        def work():
            try:
                self.result = self.fn(step)
            except BaseException as exc:  # noqa: BLE001
                self.error = exc

        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def get(self, next_step: int | None):
        self.thread.join()
        if self.error is not None:
            raise self.error
        out = self.result
        if next_step is not None:
            self._start(next_step)
        return out


def synthetic_frames(args) -> np.ndarray:
    rng = np.random.default_rng(args.seed)
    base = (rng.random((args.height // 8, args.width // 8, 3)) * 255).astype(np.uint8)
    return np.stack([np.roll(np.kron(base, np.ones((8, 8, 1), np.uint8)), 3 * t, axis=1) for t in range(args.frames)])


def write_clip(path: Path, args) -> Path | None:
    """The baseline's mp4 (None when PyAV is missing: the baseline then skips decoding, and says so)."""
    try:
        from cosmos_bench.data.video import write_video
    except ImportError:
        return None
    return write_video(path, synthetic_frames(args), 16.0, preset="ultrafast")


# ------------------------------------------------------------------------------------ one configuration
def run_config(args, path: str, checkpointing: str, compile_mode: str, accelerator, common: dict, work: Path, *,
               warmup: int, encoders=None) -> dict[str, Any]:
    device = accelerator.device
    rank, world = accelerator.process_index, accelerator.num_processes
    dtype = getattr(torch, args.dtype)
    recipe = bench_recipe(args, checkpointing, compile_mode)
    record: dict[str, Any] = {**common, "record": "run", "path": path, "checkpointing": checkpointing, "compile": compile_mode,
                              "processes": world, "batch_size_per_process": args.batch_size}
    reset_memory(device)
    model = optimizer = None
    try:
        t_build = time.perf_counter()
        model = build_transformer(args, device, dtype)
        add_adapter(model, recipe, seed=args.seed)
        configure_gradient_checkpointing(model, checkpointing)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        record["trainable_parameters"] = sum(p.numel() for p in params)
        total = warmup + args.steps
        optimizer, scheduler = make_optimizer(params, recipe, total)
        model, optimizer = accelerator.prepare(model, optimizer)
        configure_compile(accelerator.unwrap_model(model), recipe.train.compile)
        record["build_seconds"] = round(time.perf_counter() - t_build, 2)

        if path == "cached":
            cache, tk, lk = write_synthetic_cache(work / f"cache-rank{rank}", args, n=max(2, args.batch_size * 2))
            loader = lambda step: cached_batch(cache, tk, lk, recipe, args, step, rank, world)  # noqa: E731
        else:
            pipe, _ = encoders
            from cosmos_bench.train.dataset import frames_to_pixels

            clip = write_clip(work / "clip.mp4", args)
            in_memory = synthetic_frames(args) if clip is None else None
            record["mp4_decode"] = clip is not None or "omitted: PyAV (av) not installed"

            def loader(step):
                if clip is None:
                    frames = in_memory
                else:
                    from cosmos_bench.data.video import read_video

                    frames = read_video(clip).frames  # the seed decodes the mp4 every step (here in the prefetch thread)
                pixels = frames_to_pixels(frames, args.height, args.width)
                draws = [draw_sample(sample_rng(args.seed, 0, step * args.batch_size + j), latent_shape(args),
                                     sigma_config=recipe.sigma) for j in range(args.batch_size)]
                return {"pixels": pixels, "noise": torch.stack([torch.from_numpy(d.noise) for d in draws]),
                        "sigma": torch.tensor([d.sigma for d in draws], dtype=torch.float32),
                        "num_conditional": [d.num_conditional for d in draws]}

        tdtype = dtype
        scale = world / (args.batch_size * world)
        times, losses, phases = [], [], {"data_wait": [], "encode": []}
        prefetch = Prefetcher(loader, 0)
        for step in range(total):
            sync(device)
            t0 = time.perf_counter()
            batch = prefetch.get(step + 1 if step + 1 < total else None)
            t_data = time.perf_counter()
            if path == "cached":
                x0 = batch["x0"].to(device, non_blocking=True)
            else:
                mean, std = vae_stats(pipe.vae)
                raws = [encode_window(pipe.vae, batch["pixels"]) for _ in range(args.batch_size)]
                x0 = normalize_latents(torch.stack(raws), mean, std)
                if pipe.text_encoder is not None:
                    embeds = encode_caption(pipe, CAPTION, max_sequence_length=512)
                    batch["embeds"] = torch.stack([embeds] * args.batch_size)
                else:
                    width = TRANSFORMER_2B_CONFIG["crossattn_proj_in_channels"] if not args.small else 64
                    batch["embeds"] = torch.zeros((args.batch_size, 512, width), dtype=dtype, device=device)
                sync(device)
            t_enc = time.perf_counter()
            per = micro_step(model, x0, batch, accelerator=accelerator, transformer_dtype=tdtype,
                             mixed_precision=recipe.train.mixed_precision, loss_scale=scale)
            apply_update(params, optimizer, scheduler, accelerator=accelerator, max_grad_norm=1.0)
            loss = float(accelerator.reduce(per.sum().double(), reduction="sum")) / (args.batch_size * world)
            sync(device)
            t1 = time.perf_counter()
            losses.append(loss)
            if step >= warmup:
                times.append(t1 - t0)
                phases["data_wait"].append(t_data - t0)
                phases["encode"].append(t_enc - t_data)
            elif rank == 0 and not args.quiet:
                print(f"# {path} {checkpointing} {compile_mode}: warm-up step {step + 1}/{warmup}: {t1 - t0:.2f} s",
                      file=sys.stderr, flush=True)
        med = statistics.median(times)
        per_sample = med / args.batch_size
        record.update({
            "status": "ok",
            "seconds_per_step": round(med, 4),
            "seconds_per_sample_step": round(per_sample, 4),
            "sample_steps_per_second": round(args.batch_size * world / med, 4),
            "step_seconds": [round(t, 4) for t in times],
            "data_wait_seconds": round(statistics.median(phases["data_wait"]), 4),
            "encode_seconds": round(statistics.median(phases["encode"]), 4) if path == "encode" else None,
            "tflops_per_second": None if args.small else round(FLOPS_PER_SAMPLE_STEP / per_sample / 1e12, 1),
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "finite": bool(np.isfinite(losses).all()),
        })
    except torch.cuda.OutOfMemoryError as exc:
        record.update({"status": "oom", "error": str(exc).splitlines()[0][:300]})
    except Exception as exc:  # noqa: BLE001 - one broken configuration must not lose the others
        record.update({"status": "error", "error": f"{type(exc).__name__}: {str(exc)[:500]}",
                       "traceback": traceback.format_exc()[-2000:]})
    mem = memory(device)
    record.update(mem)
    if world > 1:
        peaks = torch.tensor([mem["peak_allocated_gib"] or 0.0, mem["peak_reserved_gib"] or 0.0], device=device)
        gathered = accelerator.gather(peaks.unsqueeze(0)).cpu().tolist()
        cuda = device.type == "cuda"
        record["peak_allocated_gib_per_process"] = [g[0] if cuda else None for g in gathered]
        record["peak_reserved_gib_per_process"] = [g[1] if cuda else None for g in gathered]
    del model, optimizer
    accelerator.free_memory()
    reset_memory(device)
    return record


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="tiny real components on the CPU (checks the script works)")
    p.add_argument("--checkpointing", default="full,selective", help="comma list: none, full, partial:N, selective, selective:N")
    p.add_argument("--compile", default="false", help="comma list: false, blocks, full")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the encode-every-step baseline (first configuration; single process only)")
    p.add_argument("--text-encoder", choices=("full", "none"), default="full", help="7B text encoder in the baseline")
    p.add_argument("--adapter", choices=("lora", "dora"), default="lora")
    p.add_argument("--rank", type=int, default=None, help="adapter rank (default 32; 4 with --small)")
    p.add_argument("--batch-size", type=int, default=1, help="samples per process and step")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 6; 2 with --small)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2, 3 with compile; 1 with --small)")
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--dtype", choices=("bfloat16", "float32"), default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, cpu with --small)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="append JSON lines here too")
    args = p.parse_args(argv)

    small = args.small
    if small:
        torch.set_num_threads(1)  # a shared CPU: tiny sizes gain nothing from threads, and lose much to oversubscription
    args.frames = args.frames or (9 if small else 93)
    args.height = args.height or (32 if small else 432)
    args.width = args.width or (48 if small else 768)
    args.rank = args.rank or (4 if small else 32)
    args.steps = args.steps or (2 if small else 6)
    args.dtype = args.dtype or ("float32" if small else "bfloat16")
    checkpointings = [c.strip() for c in args.checkpointing.split(",") if c.strip()]
    compiles = [c.strip() for c in args.compile.split(",") if c.strip()]
    device_opt = args.device or ("cpu" if small or not torch.cuda.is_available() else "auto")
    accelerator = make_accelerator(device_opt)
    device = accelerator.device
    main_process = accelerator.is_main_process
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    common = {
        "bench": "train",
        "size": f"{args.height}x{args.width}",
        "frames": args.frames,
        "latents": list(latent_shape(args)),
        "text_tokens": 512,
        "dtype": args.dtype,
        "adapter": args.adapter,
        "rank": args.rank,
        "small": small,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "versions": library_versions(),
    }
    work = Path(tempfile.mkdtemp(prefix="cosmos_bench_train_"))
    results = []
    def warmup_for(comp: str) -> int:
        if args.warmup is not None:
            return args.warmup
        return 1 if small else (3 if comp != "false" else 2)

    for comp in compiles:
        for ckpt in checkpointings:
            results.append(run_config(args, "cached", ckpt, comp, accelerator, common, work, warmup=warmup_for(comp)))
            emit(results[-1], args.out, main_process)

    baseline = None
    if args.baseline and accelerator.num_processes == 1:
        reset_memory(device)
        pipe, note = build_encoders(args, device, getattr(torch, args.dtype))
        baseline = run_config(args, "encode", checkpointings[0], compiles[0], accelerator, common, work,
                              warmup=warmup_for(compiles[0]), encoders=(pipe, note))
        baseline["text_encoder"] = "7B Qwen2.5-VL (random init)" if pipe.text_encoder is not None and not small else (
            "tiny" if small else "omitted")
        if note:
            baseline["note"] = note
        emit(baseline, args.out, main_process)
        del pipe

    ok = [r for r in results if r.get("status") == "ok"]
    summary: dict[str, Any] = {**common, "record": "summary", "processes": accelerator.num_processes}
    if ok:
        best = min(ok, key=lambda r: r["seconds_per_sample_step"])
        summary["best"] = {k: best[k] for k in ("checkpointing", "compile", "seconds_per_sample_step", "peak_allocated_gib")}
        if baseline and baseline.get("status") == "ok":
            summary["speedup_vs_encode_every_step"] = round(baseline["seconds_per_sample_step"] / best["seconds_per_sample_step"], 3)
            first = ok[0]
            summary["cached_vs_encode_same_config"] = {
                "checkpointing": first["checkpointing"], "compile": first["compile"],
                "cached_s": first["seconds_per_sample_step"], "encode_s": baseline["seconds_per_sample_step"],
                "cached_peak_gib": first["peak_allocated_gib"], "encode_peak_gib": baseline["peak_allocated_gib"],
            }
    summary["statuses"] = {f"{r['checkpointing']}|{r['compile']}": r.get("status") for r in results}
    emit(summary, args.out, main_process)
    accelerator.wait_for_everyone()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
