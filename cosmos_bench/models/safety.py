"""The Cosmos safety checker choice: NVIDIA's guardrail, or an explicit pass-through.

``Cosmos2_5_PredictBasePipeline`` refuses to run without a safety checker, and when given ``None``
builds ``cosmos_guardrail.CosmosSafetyChecker``, which needs the ``cosmos_guardrail`` package. The
choice is explicit per model (``safety_checker:`` in the models YAML):

- ``guardrail`` (the default): NVIDIA's guardrail checks each prompt and each generated video (it
  may blur faces, which changes the video); a clear error says how to install it when missing.
- ``none``: :class:`NoSafetyChecker`, a plain object that passes every prompt and video through.
  The choice is logged when such a model loads and recorded in every sidecar and generation key.

The world model, the fast sampler and the trainer's encoding pipeline import it from here.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .base import ModelConfigError

SAFETY_CHOICES = ("guardrail", "none")


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


__all__ = ["SAFETY_CHOICES", "NoSafetyChecker", "guardrail_available", "make_safety_checker"]
