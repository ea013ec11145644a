"""What Cosmos Predict 2.5 is, and its adapter files: the facts inference and training share.

The hub id and revision of the diffusers weights, the 2B transformer's config, the scheduler
diffusers' conversion script writes, the modules a LoRA/DoRA adapter targets, and the adapter file
format (``pytorch_lora_weights.safetensors``, what ``pipe.load_lora_weights`` reads). The ``cosmos``
world model (:mod:`.cosmos`), the tiny test components (:mod:`.tiny`) and the trainer
(:mod:`cosmos_bench.train`) all read them from here, so a second copy can never drift.
Nothing here imports torch at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .base import AdapterNotTrainedError, ModelConfigError

DEFAULT_MODEL = "nvidia/Cosmos-Predict2.5-2B"
DEFAULT_REVISION = "diffusers/base/post-trained"
ADAPTER_FILE = "pytorch_lora_weights.safetensors"
DEFAULT_GUIDANCE = 7.0  # Cosmos2_5_PredictBasePipeline.__call__'s default
DEFAULT_MAX_SEQUENCE_LENGTH = 512

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


def default_revision(model: str) -> str | None:
    """The hub revision that holds the diffusers weights of ``model``: known for the default model only."""
    return DEFAULT_REVISION if model == DEFAULT_MODEL else None


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
    raise AdapterNotTrainedError(path)


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


__all__ = [
    "ADAPTER_FILE",
    "DEFAULT_GUIDANCE",
    "DEFAULT_MAX_SEQUENCE_LENGTH",
    "DEFAULT_MODEL",
    "DEFAULT_REVISION",
    "LORA_TARGET_MODULES",
    "SCHEDULER_CONFIG",
    "TRANSFORMER_2B_CONFIG",
    "adapter_name_for",
    "default_revision",
    "resolve_adapter_file",
    "save_adapter",
]
