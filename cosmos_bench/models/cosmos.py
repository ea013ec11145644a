"""Cosmos Predict 2.5 through diffusers: the base model and LoRA/DoRA candidates on one loaded base.

A ``cosmos`` entry of the models YAML::

    base:
      kind: cosmos
      model: nvidia/Cosmos-Predict2.5-2B       # hub id, or a local folder written by save_pretrained
      revision: diffusers/base/post-trained    # hub revision holding the diffusers weights
      safety_checker: guardrail                # guardrail | none  (see below)
      dtype: bfloat16
    lora8:
      extends: base
      adapter: trainer/runs/lora8              # folder with pytorch_lora_weights.safetensors, or the file
      fuse: true                               # pipe.fuse_lora(lora_scale=...) (then LoRA layers removed)
      lora_scale: 1.0

**Speed options** (per model; measured on one H100 in ``benchmarks/RESULTS.md``):

- ``compile: true`` (or a torch.compile mode): ``torch.compile`` of the transformer;
- ``compile_vae: true`` (or a torch.compile mode): ``torch.compile`` of the VAE decoder
  (:mod:`cosmos_bench.models.vae_compile`);
- ``sampler: fast``: :mod:`cosmos_bench.models.cosmos_sampler`'s loop instead of the pipeline's
  ``__call__`` (cached prompt embeddings, only the conditioning frames VAE-encoded, 8-bit conversion on
  the GPU); with ``batch_cfg: true`` (its default) both guidance branches run as one batch-2 call.
  ``sampler: pipeline`` (the default) is the plain diffusers call. ``fast_kernels: true`` adds
  :mod:`cosmos_bench.models.dit_rewrites` (block 0's self-attention shared by the two guidance
  branches, GELU in the feed-forward's matrix-product epilogue).

Compiled graphs and batched guidance change results by bf16 rounding only, but they do change them, so
they are part of the generation key.

Models that name the same base (model, revision, dtype, device, safety checker) share one loaded
pipeline: switching from ``base`` to ``lora8`` to ``dora32`` loads adapter files only, and
``compile: true`` (``torch.compile`` of the transformer) is switched on and off per model on that
same pipeline.
Fusing changes the base weights in place, and in bf16 ``W + dW - dW != W``; so before the first
fuse a CPU copy of the transformer's weights is kept, and leaving a fused candidate restores it
exactly. ``base`` after a fused ``lora32`` is bit-identical to ``base`` in a fresh process.

**Safety checker.** ``Cosmos2_5_PredictBasePipeline`` refuses to run without one, and when given
``None`` builds ``cosmos_guardrail.CosmosSafetyChecker``, which needs the ``cosmos_guardrail``
package. The choice is explicit per model:

- ``guardrail`` (the default): NVIDIA's guardrail checks each prompt and each generated video (it
  may blur faces, which changes the video); a clear error says how to install it when missing.
- ``none``: :class:`NoSafetyChecker`, a plain object that passes every prompt and video through.
  A warning is logged when such a model loads, and ``safety_checker: none`` is recorded in every
  sidecar and in the generation key. Under the NVIDIA Open Model License the user stays
  responsible for the use of the outputs.

Initial latents come from :mod:`cosmos_bench.models.noise` (same numbers on every device), passed
to the pipeline as ``latents``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import noise
from .cosmos_sampler import PromptCache, sample_video
from .dora_compile import make_dora_traceable
from .dynamo_config import raise_recompile_limit
from .vae_compile import CompiledDecoder, set_decoder_compiled
from .base import GeneratedVideo, GenerationRequest, ModelConfigError, ModelSpec, file_sha256, folder_fingerprint

log = logging.getLogger(__name__)

DEFAULT_MODEL = "nvidia/Cosmos-Predict2.5-2B"
DEFAULT_REVISION = "diffusers/base/post-trained"
ADAPTER_FILE = "pytorch_lora_weights.safetensors"
DEFAULT_GUIDANCE = 7.0  # Cosmos2_5_PredictBasePipeline.__call__'s default
DEFAULT_MAX_SEQUENCE_LENGTH = 512
SAFETY_CHOICES = ("guardrail", "none")
SAMPLERS = ("pipeline", "fast")
HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
DTYPES = ("bfloat16", "float16", "float32")

# The scheduler diffusers' conversion script writes for Cosmos Predict 2.5.
SCHEDULER_CONFIG: dict[str, Any] = {
    "use_karras_sigmas": True,
    "use_flow_sigmas": True,
    "prediction_type": "flow_prediction",
    "sigma_max": 200.0,
    "sigma_min": 0.01,
}

# CosmosTransformer3DModel config of the 2B model (diffusers' Cosmos-2.5-Predict-Base-2B).
TRANSFORMER_2B_CONFIG: dict[str, Any] = {
    "in_channels": 16 + 1,
    "out_channels": 16,
    "num_attention_heads": 16,
    "attention_head_dim": 128,
    "num_layers": 28,
    "mlp_ratio": 4.0,
    "text_embed_dim": 1024,
    "adaln_lora_dim": 256,
    "max_size": (128, 240, 240),
    "patch_size": (1, 2, 2),
    "rope_scale": (1.0, 3.0, 3.0),
    "concat_padding_mask": True,
    "extra_pos_embed_type": None,
    "use_crossattn_projection": True,
    "crossattn_proj_in_channels": 100352,  # 28 layers x 3584 hidden of the 7B Qwen2.5-VL text encoder
    "encoder_hidden_states_channels": 1024,
}

# The modules the trainer adapts (DESIGN.md, peft LoraConfig target_modules).
LORA_TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"]

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

COSMOS_OPTIONS = (
    "model",
    "revision",
    "safety_checker",
    "dtype",
    "device",
    "adapter",
    "adapter_weight_name",
    "fuse",
    "lora_scale",
    "guidance",
    "negative_prompt",
    "compile",
    "compile_vae",
    "sampler",
    "batch_cfg",
    "fast_kernels",
    "local_files_only",
    "max_sequence_length",
    "conditional_latent_frames",
)


# ------------------------------------------------------------------------------------ safety
class NoSafetyChecker:
    """Stand-in for ``CosmosSafetyChecker`` that lets everything through (``safety_checker: none``).

    Deliberately *not* an ``nn.Module``: the pipeline's ``device`` property walks its module
    components and breaks on a module without parameters or ``.device``.
    """

    name = "none"

    def to(self, *args, **kwargs) -> "NoSafetyChecker":
        return self

    def check_text_safety(self, prompt: str) -> bool:
        return True

    def check_video_safety(self, video: np.ndarray) -> np.ndarray:
        return video

    def __repr__(self) -> str:
        return "NoSafetyChecker()"


def guardrail_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cosmos_guardrail") is not None


def make_safety_checker(choice: str, *, model_name: str = "?"):
    """The safety checker object for ``choice`` (``guardrail`` or ``none``)."""
    if choice == "none":
        return NoSafetyChecker()
    if choice == "guardrail":
        try:
            from cosmos_guardrail import CosmosSafetyChecker
        except ImportError:
            raise ModelConfigError(
                f"model {model_name!r}: safety_checker: guardrail needs the 'cosmos_guardrail' package "
                "(pip install cosmos_guardrail). To run without NVIDIA's guardrail, set "
                f"'safety_checker: none' for {model_name!r} in the models YAML; the choice is recorded in "
                "every output's sidecar."
            ) from None
        return CosmosSafetyChecker()
    raise ModelConfigError(f"model {model_name!r}: safety_checker must be one of {list(SAFETY_CHOICES)}, got {choice!r}")


# ------------------------------------------------------------------------------------ helpers
def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ModelConfigError(f"dtype must be one of {list(DTYPES)}, got {name!r}")
    return getattr(torch, name)


def dtype_kwarg() -> str:
    """``from_pretrained``'s dtype argument name: ``dtype`` from diffusers 0.42 on, ``torch_dtype`` before."""
    from importlib.metadata import version

    try:
        major, minor = (int(x) for x in version("diffusers").split(".")[:2])
    except ValueError:
        return "torch_dtype"
    return "dtype" if (major, minor) >= (0, 42) else "torch_dtype"


