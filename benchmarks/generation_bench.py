#!/usr/bin/env python
"""Generation speed: seconds per video and peak memory of Cosmos Predict 2.5 candidates.

Full size (the default, for one GPU): the real diffusers classes with random weights at the real
sizes -- ``CosmosTransformer3DModel`` with the 2B config, the 7B Qwen2.5-VL text encoder (or, with
``--text-encoder embeds``, random prompt embeddings of the real shape and no text encoder), the
Wan 2.1 ``AutoencoderKLWan`` -- in bf16, 432x768, 93 frames, 36 steps, guidance 7 (CFG: two DiT
passes per step). Candidates:

- ``base``: the plain pipeline call (the reference every speed-up is measured against);
- ``lora``: a rank-32 LoRA on to_q/to_k/to_v/to_out.0/ff.net.0.proj/ff.net.2, saved as
  ``pytorch_lora_weights.safetensors`` and loaded with ``pipe.load_lora_weights`` (unfused);
- ``fused``: the same adapter after ``pipe.fuse_lora()`` and removal of the LoRA layers;
- ``fast``: the base through ``sampler: fast`` (``cosmos_bench.models.cosmos_sampler``: cached prompt
  embeddings, only the conditioning frame VAE-encoded, both guidance branches in one batch-2 call);

each ``eager`` and with ``torch.compile`` of the transformer (``--compile eager,default``; any
torch.compile mode name works; ``--compile-vae`` compiles the VAE decoder too, ``--fast-kernels``
adds ``fast_kernels: true`` to the ``fast`` mode). Adapter switching goes through cosmos_bench's ``LoadedBase``, the
code the generator uses. Every record is one JSON line (stdout, and appended to ``--out``)::

    {"record": "run", "mode": "fused", "compile": "default", "seconds_per_video": ..., "seconds_per_step": ...,
     "fixed_seconds": ..., "seconds_per_video_at_36": ..., "peak_memory_gib": ..., "max_abs_diff": {...}, ...}

``seconds_per_step`` is the median denoising step (both CFG passes); ``fixed_seconds`` the rest
(text encoding, VAE encode of the first frame, VAE decode); ``seconds_per_video_at_36`` = fixed +
36 x step, so runs with fewer ``--steps`` (to fit a time limit) still give the 36-step figure.
``max_abs_diff`` compares decoded videos (floats in [0, 1]) with the same candidate eager and with
``lora`` for ``fused``. A ``noise`` record checks that the initial latents moved to the device are
bit-identical to the CPU ones. A ``summary`` record closes each invocation.

Run here on the CPU at tiny size (a check that the script works, not a measurement)::

    .venv/bin/python benchmarks/generation_bench.py --small

On the GPU machine (diffusers and peft are not installed there: carry their wheels)::

    pip install --no-deps .cache/wheels/*.whl
    python benchmarks/generation_bench.py --compile eager --out benchmarks/generation.jsonl
    python benchmarks/generation_bench.py --compile default --out benchmarks/generation.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.gpu_monitor import GpuMonitor, card_limits  # noqa: E402
from cosmos_bench.models import noise  # noqa: E402
from cosmos_bench.models.cosmos_sampler import PromptCache, default_negative_prompt, sample_video  # noqa: E402
from cosmos_bench.models.base import file_sha256  # noqa: E402
from cosmos_bench.models.cosmos import (  # noqa: E402
    ADAPTER_FILE,
    LORA_TARGET_MODULES,
    TRANSFORMER_2B_CONFIG,
    AdapterChoice,
    BaseKey,
    LoadedBase,
    NoSafetyChecker,
    library_versions,
    save_adapter,
)
from cosmos_bench.models.tiny import (  # noqa: E402
    add_random_adapter,
    build_scheduler,
    build_tiny_cosmos_pipeline,
    build_tiny_tokenizer,
)

PROMPT = (
    "A humanoid robot stands at a kitchen counter, picks up a red cup with its right hand and places it "
    "on the shelf, while the camera stays still."
)


@contextlib.contextmanager
def default_device_dtype(device: str, dtype: torch.dtype):
    """Build modules directly on ``device`` in ``dtype`` (a 7B random init on the CPU takes minutes)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(old)


def qwen25_vl_7b_config():
    """Qwen2.5-VL-7B (Cosmos-Reason1-7B, Cosmos Predict 2.5's text encoder) architecture."""
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "max_position_embeddings": 128000,
            "rms_norm_eps": 1e-6,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [16, 24, 24]},
        },
        vision_config={
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "out_hidden_size": 3584,
            "fullatt_block_indexes": [7, 15, 23, 31],
            "window_size": 112,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        vocab_size=152064,
    )


