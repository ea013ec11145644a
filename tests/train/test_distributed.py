"""Two CPU processes under ``accelerate launch`` (DDP over gloo) train the same adapter as one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cosmos_bench.train.trainer import train

from .conftest import tiny_recipe
from .test_trainer import adapters_equal

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_with_the_same_global_batch(tiny_base, train_data, cache_dir, tmp_path):
    # global batch 2: one process x batch 2, or two processes x batch 1; conditioning sampled per sample
    one = tiny_recipe(tiny_base, cache_dir, name="ddp", adapter={"type": "dora", "rank": 4},
                      conditioning={"latent_frames": "sampled"},
                      train={"epochs": 3, "batch_size": 2, "learning_rate": 5e-3, "checkpointing_epochs": None})
    single = train(one, train_data, tmp_path / "one", device="cpu")

    two = one.replace(train={"batch_size": 1})
    recipe_file = tmp_path / "ddp.yaml"
    recipe_file.write_text(yaml.safe_dump(two.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        "-m", "cosmos_bench.train", "--recipe", str(recipe_file), "--data", str(train_data), "--out", str(tmp_path / "two"),
        "--device", "cpu",
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    result = [r for r in records if r["record"] == "result"]
    assert len(result) == 1 and result[0]["finished"], proc.stdout[-2000:]
    info = json.loads((tmp_path / "two" / "train_info.json").read_text())
    assert info["processes"] == 2 and info["global_batch"] == 2
    worst = adapters_equal(single.adapter, tmp_path / "two" / "pytorch_lora_weights.safetensors", atol=1e-4)
    print(f"max |adapter(2 processes) - adapter(1 process)| = {worst:.3g}")
    assert result[0]["losses"] == pytest.approx(single.losses, abs=1e-4)
