"""The packaged default models and ``cosmos-bench init``: the headline command works in an empty folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.layout import list_test_pairs
from cosmos_bench.data.suite import load_suite
from cosmos_bench.models import base
from cosmos_bench.models.base import ModelConfigError, load_models_config
from cosmos_bench.project import init_project

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = ("base", "lora8", "lora32", "dora8", "dora32")
runner = CliRunner(env={"COLUMNS": "220"})


@pytest.fixture
def empty(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(base.MODELS_ENV, raising=False)
    return tmp_path


def test_no_models_yaml_uses_the_packaged_defaults_and_says_so(empty: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="cosmos_bench.models.base"):
        config = load_models_config()
    assert set(DEFAULTS) <= set(config.names)
    assert config.packaged == REPO / "models.yaml"
    assert "using the default models the package carries" in caplog.text
    lora8 = config.spec("lora8")
    # adapters resolve in the folder the user works in, not inside the package
    assert lora8.path_option("adapter") == empty.resolve() / "runs" / "train" / "lora8"
    assert lora8.options["model"] == "nvidia/Cosmos-Predict2.5-2B"
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "default models the package carries" in result.output
    # the not-trained note points at the packaged recipe, which exists
    assert f"--recipe {REPO / 'trainer' / 'lora8.yaml'}" in " ".join(result.output.split())


def test_a_named_models_file_that_is_missing_is_still_an_error(empty: Path, monkeypatch) -> None:
    with pytest.raises(ModelConfigError, match="models file not found"):
        load_models_config(empty / "models.yaml")
    monkeypatch.setenv(base.MODELS_ENV, str(empty / "nope.yaml"))
    with pytest.raises(ModelConfigError, match="nope.yaml: models file not found"):
        load_models_config()


def test_init_writes_an_editable_project_and_keeps_existing_files(empty: Path) -> None:
    result = runner.invoke(app, ["init", "proj"])
    assert result.exit_code == 0, result.output
    proj = empty / "proj"
    assert (proj / "models.yaml").read_text() == (REPO / "models.yaml").read_text()  # comments kept
    for name in ("lora8", "lora32", "dora8", "dora32"):
        assert (proj / "trainer" / f"{name}.yaml").read_text() == (REPO / "trainer" / f"{name}.yaml").read_text()
    suite = load_suite(proj / "suites" / "starter")
    assert suite.views == ["left", "right"] and len(list_test_pairs(suite.root)) == 2
    assert (suite.root / "videos" / "scene_000.mp4").is_file()
    # the written models.yaml is what is read now, with paths relative to it
    config = load_models_config(proj / "models.yaml")
    assert config.packaged is None and config.spec("lora8").path_option("adapter") == (proj / "runs/train/lora8").resolve()

    edited = "models:\n  mine: {kind: synthetic}\n"
    (proj / "models.yaml").write_text(edited)
    report = init_project(proj, suite=False)
    assert proj / "models.yaml" in report.kept and (proj / "models.yaml").read_text() == edited
    init_project(proj, suite=False, force=True)
    assert yaml.safe_load((proj / "models.yaml").read_text())["models"].keys() >= set(DEFAULTS)


def test_init_into_a_file_is_refused(empty: Path) -> None:
    (empty / "afile").write_text("x")
    result = runner.invoke(app, ["init", "afile"])
    assert result.exit_code == 2 and "afile: is a file" in result.output


def test_register_without_a_models_yaml_writes_the_defaults_and_the_adapter(empty: Path) -> None:
    adapter = empty / "runs" / "train" / "mine"
    adapter.mkdir(parents=True)
    (adapter / "pytorch_lora_weights.safetensors").write_bytes(b"x")
    result = runner.invoke(app, ["models", "register", "mine", "--adapter", str(adapter)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((empty / "models.yaml").read_text())["models"]
    assert set(DEFAULTS) <= set(written) and written["mine"] == {"extends": "base", "adapter": "runs/train/mine"}
    assert (empty / "models.yaml").read_text().startswith((REPO / "models.yaml").read_text())  # comments kept
