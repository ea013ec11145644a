"""LoRA/DoRA fine-tuning of the Cosmos Predict 2.5 DiT: the library call behind ``cosmos-bench train``.

::

    from cosmos_bench.train import load_recipe, train
    result = train(load_recipe("trainer/dora32.yaml"), data="datasets/gr1/train", out="runs/dora32")
    result.adapter        # runs/dora32/pytorch_lora_weights.safetensors (pipe.load_lora_weights reads it)

One run, in order:

1. **Cache** (:mod:`cosmos_bench.train.cache`): the pipeline without its DiT encodes every caption with
   its own ``encode_prompt`` and every window the seeded :class:`SamplePlan` will use with its VAE;
   processes split the work. Then the text encoder and VAE are released.
2. **Model**: ``CosmosTransformer3DModel.from_pretrained(..., subfolder="transformer")`` in
   ``model.dtype`` (bf16), frozen; peft ``LoraConfig(r, lora_alpha, target_modules, use_dora)`` added with
   ``add_adapter`` (seeded, so every process builds the same adapter); the adapter parameters are cast
   to float32. Gradient checkpointing ``none | full | partial:N | selective[:N]`` (``selective``
   recomputes each block but keeps its self-attention output: the attention, two thirds of the
   block's FLOPs at 31k tokens, is not redone in the backward pass), optional ``torch.compile`` of
   each block or of the whole DiT.
3. **Loop** under ``accelerate`` (DDP over processes; one CPU process works the same way): AdamW over
   the adapter parameters only, linear warm-up then cosine/linear decay, gradient accumulation,
   gradient clipping, bf16 autocast. Each optimiser step consumes one *global batch* =
   ``batch_size x processes x gradient_accumulation_steps`` samples of the plan; sample ``j`` of a
   step goes to micro-step ``j // (batch_size x processes)`` and process ``(j // batch_size) % processes``.
   Every sample's conditioning, sigma and noise come from ``(seed, epoch, position)``
   (:func:`~cosmos_bench.train.flow.sample_rng`), and the loss is scaled so that the summed gradient
   is the mean over the global batch, so any process count with the same global batch trains the
   same adapter (up to float summation order).
4. **Checkpoints** every ``checkpointing_epochs`` (and/or ``checkpointing_steps``) and at the end of
   each invocation: ``checkpoints/step-XXXXXXXX/`` with ``pytorch_lora_weights.safetensors`` (diffusers
   format) and ``trainer_state.pt`` (adapter tensors, optimizer, scheduler, step, RNG states, recipe
   fingerprint), written to a temporary folder and renamed. ``resume=True`` continues from the newest
   one; since all randomness is a function of (seed, epoch, position), a killed and resumed run ends
   with the same adapter as an uninterrupted one.

Outputs in ``out``: ``pytorch_lora_weights.safetensors`` (final adapter), ``recipe.yaml``,
``train_info.json`` (provenance: recipe and fingerprint, base model, data, versions, timings),
``loss.csv`` and ``loss.jsonl`` (one row per optimiser step: step, epoch, loss, lr, grad_norm, seconds).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import pickle
import random
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import CosmosBenchError
from ..models.base import ModelsConfig
from ..models.cosmos_facts import ADAPTER_FILE, DEFAULT_MODEL, default_revision
from ..models.loading import pretrained_kwargs, stand_in_warning_hidden, torch_dtype
from ..provenance import file_sha256, library_versions
from .cache import (
    TrainCache,
    component_identity,
    encode_caption,
    encode_window,
    latent_key,
    normalize_latents,
    text_key,
    vae_stats,
)
from .flow import draw_sample, per_sample_loss, sample_rng, transformer_inputs
from .recipe import Recipe, load_recipe

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"


def _numpy_rng_state() -> dict[str, Any]:
    """NumPy's global RNG state as tensors and numbers, which ``torch.load(weights_only=True)`` accepts."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_numpy_rng_state(state: dict[str, Any]) -> None:
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))
LOSS_FIELDS = ["step", "epoch", "loss", "lr", "grad_norm", "seconds", "samples_per_second"]


class TrainError(CosmosBenchError, RuntimeError):
    """A run that cannot start or continue, with what to do about it."""


