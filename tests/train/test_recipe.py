"""Recipes: the shipped four, defaults, validation errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosmos_bench.train.recipe import RecipeError, load_recipe, parse_recipe

TRAINER = Path(__file__).resolve().parents[2] / "trainer"


@pytest.mark.parametrize("name,kind,rank", [("lora8", "lora", 8), ("lora32", "lora", 32), ("dora8", "dora", 8), ("dora32", "dora", 32)])
def test_shipped_recipes_have_the_seed_settings(name, kind, rank):
    r = load_recipe(TRAINER / f"{name}.yaml")
    assert (r.name, r.adapter.type, r.adapter.rank, r.train.epochs) == (name, kind, rank, 100)
    assert r.adapter.use_dora == (kind == "dora")
    assert (r.data.num_frames, r.data.height, r.data.width) == (93, 432, 768)
    assert r.conditioning.latent_frames == 1  # what evaluation (image-to-world) uses
    assert r.adapter.target_modules == ["to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"]


def test_the_four_candidates_share_data_windows_and_noise():
    """Same seed, data and size: one latent cache serves all four, and they see the same samples."""
    keys = set()
    for name in ("lora8", "lora32", "dora8", "dora32"):
        r = load_recipe(TRAINER / f"{name}.yaml")
        keys.add((r.train.seed, str(r.data), str(r.sigma), str(r.conditioning), r.model.pretrained))
    assert len(keys) == 1


def test_unknown_keys_are_errors_with_a_hint():
    with pytest.raises(RecipeError, match="did you mean 'learning_rate'"):
        parse_recipe({"train": {"learning_rte": 1e-4}})
    with pytest.raises(RecipeError, match="unknown section 'adaptor'"):
        parse_recipe({"adaptor": {}})


@pytest.mark.parametrize("section,values,message", [
    ("data", {"num_frames": 90}, "1 \\+ 4k"),
    ("data", {"height": 100}, "multiples of 16"),
    ("conditioning", {"latent_frames": 3}, "1, 2 or sampled"),
    ("sigma", {"distribution": "beta"}, "logit_normal"),
    ("train", {"gradient_checkpointing": "some"}, "partial:N"),
    ("adapter", {"type": "ia3"}, "lora or dora"),
])
def test_invalid_values_name_the_field(section, values, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({section: values})


def test_fingerprint_ignores_run_length_and_speed_settings():
    r = parse_recipe({"adapter": {"rank": 8}})
    assert r.fingerprint() == r.replace(train={"epochs": 7, "gradient_checkpointing": "none", "compile": "blocks"}).fingerprint()
    assert r.fingerprint() != r.replace(train={"learning_rate": 3e-4}).fingerprint()
    assert r.fingerprint() != r.replace(adapter={"type": "dora"}).fingerprint()
