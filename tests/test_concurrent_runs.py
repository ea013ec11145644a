"""Two runs on one results store split the work through claims, and a killed run's claims lapse (issue 15, 8).

The interleaving is forced, never timed: run A is stopped inside one work item (holding its claim)
by a gate that only the test opens, run B does everything else meanwhile, then A finishes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.models.base import _REGISTERED, register_kind
from cosmos_bench.models.synthetic import SyntheticWorldModel
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig, run

N_VIDEOS = 4  # 2 test pairs x 2 seeds, one model
PER_VIDEO = 5  # tse, cse, their mean-of-means rows, and motion
ROWS = N_VIDEOS * PER_VIDEO
HELD = ("scene_000", 0)  # the item run A is stopped in
A_THREAD = "run-A"


class Gate:
    """Stops the thread named ``run-A`` inside the work item ``HELD`` until the test opens it; counts calls."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.open = threading.Event()
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def visit(self, sample: str, seed: int) -> None:
        with self._lock:
            self.calls[(sample, seed)] += 1
        if threading.current_thread().name == A_THREAD and (sample, seed) == HELD:
            self.inside.set()
            assert self.open.wait(300), "the test never opened the gate"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrent")
    write_synthetic_suite(root / "suite", SceneConfig(frames=5, height=64, width=96, seed=5), samples=2, name="pair")
    (root / "models.yaml").write_text("models:\n  base: {kind: gated}\n")
    return root


@pytest.fixture
def gate():
    """A ``gated`` kind: the synthetic renderer (same identity, so the same generation key) behind a gate."""
    g = Gate()

    class GatedModel(SyntheticWorldModel):
        def generate(self, request):
            g.visit(request.sample, request.seed)
            return super().generate(request)

    register_kind("gated", lambda spec: GatedModel(spec.name, []), overwrite=True)
    yield g
    g.open.set()
    _REGISTERED.pop("gated", None)


def config(root: Path, tag: str) -> RunConfig:
    return RunConfig(models=["base"], suite=root / "suite", models_file=root / "models.yaml", metrics=["tse", "cse"],
                     seeds=2, out=root / f"videos_{tag}", store=root / f"{tag}.sqlite", leaderboards=root / f"boards_{tag}",
                     plots=False)


def run_a_then_b(cfg: RunConfig, gate: Gate):
    """Start run A in a thread, wait until it is stopped inside ``HELD``, run B to the end, then let A finish."""
    result: dict = {}

    def run_a() -> None:
        try:
            result["a"] = run(cfg)
        except BaseException as exc:  # surfaced by the test below
            result["a_error"] = exc
            gate.inside.set()

    a = threading.Thread(target=run_a, name=A_THREAD)
    a.start()
    assert gate.inside.wait(300) and "a_error" not in result, result.get("a_error")
    b = run(cfg)
    gate.open.set()
    a.join(300)
    assert not a.is_alive() and "a_error" not in result, result.get("a_error")
    return result["a"], b


def stored(cfg: RunConfig) -> tuple[list, dict]:
    with ResultStore(cfg.store) as store:
        return store.rows(), store.claims()


def test_concurrent_runs_split_generation(bench: Path, gate: Gate) -> None:
    cfg = config(bench, "gen")
    a, b = run_a_then_b(cfg, gate)
    assert gate.calls == Counter({key: 1 for key in gate.calls}) and len(gate.calls) == N_VIDEOS  # each video once
    assert b.generation == {"generated": N_VIDEOS - 1, "skipped": 0, "failed": 0}
    assert b.left_to_others == {"generate": 1} and b.rows_written == ROWS - PER_VIDEO
    assert a.generation == {"generated": 1, "skipped": N_VIDEOS - 1, "failed": 0}
    assert a.left_to_others == {} and a.rows_written == PER_VIDEO and a.rows_skipped == ROWS - PER_VIDEO
    assert a.rows_discarded == b.rows_discarded == 0
    from cosmos_bench.cli import output

    with output.console.capture() as shown:
        output.print_shared_work(b)
    assert "left to another run on this store: 1 video(s) to generate" in " ".join(shown.get().split())
    rows, claims = stored(cfg)
    assert len(rows) == ROWS and all(r.status == "ok" for r in rows) and claims == {}


def test_concurrent_runs_split_scoring(bench: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    from cosmos_bench.stages import GeometryStage

    cfg = config(bench, "score")
    from cosmos_bench.models.base import load_models
    from cosmos_bench.models.generate import generate

    generate(load_models(["base"], cfg.models_file), cfg.suite, cfg.out, seeds=2)  # videos exist: both runs reuse them
    generated = dict(gate.calls)
    scored = Gate()
    real_rows = GeometryStage._rows

    def gated_rows(stage, o):
        scored.visit(o.sample, o.seed)
        return real_rows(stage, o)

    monkeypatch.setattr(GeometryStage, "_rows", gated_rows)
    a, b = run_a_then_b(cfg, scored)
    assert dict(gate.calls) == generated  # nothing generated again
    assert scored.calls == Counter({key: 1 for key in scored.calls}) and len(scored.calls) == N_VIDEOS  # each scored once
    assert b.left_to_others == {"metrics": 1} and b.rows_written == ROWS - PER_VIDEO
    assert a.left_to_others == {} and a.rows_written == PER_VIDEO and a.rows_skipped == ROWS - PER_VIDEO
    rows, claims = stored(cfg)
    assert len(rows) == ROWS and all(r.status == "ok" for r in rows) and claims == {}


KILLED_RUN = """
import json, os, signal, sys
from cosmos_bench.models.base import register_kind
from cosmos_bench.models.synthetic import SyntheticWorldModel
from cosmos_bench.runner import RunConfig, run

calls = []

class DiesOnThirdVideo(SyntheticWorldModel):
    def generate(self, request):
        calls.append(request.sample)
        if len(calls) == 3:  # holding the claim on this video (and the one still being written)
            os.kill(os.getpid(), signal.SIGKILL)
        return super().generate(request)

register_kind("gated", lambda spec: DiesOnThirdVideo(spec.name, []), overwrite=True)
run(RunConfig(**json.loads(sys.argv[1])))
"""


def test_a_killed_runs_claims_lapse_and_the_rerun_finishes(bench: Path, gate: Gate) -> None:
    cfg = config(bench, "killed")
    args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(cfg).items() if v is not None and k != "judge"}
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, json.dumps(args)], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    _, claims = stored(cfg)
    assert claims, "the killed run should have died holding claims"
    again = run(cfg)
    assert again.left_to_others == {}  # nothing is left to the dead run
    assert again.generation["generated"] + again.generation["skipped"] == N_VIDEOS and again.generation["generated"] >= 2
    rows, claims = stored(cfg)
    assert again.rows_written == ROWS and len(rows) == ROWS and all(r.status == "ok" for r in rows) and claims == {}