def build_full_pipeline(device: str, dtype: torch.dtype, text_encoder: str, seed: int):
    from diffusers import AutoencoderKLWan, Cosmos2_5_PredictBasePipeline, CosmosTransformer3DModel
    from transformers import Qwen2_5_VLForConditionalGeneration

    from cosmos_bench.models.tiny import build_tiny_text_encoder

    torch.manual_seed(seed)
    with default_device_dtype(device, dtype):
        transformer = CosmosTransformer3DModel(**TRANSFORMER_2B_CONFIG).eval()
        vae = AutoencoderKLWan().eval()  # diffusers' defaults are the Wan 2.1 VAE
        if text_encoder == "full":
            encoder = Qwen2_5_VLForConditionalGeneration(qwen25_vl_7b_config()).eval()
        else:  # never called: prompt embeddings are passed in
            encoder = build_tiny_text_encoder(seed)
    return Cosmos2_5_PredictBasePipeline(
        text_encoder=encoder,
        tokenizer=build_tiny_tokenizer(),  # ids are valid in any vocabulary; 512 padded tokens either way
        transformer=transformer,
        vae=vae,
        scheduler=build_scheduler(),
        safety_checker=NoSafetyChecker(),
    )


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def peak_memory_gib(device: str) -> float | None:
    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return None


def run_video(pipe, args, device: str, image, embeds, steps: int) -> tuple[np.ndarray, dict[str, Any]]:
    """One video; returns decoded frames (float32 in [0, 1]) and timings."""
    shape = noise.latent_shape(args.frames, args.height, args.width)
    latents = noise.initial_latents(args.seed, shape, device=device)
    marks: list[float] = []

    def on_step(_pipe, _i, _t, kwargs):
        synchronize(device)
        marks.append(time.perf_counter())
        return kwargs

    call: dict[str, Any] = dict(
        image=image,
        height=args.height,
        width=args.width,
        num_frames=args.frames,
        num_inference_steps=steps,
        guidance_scale=args.guidance,
        latents=latents,
        output_type="np",
        callback_on_step_end=on_step,
    )
    if embeds is None:
        call["prompt"] = PROMPT
    else:
        call["prompt_embeds"], call["negative_prompt_embeds"] = embeds
    synchronize(device)
    t0 = time.perf_counter()
    out = pipe(**call)
    synchronize(device)
    total = time.perf_counter() - t0
    frames = np.asarray(out.frames[0], dtype=np.float32)
    return frames, step_timings(total, marks, frames)


def run_fast_video(pipe, args, device: str, image, cache: PromptCache, steps: int) -> tuple[np.ndarray, dict[str, Any]]:
    """One video through the fast sampler; same timings as :func:`run_video`."""
    shape = noise.latent_shape(args.frames, args.height, args.width)
    latents = noise.initial_latents(args.seed, shape, device=device)
    marks: list[float] = []

    def on_step(_i):
        synchronize(device)
        marks.append(time.perf_counter())

    synchronize(device)
    t0 = time.perf_counter()
    frames = sample_video(
        pipe, prompt=PROMPT, negative_prompt=None, height=args.height, width=args.width, num_frames=args.frames,
        steps=steps, guidance=args.guidance, latents=latents, max_sequence_length=512, image=image,
        cache=cache, batch_cfg=True, fast_kernels=args.fast_kernels, on_step=on_step,
    )
    synchronize(device)
    total = time.perf_counter() - t0
    return frames.astype(np.float32) / 255.0, step_timings(total, marks, frames)


def step_timings(total: float, marks: list[float], frames: np.ndarray) -> dict[str, Any]:
    step_times = [b - a for a, b in zip(marks, marks[1:])]
    step = statistics.median(step_times) if step_times else total
    fixed = total - (marks[-1] - marks[0] + step) if marks else 0.0
    return {
        "seconds_per_video": round(total, 4),
        "seconds_per_step": round(step, 4),
        "fixed_seconds": round(fixed, 4),
        "seconds_per_video_at_36": round(fixed + 36 * step, 4),
        "finite": bool(np.isfinite(frames).all()),
    }


def noise_check(device: str, args) -> dict[str, Any]:
    """Initial latents on the device are bit-identical to the CPU ones (float32 and bf16)."""
    shape = noise.latent_shape(args.frames, args.height, args.width)
    out: dict[str, Any] = {"record": "noise", "device": device, "shape": [1, *shape]}
    for name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        cpu = noise.initial_latents(args.seed, shape, dtype=dt)
        dev = noise.initial_latents(args.seed, shape, device=device, dtype=dt)
        out[f"{name}_identical"] = bool(torch.equal(cpu, dev.cpu()))
        out[f"{name}_sha256"] = hashlib.sha256(cpu.view(torch.uint8).numpy().tobytes() if dt == torch.bfloat16 else cpu.numpy().tobytes()).hexdigest()[:16]
    return out