@dataclass
class StepInfo:
    """What a progress display needs after each optimiser step."""

    step: int  # steps done (1-based)
    total_steps: int
    epoch: float
    loss: float
    lr: float
    grad_norm: float | None
    seconds: float
    samples_per_second: float
    elapsed: float
    stop_step: int


@dataclass
class TrainResult:
    out: Path
    adapter: Path | None  # final adapter (None if the run stopped before its last step)
    checkpoint: Path | None
    steps_done: int
    total_steps: int
    finished: bool
    losses: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ components
def _load_kwargs(recipe: Recipe) -> dict[str, Any]:
    m = recipe.model
    return pretrained_kwargs(m.dtype, revision=m.resolved_revision(), local_files_only=m.local_files_only)


def load_encoding_pipeline(recipe: Recipe, device):
    """``Cosmos2_5_PredictBasePipeline`` without its DiT: text encoder, tokenizer, VAE (for the cache)."""
    from diffusers import Cosmos2_5_PredictBasePipeline

    from ..models.safety import NoSafetyChecker

    with stand_in_warning_hidden():
        pipe = Cosmos2_5_PredictBasePipeline.from_pretrained(
            recipe.model.pretrained, transformer=None, safety_checker=NoSafetyChecker(), **_load_kwargs(recipe)
        )
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_vae(recipe: Recipe, device):
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan.from_pretrained(recipe.model.pretrained, subfolder="vae", **_load_kwargs(recipe)).to(device).eval()


def load_transformer(recipe: Recipe, device):
    from diffusers import CosmosTransformer3DModel

    model = CosmosTransformer3DModel.from_pretrained(recipe.model.pretrained, subfolder="transformer", **_load_kwargs(recipe))
    return model.to(device)


def add_adapter(transformer, recipe: Recipe, *, seed: int) -> list[str]:
    """Freeze the DiT, add the recipe's peft adapter (seeded init), cast its parameters to float32.

    Returns the names of the trainable parameters, in ``named_parameters`` order.
    """
    import torch
    from peft import LoraConfig

    from ..models.dora_compile import make_dora_traceable

    a = recipe.adapter
    transformer.requires_grad_(False)
    devices = [transformer.device] if transformer.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        transformer.add_adapter(
            LoraConfig(r=a.rank, lora_alpha=a.lora_alpha, lora_dropout=a.dropout, target_modules=list(a.target_modules),
                       use_dora=a.use_dora, init_lora_weights=True)
        )
    make_dora_traceable(transformer)  # else compiled DoRA blocks fall back to eager (dora_compile.py)
    names = []
    for name, p in transformer.named_parameters():
        if p.requires_grad:
            p.data = p.data.float()
            names.append(name)
    if not names:
        raise TrainError(f"adapter targets {a.target_modules} matched no module of the DiT")
    return names


def _sdpa_ops():
    import torch

    aten = torch.ops.aten
    names = ["_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
             "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_flash_attention_for_cpu"]
    return {getattr(aten, n).default for n in names if hasattr(aten, n)}


def _self_attention_policy(ops, ctx, op, *args, **kwargs):
    from torch.utils.checkpoint import CheckpointPolicy

    if op in ops and len(args) >= 2 and args[0].shape[-2] == args[1].shape[-2]:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


class BlockCheckpointing:
    """The per-block checkpointing function diffusers calls (``enable_gradient_checkpointing(func)``).

    ``chosen`` blocks run under ``torch.utils.checkpoint`` with ``context_fn`` (the selective policy, or
    none); the others run plainly. For ``compile: blocks`` the checkpoint moves inside each block's own
    forward (:meth:`move_inside`) so that ``torch.compile`` traces it: torch.compile and selective
    checkpointing compose in that order only. An eager selective checkpoint around a compiled block ran
    on one GPU but failed on the second rank of a 2-GPU DDP run (H100, torch 2.11: the compiled block's
    RNG wrapper ``graphsafe_run_with_rng_state`` has no rule under the checkpoint's caching mode).
    """

    def __init__(self, chosen: set[int], context_fn):
        self.chosen = chosen
        self.context_fn = context_fn
        self.inside: set[int] = set()

    def run(self, fn, *args):
        import torch.utils.checkpoint as ckpt

        return ckpt.checkpoint(fn, *args, use_reentrant=False, context_fn=self.context_fn)

    def __call__(self, module, *args):
        if id(module) in self.chosen and id(module) not in self.inside:
            return self.run(module.__call__, *args)
        return module(*args)

    def move_inside(self, block) -> None:
        """Checkpoint ``block`` from within its ``forward`` (an instance attribute: weights and state-dict
        names are untouched) instead of around its call."""
        if id(block) in self.chosen and id(block) not in self.inside:
            block.forward = partial(self.run, block.forward)
            self.inside.add(id(block))


