"""Metric values that do not depend on the machine's core count.

On the CPU, torch splits long reductions (sums over tens of thousands of matches, the ``(7, N) @
(N, 7)`` normal equations of the F refinement) across its intra-op threads, so the last bits of
a pooled CSE changed with the thread count (0.09530446980474004 with 2 threads against
0.09530446980473951 with 1): a store's rows depended on where they were computed. Running the
estimation and error statistics (``geometry._evaluate_pairs``, and ``refine_fundamental``, which
both backends' estimates end with) on one intra-op thread fixes every reduction's order. Feature detection and
matching keep all threads (their results do not depend on the count), and so do OpenCV's SIFT and
RANSAC. The pinned stage is cheap: on the shared 2-core machine it took 0.9-1.1 s on one thread
against 5.9-9.1 s on two (a 33-frame 256x448 two-view clip, CSE pooled); CUDA tensors are left alone.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def one_cpu_thread(device: torch.device | str | None = "cpu") -> Iterator[None]:
    """Run the block on one intra-op torch thread when ``device`` is the CPU (else change nothing)."""
    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def deterministic_on_cpu(fn: F) -> F:
    """Decorator: :func:`one_cpu_thread` on the device of the first tensor argument."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tensor = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        with one_cpu_thread(None if tensor is None else tensor.device):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
