"""The ray executor when the cluster or the driver goes away (each test brings its own Ray instance).

* Two simulated nodes (``ray.cluster_utils.Cluster``), one GPU each: the second node is removed from
  inside the run, right after the first result arrives. Every item must still finish, once.
* The driver is a subprocess that SIGKILLs itself after its second finished item; the rerun must
  end with exactly the rows of an uninterrupted run, and regenerate no complete video.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ray  # the dev extra installs the ray extra: a missing Ray fails here, it does not skip

from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.ray_executor import RayOptions
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig, StageEvent, run

N_SAMPLES, N_SEEDS, N_MODELS = 2, 2, 2
N_ITEMS = N_SAMPLES * N_SEEDS * N_MODELS
ROWS = N_ITEMS * 5  # tse, cse, their mean-of-means rows, and motion


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rayfaults")
    write_synthetic_suite(root / "suite", SceneConfig(frames=9, height=96, width=160, seed=5), samples=N_SAMPLES, name="tiny")
    (root / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n  warp3: {kind: synthetic, degrade: [elastic:3]}\n")
    return root


def config(root: Path, tag: str, **kw) -> RunConfig:
    return RunConfig(models=["base", "warp3"], suite=root / "suite", models_file=root / "models.yaml",
                     metrics=["tse", "cse"], seeds=N_SEEDS, out=root / f"videos_{tag}", store=root / f"{tag}.sqlite",
                     leaderboards=None, plots=False, **kw)


def rows_of(store_path: Path) -> dict[tuple, tuple]:
    with ResultStore(store_path) as store:
        return {r.key: (r.status, r.value) for r in store.rows()}


@pytest.fixture(scope="module")
def local_rows(bench: Path) -> dict[tuple, tuple]:
    run(config(bench, "local"))
    rows = rows_of(bench / "local.sqlite")
    assert len(rows) == ROWS
    return rows


def test_removing_a_node_mid_run_loses_no_item_and_duplicates_none(bench: Path, local_rows) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1, "include_dashboard": False})
    second = cluster.add_node(num_cpus=1, num_gpus=1)
    removed: list[bool] = []
    workers_lost: list[str] = []

    def reporter(event: StageEvent) -> None:
        if event.stage == "generate" and event.kind == "advance" and not removed:
            cluster.remove_node(second)  # while the other items are queued or in flight
            removed.append(True)
        if event.kind == "note" and "worker lost" in event.message:
            workers_lost.append(event.message)

    try:
        ray.init(address=cluster.address, log_to_driver=False)
        s = run(config(bench, "cluster", executor="ray", ray=RayOptions(workers=2, worker_start_timeout_s=120)), reporter)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert removed, "the node was never removed: the test proves nothing"
    # an item the lost node finished writing but never reported is found complete on retry: "skipped"
    assert s.generation["failed"] == 0 and s.generation["generated"] + s.generation["skipped"] == N_ITEMS, s.errors
    assert rows_of(bench / "cluster.sqlite") == local_rows  # every item once, the local run's values
    with ResultStore(bench / "cluster.sqlite") as store:
        assert len(store) == ROWS


DRIVER = r"""
import os, signal, sys
from pathlib import Path
from cosmos_bench.ray_executor import RayOptions
from cosmos_bench.runner import RunConfig, run

root, kill_after = Path(sys.argv[1]), int(sys.argv[2])
seen = []

def reporter(event):
    if event.stage == "generate" and event.kind == "advance":
        seen.append(event.message)
        if kill_after and len(seen) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # the driver dies here, with items in flight

opts = RayOptions(workers=2, init_kwargs={"num_cpus": 2, "num_gpus": 2})
cfg = RunConfig(models=["base", "warp3"], suite=root / "suite", models_file=root / "models.yaml", metrics=["tse", "cse"],
                seeds=2, out=root / "videos_killed", store=root / "killed.sqlite", leaderboards=None, plots=False,
                executor="ray", ray=opts)
s = run(cfg, reporter)
print("GENERATION", s.generation)
"""


def test_a_killed_driver_resumes_to_the_uninterrupted_runs_rows(bench: Path, local_rows) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    killed = subprocess.run([sys.executable, "-c", DRIVER, str(bench), "2"], env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    partial = rows_of(bench / "killed.sqlite")
    assert 0 < len(partial) < ROWS  # something was committed before the kill, not everything
    assert all(local_rows[k] == v for k, v in partial.items())
    done_before = len(list((bench / "videos_killed").glob("*/*/seed*/*.json")))
    again = subprocess.run([sys.executable, "-c", DRIVER, str(bench), "0"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    line = next(ln for ln in again.stdout.splitlines() if ln.startswith("GENERATION"))
    generation = json.loads(line.split(" ", 1)[1].replace("'", '"'))
    assert generation["skipped"] >= done_before and generation["generated"] == N_ITEMS - generation["skipped"]
    assert rows_of(bench / "killed.sqlite") == local_rows
    with ResultStore(bench / "killed.sqlite") as store:
        assert len(store) == ROWS