def configure_gradient_checkpointing(transformer, mode: str) -> None:
    """``none``, ``full`` (diffusers' own), ``partial:N`` (first N blocks), ``selective[:N]`` (keep self-attention outputs)."""
    import torch.utils.checkpoint as ckpt

    mode = str(mode)
    if mode == "none":
        if transformer.gradient_checkpointing:
            transformer.disable_gradient_checkpointing()
        return
    if mode == "full":
        transformer.enable_gradient_checkpointing()
        return
    kind, _, n = mode.partition(":")
    blocks = list(transformer.transformer_blocks)
    chosen = {id(b) for b in blocks[: (len(blocks) if not n else int(n))]}
    if kind == "selective":
        context_fn = partial(ckpt.create_selective_checkpoint_contexts, partial(_self_attention_policy, _sdpa_ops()))
    elif kind == "partial":
        context_fn = ckpt.noop_context_fn
    else:
        raise TrainError(f"gradient_checkpointing must be none, full, partial:N or selective[:N], got {mode!r}")
    transformer.enable_gradient_checkpointing(BlockCheckpointing(chosen, context_fn))


def configure_compile(transformer, mode) -> None:
    """``blocks``: ``torch.compile`` each transformer block (short compile, any checkpointing); ``full``: the whole DiT."""
    if mode in (False, None, "false", "none"):
        return
    if mode == "blocks":
        checkpointing = getattr(transformer, "_gradient_checkpointing_func", None) if transformer.gradient_checkpointing else None
        for block in transformer.transformer_blocks:
            if isinstance(checkpointing, BlockCheckpointing):
                checkpointing.move_inside(block)
            block.compile()
    elif mode in ("full", True):
        transformer.compile()
    else:
        raise TrainError(f"compile must be false, blocks or full, got {mode!r}")


def make_accelerator(device: str | None = None):
    """The ``Accelerator`` of a run: DDP over the launched processes (gloo on CPU), autocast left to the trainer."""
    from datetime import timedelta

    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, InitProcessGroupKwargs

    cpu = device == "cpu" or (device in (None, "auto") and not torch.cuda.is_available())
    ddp = DistributedDataParallelKwargs(find_unused_parameters=False, broadcast_buffers=False, gradient_as_bucket_view=True)
    # The cache pass before training can keep some processes busy for hours while others wait.
    group = InitProcessGroupKwargs(timeout=timedelta(hours=12))
    return Accelerator(cpu=cpu, mixed_precision="no", kwargs_handlers=[ddp, group])


def micro_step(model, x0, batch: dict[str, Any], *, accelerator, transformer_dtype, mixed_precision: str = "bf16",
               conditional_frame_timestep: float = 1e-4, loss_scale: float = 1.0, sync: bool = True):
    """Forward and backward of one micro-batch, as every training step runs it; returns per-sample losses.

    ``batch`` holds CPU or device tensors ``noise`` (B, C, T, H, W), ``sigma`` (B,), ``embeds`` (B, L, D)
    and the list ``num_conditional``; ``x0`` the clean latents on the device. The summed loss is
    multiplied by ``loss_scale`` before ``backward`` (processes / global batch: the mean over the
    global batch once DDP averages). ``sync=False`` skips DDP's gradient all-reduce (accumulation).
    """
    import torch

    device = x0.device
    fb = transformer_inputs(
        x0, batch["noise"].to(device, non_blocking=True), batch["sigma"].to(device), batch["num_conditional"],
        batch["embeds"].to(device, non_blocking=True), transformer_dtype=transformer_dtype,
        conditional_frame_timestep=conditional_frame_timestep,
    )
    no_sync = contextlib.nullcontext() if sync or accelerator is None else accelerator.no_sync(model)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if mixed_precision == "bf16" else contextlib.nullcontext()
    with no_sync:
        with autocast:
            pred = model(**fb.kwargs)[0]
        per = per_sample_loss(pred, fb.target, fb.loss_mask)
        loss = per.sum() * loss_scale
        if accelerator is not None:
            accelerator.backward(loss)
        else:
            loss.backward()
    return per.detach()


