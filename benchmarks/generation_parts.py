#!/usr/bin/env python
"""Where a Cosmos Predict 2.5 video's time goes: the parts of one generation, timed one by one.

``generation_bench.py`` times whole videos; this script splits one into the pieces a speed-up can
target, at full size (random weights, bf16, 432x768, 93 frames), so each idea is weighed before it
is built:

- ``text``: ``encode_prompt`` for the prompt and the negative prompt (the 7B Qwen2.5-VL encoder);
- ``vae``: the Wan VAE encoding the pipeline's 93-frame conditioning video (the image then 92 zero
  frames) against encoding the image alone, with the difference of their first latent frame (the only
  one the pipeline keeps: the VAE is causal); decoding 24 latent frames eagerly and with the decoder
  compiled;
- ``dit``: one CFG denoising step as the pipeline runs it (two batch-1 transformer calls) against one
  batch-2 call, eager and compiled, with a profile of the compiled step split into attention, matrix
  products, Triton-fused element-wise kernels and the rest, and the SM clock and board power while it
  runs. Rewrites can be added to a variant: ``+share0`` (block 0's self-attention once for both guidance
  branches) and ``+gelu_epilogue`` (the feed-forward's first matrix product with GELU in its epilogue),
  the two halves of ``fast_kernels: true`` (:mod:`cosmos_bench.models.dit_rewrites`), and the experiment
  ``+opaque_sdpa`` (attention as an op the compiler cannot see into);
- ``sdpa``: cuDNN attention alone at the self-attention's size.

Every result is one JSON line (stdout, and appended to ``--out``); a short table closes the run.

    python benchmarks/generation_parts.py --parts text,vae,dit --out benchmarks/parts.jsonl
    .venv/bin/python benchmarks/generation_parts.py --small      # CPU check that the script runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.generation_bench import PROMPT, build_full_pipeline, compiled_graphs, synchronize  # noqa: E402
from benchmarks.gpu_monitor import GpuMonitor  # noqa: E402
from cosmos_bench.models import noise  # noqa: E402
from cosmos_bench.models.dit_rewrites import LinearGeluEpilogue, SharedGuidanceSelfAttention  # noqa: E402
from cosmos_bench.models.tiny import build_tiny_cosmos_pipeline  # noqa: E402
from cosmos_bench.models.vae_compile import CompiledDecoder, set_decoder_compiled  # noqa: E402


def timed(fn: Callable[[], Any], device: str, repeats: int, warmup: int = 1) -> tuple[float, Any]:
    """Median seconds of ``fn`` after ``warmup`` calls (synchronised host clock), and its last result."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def kernel_breakdown(fn: Callable[[], Any], device: str) -> dict[str, float]:
    """Device milliseconds of one call of ``fn`` by kernel family (names as CUDA reports them)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    families = {"attention": 0.0, "matmul": 0.0, "triton": 0.0, "other": 0.0}
    top: dict[str, float] = {}
    for ev in prof.key_averages():
        us = getattr(ev, "device_time_total", None) or getattr(ev, "cuda_time_total", 0.0)
        if not us or ev.key.startswith(("aten::", "cuda", "Torch-Compiled", "CompiledFunction")):
            continue
        name = ev.key.lower()
        if any(s in name for s in ("fmha", "flash", "cudnn_generated", "attention", "sdpa")):
            fam = "attention"
        elif any(s in name for s in ("gemm", "cutlass", "xmma", "nvjet", "matmul", "wgmma", "conv", "fprop")):
            fam = "matmul"
        elif "triton" in name:
            fam = "triton"
        else:
            fam = "other"
        families[fam] += us / 1000.0
        top[ev.key[:90]] = top.get(ev.key[:90], 0.0) + us / 1000.0
    out = {k: round(v, 2) for k, v in families.items()}
    out["top"] = {k: round(v, 2) for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:12]}
    return out


def dit_inputs(pipe, args, device: str, batch: int) -> dict[str, torch.Tensor]:
    """The transformer's arguments as the pipeline builds them for an image-conditioned video."""
    dtype = pipe.transformer.dtype
    c, t, h, w = noise.latent_shape(args.frames, args.height, args.width)
    g = torch.Generator().manual_seed(args.seed)
    latents = torch.randn((batch, c, t, h, w), generator=g).to(device, dtype)
    mask = torch.zeros((batch, 1, t, h, w), device=device, dtype=dtype)
    mask[:, :, :1] = 1
    timestep = torch.full((batch, 1, t, 1, 1), 0.7, device=device, dtype=torch.float32)
    timestep[:, :, :1] = 0.0001
    width = pipe.transformer.config.crossattn_proj_in_channels if pipe.transformer.config.use_crossattn_projection else pipe.transformer.config.text_embed_dim
    embeds = torch.randn((batch, args.text_tokens, width), generator=g).to(device, dtype)
    return {
        "hidden_states": latents,
        "condition_mask": mask,
        "timestep": timestep,
        "encoder_hidden_states": embeds,
        "padding_mask": torch.zeros((1, 1, args.height, args.width), device=device, dtype=dtype),
    }


