"""Limits checked before any work, from an estimate of the memory a run will hold.

``run --frames 99999999`` used to grow past 10 GB before the kernel killed it, and ``data synth
--size 99999999x99999999`` failed with a 125 PiB ``MemoryError`` after creating its folder. The sizes
a command is given are checked here first, against the memory this machine has available, and the
message says the estimate so the user can pick a size that fits.

The estimate is per video, the unit every stage holds at once: its frames as ``uint8`` RGB for each
view, plus a ``float32`` copy (what a diffusion pipeline returns, and what the synthetic renderer
works in), plus the per-frame state (camera poses, fields) a renderer keeps. It is deliberately a
bound from above: a run that passes may use less, one that is refused could not have finished.
"""

from __future__ import annotations

import math
import os

from .errors import InputError

BYTES_PER_PIXEL = 3 * (1 + 4)  # RGB as uint8 plus a float32 copy
BYTES_PER_FRAME = 4096  # per-frame state beside the pixels (poses, per-frame fields and records)
BYTES_PER_ITEM = 4096  # one planned work item (model x test pair x seed): its plan, result, claim and row keys
MAX_AMPLITUDE_PX = 1000.0  # a degradation's displacement; larger moves content off any frame


def available_memory() -> int:
    """Bytes this process can still get: Linux's MemAvailable, else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return 2**63


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def video_bytes(frames: int, height: int, width: int, views: int = 1) -> int:
    """The estimated memory one video of these dimensions holds while it is made and scored."""
    return frames * (height * width * views * BYTES_PER_PIXEL + BYTES_PER_FRAME)


def check_video_size(frames: int, height: int, width: int, views: int = 1, *, option: str | None = None,
                     where: str = "", available: int | None = None) -> int:
    """Refuse (exit 2) a video whose estimated memory exceeds what the machine has; returns the estimate."""
    need = video_bytes(frames, height, width, views)
    have = available_memory() if available is None else available
    if need > have:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}{frames} frames of {height}x{width} x {views} view(s) would hold about "
                         f"{human_bytes(need)} in memory per video (uint8 frames plus a float32 copy); "
                         f"this machine has {human_bytes(have)} available", option=option)
    return need


def check_work_items(items: int, *, option: str | None = None, available: int | None = None) -> None:
    """Refuse (exit 2) a plan of more work items than the memory can list (e.g. ``--seeds 10**9``)."""
    have = available_memory() if available is None else available
    if items * BYTES_PER_ITEM > have:
        raise InputError(f"{items:,} work items (models x test pairs x seeds) would need about "
                         f"{human_bytes(items * BYTES_PER_ITEM)} just to plan; this machine has "
                         f"{human_bytes(have)} available", option=option)


def check_amplitude(amplitude: float, what: str) -> float:
    """A displacement in pixels must be finite, non-negative and at most :data:`MAX_AMPLITUDE_PX`."""
    if not math.isfinite(amplitude) or amplitude < 0 or amplitude > MAX_AMPLITUDE_PX:
        raise InputError(f"{what}: amplitude must be between 0 and {MAX_AMPLITUDE_PX:g} pixels, got {amplitude!r}")
    return amplitude


__all__ = ["available_memory", "check_amplitude", "check_video_size", "check_work_items", "human_bytes", "video_bytes"]
