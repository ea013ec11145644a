"""One loaded Cosmos Predict 2.5 pipeline per base, shared by every candidate on it, and its state.

Models that name the same base (model, revision, dtype, device, safety checker) share one loaded
pipeline: switching from ``base`` to ``lora8`` to ``dora32`` loads adapter files only, and
``compile: true`` (``torch.compile`` of the transformer) is switched on and off per model on that
same pipeline. Fusing changes the base weights in place, and in bf16 ``W + dW - dW != W``; so before
the first fuse a CPU copy of the transformer's weights is kept, and leaving a fused candidate
restores it exactly. ``base`` after a fused ``lora32`` is bit-identical to ``base`` in a fresh process.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import ModelConfigError
from .cosmos_facts import adapter_name_for
from .cosmos_sampler import PromptCache
from .dora_compile import make_dora_traceable
from .dynamo_config import raise_recompile_limit
from .loading import load_pretrained, pretrained_kwargs
from .safety import make_safety_checker
from .vae_compile import CompiledDecoder, set_decoder_compiled

log = logging.getLogger(__name__)


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
    failure = f"model {model_name!r}: could not load Cosmos Predict 2.5 from {key.model!r}" + (
        f" (revision {key.revision!r})" if key.revision else ""
    )
    kwargs = pretrained_kwargs(key.dtype, revision=key.revision, local_files_only=key.local_files_only, safety_checker=checker)
    pipe = load_pretrained(Cosmos2_5_PredictBasePipeline, key.model, device=key.device, failure=failure, **kwargs)
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




__all__ = ["AdapterChoice", "BaseKey", "LoadedBase", "get_loaded_base", "load_pipeline", "release_pipelines"]
