"""train stage of cosmos-bench: LoRA/DoRA fine-tuning of the Cosmos Predict 2.5 DiT.

``train(recipe, data, out)`` is the library call behind ``cosmos-bench train`` (see
:mod:`cosmos_bench.train.trainer`); recipes are YAML files (:mod:`cosmos_bench.train.recipe`);
``python -m cosmos_bench.train`` runs it without the CLI (e.g. under ``accelerate launch -m``).
Heavy imports (torch, diffusers, peft, accelerate) happen only when these are used.
"""

from __future__ import annotations

from .recipe import Recipe, RecipeError, load_recipe, parse_recipe

__all__ = ["Recipe", "RecipeError", "StepInfo", "TrainError", "TrainResult", "load_recipe", "parse_recipe", "train"]


def __getattr__(name: str):
    if name in ("train", "StepInfo", "TrainError", "TrainResult", "Trainer", "models_entry", "latest_checkpoint"):
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
