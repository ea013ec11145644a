"""``--set NAME.KEY=VALUE``: one model's option for one run, part of its generation key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.errors import InputError
from cosmos_bench.models.base import ModelConfigError, load_models
from cosmos_bench.models.generate import GenerationSettings, generation_key
from cosmos_bench.models.overrides import parse_overrides

YAML = "models:\n  base: {kind: synthetic}\n  warp: {extends: base, degrade: ['elastic:1']}\n"
SETTINGS = GenerationSettings(num_frames=5, height=32, width=48, steps=1)


def test_parse_overrides() -> None:
    assert parse_overrides(["lora8.lora_scale=0.5", "base.guidance=5", "warp.degrade=[elastic:3]", "a.b=hf://x/y"]) == {
        "lora8": {"lora_scale": 0.5}, "base": {"guidance": 5}, "warp": {"degrade": ["elastic:3"]}, "a": {"b": "hf://x/y"}}
    for bad, why in (("lora8=1", "NAME.KEY=VALUE"), ("x.kind=cosmos", "cannot be overridden"),
                     ("a.b=[1", "not valid YAML")):
        with pytest.raises(InputError, match=why) as info:
            parse_overrides([bad])
        assert info.value.option == "set"
    with pytest.raises(InputError, match="set twice"):
        parse_overrides(["a.b=1", "a.b=2"])


def test_an_override_changes_only_that_model_and_its_key(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(YAML)
    base, warp = load_models("base,warp", path)
    over_base, over_warp = load_models("base,warp", path, overrides={"warp": {"degrade": ["elastic:3"]}})
    assert over_base.identity() == base.identity()  # not spread to the model it extends
    assert over_warp.identity() != warp.identity()
    assert generation_key(over_warp, SETTINGS) != generation_key(warp, SETTINGS)
    with pytest.raises(InputError, match=r"names model\(s\) \['wrap'\] that this run does not use"):
        load_models("base,warp", path, overrides={"wrap": {"degrade": []}})
    with pytest.raises(ModelConfigError, match="unknown option 'degarde'"):
        load_models("warp", path, overrides={"warp": {"degarde": []}})


def test_generate_with_set_writes_under_another_key(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(YAML)
    from cosmos_bench.data.synthetic import SceneConfig
    from cosmos_bench.data.synthetic_suite import write_synthetic_suite

    suite = write_synthetic_suite(tmp_path / "suite", SceneConfig(views=1, frames=5, height=48, width=64), samples=1).root
    runner = CliRunner(env={"COLUMNS": "220"})
    common = ["generate", "--models", "warp", "--suite", str(suite), "--models-file", str(tmp_path / "models.yaml"),
              "--seeds", "1", "--steps", "1", "--out", str(tmp_path / "out")]
    assert runner.invoke(app, common).exit_code == 0
    result = runner.invoke(app, [*common, "--set", "warp.degrade=[elastic:3]"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "out" / "warp").iterdir())) == 2  # two generation keys, two folders
    bad = runner.invoke(app, [*common, "--set", "warp"])
    assert bad.exit_code == 2 and "--set: 'warp' must look like NAME.KEY=VALUE" in " ".join(bad.output.split())