_EAGER_SDPA = torch.nn.functional.scaled_dot_product_attention


@torch.library.custom_op("cosmos_bench_parts::opaque_sdpa", mutates_args=())
def opaque_sdpa(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Attention as an op torch.compile cannot see into: the compiled graph calls exactly what eager
    mode calls. If the attention kernel is still slower inside the compiled step, the cause is the
    GPU's state (clock, power), not how the graph calls it. Experiment."""
    return _EAGER_SDPA(query, key, value)


@opaque_sdpa.register_fake
def _(query, key, value):
    return torch.empty_like(query)  # cuDNN and flash attention allocate the output in the query's layout


def _sdpa_through_opaque_op(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if attn_mask is None and dropout_p == 0.0 and not is_causal and scale is None and not enable_gqa and query.shape[-1] == value.shape[-1]:
        return opaque_sdpa(query, key, value)
    return _EAGER_SDPA(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)


def apply_experiments(tr, flags: set[str]) -> Callable[[], None]:
    """Switch on experimental rewrites of the transformer; returns the function that undoes them."""
    undo: list[Callable[[], None]] = []
    # the generator's own rewrites (fast_kernels: true), one at a time
    rewrites = []
    if "share0" in flags:
        rewrites.append((tr.transformer_blocks[0].attn1, SharedGuidanceSelfAttention))
    if "gelu_epilogue" in flags:
        rewrites += [(block.ff.net[0], LinearGeluEpilogue) for block in tr.transformer_blocks]
    for module, wrapper in rewrites:
        module.forward = wrapper(module)
        undo.append(lambda module=module: module.__dict__.pop("forward", None))
    if "opaque_sdpa" in flags:
        torch.nn.functional.scaled_dot_product_attention = _sdpa_through_opaque_op
        undo.append(lambda: setattr(torch.nn.functional, "scaled_dot_product_attention", _EAGER_SDPA))
    known = {"share0", "gelu_epilogue", "opaque_sdpa"}
    if flags - known:
        raise SystemExit(f"unknown experiment(s) {sorted(flags - known)}; known: {sorted(known)}")

    def restore() -> None:
        for fn in reversed(undo):
            fn()

    return restore


def part_dit(pipe, args, device: str) -> Iterator[dict[str, Any]]:
    """CFG steps for each ``COMPILE:ATTENTION_BACKEND[+EXPERIMENT...]`` variant (e.g. ``default:_native_cudnn``,
    ``default:native+share0+gelu_epilogue``), one record per variant as soon as it is measured."""
    tr = pipe.transformer
    one = dit_inputs(pipe, args, device, 1)
    two = {k: (v if k == "padding_mask" else torch.cat([v, v])) for k, v in one.items()}
    two["encoder_hidden_states"][1:] = -two["encoder_hidden_states"][1:]  # a different "negative" prompt
    neg = {**one, "encoder_hidden_states": two["encoder_hidden_states"][1:].contiguous()}

    @torch.no_grad()
    def cfg_two_calls():
        a = tr(**one, return_dict=False)[0]
        b = tr(**neg, return_dict=False)[0]
        return torch.cat([a, b])

    @torch.no_grad()
    def cfg_one_call():
        return tr(**two, return_dict=False)[0]

    shapes = {"two": cfg_two_calls, "one": cfg_one_call}
    ref = None
    eager = tr.forward
    for variant in args.dit_variants:
        comp, _, rest = variant.partition(":")
        backend, *experiments = (rest or "native").split("+")
        restore = apply_experiments(tr, set(experiments))
        tr.set_attention_backend(backend)
        modes = {} if comp in ("eager", "default") else {"mode": comp}
        tr.forward = eager if comp == "eager" else torch.compile(eager, dynamic=False, **modes)
        rec: dict[str, Any] = {"record": "dit", "compile": comp, "attention_backend": backend, "experiments": experiments}
        t0 = time.perf_counter()
        for cfg in args.cfg:
            shapes[cfg]()
        rec["warmup_seconds"] = round(time.perf_counter() - t0, 1)
        for cfg in args.cfg:
            with GpuMonitor(device) as monitor:
                secs, out = timed(shapes[cfg], device, args.repeats)
            rec[f"cfg_step_{cfg}_s"] = round(secs, 4)
            if monitor.summary:
                rec[f"gpu_{cfg}"] = monitor.summary
            ref = out if ref is None else ref
            rec[f"rel_diff_{cfg}_vs_first"] = rel_diff(out, ref)
        if device.startswith("cuda") and args.profile:
            rec["kernels_ms"] = kernel_breakdown(shapes[args.cfg[-1]], device)
        restore()
        tr.forward = eager
        tr.set_attention_backend("native")
        yield rec


def part_sdpa(pipe, args, device: str) -> Iterator[dict[str, Any]]:
    """cuDNN attention at the DiT's self-attention size, inputs heads-major vs tokens-major in memory."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    b, h, d = 2, 16, 128
    n = 31104 if not args.small else 256
    g = torch.Generator().manual_seed(args.seed)
    base = [torch.randn((b, n, h, d), generator=g).to(device, torch.bfloat16) for _ in range(3)]
    layouts = {
        "heads_major": [x.transpose(1, 2).contiguous() for x in base],  # (B, H, N, D) contiguous
        "tokens_major": [x.transpose(1, 2) for x in base],  # (B, N, H, D) in memory, viewed as (B, H, N, D)
    }
    backend = SDPBackend.CUDNN_ATTENTION if device.startswith("cuda") else SDPBackend.MATH
    results: dict[str, list[float]] = {k: [] for k in layouts}
    with torch.no_grad(), sdpa_kernel(backend):
        for _ in range(3):  # interleaved rounds, so clock drift hits both layouts alike
            for name, (q, k, v) in layouts.items():
                secs, _ = timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), device, args.repeats)
                results[name].append(secs)
    flops = 4 * b * h * n * n * d
    rec: dict[str, Any] = {"record": "sdpa", "shape_bhnd": [b, h, n, d]}
    for name, secs in results.items():
        med = statistics.median(secs)
        rec[f"{name}_ms"] = round(med * 1000, 2)
        rec[f"{name}_tflops"] = round(flops / med / 1e12, 1)
    yield rec


def conv_layout(module: torch.nn.Module, memory_format: torch.memory_format) -> None:
    for m in module.modules():
        if isinstance(m, torch.nn.Conv3d):
            m.weight.data = m.weight.data.contiguous(memory_format=memory_format)


def part_vae(pipe, args, device: str) -> Iterator[dict[str, Any]]:
    """The eager encode/decode record, then one record per compile mode: a mode can compile for many
    minutes (max-autotune did not finish in 8 on an H200), and a run stopped there keeps what came before."""
    vae = pipe.vae
    g = torch.Generator().manual_seed(args.seed)
    image = torch.rand((1, 3, 1, args.height, args.width), generator=g) * 2 - 1
    video = torch.cat([image, torch.zeros((1, 3, args.frames - 1, args.height, args.width))], dim=2)
    video, image = video.to(device, vae.dtype), image.to(device, vae.dtype)

    with torch.no_grad():
        s_full, lat_full = timed(lambda: vae.encode(video).latent_dist.mode(), device, args.repeats)
        s_first, lat_first = timed(lambda: vae.encode(image).latent_dist.mode(), device, args.repeats)
        latents = lat_full.clone()
        s_dec, dec = timed(lambda: vae.decode(latents, return_dict=False)[0], device, args.repeats)
        rec = {
            "record": "vae",
            "encode_full_video_s": round(s_full, 4),
            "encode_first_frame_s": round(s_first, 4),
            "first_latent_frame_max_abs_diff": float((lat_full[:, :, :1].float() - lat_first.float()).abs().max()),
            "decode_eager_s": round(s_dec, 4),
        }
        if device.startswith("cuda") and args.profile:
            rec["kernels_ms"] = kernel_breakdown(lambda: vae.decode(latents, return_dict=False), device)
        if device.startswith("cuda"):
            torch.backends.cudnn.benchmark = True
            s_bench, bench_dec = timed(lambda: vae.decode(latents, return_dict=False)[0], device, args.repeats)
            torch.backends.cudnn.benchmark = False
            rec["decode_cudnn_benchmark_s"] = round(s_bench, 4)
            rec["decode_cudnn_benchmark_rel_diff"] = rel_diff(bench_dec, dec)
            conv_layout(vae, torch.channels_last_3d)  # cuDNN's preferred layout for conv3d on Hopper
            s_cl, cl_dec = timed(lambda: vae.decode(latents, return_dict=False)[0], device, args.repeats)
            rec["decode_channels_last_s"] = round(s_cl, 4)
            rec["decode_channels_last_rel_diff"] = rel_diff(cl_dec, dec)
            conv_layout(vae, torch.contiguous_format)
        yield rec
        for mode in args.vae_compile_modes:
            compiled: dict[str, Any] = {"record": "vae_compiled", "mode": mode}
            try:
                compiled.update(compiled_decodes(vae, latents, dec, mode, device, args.repeats))
            except Exception as exc:  # e.g. reduce-overhead's CUDA graphs and the decoder's cached tensors
                compiled["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
            yield compiled


def compiled_decodes(vae, latents, eager_out, mode: str, device: str, repeats: int) -> dict[str, Any]:
    """``compile_vae: MODE`` as the generator runs it (:class:`CompiledDecoder`): each decode timed on
    its own with the graphs it compiled, so warm-up and steady state are told apart."""
    set_decoder_compiled(vae, CompiledDecoder(vae.decoder, mode))
    seconds, graphs = [], []
    try:
        for _ in range(2 + max(repeats, 1)):
            before = compiled_graphs()
            synchronize(device)
            t0 = time.perf_counter()
            out = vae.decode(latents, return_dict=False)[0]
            synchronize(device)
            seconds.append(round(time.perf_counter() - t0, 4))
            graphs.append(compiled_graphs() - before)
    finally:
        set_decoder_compiled(vae, None)
    steady = seconds[2:]
    return {"seconds_each": seconds, "graphs_compiled_each": graphs, "steady_s": statistics.median(steady),
            "rel_diff_vs_eager": rel_diff(out, eager_out)}


def part_text(pipe, args, device: str) -> Iterator[dict[str, Any]]:
    def both():
        return pipe.encode_prompt(prompt=PROMPT, negative_prompt=None, do_classifier_free_guidance=True, device=device)

    with torch.no_grad():
        s, _ = timed(both, device, args.repeats)
    yield {"record": "text", "encode_prompt_and_negative_s": round(s, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="tiny random pipeline on the CPU (checks the script runs)")
    p.add_argument("--parts", default="text,vae,dit")
    p.add_argument(
        "--dit-variants",
        default="eager:native,default:native",
        help="comma list of COMPILE:ATTENTION_BACKEND (compile: eager or a torch.compile mode; backend: a diffusers attention backend)",
    )
    p.add_argument("--cfg", default="two,one", help="two (two batch-1 calls, as the pipeline) and/or one (one batch-2 call)")
    p.add_argument("--vae-compile-modes", default="default",
                   help="comma list of torch.compile modes to time the VAE decoder in (compile_vae: MODE); '' for none")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    args.dit_variants = [c for c in args.dit_variants.split(",") if c]
    args.cfg = [c for c in args.cfg.split(",") if c]
    args.vae_compile_modes = [c for c in args.vae_compile_modes.split(",") if c]
    parts = [x for x in args.parts.split(",") if x]
    args.frames, args.height, args.width = (9, 32, 48) if args.small else (93, 432, 768)
    device = "cpu" if args.small or not torch.cuda.is_available() else "cuda"
    t0 = time.perf_counter()
    if args.small:
        pipe = build_tiny_cosmos_pipeline(args.seed)
        args.text_tokens = 16
    else:
        pipe = build_full_pipeline(device, torch.bfloat16, "full" if "text" in parts else "embeds", args.seed)
        args.text_tokens = 512
    pipe.set_progress_bar_config(disable=True)
    common = {"bench": "generation_parts", "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__, "small": args.small}
    records: list[dict[str, Any]] = [{**common, "record": "setup", "build_seconds": round(time.perf_counter() - t0, 1)}]
    runners = {"text": part_text, "vae": part_vae, "dit": part_dit, "sdpa": part_sdpa}
    for part in parts:
        for rec in runners[part](pipe, args, device):
            records.append({**common, **rec})
            line = json.dumps(records[-1])
            print(line, flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
    for rec in records[1:]:
        print({k: v for k, v in rec.items() if k not in common and k != "kernels_ms"})
        if "kernels_ms" in rec:
            print("   kernels ms:", {k: v for k, v in rec["kernels_ms"].items() if k != "top"})
            for name, ms in rec["kernels_ms"]["top"].items():
                print(f"      {ms:9.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
