"""Cosmos Predict 2.5 through diffusers: the base model and LoRA/DoRA candidates on one loaded base.

A ``cosmos`` entry of the models YAML::

    base:
      kind: cosmos
      model: nvidia/Cosmos-Predict2.5-2B       # hub id, or a local folder written by save_pretrained
      revision: diffusers/base/post-trained    # hub revision holding the diffusers weights
      safety_checker: guardrail                # guardrail | none  (models/safety.py)
      dtype: bfloat16
    lora8:
      extends: base
      adapter: trainer/runs/lora8              # folder with pytorch_lora_weights.safetensors, the file, or hf://org/name[@rev][/sub]
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

Models that name the same base share one loaded pipeline (:mod:`.loaded_base`): switching from
``base`` to ``lora8`` to ``dora32`` loads adapter files only, and leaving a fused candidate restores
the base weights exactly.

**Safety checker** (:mod:`.safety`): ``guardrail`` (NVIDIA's, the default) or ``none`` (a
pass-through, logged and recorded in every sidecar and in the generation key). Under the NVIDIA Open
Model License the user stays responsible for the use of the outputs.

The job is split by module: :mod:`.cosmos_facts` (hub id, configs, LoRA targets, adapter files),
:mod:`.safety`, :mod:`.loading` (``from_pretrained`` and the weights' identity, shared with
``diffusers-i2v`` and the trainer), :mod:`.loaded_base` (the shared pipeline's state) and this
module (the world model). The names below stay importable from here.

Initial latents come from :mod:`cosmos_bench.models.noise` (same numbers on every device), passed
to the pipeline as ``latents``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..provenance import library_versions  # re-exported (older import path)
from . import noise
from .base import GeneratedVideo, GenerationRequest, ModelConfigError, ModelSpec, file_sha256
from .cosmos_facts import (
    ADAPTER_FILE,
    DEFAULT_GUIDANCE,
    DEFAULT_MAX_SEQUENCE_LENGTH,
    DEFAULT_MODEL,
    DEFAULT_REVISION,
    LORA_TARGET_MODULES,
    SCHEDULER_CONFIG,
    TRANSFORMER_2B_CONFIG,
    adapter_name_for,
    default_revision,
    resolve_adapter_file,
    save_adapter,
)
from .cosmos_sampler import sample_video
from .hub import resolve_adapter
from .loaded_base import _LOADED  # noqa: F401  (the shared bases, read as cosmos._LOADED)
from .loaded_base import AdapterChoice, BaseKey, LoadedBase, get_loaded_base, load_pipeline, release_pipelines
from .loading import DTYPES, HUB_ID_RE, ModelSource, dtype_kwarg, hub_commit, quiet_loading, resolve_device, torch_dtype
from .safety import SAFETY_CHOICES, NoSafetyChecker, guardrail_available, make_safety_checker

SAMPLERS = ("pipeline", "fast")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

COSMOS_OPTIONS = (
    "model",
    "revision",
    "safety_checker",
    "dtype",
    "device",
    "adapter",
    "adapter_weight_name",
    "adapter_revision",
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
        self.source = ModelSource.from_spec(spec, model, default_revision=default_revision(model))
        if self.source.local_path is None and not HUB_ID_RE.fullmatch(model):
            raise ModelConfigError(
                f"{spec.where}: model folder {spec.path_option('model', model)} not found (and {model!r} is not a hub id)"
            )
        self.local_path, self.model, self.revision = self.source.local_path, self.source.model, self.source.revision
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
        self.adapter_hub: dict[str, Any] | None = None  # repo, revision, commit of a Hub adapter (models.hub)
        resolved = resolve_adapter(spec)
        if resolved is not None:
            file, self.adapter_hub = resolved
            self.adapter = AdapterChoice(file=file.resolve(), sha256=file_sha256(file), fuse=fuse, scale=scale)
        elif fuse or "lora_scale" in o:
            raise ModelConfigError(f"{spec.where}: 'fuse'/'lora_scale' need an 'adapter'")

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
        return {
            "kind": self.kind,
            "base": self.source.identity(),
            "adapter": None
            if self.adapter is None
            else {"sha256": self.adapter.sha256, "fuse": self.adapter.fuse, "lora_scale": self.adapter.scale,
                  **({"hub": self.adapter_hub} if self.adapter_hub else {})},  # only for Hub adapters: old keys stay
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
            "base": self.source.describe(),
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
            "base": {"model": self.model, "revision": self.revision, "hub_commit": hub_commit(pipe)},
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
    # the world model
    "COSMOS_OPTIONS",
    "CosmosWorldModel",
    "SAMPLERS",
    "build_cosmos",
    # re-exported from the modules the job was split into, for existing imports
    "ADAPTER_FILE",
    "DEFAULT_MODEL",
    "DEFAULT_REVISION",
    "DTYPES",
    "LORA_TARGET_MODULES",
    "SAFETY_CHOICES",
    "SCHEDULER_CONFIG",
    "TRANSFORMER_2B_CONFIG",
    "AdapterChoice",
    "BaseKey",
    "LoadedBase",
    "NoSafetyChecker",
    "adapter_name_for",
    "dtype_kwarg",
    "file_sha256",
    "get_loaded_base",
    "guardrail_available",
    "library_versions",
    "load_pipeline",
    "make_safety_checker",
    "quiet_loading",
    "release_pipelines",
    "resolve_adapter_file",
    "resolve_device",
    "save_adapter",
    "torch_dtype",
]
