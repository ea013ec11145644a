"""`cosmos-bench train`: progress, loss log, --max-steps/--resume, registration in the models YAML."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.models.base import load_models_config

from .conftest import tiny_recipe

runner = CliRunner(env={"COLUMNS": "200"})


def test_train_command_stops_resumes_and_registers(tiny_base, train_data, cache_dir, tmp_path: Path):
    recipe = tiny_recipe(tiny_base, cache_dir, name="lora4", train={"epochs": 2})
    recipe_file = tmp_path / "lora4.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe.to_dict()))
    models = tmp_path / "models.yaml"
    models.write_text(f"# candidates\nmodels:\n  base: {{kind: cosmos, model: {tiny_base}, safety_checker: none, dtype: float32}}\n")
    out = tmp_path / "runs" / "lora4"
    args = ["train", "--recipe", str(recipe_file), "--data", str(train_data), "--out", str(out),
            "--models-file", str(models), "--device", "cpu"]

    first = runner.invoke(app, [*args, "--max-steps", "3"])
    assert first.exit_code == 0, first.output
    assert "stopped" in first.output and "--resume" in first.output
    assert "lora4" not in load_models_config(models).entries

    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already holds a run" in again.output

    done = runner.invoke(app, [*args, "--resume"])
    assert done.exit_code == 0, done.output
    assert "registered" in done.output
    rows = [json.loads(line) for line in (out / "loss.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert (out / "loss.csv").read_text().splitlines()[0] == "step,epoch,loss,lr,grad_norm,seconds,samples_per_second"
    entry = load_models_config(models).entries["lora4"]
    assert entry["extends"] == "base" and (models.parent / entry["adapter"] / "pytorch_lora_weights.safetensors").is_file()
    assert models.read_text().startswith("# candidates")  # appended, comments kept

    # registering the same run again is a no-op; another run under the same name is refused
    assert "already registered" in runner.invoke(app, [*args, "--resume"]).output


def test_train_command_reports_recipe_errors(tmp_path: Path, train_data):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rte: 1.0e-4\n")
    result = runner.invoke(app, ["train", "--recipe", str(bad), "--data", str(train_data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "learning_rate" in result.output
