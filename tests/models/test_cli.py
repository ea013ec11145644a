"""`cosmos-bench generate` and `cosmos-bench models` (the thin CLI over the library)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cosmos_bench.cli import app

runner = CliRunner(env={"COLUMNS": "220"})


def test_models_lists_entries_and_kinds(tiny_zoo: Path) -> None:
    result = runner.invoke(app, ["models", "--models-file", str(tiny_zoo)])
    assert result.exit_code == 0, result.output
    for text in ("lora4-fused", "dora4", "safety_checker=none", "diffusers-i2v", "folder", "built-in"):
        assert text in result.output
    assert runner.invoke(app, ["models", "list", "--models-file", str(tiny_zoo)]).exit_code == 0


def test_models_register_adds_a_trained_adapter(tmp_path: Path, tiny_zoo: Path) -> None:
    models_file = tmp_path / "models.yaml"
    models_file.write_text(f"# candidates\nmodels:\n  base: {{kind: cosmos, model: {tiny_zoo.parent / 'base'}, safety_checker: none}}\n")
    adapter = tiny_zoo.parent / "adapters" / "dora4"
    result = runner.invoke(app, ["models", "register", "dora-new", "--adapter", str(adapter), "--fuse", "--models-file", str(models_file)])
    assert result.exit_code == 0, result.output
    entry = yaml.safe_load(models_file.read_text())["models"]["dora-new"]
    assert entry == {"extends": "base", "adapter": str(adapter.resolve()), "fuse": True}
    assert models_file.read_text().startswith("# candidates")
    again = runner.invoke(app, ["models", "register", "dora-new", "--adapter", str(adapter), "--models-file", str(models_file)])
    assert again.exit_code == 2 and "already exists" in again.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(app, ["models", "register", "x", "--adapter", str(empty), "--models-file", str(models_file)])
    assert bad.exit_code == 2 and "no pytorch_lora_weights.safetensors" in " ".join(bad.output.split())


def test_models_marks_broken_entries(tmp_path: Path) -> None:
    models_file = tmp_path / "models.yaml"
    models_file.write_text("models:\n  theirs: {kind: folder, path: nowhere}\n")
    result = runner.invoke(app, ["models", "--models-file", str(models_file)])
    assert result.exit_code == 1 and "not found" in result.output


def test_generate_command(tmp_path: Path, tiny_zoo: Path, tiny_suite: Path) -> None:
    args = ["generate", "--models", "base,dora4", "--suite", str(tiny_suite), "--out", str(tmp_path / "out"), "--seeds", "1",
            "--limit", "1", "--steps", "2", "--frames", "9", "--size", "32x48", "--models-file", str(tiny_zoo)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 generated, 0 skipped" in result.output
    sidecars = sorted((tmp_path / "out").glob("*/*/seed0/open_drawer.json"))
    assert [json.loads(p.read_text())["model"] for p in sidecars] == ["base", "dora4"]
    assert "0 generated, 2 skipped" in runner.invoke(app, args).output

    unknown = runner.invoke(app, [*args[:2], "base,lora99", *args[3:]])
    assert unknown.exit_code == 2 and "no model named 'lora99'" in unknown.output
    bad_size = runner.invoke(app, [*args, "--size", "big"])
    assert bad_size.exit_code == 2 and "HEIGHTxWIDTH" in bad_size.output


def test_untrained_adapter_is_a_note_with_the_train_command(tmp_path: Path) -> None:
    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "lora8.yaml").write_text("name: lora8\n")
    models_file = tmp_path / "models.yaml"
    models_file.write_text(
        "models:\n"
        "  base: {kind: cosmos, safety_checker: none}\n"
        "  lora8: {extends: base, adapter: runs/train/lora8, fuse: true}\n"
    )
    result = runner.invoke(app, ["models", "--models-file", str(models_file)])
    out = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 0, result.output
    assert "not trained yet" in out
    assert f"--recipe {tmp_path / 'trainer' / 'lora8.yaml'}" in out and f"--out {tmp_path / 'runs' / 'train' / 'lora8'}" in out
    # a malformed entry or an unknown kind beside it is still an error
    models_file.write_text(models_file.read_text() + "  odd: {kind: no-such-kind}\n")
    assert runner.invoke(app, ["models", "--models-file", str(models_file)]).exit_code == 1


def test_the_shipped_models_yaml_lists_without_failing() -> None:
    shipped = Path(__file__).resolve().parents[2] / "models.yaml"
    result = runner.invoke(app, ["models", "--models-file", str(shipped)])
    assert result.exit_code == 0, result.output
