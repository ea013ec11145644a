"""Hugging Face ``transformers serve`` on 127.0.0.1 with the tiny local Qwen3-VL checkpoints, as a
real third-party OpenAI-compatible server for the judge's tests (one per test session).

Bounded: the server runs under coreutils ``timeout`` (it dies after ``lifetime_s`` even if the test
process is killed), the fixture stops it by its pid at the end, and readiness waits at most
``start_timeout_s``. Offline: ``HF_HUB_OFFLINE`` and local folders only. Its log (every request,
and tracebacks of server errors) is kept in ``log_path`` for failure messages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.judge.tiny_vlm import build_tiny_qwen3_vl

# what the fixed model says, piece by piece (each an added token): thinking, then the answer line
FIXED_ANSWER = ["<think>", "The motion is smooth and the cup stays rigid.", "</think>", "\nScore: 4"]


@dataclass
class ServedProcess:
    """A test server process on 127.0.0.1 under coreutils ``timeout``, with its log file."""

    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # coreutils timeout passes it on to the server
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def wait_until_healthy(self, name: str, start_timeout_s: float) -> None:
        """Poll ``/health`` until it answers 200; raise with the server's log if it exits or takes too long."""
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{name} did not answer /health within {start_timeout_s:g}s:\n{self.log_tail()}")


@dataclass
class HFServe(ServedProcess):
    fixed_model: str = ""  # always answers FIXED_ANSWER
    random_model: str = ""  # random weights: garbage replies
    unlisted_model: str = ""  # a copy of the fixed one that no test asks for before the listing test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hf_serve(root: Path, *, lifetime_s: int = 900, start_timeout_s: float = 180.0) -> HFServe:
    """Build the checkpoints under ``root`` and start the server; raises with its log if it does not come up."""
    fixed = build_tiny_qwen3_vl(root / "tiny-qwen3-vl-fixed", answer=FIXED_ANSWER)
    rand = build_tiny_qwen3_vl(root / "tiny-qwen3-vl-random", seed=1)
    unlisted = shutil.copytree(fixed, root / "tiny-qwen3-vl-unlisted")
    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists():
        raise RuntimeError(f"{exe} not found: install the dev extra (transformers[serving]) into this environment")
    port = free_port()
    log_path = root / "transformers-serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HOME": str(root / "hf-home")}
    cmd = [shutil.which("timeout") or "timeout", str(lifetime_s), str(exe), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--device", "cpu", "--log-level", "info"]
    log = open(log_path, "wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=root)
    server = HFServe(port, process, log_path, str(fixed), str(rand), str(unlisted))
    server.wait_until_healthy("transformers serve", start_timeout_s)
    return server
