"""The offline demo: the whole benchmark on this machine, with no network, GPU or weights.

It builds a synthetic multi-view suite with known geometry and a models YAML whose candidates are
``synthetic`` world models (the exact renderer and graded degradations of it), and runs the real
runner on them. A second, smaller run puts the tiny random-weight Cosmos Predict 2.5 pipeline and a
random LoRA adapter on it through the same runner (real diffusers/peft code; its leaderboard is named
``demo-cosmos-random-weights`` because its numbers mean nothing). Because the degradations are known,
the demo can check its own verdict: the leaderboard must rank the synthetic candidates in the
known order. If it does not, something in metrics, store or statistics is broken.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .runner import RunConfig, RunSummary, run

# Known order, best first, for each geometric metric. Elastic warps break both temporal and
# cross-view geometry and grow with amplitude; a cross-view object shift breaks only cross-view.
EXPECTED_ORDER: list[tuple[str, list[str]]] = [
    ("tse", ["base", "warp1", "warp3"]),
    ("cse", ["base", "warp1", "warp3"]),
    ("cse", ["base", "shift4"]),
]
SYNTHETIC_MODELS = {
    "base": {"kind": "synthetic", "description": "exact renderer: perfect geometry"},
    "warp1": {"kind": "synthetic", "degrade": ["elastic:1"], "description": "elastic warp, 1 px"},
    "warp3": {"kind": "synthetic", "degrade": ["elastic:3"], "description": "elastic warp, 3 px"},
    "shift4": {"kind": "synthetic", "degrade": ["view_shift:4"], "description": "objects shifted 4 px across views"},
}
TINY_MODELS = ("tiny-cosmos-random", "tiny-lora4-random")
DEMO_HEADER = "# Written by `cosmos-bench demo`"
# The smallest demo whose known-order check is run and seen to hold (tests/test_demo.py: 9 frames of
# 96x160, 2 test pairs x 1 seed). Below it (3 frames of 64x112, one video) too few matches survive for
# the ranks to mean anything, and a failed check would blame the statistics for the demo's size.
MIN_FRAMES, MIN_SIZE, MIN_VIDEOS = 9, (96, 160), 2


def check_demo_size(samples: int, seeds: int, frames: int, size: tuple[int, int]) -> None:
    """Refuse (exit 2) a demo too small for its known-order check, naming the minimum."""
    from .errors import InputError

    if frames < MIN_FRAMES:
        raise InputError(f"the known-order check needs at least {MIN_FRAMES} frames, got {frames}", option="frames")
    if size[0] < MIN_SIZE[0] or size[1] < MIN_SIZE[1]:
        raise InputError(f"the known-order check needs views of at least {MIN_SIZE[0]}x{MIN_SIZE[1]}, "
                         f"got {size[0]}x{size[1]}", option="size")
    if samples * seeds < MIN_VIDEOS:
        raise InputError(f"the known-order check needs at least {MIN_VIDEOS} videos per candidate (samples x seeds), "
                         f"got {samples} x {seeds}", option="samples")


def is_demo_folder(folder: Path) -> bool:
    """A demo folder from before folders kept a manifest: its models YAML is the demo's."""
    try:
        return (folder / "models.yaml").read_text(encoding="utf-8").startswith(DEMO_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


@dataclass
class OrderCheck:
    metric: str
    expected: list[str]
    observed: list[str]

    @property
    def holds(self) -> bool:
        return self.observed == self.expected


@dataclass
class DemoResult:
    summary: RunSummary
    checks: list[OrderCheck] = field(default_factory=list)
    out: Path = Path(".")
    cosmos_summary: RunSummary | None = None

    @property
    def order_holds(self) -> bool:
        return all(c.holds for c in self.checks)


def prepare_demo(out: str | os.PathLike, *, samples: int = 3, frames: int = 17, size: tuple[int, int] = (256, 448),
                 views: int = 2, tiny_cosmos: bool = True, seed: int = 0) -> tuple[Path, Path, list[str]]:
    """Write (or reuse) the demo suites, tiny model zoo and models YAML; returns (suite, models file, names)."""
    from .data.suite import SUITE_FILE
    from .data.synthetic import SceneConfig
    from .data.synthetic_suite import write_synthetic_suite

    from .owned import OwnedFolder

    root = OwnedFolder.adopt(out, "demo", recognise=is_demo_folder, option="out").path  # never somebody else's folder
    suite_dir = root / "suite"
    if not (suite_dir / SUITE_FILE).exists():
        write_synthetic_suite(suite_dir, SceneConfig(views=views, frames=frames, height=size[0], width=size[1], seed=seed),
                              samples=samples, name="demo")
    models: dict[str, Any] = {name: dict(entry) for name, entry in SYNTHETIC_MODELS.items()}
    if tiny_cosmos:
        from .models.cosmos_facts import ADAPTER_FILE
        from .models.tiny import save_random_adapter, save_tiny_cosmos_pipeline

        # The tiny pipeline's Wan VAE dominates its CPU time, so it gets its own small suite (same scenes'
        # kind, 9 frames at 64x112 per view): it is there to show the diffusers path runs, not to rank.
        cosmos_suite = root / "suite_cosmos"
        if not (cosmos_suite / SUITE_FILE).exists():
            write_synthetic_suite(cosmos_suite, SceneConfig(views=views, frames=9, height=64, width=112, seed=seed),
                                  samples=1, name="demo-cosmos-random-weights")
        zoo = root / "tiny_zoo"
        if not (zoo / "base" / "model_index.json").exists():
            save_tiny_cosmos_pipeline(zoo / "base", seed)
        if not (zoo / "adapters" / "lora4" / ADAPTER_FILE).exists():
            save_random_adapter(zoo / "adapters" / "lora4", seed=seed + 10, use_dora=False, base_seed=seed)
        tiny = {"kind": "cosmos", "model": "tiny_zoo/base", "safety_checker": "none", "dtype": "float32", "device": "cpu",
                "description": "tiny RANDOM-WEIGHT Cosmos Predict 2.5: shows the diffusers path runs; its scores mean nothing"}
        models[TINY_MODELS[0]] = tiny
        models[TINY_MODELS[1]] = {"extends": TINY_MODELS[0], "adapter": "tiny_zoo/adapters/lora4",
                                  "description": "random LoRA r4 on the tiny model (peft + load_lora_weights path)"}
    models_file = root / "models.yaml"
    text = f"{DEMO_HEADER}: synthetic candidates with known quality + tiny random-weight Cosmos.\n"
    models_file.write_text(text + yaml.safe_dump({"models": models}, sort_keys=False))
    return suite_dir, models_file, list(models)


def check_order(summary: RunSummary) -> list[OrderCheck]:
    board = summary.leaderboard
    checks = []
    for metric, expected in EXPECTED_ORDER:
        if metric not in board.metrics or not any((m, metric) in board.summaries for m in board.models):
            continue
        observed = [m for m in board.rank(metric) if m in expected]
        checks.append(OrderCheck(metric, expected, observed))
    return checks


def run_demo(out: str | os.PathLike = "demo_out", *, samples: int = 3, seeds: int = 2, frames: int = 17,
             size: tuple[int, int] = (256, 448), tiny_cosmos: bool = True, tiny_steps: int = 4,
             judge: Any = None, reporter: Any = None, leaderboards: str | os.PathLike | None = None) -> DemoResult:
    """Prepare and run the demo; safe to interrupt and rerun (it resumes)."""
    check_demo_size(samples, seeds, frames, size)
    root = Path(out)
    suite_dir, models_file, names = prepare_demo(root, samples=samples, frames=frames, size=size, tiny_cosmos=tiny_cosmos)
    boards = Path(leaderboards) if leaderboards else root / "leaderboards"
    common = dict(models_file=models_file, seeds=seeds, out=root / "videos", store=root / "results.sqlite",
                  leaderboards=boards, judge=judge, judge_cache=root / "judge_cache.jsonl")
    synthetic = [n for n in names if n not in TINY_MODELS]
    summary = run(RunConfig(models=synthetic, suite=suite_dir, metrics=["tse", "cse", "physics", "if"], **common),
                  reporter=reporter)
    result = DemoResult(summary=summary, checks=check_order(summary), out=root)
    if tiny_cosmos:
        tiny = [n for n in names if n in TINY_MODELS]
        result.cosmos_summary = run(RunConfig(models=tiny, suite=root / "suite_cosmos", metrics=["tse", "cse"],
                                              baseline=TINY_MODELS[0], steps=tiny_steps, **common), reporter=reporter)
    return result
