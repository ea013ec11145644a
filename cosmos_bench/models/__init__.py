"""models stage of cosmos-bench: world models, the kind registry, the models YAML, generation.

``base`` (protocol, registry, YAML; imports no torch), ``cosmos`` (the Cosmos Predict 2.5 world model,
LoRA/DoRA candidates) over ``cosmos_facts`` (hub id, configs, LoRA targets, adapter files), ``safety``
(the safety-checker choice), ``loading`` (``from_pretrained`` and weights identity, shared with
``external`` and the trainer) and ``loaded_base`` (one shared pipeline per base and its state);
``external`` (``diffusers-i2v``, ``folder``), ``synthetic``, ``noise`` (arch-invariant latents),
``generate`` (the generation loop), ``tiny`` (tiny real components for tests and the demo).
"""

from .base import (
    GeneratedVideo,
    GenerationRequest,
    ModelConfigError,
    ModelSpec,
    WorldModel,
    available_kinds,
    build_model,
    load_models,
    load_models_config,
    register_kind,
    register_model,
)

__all__ = [
    "GeneratedVideo",
    "GenerationRequest",
    "ModelConfigError",
    "ModelSpec",
    "WorldModel",
    "available_kinds",
    "build_model",
    "load_models",
    "load_models_config",
    "register_kind",
    "register_model",
]