def apply_update(params, optimizer, scheduler, *, accelerator=None, max_grad_norm: float | None = 1.0) -> tuple[float | None, float]:
    """Clip, step the optimiser and the schedule, clear gradients; returns (grad norm, learning rate used)."""
    import torch

    grad_norm = None
    if max_grad_norm is not None:
        clip = accelerator.clip_grad_norm_ if accelerator is not None else torch.nn.utils.clip_grad_norm_
        grad_norm = float(clip(params, max_grad_norm))
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm, lr


def make_optimizer(params, recipe: Recipe, total_steps: int):
    """AdamW over the adapter parameters and the warm-up + decay schedule of ``recipe``."""
    import torch

    t = recipe.train
    fused = {"fused": True} if all(p.is_cuda for p in params) else {}
    optimizer = torch.optim.AdamW(params, lr=t.learning_rate, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_epsilon,
                                  weight_decay=t.weight_decay, **fused)
    factor = partial(lr_factor, warmup=t.lr_warmup_steps, total=total_steps, kind=t.lr_scheduler, min_ratio=t.min_lr_ratio)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def lr_factor(step: int, *, warmup: int, total: int, kind: str, min_ratio: float) -> float:
    """Multiplier of the learning rate before optimiser step ``step`` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    span = max(1, total - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    if kind == "linear":
        decay = 1.0 - progress
    else:
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * decay


# ------------------------------------------------------------------------------------ the trainer
def _checkpoint_dirs(out: Path) -> list[Path]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file())


def latest_checkpoint(out: str | os.PathLike) -> Path | None:
    found = _checkpoint_dirs(Path(out))
    return found[-1] if found else None


class Trainer:
    """One training run (see the module docstring). Build with :func:`train` or directly."""

    def __init__(self, recipe: Recipe, data: str | os.PathLike, out: str | os.PathLike, *, cache_dir=None,
                 device: str | None = None, resume: bool = False, accelerator=None):
        from .dataset import SamplePlan, VideoDataset  # imports PyAV/OpenCV: only where clips are read

        self.recipe, self.data, self.out = recipe, Path(data), Path(out)
        self.resume = resume
        self.cache = TrainCache(cache_dir or recipe.cache.dir)
        self.accelerator = accelerator or self._make_accelerator(device)
        d = recipe.data
        self.dataset = VideoDataset(self.data, num_frames=d.num_frames, height=d.height, width=d.width, stride=d.stride,
                                    resize=d.resize, window_grid=d.window_grid, check=True)
        self.dataset.check_lengths()
        t = recipe.train
        self.world = self.accelerator.num_processes
        self.rank = self.accelerator.process_index
        self.global_batch = t.batch_size * self.world * t.gradient_accumulation_steps
        self.plan = SamplePlan(self.dataset, seed=t.seed, global_batch=self.global_batch, window=d.window)
        self.total_steps = t.max_steps or t.epochs * self.plan.steps_per_epoch
        self.latent_shape = (16, (d.num_frames - 1) // 4 + 1, d.height // 8, d.width // 8)
        self.text_keys: dict[int, str] = {}
        self.latent_keys: dict[Any, str] = {}  # dataset.Window -> cache key
        self.timings: dict[str, Any] = {}
        self.vae = None
        self.model = None  # the unwrapped DiT with its adapter, once run() has built it

    # -- setup
    @staticmethod
    def _make_accelerator(device: str | None):
        return make_accelerator(device)

    @property
    def device(self):
        return self.accelerator.device

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def _identity(self, subfolders) -> str:
        return component_identity(self.recipe.model.pretrained, subfolders, self.recipe.model.resolved_revision())

    def prepare_cache(self, first_step: int = 0) -> None:
        """Encode the captions and (``latents: cached``) the windows of steps ``first_step..total`` not cached yet."""
        t0 = time.perf_counter()
        r = self.recipe
        dtype = r.model.dtype
        text_id = self._identity(["text_encoder", "tokenizer"])
        vae_id = self._identity(["vae"])
        for i, caption in enumerate(self.dataset.captions):
            self.text_keys[i] = text_key(caption, identity=text_id, max_sequence_length=r.cache.max_sequence_length, dtype=dtype)
        windows = self.plan.windows(first_step, self.total_steps) if r.train.latents == "cached" else []
        video_sha = {}
        for w in windows:
            if w.clip not in video_sha:
                video_sha[w.clip] = file_sha256(self.dataset.clips[w.clip].video_path)
            d = r.data
            self.latent_keys[w] = latent_key(video_sha[w.clip], w.start, num_frames=d.num_frames, stride=d.stride,
                                             height=d.height, width=d.width, resize=d.resize, identity=vae_id, dtype=dtype)
        # Every process must see the same cache state before splitting the work, or a window written by
        # one process between two others' listings would shift their shares and leave another unencoded.
        self.accelerator.wait_for_everyone()
        todo_text = sorted({k: i for i, k in self.text_keys.items() if not self.cache.text_path(k).is_file()}.items())
        todo_lat = [w for w in windows if not self.cache.latent_path(self.latent_keys[w]).is_file()]
        mine_text = todo_text[self.rank :: self.world]
        mine_lat = todo_lat[self.rank :: self.world]
        if mine_text or mine_lat:
            pipe = load_encoding_pipeline(r, self.device)
            for key, i in mine_text:
                self.cache.save_text(key, encode_caption(pipe, self.dataset.captions[i], max_sequence_length=r.cache.max_sequence_length),
                                     self.dataset.captions[i])
            mean, std = vae_stats(pipe.vae)
            for w in mine_lat:
                raw = encode_window(pipe.vae, self.dataset.window_pixels(w.clip, w.start))
                self.cache.save_latents(self.latent_keys[w], raw, mean, std,
                                        {"video": self.dataset.clips[w.clip].video_path.name, "start": w.start})
            del pipe
            self._free_memory()
        self.accelerator.wait_for_everyone()
        missing = [k for k in self.text_keys.values() if not self.cache.text_path(k).is_file()]
        missing += [k for k in self.latent_keys.values() if not self.cache.latent_path(k).is_file()]
        if missing:
            raise TrainError(f"{self.cache.root}: {len(missing)} cache entries missing after encoding (first: {missing[0]})")
        self.timings["cache_seconds"] = time.perf_counter() - t0
        self.timings["cache_encoded"] = float(len(todo_text) + len(todo_lat))
        if r.train.latents == "online":
            self.vae = load_vae(r, self.device)
            self.vae.requires_grad_(False)

    def _free_memory(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def build_model(self):
        r = self.recipe
        transformer = load_transformer(r, self.device)
        self.trainable = add_adapter(transformer, r, seed=r.train.seed)
        configure_gradient_checkpointing(transformer, r.train.gradient_checkpointing)
        transformer.train()
        return transformer

    # -- data
    def _micro_inputs(self, samples) -> dict[str, Any]:
        """CPU tensors of one micro-batch: x0 (or pixels), prompt embeddings, conditioning, sigma, noise."""
        import torch

        from .dataset import Window

        r = self.recipe
        draws = [
            draw_sample(sample_rng(r.train.seed, s.epoch, s.position), self.latent_shape,
                        conditional_choices=r.latent_conditional_choices, conditional_weights=r.conditioning.sampled_weights,
                        sigma_config=r.sigma)
            for s in samples
        ]
        batch: dict[str, Any] = {
            "embeds": torch.stack([self.cache.load_text(self.text_keys[s.clip]) for s in samples]),
            "noise": torch.stack([torch.from_numpy(d.noise) for d in draws]),
            "sigma": torch.tensor([d.sigma for d in draws], dtype=torch.float32),
            "num_conditional": [d.num_conditional for d in draws],
            "samples": samples,
        }
        if self.vae is None:
            batch["x0"] = torch.stack([self.cache.load_latents(self.latent_keys[Window(s.clip, s.start)]) for s in samples])
        else:
            batch["pixels"] = torch.stack([self.dataset.window_pixels(s.clip, s.start) for s in samples])
        return batch

    def _step_inputs(self, step: int) -> list[dict[str, Any]]:
        t = self.recipe.train
        return [
            self._micro_inputs(self.plan.shard(step, rank=self.rank, world=self.world, micro=m, micro_batch=t.batch_size))
            for m in range(t.gradient_accumulation_steps)
        ]

    def _x0(self, batch):
        import torch

        if "x0" in batch:
            return batch["x0"].to(self.device, non_blocking=True)
        mean, std = vae_stats(self.vae)
        raws = [encode_window(self.vae, px) for px in batch["pixels"]]
        return normalize_latents(torch.stack(raws), mean, std)

    # -- checkpoints
    def _ckpt_dir(self, step: int) -> Path:
        return self.out / "checkpoints" / f"step-{step:08d}"

    def save_checkpoint(self, model, optimizer, scheduler, step: int) -> Path:
        import torch

        from ..models.cosmos_facts import save_adapter

        final = self._ckpt_dir(step)
        if self.is_main:
            unwrapped = self.accelerator.unwrap_model(model)
            tmp = final.parent / f".tmp-{final.name}"
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            save_adapter(unwrapped, tmp)
            params = dict(unwrapped.named_parameters())
            state = {
                "step": step,
                "adapter": {n: params[n].detach().cpu().clone() for n in self.trainable},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "fingerprint": self.recipe.fingerprint(),
                "global_batch": self.global_batch,
                "world_size": self.world,
                "rng": {"python": random.getstate(), "numpy": _numpy_rng_state(), "torch": torch.get_rng_state()},
            }
            torch.save(state, tmp / STATE_FILE)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            for old in _checkpoint_dirs(self.out)[: -self.recipe.train.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return final

    def _load_state(self, path: Path) -> dict[str, Any]:
        import torch

        try:  # weights_only: a checkpoint folder from elsewhere cannot run code when loaded
            state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise TrainError(f"{path / STATE_FILE}: not a checkpoint this version can load safely ({str(exc).splitlines()[0]})") from None
        if state["fingerprint"] != self.recipe.fingerprint():
            raise TrainError(
                f"{path}: checkpoint was trained with a different recipe (fingerprint {state['fingerprint']} vs "
                f"{self.recipe.fingerprint()}); only epochs, max_steps, checkpointing, compile and gradient_checkpointing may change on resume"
            )
        if state["global_batch"] != self.global_batch:
            raise TrainError(
                f"{path}: checkpoint used a global batch of {state['global_batch']}, this run has {self.global_batch} "
                f"(batch_size x processes x gradient_accumulation_steps); keep it equal to resume"
            )
        return state

    # -- logs
    def _log_paths(self) -> tuple[Path, Path]:
        return self.out / "loss.csv", self.out / "loss.jsonl"

    def _truncate_logs(self, keep_through: int) -> None:
        csv_path, jsonl_path = self._log_paths()
        if jsonl_path.exists():
            rows = [json.loads(line) for line in jsonl_path.read_text().splitlines() if line.strip()]
            rows = [row for row in rows if row["step"] <= keep_through]
        else:
            rows = []
        jsonl_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        with csv_path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=LOSS_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def _append_log(self, row: dict[str, Any]) -> None:
        csv_path, jsonl_path = self._log_paths()
        with jsonl_path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        with csv_path.open("a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=LOSS_FIELDS).writerow(row)

    # -- the run
    def run(self, *, max_steps: int | None = None, on_step: Callable[[StepInfo], None] | None = None,
            on_event: Callable[[str], None] | None = None) -> TrainResult:
        import torch

        say = on_event or (lambda msg: log.info(msg))
        r, t = self.recipe, self.recipe.train
        existing = latest_checkpoint(self.out)
        if existing is not None and not self.resume:
            raise TrainError(f"{self.out} already holds a run ({existing.name}); pass resume to continue it or choose another out")
        state = self._load_state(existing) if (self.resume and existing is not None) else None
        start = int(state["step"]) if state else 0
        stop = self.total_steps if max_steps is None else min(self.total_steps, start + int(max_steps))
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            from .recipe import dump_recipe

            (self.out / "recipe.yaml").write_text(dump_recipe(r))
            self._truncate_logs(start)
        say(f"{len(self.dataset)} clips, global batch {self.global_batch} ({self.world} process(es)), "
            f"{self.plan.steps_per_epoch} steps/epoch, {self.total_steps} steps; starting at step {start}")

        say("caching prompt embeddings" + (" and VAE latents" if t.latents == "cached" else ""))
        self.prepare_cache(start)
        if start >= self.total_steps:
            return self._finish(None, start, stop, [], finished=True)

        model = self.build_model()
        params = [p for n, p in model.named_parameters() if p.requires_grad]
        if state is not None:
            named = dict(model.named_parameters())
            with torch.no_grad():
                for n in self.trainable:
                    named[n].copy_(state["adapter"][n].to(named[n].device))
        optimizer, scheduler = make_optimizer(params, r, self.total_steps)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            random.setstate(state["rng"]["python"])
            _set_numpy_rng_state(state["rng"]["numpy"])
            torch.set_rng_state(state["rng"]["torch"])
        model, optimizer = self.accelerator.prepare(model, optimizer)
        self.model = self.accelerator.unwrap_model(model)
        configure_compile(self.model, t.compile)
        n_trainable = sum(p.numel() for p in params)
        say(f"{r.adapter.type} r{r.adapter.rank}: {n_trainable:,} trainable parameters (float32), base in {r.model.dtype}")

        tdtype = torch_dtype(r.model.dtype)
        scale = self.world / self.global_batch
        losses: list[float] = []
        last_ckpt = None
        t_start = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=1)
        future = pool.submit(self._step_inputs, start)
        try:
            for step in range(start, stop):
                t0 = time.perf_counter()
                micro_batches = future.result()
                if step + 1 < stop:
                    future = pool.submit(self._step_inputs, step + 1)
                local = torch.zeros((), dtype=torch.float64, device=self.device)
                for m, mb in enumerate(micro_batches):
                    per = micro_step(model, self._x0(mb), mb, accelerator=self.accelerator, transformer_dtype=tdtype,
                                     mixed_precision=t.mixed_precision, conditional_frame_timestep=r.conditioning.frame_timestep,
                                     loss_scale=scale, sync=m == len(micro_batches) - 1)
                    local += per.sum().double()
                grad_norm, lr = apply_update(params, optimizer, scheduler, accelerator=self.accelerator, max_grad_norm=t.max_grad_norm)
                loss = float(self.accelerator.reduce(local, reduction="sum")) / self.global_batch
                losses.append(loss)
                done = step + 1
                dt = time.perf_counter() - t0
                epoch = done / self.plan.steps_per_epoch
                if self.is_main:
                    self._append_log({"step": done, "epoch": round(epoch, 6), "loss": loss, "lr": lr, "grad_norm": grad_norm,
                                      "seconds": round(dt, 6), "samples_per_second": round(self.global_batch / dt, 6)})
                if self._should_checkpoint(done, stop):
                    last_ckpt = self.save_checkpoint(model, optimizer, scheduler, done)
                if on_step is not None:
                    on_step(StepInfo(done, self.total_steps, epoch, loss, lr, grad_norm, dt, self.global_batch / dt,
                                     time.perf_counter() - t_start, stop))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self.timings["train_seconds"] = time.perf_counter() - t_start
        self.timings["steps_run"] = float(stop - start)
        self.timings["library_versions"] = library_versions()  # type: ignore[assignment]
        adapter = None
        if stop >= self.total_steps:
            adapter = self._save_final(model)
        return self._finish(adapter, stop, stop, losses, finished=stop >= self.total_steps, checkpoint=last_ckpt)

    def _should_checkpoint(self, done: int, stop: int) -> bool:
        t = self.recipe.train
        if done == stop:
            return True
        if t.checkpointing_steps and done % t.checkpointing_steps == 0:
            return True
        spe = self.plan.steps_per_epoch
        return bool(t.checkpointing_epochs) and done % spe == 0 and (done // spe) % t.checkpointing_epochs == 0

    def _save_final(self, model) -> Path:
        from ..models.cosmos_facts import save_adapter

        path = self.out / ADAPTER_FILE
        if self.is_main:
            save_adapter(self.accelerator.unwrap_model(model), self.out)
        self.accelerator.wait_for_everyone()
        return path

    def _finish(self, adapter, steps_done, stop, losses, *, finished, checkpoint=None) -> TrainResult:
        info = {
            "recipe": self.recipe.to_dict(),
            "recipe_source": self.recipe.source,
            "fingerprint": self.recipe.fingerprint(),
            "base": {"model": self.recipe.model.pretrained, "revision": self.recipe.model.resolved_revision()},
            "data": {"root": str(self.data.resolve()), "clips": [c.stem for c in self.dataset.clips]},
            "global_batch": self.global_batch,
            "processes": self.world,
            "steps_per_epoch": self.plan.steps_per_epoch,
            "total_steps": self.total_steps,
            "steps_done": steps_done,
            "finished": finished,
            "cache_dir": str(self.cache.root),
            "timings": self.timings,
        }
        if adapter is None and (self.out / ADAPTER_FILE).is_file() and finished:
            adapter = self.out / ADAPTER_FILE
        if adapter is not None:
            info["adapter_sha256"] = file_sha256(adapter)
        if self.is_main:
            (self.out / "train_info.json").write_text(json.dumps(info, indent=2, default=str))
        return TrainResult(self.out, adapter, checkpoint or latest_checkpoint(self.out), steps_done, self.total_steps,
                           finished, losses, info)


def train(recipe: Recipe | str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *, resume: bool = False,
          max_steps: int | None = None, cache_dir: str | os.PathLike | None = None, device: str | None = None,
          on_step: Callable[[StepInfo], None] | None = None, on_event: Callable[[str], None] | None = None,
          accelerator=None) -> TrainResult:
    """Train ``recipe``'s adapter on the GR1 train folder ``data`` into ``out`` (see the module docstring).

    ``max_steps`` stops this invocation after that many optimiser steps (a checkpoint is written; the
    learning-rate schedule still spans the recipe's full run, so ``resume`` continues it exactly).
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    trainer = Trainer(recipe, data, out, cache_dir=cache_dir, device=device, resume=resume, accelerator=accelerator)
    return trainer.run(max_steps=max_steps, on_step=on_step, on_event=on_event)


def models_entry(result: TrainResult, recipe: Recipe,
                 models: ModelsConfig | str | os.PathLike | None = None) -> tuple[str, dict[str, Any]]:
    """The models-YAML entry of a trained adapter, as ``(name, entry)``.

    ``{extends: <model>, adapter: <out>}`` when the models YAML has a plain ``cosmos`` model on the same
    base weights (same local folder, or same hub id and revision); otherwise a full ``kind: cosmos``
    entry. The adapter path is relative to the YAML's folder when it lies below it (as
    ``cosmos-bench models register`` writes it), else absolute. ``models``: the models YAML as already
    read (a :class:`ModelsConfig`), or its path.
    """
    from ..models.base import ModelConfigError, default_models_path, load_models_config
    from ..models.registration import adapter_option

    if isinstance(models, ModelsConfig):
        config: ModelsConfig | None = models
        path = models.path if models.path is not None else default_models_path()
    else:
        path = Path(models) if models is not None else default_models_path()
        try:
            config = load_models_config(path, missing_ok=True)
        except ModelConfigError:  # a broken models YAML is reported when registering, not here
            config = None
    adapter = adapter_option(result.out, path)
    base_name = None
    if config is not None:
        want_local = Path(os.path.expanduser(recipe.model.pretrained))
        for name in config.names:
            spec = config.spec(name)
            if spec.kind != "cosmos" or spec.options.get("adapter"):
                continue
            model = str(spec.options.get("model", DEFAULT_MODEL))
            local = spec.path_option("model", model)
            if want_local.is_dir():
                same = local is not None and local.is_dir() and local.resolve() == want_local.resolve()
            else:
                same = model == recipe.model.pretrained and spec.options.get("revision", default_revision(model)) == recipe.model.resolved_revision()
            if same:
                base_name = name
                break
    if base_name is not None:
        entry: dict[str, Any] = {"extends": base_name, "adapter": adapter}
    else:
        entry = {"kind": "cosmos", "model": recipe.model.pretrained, "adapter": adapter, "dtype": recipe.model.dtype}
        rev = recipe.model.resolved_revision()
        if rev:
            entry["revision"] = rev
    entry["description"] = (f"{recipe.adapter.type} r{recipe.adapter.rank} trained by cosmos-bench train "
                            f"({recipe.name}, {result.steps_done} steps)")
    return recipe.name, entry


__all__ = [
    "StepInfo",
    "TrainError",
    "TrainResult",
    "Trainer",
    "add_adapter",
    "apply_update",
    "configure_compile",
    "configure_gradient_checkpointing",
    "latest_checkpoint",
    "load_transformer",
    "lr_factor",
    "make_accelerator",
    "make_optimizer",
    "micro_step",
    "models_entry",
    "train",
]