def compiled_graphs() -> int:
    """Graphs torch.compile has built in this process so far."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def emit(record: dict[str, Any], out_path: Path | None) -> None:
    line = json.dumps(record, sort_keys=False)
    print(line, flush=True)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def max_diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max": round(float(d.max()), 6), "mean": round(float(d.mean()), 7)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="tiny random pipeline on the CPU (checks the script works)")
    p.add_argument("--modes", default="base,lora,fused", help="comma list of base, lora, fused, fast")
    p.add_argument("--skip", default="", help="comma list of MODE/COMPILE runs to leave out, e.g. base/default")
    p.add_argument("--compile", default="eager,default", help="comma list: eager and/or torch.compile modes")
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="denoising steps of the timed videos (default 36)")
    p.add_argument("--warmup-steps", type=int, default=2, help="steps of each warm-up video (compiles the graphs)")
    p.add_argument("--warmup-videos", type=int, default=1, help="untimed videos before the timed ones")
    p.add_argument("--compile-vae", nargs="?", const="default", default=None, metavar="MODE",
                   help="with a compile mode, also compile the VAE decoder (compile_vae: MODE; default mode if none given)")
    p.add_argument("--fast-kernels", action="store_true", help="fast mode with fast_kernels: true (dit_rewrites)")
    p.add_argument("--repeats", type=int, default=1, help="timed videos per candidate (median reported)")
    p.add_argument("--guidance", type=float, default=7.0)
    p.add_argument("--rank", type=int, default=None, help="LoRA rank (default 32; 4 with --small)")
    p.add_argument("--text-encoder", choices=("full", "embeds"), default="full")
    p.add_argument("--dtype", choices=("bfloat16", "float32"), default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="append JSON lines here too")
    args = p.parse_args(argv)

    small = args.small
    args.frames = args.frames or (9 if small else 93)
    args.height = args.height or (32 if small else 432)
    args.width = args.width or (48 if small else 768)
    args.steps = args.steps or (4 if small else 36)
    args.rank = args.rank or (4 if small else 32)
    dtype_name = args.dtype or ("float32" if small else "bfloat16")
    dtype = getattr(torch, dtype_name)
    device = args.device or ("cuda" if torch.cuda.is_available() and not small else "cpu")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    compiles = [c.strip() for c in args.compile.split(",") if c.strip()]
    bad = set(modes) - {"base", "lora", "fused", "fast"}
    if bad:
        p.error(f"unknown mode(s) {sorted(bad)}")
    if "fused" in modes and "lora" not in modes:
        modes.insert(modes.index("fused"), "lora")  # fused is compared with lora
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True

    common = {
        "bench": "generation",
        "size": f"{args.height}x{args.width}",
        "frames": args.frames,
        "steps": args.steps,
        "dtype": dtype_name,
        "rank": args.rank,
        "text_encoder": "tiny" if small else args.text_encoder,
        "small": small,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu",
        "versions": library_versions(),
    }
    emit({**common, **noise_check(device, args)}, args.out)

    t0 = time.perf_counter()
    if small:
        pipe = build_tiny_cosmos_pipeline(args.seed)
        if dtype != torch.float32 or device != "cpu":
            pipe.to(device=device, dtype=dtype)
    else:
        pipe = build_full_pipeline(device, dtype, args.text_encoder, args.seed)
    pipe.set_progress_bar_config(disable=True)
    build_seconds = time.perf_counter() - t0

    embeds = None
    if not small and args.text_encoder == "embeds":
        g = torch.Generator().manual_seed(args.seed)
        width = TRANSFORMER_2B_CONFIG["crossattn_proj_in_channels"]
        embeds = tuple(torch.randn((1, 512, width), generator=g).to(device=device, dtype=dtype) for _ in range(2))
    rng = np.random.default_rng(args.seed)
    from PIL import Image

    image = Image.fromarray((rng.random((args.height, args.width, 3)) * 255).astype(np.uint8))

    # The adapter goes through the same files and loader the generator uses.
    tmp = Path(tempfile.mkdtemp(prefix="cosmos_bench_adapter_"))
    add_random_adapter(pipe.transformer, rank=args.rank, seed=args.seed + 100, scale=0.02, target_modules=LORA_TARGET_MODULES)
    adapter_file = save_adapter(pipe.transformer, tmp)
    trainable = sum(p.numel() for n, p in pipe.transformer.named_parameters() if "lora_" in n)
    pipe.transformer.unload_lora()  # back to the plain base; the adapter now lives only in the file
    sha = file_sha256(adapter_file, use_cache=False)
    choices = {
        "base": None,
        "fast": None,
        "lora": AdapterChoice(file=tmp / ADAPTER_FILE, sha256=sha, fuse=False, scale=1.0),
        "fused": AdapterChoice(file=tmp / ADAPTER_FILE, sha256=sha, fuse=True, scale=1.0),
    }
    key = BaseKey(model="random-init", revision=None, dtype=dtype_name, device=device, safety_checker="none", local_files_only=True)
    loaded = LoadedBase(key, pipe)
    emit({**common, "record": "setup", "build_seconds": round(build_seconds, 2), "lora_parameters": trainable, "device": device,
          **card_limits(device)}, args.out)

    outputs: dict[tuple[str, str], np.ndarray] = {}
    results: list[dict[str, Any]] = []
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    prompts = PromptCache()
    for comp in compiles:
        for mode in modes:
            if f"{mode}/{comp}" in skip:
                continue
            loaded.activate(choices[mode])
            loaded.set_compile(None if comp == "eager" else comp)  # what `compile:` in the models YAML does
            loaded.set_compile_vae(args.compile_vae if comp != "eager" else None)  # and `compile_vae:`

            def one_video(steps: int):
                if mode == "fast":
                    if embeds is not None:  # no text encoder: the cache holds the random embeddings
                        prompts.put(PROMPT, 512, embeds[0])
                        prompts.put(default_negative_prompt(pipe), 512, embeds[1])
                    return run_fast_video(pipe, args, device, image, prompts, steps)
                return run_video(pipe, args, device, image, embeds, steps)

            t_w = time.perf_counter()
            for _ in range(max(args.warmup_videos, 1)):
                one_video(max(args.warmup_steps, 2))
            warmup = time.perf_counter() - t_w
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats(device)
            timings = []
            frames = None
            graphs_before = compiled_graphs()
            with GpuMonitor(device) as monitor:  # at the power limit the clock, not the kernels, sets the pace
                for _ in range(max(args.repeats, 1)):
                    frames_i, timing = one_video(args.steps)
                    frames = frames if frames is not None else frames_i
                    timings.append(timing)
            compiled_while_timed = compiled_graphs() - graphs_before
            timing = {k: (round(statistics.median(t[k] for t in timings), 4) if k != "finite" else all(t[k] for t in timings)) for k in timings[0]}
            outputs[(mode, comp)] = frames
            diffs: dict[str, Any] = {}
            if comp != "eager" and (mode, "eager") in outputs:
                diffs["vs_eager"] = max_diff(frames, outputs[(mode, "eager")])
            if mode == "fused" and ("lora", comp) in outputs:
                diffs["vs_lora_unfused"] = max_diff(frames, outputs[("lora", comp)])
            if mode != "base" and ("base", comp) in outputs:
                diffs["vs_base"] = max_diff(frames, outputs[("base", comp)])
            if (mode, comp) != ("base", "eager") and ("base", "eager") in outputs:
                diffs["vs_plain_pipeline"] = max_diff(frames, outputs[("base", "eager")])
            record = {
                **common,
                "record": "run",
                "mode": mode,
                "compile": comp,
                **timing,
                "repeats": len(timings),
                "warmup_seconds": round(warmup, 2),
                "compile_vae": args.compile_vae if comp != "eager" else None,
                "fast_kernels": args.fast_kernels and mode == "fast",
                "graphs_compiled_while_timed": compiled_while_timed,  # > 0: the timing includes compilation
                "peak_memory_gib": peak_memory_gib(device),
                **({"gpu": monitor.summary} if monitor.summary else {}),
                "max_abs_diff": diffs,
            }
            emit(record, args.out)
            results.append(record)

    by = {(r["mode"], r["compile"]): r for r in results}
    summary: dict[str, Any] = {**common, "record": "summary"}
    ref = by.get(("base", "eager"))
    if ref:
        summary["plain_pipeline_seconds_per_video_at_36"] = ref["seconds_per_video_at_36"]
        summary["speedup_vs_plain"] = {
            f"{m}/{c}": round(ref["seconds_per_video_at_36"] / r["seconds_per_video_at_36"], 3) for (m, c), r in by.items()
        }
    for comp in compiles:
        if ("fused", comp) in by and ("base", comp) in by:
            summary[f"fused_over_base_{comp}"] = round(by[("fused", comp)]["seconds_per_video_at_36"] / by[("base", comp)]["seconds_per_video_at_36"], 4)
    emit(summary, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