class _DropMessage(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextmanager
def quiet_loading():
    """Load without per-file progress bars, and without diffusers' "Expected types for
    safety_checker" warning (the stand-in is deliberate; the choice is logged once by us)."""
    from diffusers.utils import logging as d_logging
    from transformers.utils import logging as t_logging

    logger = logging.getLogger("diffusers.pipelines.pipeline_utils")
    flt = _DropMessage("Expected types for safety_checker")
    logger.addFilter(flt)
    d_on = d_logging.is_progress_bar_enabled()
    t_on = t_logging.is_progress_bar_enabled()
    d_logging.disable_progress_bar()
    t_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.removeFilter(flt)
        if d_on:
            d_logging.enable_progress_bar()
        if t_on:
            t_logging.enable_progress_bar()


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` -> ``cuda:<LOCAL_RANK>`` when CUDA is available (one GPU per shard), else ``cpu``."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
        return "cpu"
    return str(device)


def resolve_adapter_file(path: Path, weight_name: str | None = None) -> Path:
    """The adapter weights file of ``path`` (a folder holding ``pytorch_lora_weights.safetensors``, or the file)."""
    if path.is_dir():
        candidate = path / (weight_name or ADAPTER_FILE)
        if not candidate.is_file():
            found = sorted(p.name for p in path.glob("*.safetensors"))
            raise ModelConfigError(
                f"{path}: no {candidate.name} in the adapter folder"
                + (f" (found {found}; set adapter_weight_name)" if found else "")
            )
        return candidate
    if path.is_file():
        return path
    raise ModelConfigError(f"{path}: adapter not found")


def adapter_name_for(sha256: str) -> str:
    return f"a{sha256[:12]}"


def save_adapter(transformer, out_dir: str | os.PathLike, *, adapter_name: str = "default") -> Path:
    """Save a peft adapter of a ``CosmosTransformer3DModel`` in diffusers' format.

    Writes ``pytorch_lora_weights.safetensors`` via ``Cosmos2_5_PredictBasePipeline.save_lora_weights``
    with the ``LoraConfig`` as metadata (rank, alpha, DoRA, targets), so that
    ``pipe.load_lora_weights(out_dir)`` rebuilds exactly the adapter that was trained.
    """
    from diffusers import Cosmos2_5_PredictBasePipeline
    from peft.utils import get_peft_model_state_dict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = get_peft_model_state_dict(transformer, adapter_name=adapter_name)
    metadata = transformer.peft_config[adapter_name].to_dict()
    Cosmos2_5_PredictBasePipeline.save_lora_weights(
        out, transformer_lora_layers=layers, transformer_lora_adapter_metadata=metadata, weight_name=ADAPTER_FILE
    )
    return out / ADAPTER_FILE


def _hub_commit(pipe) -> str | None:
    """The commit of a hub snapshot the pipeline was loaded from, when its path tells it."""
    path = str(getattr(pipe, "name_or_path", "") or pipe.config.get("_name_or_path", ""))
    parts = Path(path).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("cosmos-bench", "torch", "diffusers", "transformers", "peft", "accelerate", "numpy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


# ------------------------------------------------------------------------------------ shared base
@dataclass(frozen=True)
class BaseKey:
    """What makes two cosmos models share one loaded pipeline."""

    model: str
    revision: str | None
    dtype: str
    device: str
    safety_checker: str
    local_files_only: bool


@dataclass(frozen=True)
class AdapterChoice:
    file: Path
    sha256: str
    fuse: bool
    scale: float

    @property
    def name(self) -> str:
        return adapter_name_for(self.sha256)


class LoadedBase:
    """One loaded ``Cosmos2_5_PredictBasePipeline`` and the adapter state it is in."""

    def __init__(self, key: BaseKey, pipe):
        self.key = key
        self.pipe = pipe
        self.loaded: set[str] = set()  # unfused adapters present as peft layers
        self.fused: AdapterChoice | None = None
        self._snapshot: dict[str, Any] | None = None
        self._compiled: dict[str, Any] = {}  # torch.compile mode -> compiled forward
        self._compiled_decoders: dict[str, CompiledDecoder] = {}  # torch.compile mode -> compiled VAE decoder
        self.prompts = PromptCache()  # text-encoder outputs of recent prompts (sampler: fast)

    # -- weights
    def _take_snapshot(self) -> None:
        if self._snapshot is None:
            self._snapshot = {k: v.detach().to("cpu", copy=True) for k, v in self.pipe.transformer.state_dict().items()}

    def _restore_snapshot(self) -> None:
        import torch

        assert self._snapshot is not None
        with torch.no_grad():
            state = self.pipe.transformer.state_dict()
            for k, v in self._snapshot.items():
                state[k].copy_(v)
        self.fused = None

    def _unload_all(self) -> None:
        if self.loaded:
            self.pipe.unload_lora_weights()
            self.loaded.clear()

    def _load(self, adapter: AdapterChoice) -> None:
        if adapter.name not in self.loaded:
            with warnings.catch_warnings():
                # peft warns whenever a second adapter is injected; several loaded adapters are the point here
                warnings.filterwarnings("ignore", message=".*multiple adapters.*")
                self.pipe.load_lora_weights(
                    str(adapter.file.parent), weight_name=adapter.file.name, adapter_name=adapter.name
                )
            make_dora_traceable(self.pipe.transformer)  # one compiled graph for unfused DoRA, not one per layer
            self.loaded.add(adapter.name)

    def activate(self, adapter: AdapterChoice | None):
        """Put the pipeline in the state of ``adapter`` (None = base) and return it."""
        if adapter is not None and adapter.fuse:
            if self.fused != adapter:
                if self.fused is not None:
                    self._restore_snapshot()
                self._unload_all()
                self._take_snapshot()
                self._load(adapter)
                self.pipe.fuse_lora(components=["transformer"], lora_scale=adapter.scale, adapter_names=[adapter.name])
                # Fused weights stay in the base layers; removing the peft wrappers makes the
                # forward pass the base model's (same speed as base).
                self.pipe.unload_lora_weights()
                self.loaded.clear()
                self.fused = adapter
        else:
            if self.fused is not None:
                self._restore_snapshot()
            if adapter is None:
                if self.loaded:
                    self.pipe.disable_lora()
            else:
                self._load(adapter)
                self.pipe.enable_lora()
                self.pipe.set_adapters([adapter.name], adapter_weights=[adapter.scale])
        return self.pipe

    def set_compile(self, mode: str | None) -> None:
        """``torch.compile`` the transformer's forward (``mode``: ``default`` or a torch.compile mode),
        or run it eagerly (None). Compiled forwards are kept, so switching back does not recompile;
        adapter changes trigger dynamo's usual guarded recompilation."""
        tr = self.pipe.transformer
        if mode is None:
            tr._compiled_call_impl = None
            return
        if mode not in self._compiled:
            raise_recompile_limit()  # every adapter state (base, each unfused adapter, fused) is one more guarded graph
            tr.compile(**({} if mode == "default" else {"mode": mode}))
            self._compiled[mode] = tr._compiled_call_impl
        tr._compiled_call_impl = self._compiled[mode]

    def set_compile_vae(self, mode: str | None) -> None:
        """Decode through the VAE decoder compiled in ``mode`` (:mod:`.vae_compile`), or eagerly (None).
        Each compiled decoder is built once per loaded base and kept, so switching models reuses its graphs."""
        if mode is not None and mode not in self._compiled_decoders:
            self._compiled_decoders[mode] = CompiledDecoder(self.pipe.vae.decoder, mode)
        set_decoder_compiled(self.pipe.vae, None if mode is None else self._compiled_decoders[mode])


_LOADED: dict[BaseKey, LoadedBase] = {}


def load_pipeline(key: BaseKey, *, model_name: str = "?"):
    """``Cosmos2_5_PredictBasePipeline.from_pretrained`` for a base key (hub id or local folder)."""
    from diffusers import Cosmos2_5_PredictBasePipeline

    checker = make_safety_checker(key.safety_checker, model_name=model_name)
    if key.safety_checker == "none":
        log.warning(
            "model %r: Cosmos safety checker disabled (safety_checker: none); prompts and videos are not "
            "checked by NVIDIA's guardrail. This is recorded in every sidecar.",
            model_name,
        )
    kwargs: dict[str, Any] = {dtype_kwarg(): torch_dtype(key.dtype), "safety_checker": checker}
    if key.revision:
        kwargs["revision"] = key.revision
    if key.local_files_only:
        kwargs["local_files_only"] = True
    try:
        with quiet_loading():
            pipe = Cosmos2_5_PredictBasePipeline.from_pretrained(key.model, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(
            f"model {model_name!r}: could not load Cosmos Predict 2.5 from {key.model!r}"
            + (f" (revision {key.revision!r})" if key.revision else "")
            + f": {exc}"
        ) from exc
    pipe.to(key.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def get_loaded_base(key: BaseKey, *, model_name: str = "?") -> LoadedBase:
    """The shared loaded base for ``key``. A base that fails to load stops the run (ModelConfigError):
    retrying it for every video would only repeat the failure."""
    if key not in _LOADED:
        try:
            pipe = load_pipeline(key, model_name=model_name)
        except ModelConfigError:
            raise
        except Exception as exc:
            raise ModelConfigError(f"model {model_name!r}: loading {key.model!r} failed: {type(exc).__name__}: {exc}") from exc
        _LOADED[key] = LoadedBase(key, pipe)
    return _LOADED[key]


def release_pipelines() -> None:
    """Drop every loaded base pipeline (frees GPU memory once nothing else holds them)."""
    _LOADED.clear()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


# ------------------------------------------------------------------------------------ the model
class CosmosWorldModel:
    """A Cosmos Predict 2.5 candidate: the base, or the base plus one LoRA/DoRA adapter."""

    kind = "cosmos"
    uses_settings = True

    def __init__(self, spec: ModelSpec):
        spec.check_options(COSMOS_OPTIONS)
        o = spec.options
        self.name = spec.name
        self.spec = spec
        model = str(o.get("model", DEFAULT_MODEL))
        local = spec.path_option("model", model)
        self.local_path: Path | None = local.resolve() if local is not None and local.is_dir() else None
        if self.local_path is None and not HUB_ID_RE.fullmatch(model):
            raise ModelConfigError(f"{spec.where}: model folder {local} not found (and {model!r} is not a hub id)")
        self.model = str(self.local_path) if self.local_path else model
        default_revision = DEFAULT_REVISION if (self.local_path is None and model == DEFAULT_MODEL) else None
        self.revision = o.get("revision", default_revision)
        self.safety_checker = str(o.get("safety_checker", "guardrail"))
        if self.safety_checker not in SAFETY_CHOICES:
            raise ModelConfigError(
                f"{spec.where}: safety_checker must be one of {list(SAFETY_CHOICES)}, got {self.safety_checker!r}"
            )
        self.dtype = str(o.get("dtype", "bfloat16"))
        if self.dtype not in DTYPES:
            raise ModelConfigError(f"{spec.where}: dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        self.device_option = str(o.get("device", "auto"))
        self.compile = _compile_mode(o, "compile", spec)
        self.compile_vae = _compile_mode(o, "compile_vae", spec)
        self.sampler = str(o.get("sampler", "pipeline"))
        if self.sampler not in SAMPLERS:
            raise ModelConfigError(f"{spec.where}: sampler must be one of {list(SAMPLERS)}, got {self.sampler!r}")
        self.batch_cfg = o.get("batch_cfg", True)
        if not isinstance(self.batch_cfg, bool):
            raise ModelConfigError(f"{spec.where}: batch_cfg must be true or false, got {self.batch_cfg!r}")
        if "batch_cfg" in o and self.sampler != "fast":
            raise ModelConfigError(f"{spec.where}: batch_cfg applies to 'sampler: fast' only")
        self.fast_kernels = o.get("fast_kernels", False)
        if not isinstance(self.fast_kernels, bool):
            raise ModelConfigError(f"{spec.where}: fast_kernels must be true or false, got {self.fast_kernels!r}")
        if self.fast_kernels and not (self.sampler == "fast" and self.batch_cfg):
            raise ModelConfigError(f"{spec.where}: fast_kernels needs 'sampler: fast' with batch_cfg: true")
        self.local_files_only = bool(o.get("local_files_only", False))
        self.guidance = float(o.get("guidance", DEFAULT_GUIDANCE))
        self.negative_prompt = o.get("negative_prompt")
        self.max_sequence_length = int(o.get("max_sequence_length", DEFAULT_MAX_SEQUENCE_LENGTH))
        self.conditional_latent_frames = int(o.get("conditional_latent_frames", 2))
        if self.conditional_latent_frames not in (1, 2):
            raise ModelConfigError(f"{spec.where}: conditional_latent_frames must be 1 or 2")

        self.adapter: AdapterChoice | None = None
        fuse = bool(o.get("fuse", False))
        scale = float(o.get("lora_scale", 1.0))
        adapter_path = spec.path_option("adapter")
        if adapter_path is not None:
            file = resolve_adapter_file(adapter_path, o.get("adapter_weight_name"))
            self.adapter = AdapterChoice(file=file.resolve(), sha256=file_sha256(file), fuse=fuse, scale=scale)
        elif fuse or "lora_scale" in o:
            raise ModelConfigError(f"{spec.where}: 'fuse'/'lora_scale' need an 'adapter'")
        self._base_fingerprint: str | None = None

    # -- identity / key
    def base_key(self) -> BaseKey:
        return BaseKey(
            model=self.model,
            revision=self.revision,
            dtype=self.dtype,
            device=resolve_device(self.device_option),
            safety_checker=self.safety_checker,
            local_files_only=self.local_files_only,
        )

    def identity(self) -> dict[str, Any]:
        if self.local_path is not None:
            if self._base_fingerprint is None:
                self._base_fingerprint = folder_fingerprint(self.local_path)
            base: dict[str, Any] = {"local_fingerprint": self._base_fingerprint}
        else:
            base = {"hub_id": self.model, "revision": self.revision}
        return {
            "kind": self.kind,
            "base": base,
            "adapter": None
            if self.adapter is None
            else {"sha256": self.adapter.sha256, "fuse": self.adapter.fuse, "lora_scale": self.adapter.scale},
            "dtype": self.dtype,
            "safety_checker": self.safety_checker,
            "compile": self.compile,
            "guidance": self.guidance,
            "negative_prompt": self.negative_prompt,
            "max_sequence_length": self.max_sequence_length,
            "conditional_latent_frames": self.conditional_latent_frames,
            # added only when switched on, so the keys of videos made before this option existed stay valid
            **({"sampler": self._sampler_identity()} if self.sampler == "fast" else {}),
            **({"compile_vae": self.compile_vae} if self.compile_vae else {}),
        }

    def _sampler_identity(self) -> dict[str, Any]:
        # fast_kernels only when on, so keys of earlier fast-sampler videos stay valid
        return {"name": "fast", "batch_cfg": self.batch_cfg, **({"fast_kernels": True} if self.fast_kernels else {})}

    def describe(self) -> dict[str, Any]:
        """Human-facing summary (``cosmos-bench models``)."""
        return {
            "base": self.model + (f"@{self.revision}" if self.revision else ""),
            "adapter": None if self.adapter is None else str(self.adapter.file),
            "fuse": None if self.adapter is None else self.adapter.fuse,
            "safety_checker": self.safety_checker
            + (" (cosmos_guardrail is NOT installed: loading will fail)" if self.safety_checker == "guardrail" and not guardrail_available() else ""),
            "dtype": self.dtype,
            "compile": self.compile or False,
            "compile_vae": self.compile_vae or False,
            "sampler": self.sampler
            + (" (batched guidance)" if self.sampler == "fast" and self.batch_cfg else "")
            + (" + fast kernels" if self.fast_kernels else ""),
        }

    # -- running
    def pipeline(self):
        """The shared pipeline, switched to this model's adapter state."""
        return self._activate().pipe

    def _activate(self) -> LoadedBase:
        loaded = get_loaded_base(self.base_key(), model_name=self.name)
        loaded.activate(self.adapter)
        loaded.set_compile(self.compile)
        loaded.set_compile_vae(self.compile_vae)
        return loaded

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        import torch
        from PIL import Image

        loaded = self._activate()
        pipe = loaded.pipe
        device = pipe._execution_device
        shape = noise.latent_shape(request.num_frames, request.height, request.width)
        latents = noise.initial_latents(request.seed, shape, device=device, dtype=torch.float32)
        guidance = self.guidance if request.guidance is None else float(request.guidance)
        negative = request.negative_prompt if request.negative_prompt is not None else self.negative_prompt
        kwargs: dict[str, Any] = {}
        if request.video is not None:
            frames_in = 4 * (self.conditional_latent_frames - 1) + 1
            kwargs["video"] = [Image.fromarray(np.ascontiguousarray(f)) for f in request.video]
            kwargs["num_latent_conditional_frames"] = self.conditional_latent_frames
            mode = "video2world"
        elif request.image is not None:
            frames_in = 1
            kwargs["image"] = Image.fromarray(np.ascontiguousarray(request.image))
            mode = "image2world"
        else:
            frames_in = 0
            mode = "text2world"
        common = dict(height=request.height, width=request.width, num_frames=request.num_frames, latents=latents, max_sequence_length=self.max_sequence_length)
        if self.sampler == "fast":
            video = sample_video(
                pipe,
                prompt=request.prompt,
                negative_prompt=negative,
                steps=request.steps,
                guidance=guidance,
                image=kwargs.get("image"),
                video=kwargs.get("video"),
                conditional_latent_frames=self.conditional_latent_frames,
                cache=loaded.prompts,
                batch_cfg=self.batch_cfg,
                fast_kernels=self.fast_kernels,
                **common,
            )
        else:
            out = pipe(
                prompt=request.prompt,
                negative_prompt=negative,
                num_inference_steps=request.steps,
                guidance_scale=guidance,
                output_type="np",
                **common,
                **kwargs,
            )
            frames = np.asarray(out.frames[0])
            video = np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)
        info = {
            "conditioning": {
                "mode": mode,
                "frames_in": frames_in,
                # the pipeline's (frames_in - 1) // 4 + 1 latent frames are held fixed
                "latent_frames": 0 if frames_in == 0 else (frames_in - 1) // noise.TEMPORAL_FACTOR + 1,
            },
            "noise": noise.describe(request.seed, (1, *shape)),
            "guidance": guidance,
            "negative_prompt": "pipeline default" if negative is None else negative,
            "safety_checker": self.safety_checker,
            "device": _device_name(device),
            "base": {"model": self.model, "revision": self.revision, "hub_commit": _hub_commit(pipe)},
            "adapter": None
            if self.adapter is None
            else {"file": str(self.adapter.file), "sha256": self.adapter.sha256, "fuse": self.adapter.fuse, "lora_scale": self.adapter.scale},
            "dtype": self.dtype,
            "compile": self.compile,
            "compile_vae": self.compile_vae,
            "sampler": self.sampler,
            **({"batch_cfg": self.batch_cfg, "fast_kernels": self.fast_kernels} if self.sampler == "fast" else {}),
        }
        return GeneratedVideo(frames=video, fps=request.fps, info=info)


def _compile_mode(options: dict[str, Any], name: str, spec: ModelSpec) -> str | None:
    """A ``compile``-style option: false (None), true (``default``) or a torch.compile mode name."""
    value = options.get(name, False)
    if value is True:
        value = "default"
    if value not in (False, None, *COMPILE_MODES):
        raise ModelConfigError(f"{spec.where}: {name} must be false, true or a torch.compile mode, got {value!r}")
    return value or None


def _device_name(device) -> str:
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return str(dev)


def build_cosmos(spec: ModelSpec) -> CosmosWorldModel:
    """Factory of the built-in ``cosmos`` kind."""
    return CosmosWorldModel(spec)


__all__ = [
    "ADAPTER_FILE",
    "COSMOS_OPTIONS",
    "CosmosWorldModel",
    "DEFAULT_MODEL",
    "DEFAULT_REVISION",
    "LORA_TARGET_MODULES",
    "LoadedBase",
    "NoSafetyChecker",
    "SCHEDULER_CONFIG",
    "TRANSFORMER_2B_CONFIG",
    "build_cosmos",
    "library_versions",
    "make_safety_checker",
    "release_pipelines",
    "resolve_adapter_file",
    "save_adapter",
]
