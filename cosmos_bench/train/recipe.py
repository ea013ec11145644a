"""Training recipes: the YAML in ``trainer/*.yaml`` parsed into checked dataclasses.

A recipe names everything that changes the trained adapter (base weights, adapter shape, data
window, conditioning, sigma distribution, optimiser, seed). Every field has a default, so a recipe
only lists what differs; unknown keys are errors with a suggestion (a typo must never silently
train with a default). ``Recipe.fingerprint()`` hashes the fields a resumed run must share with the
run it continues (everything except the run length and the checkpoint cadence).

Schema (defaults shown)::

    name: dora32
    model:
      pretrained: nvidia/Cosmos-Predict2.5-2B   # hub id or a local save_pretrained folder
      revision: diffusers/base/post-trained     # default only for the hub id above
      dtype: bfloat16                           # frozen base weights (adapter params stay float32)
      local_files_only: false
    adapter:
      type: dora                                # lora | dora
      rank: 32
      alpha: 32                                 # default: rank (scale 1)
      dropout: 0.0
      target_modules: [to_q, to_k, to_v, to_out.0, ff.net.0.proj, ff.net.2]
    data:
      num_frames: 93                            # 1 + 4k
      height: 432
      width: 768
      stride: 1                                 # keep every n-th frame of the file
      window: random                            # random (fresh start per epoch) | start (frame 0)
      window_grid: null                         # if set: starts snap to this many evenly spaced positions
      resize: squash                            # squash (the pipeline's own resize) | center_crop
    conditioning:
      latent_frames: 1                          # 1 | 2 | sampled
      sampled_weights: [0.5, 0.5]               # P(1), P(2) when latent_frames: sampled
      frame_timestep: 0.0001                    # the pipeline's conditional_frame_timestep
    sigma:
      distribution: logit_normal                # logit_normal | uniform | inference
      mean: 0.0
      std: 1.0
      shift: 5.0
      inference_steps: 36                       # for distribution: inference
    train:
      epochs: 100
      max_steps: null
      batch_size: 1                             # per process and micro-step
      gradient_accumulation_steps: 1
      learning_rate: 1.0e-4
      lr_scheduler: cosine                      # cosine | linear | constant
      lr_warmup_steps: 100
      min_lr_ratio: 0.1
      adam_beta1: 0.9
      adam_beta2: 0.999
      adam_epsilon: 1.0e-8
      weight_decay: 1.0e-4
      max_grad_norm: 1.0
      seed: 0
      mixed_precision: bf16                     # bf16 | no   (no on CPU)
      gradient_checkpointing: full              # none | full | partial:N | selective | selective:N
      compile: false                            # false | blocks | full
      latents: cached                           # cached | online (VAE encodes in the loop)
      checkpointing_epochs: 10
      checkpointing_steps: null
      keep_checkpoints: 2
    cache:
      dir: null                                 # default $COSMOS_BENCH_CACHE/train, else ~/.cache/cosmos-bench/train
      max_sequence_length: 512
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..models.cosmos_facts import DEFAULT_MODEL, LORA_TARGET_MODULES, default_revision
from ..models.loading import DTYPES
from ..provenance import sha256_hex
from ..errors import CosmosBenchError
CHECKPOINTING_RE = re.compile(r"^(none|full|selective(:\d+)?|partial:\d+)$")


class RecipeError(CosmosBenchError, ValueError):
    """A recipe that cannot be trained, with the file and the offending field."""


@dataclass
class ModelConfig:
    pretrained: str = DEFAULT_MODEL
    revision: str | None = None
    dtype: str = "bfloat16"
    local_files_only: bool = False

    def resolved_revision(self) -> str | None:
        if self.revision is not None:
            return self.revision
        return default_revision(self.pretrained)


@dataclass
class AdapterConfig:
    type: str = "lora"
    rank: int = 8
    alpha: float | None = None
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(LORA_TARGET_MODULES))

    @property
    def use_dora(self) -> bool:
        return self.type == "dora"

    @property
    def lora_alpha(self) -> float:
        return float(self.rank if self.alpha is None else self.alpha)


@dataclass
class DataConfig:
    num_frames: int = 93
    height: int = 432
    width: int = 768
    stride: int = 1
    window: str = "random"
    window_grid: int | None = None
    resize: str = "squash"


@dataclass
class ConditioningConfig:
    latent_frames: int | str = 1
    sampled_weights: list[float] = field(default_factory=lambda: [0.5, 0.5])
    frame_timestep: float = 0.0001


@dataclass
class SigmaConfig:
    distribution: str = "logit_normal"
    mean: float = 0.0
    std: float = 1.0
    shift: float = 5.0
    inference_steps: int = 36


@dataclass
class TrainConfig:
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 1e-4
    max_grad_norm: float | None = 1.0
    seed: int = 0
    mixed_precision: str = "bf16"
    gradient_checkpointing: str = "full"
    compile: str | bool = False
    latents: str = "cached"
    checkpointing_epochs: int | None = 10
    checkpointing_steps: int | None = None
    keep_checkpoints: int = 2


@dataclass
class CacheConfig:
    dir: str | None = None
    max_sequence_length: int = 512


@dataclass
class Recipe:
    name: str = "adapter"
    model: ModelConfig = field(default_factory=ModelConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    data: DataConfig = field(default_factory=DataConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    sigma: SigmaConfig = field(default_factory=SigmaConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    source: str | None = None  # the file it came from (not part of the fingerprint)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source", None)
        return d

    def fingerprint(self) -> str:
        """Hash of every setting a resumed run must share with the run it continues."""
        d = self.to_dict()
        d.pop("name", None)
        for k in ("epochs", "max_steps", "checkpointing_epochs", "checkpointing_steps", "keep_checkpoints", "compile",
                  "gradient_checkpointing"):
            d["train"].pop(k, None)
        d["cache"].pop("dir", None)
        return sha256_hex(json.dumps(d, sort_keys=True))[:16]

    def replace(self, **sections: dict[str, Any]) -> "Recipe":
        """A copy with some fields changed: ``recipe.replace(train={"epochs": 3})``."""
        d = self.to_dict()
        for section, values in sections.items():
            if section == "name":
                d["name"] = values
                continue
            if section not in d or not isinstance(d[section], dict):
                raise RecipeError(f"unknown recipe section {section!r}")
            d[section].update(values)
        return parse_recipe(d, self.source)

    @property
    def latent_conditional_choices(self) -> list[int]:
        c = self.conditioning.latent_frames
        return [1, 2] if c == "sampled" else [int(c)]


_SECTIONS = {
    "model": ModelConfig,
    "adapter": AdapterConfig,
    "data": DataConfig,
    "conditioning": ConditioningConfig,
    "sigma": SigmaConfig,
    "train": TrainConfig,
    "cache": CacheConfig,
}


def _build(cls, values: Any, where: str):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise RecipeError(f"{where}: expected a mapping, got {values!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            hint = difflib.get_close_matches(key, names, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise RecipeError(f"{where}: unknown key {key!r}{extra}; allowed: {names}")
    return cls(**values)


def parse_recipe(data: Any, source: str | os.PathLike | None = None) -> Recipe:
    where = str(source) if source else "recipe"
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is a mapping (name, model, adapter, data, ...), got {type(data).__name__}")
    allowed = ["name", *_SECTIONS]
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise RecipeError(f"{where}: unknown section {key!r}{extra}; allowed: {allowed}")
    kwargs = {s: _build(cls, data.get(s), f"{where}: {s}") for s, cls in _SECTIONS.items()}
    name = str(data.get("name") or (Path(source).stem if source else "adapter"))
    recipe = Recipe(name=name, source=str(source) if source else None, **kwargs)
    validate(recipe, where)
    return recipe


def load_recipe(path: str | os.PathLike) -> Recipe:
    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"{p}: recipe not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{p}: not valid YAML ({exc})") from None
    return parse_recipe(data or {}, p)


def _need(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise RecipeError(f"{where}: {message}")


def validate(r: Recipe, where: str = "recipe") -> None:
    _need(bool(re.fullmatch(r"[A-Za-z0-9_.-]+", r.name)), where, f"name must be letters, digits, '-', '_', '.'; got {r.name!r}")
    _need(r.model.dtype in DTYPES, where, f"model.dtype must be {'|'.join(DTYPES)}, got {r.model.dtype!r}")
    a = r.adapter
    _need(a.type in ("lora", "dora"), where, f"adapter.type must be lora or dora, got {a.type!r}")
    _need(isinstance(a.rank, int) and a.rank >= 1, where, f"adapter.rank must be a positive integer, got {a.rank!r}")
    _need(0.0 <= a.dropout < 1.0, where, f"adapter.dropout must be in [0, 1), got {a.dropout!r}")
    _need(bool(a.target_modules), where, "adapter.target_modules is empty")
    d = r.data
    _need(d.num_frames >= 1 and (d.num_frames - 1) % 4 == 0, where, f"data.num_frames must be 1 + 4k (93, 33, 9), got {d.num_frames}")
    _need(d.height % 16 == 0 and d.width % 16 == 0 and d.height > 0 and d.width > 0, where,
          f"data.height/width must be positive multiples of 16 (8x VAE, 2x patch), got {d.height}x{d.width}")
    _need(d.stride >= 1, where, f"data.stride must be >= 1, got {d.stride}")
    _need(d.window in ("random", "start"), where, f"data.window must be random or start, got {d.window!r}")
    _need(d.window_grid is None or d.window_grid >= 1, where, f"data.window_grid must be >= 1 or null, got {d.window_grid}")
    _need(d.resize in ("squash", "center_crop"), where, f"data.resize must be squash or center_crop, got {d.resize!r}")
    c = r.conditioning
    _need(c.latent_frames in (1, 2, "sampled"), where, f"conditioning.latent_frames must be 1, 2 or sampled, got {c.latent_frames!r}")
    latent_t = (d.num_frames - 1) // 4 + 1
    _need(max(r.latent_conditional_choices) < latent_t, where,
          f"conditioning.latent_frames {c.latent_frames!r} leaves no latent frame to learn from {latent_t}")
    _need(c.frame_timestep >= 0, where,
          f"conditioning.frame_timestep must be >= 0 (the pipeline's conditional_frame_timestep), got {c.frame_timestep}")
    _need(len(c.sampled_weights) == 2 and all(w >= 0 for w in c.sampled_weights) and sum(c.sampled_weights) > 0, where,
          f"conditioning.sampled_weights must be two non-negative weights for 1 and 2 frames, got {c.sampled_weights}")
    s = r.sigma
    _need(s.distribution in ("logit_normal", "uniform", "inference"), where,
          f"sigma.distribution must be logit_normal, uniform or inference, got {s.distribution!r}")
    _need(s.std > 0 and s.shift > 0, where, f"sigma.std and sigma.shift must be positive, got {s.std}, {s.shift}")
    _need(s.inference_steps >= 1, where, f"sigma.inference_steps must be >= 1, got {s.inference_steps}")
    t = r.train
    _need(t.epochs >= 1, where, f"train.epochs must be >= 1, got {t.epochs}")
    _need(t.max_steps is None or t.max_steps >= 1, where, f"train.max_steps must be >= 1 or null, got {t.max_steps}")
    _need(t.batch_size >= 1 and t.gradient_accumulation_steps >= 1, where, "train.batch_size and gradient_accumulation_steps must be >= 1")
    _need(t.learning_rate > 0, where, f"train.learning_rate must be positive, got {t.learning_rate}")
    _need(t.lr_scheduler in ("cosine", "linear", "constant"), where, f"train.lr_scheduler must be cosine, linear or constant, got {t.lr_scheduler!r}")
    _need(t.lr_warmup_steps >= 0 and 0.0 <= t.min_lr_ratio <= 1.0, where, "train.lr_warmup_steps >= 0 and 0 <= min_lr_ratio <= 1")
    _need(t.mixed_precision in ("bf16", "fp16", "no"), where, f"train.mixed_precision must be bf16, fp16 or no, got {t.mixed_precision!r}")
    _need(bool(CHECKPOINTING_RE.match(str(t.gradient_checkpointing))), where,
          f"train.gradient_checkpointing must be none, full, partial:N, selective or selective:N, got {t.gradient_checkpointing!r}")
    _need(t.compile in (False, None, "false", "blocks", "full", True), where, f"train.compile must be false, blocks or full, got {t.compile!r}")
    _need(t.latents in ("cached", "online"), where, f"train.latents must be cached or online, got {t.latents!r}")
    _need(t.checkpointing_epochs is None or t.checkpointing_epochs >= 1, where, "train.checkpointing_epochs must be >= 1 or null")
    _need(t.checkpointing_steps is None or t.checkpointing_steps >= 1, where, "train.checkpointing_steps must be >= 1 or null")
    _need(t.keep_checkpoints >= 1, where, "train.keep_checkpoints must be >= 1")
    _need(r.cache.max_sequence_length >= 1, where, "cache.max_sequence_length must be >= 1")


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.to_dict(), sort_keys=False)


__all__ = [
    "AdapterConfig",
    "CacheConfig",
    "ConditioningConfig",
    "DataConfig",
    "ModelConfig",
    "Recipe",
    "RecipeError",
    "SigmaConfig",
    "TrainConfig",
    "dump_recipe",
    "load_recipe",
    "parse_recipe",
]
