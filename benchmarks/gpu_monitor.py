"""Board power and SM clock while a benchmark runs.

The compiled DiT step runs into the card's power limit (RESULTS.md, third generation pass), so a timing
without the clock and power beside it cannot tell a slower kernel from a down-clocked one.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess

import torch


def physical_gpu_index(visible_index: int, visible: str | None = None) -> str:
    """The index nvidia-smi knows a GPU by. nvidia-smi ignores ``CUDA_VISIBLE_DEVICES``, so torch's
    device 0 under ``CUDA_VISIBLE_DEVICES=1`` is nvidia-smi's GPU 1 (an earlier run read the wrong card)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    entries = [e.strip() for e in (visible or "").split(",") if e.strip()]
    if visible_index < len(entries):
        return entries[visible_index]  # an index or a GPU UUID: nvidia-smi -i takes both
    return str(visible_index)


def nvidia_smi_index(device: str) -> str | None:
    """The ``nvidia-smi -i`` argument for the current CUDA device, or None where nvidia-smi cannot be asked."""
    if not device.startswith("cuda") or shutil.which("nvidia-smi") is None:
        return None
    return physical_gpu_index(torch.cuda.current_device())


class GpuMonitor:
    """SM clock and board power sampled by ``nvidia-smi`` every 100 ms while the block runs.

    A compute-bound kernel that runs slower compiled than eager is either fed differently or clocked
    lower; the clock tells which.
    """

    def __init__(self, device: str):
        self.device = device
        self.proc: subprocess.Popen | None = None
        self.summary: dict[str, float] = {}

    def __enter__(self) -> "GpuMonitor":
        index = nvidia_smi_index(self.device)
        if index is not None:
            cmd = ["nvidia-smi", "-i", index, "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader,nounits", "-lms", "100"]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        samples = []
        for line in out.splitlines():
            try:
                clock, power = (float(x) for x in line.split(","))
            except ValueError:
                continue
            samples.append((clock, power))
        if samples:
            self.summary = {
                "sm_clock_mhz_median": statistics.median(c for c, _ in samples),
                "power_w_median": statistics.median(p for _, p in samples),
                "samples": len(samples),
            }


def card_limits(device: str) -> dict[str, float]:
    """The board power limit and the highest SM clock: the ceiling that a power-bound step is measured against."""
    index = nvidia_smi_index(device)
    if index is None:
        return {}
    cmd = ["nvidia-smi", "-i", index, "--query-gpu=power.limit,clocks.max.sm", "--format=csv,noheader,nounits"]
    try:
        power, clock = (float(x) for x in subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.split(","))
    except (ValueError, subprocess.SubprocessError):
        return {}
    return {"power_limit_w": power, "sm_clock_max_mhz": clock}
