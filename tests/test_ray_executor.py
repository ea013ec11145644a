"""The ray executor on this CPU machine: Ray's GPUs are logical resources, so ``num_gpus=2`` gives two
GPU workers here. Every test runs the real executor over a tiny synthetic suite and compares it with
the local runner: the same rows with the same values, nothing duplicated, faults retried.

Faults are made to happen, never waited for: a plugin kind (written into the test's folder and
imported by each worker) kills its own worker process on the first attempt of one item, and the
node-loss test removes a node from inside the driver's progress callback, after the first result.
"""

from __future__ import annotations

import os
import signal
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
from cosmos_bench.runner import RunConfig, run

N_SAMPLES, N_SEEDS = 2, 2
ROWS_PER_VIDEO = 5  # tse, cse, their mean-of-means companions, and motion beside tse

PLUGIN = '''
"""Test kinds for the ray executor, imported by every worker (RayOptions.worker_imports)."""
import os
from pathlib import Path

from cosmos_bench.models.base import ModelConfigError, register_kind
from cosmos_bench.models.synthetic import SyntheticWorldModel, build_synthetic


class CrashOnce(SyntheticWorldModel):
    """Kills its own worker process the first time it is asked for one sample (a lost GPU, say)."""

    def __init__(self, inner, marker, sample):
        super().__init__(inner.name, inner.degradations)
        self.kind, self.marker, self.sample = "crash_once", Path(marker), sample

    def generate(self, request):
        if request.sample == self.sample and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)
        return super().generate(request)


class AlwaysFails(SyntheticWorldModel):
    def generate(self, request):
        raise RuntimeError(f"simulated failure on {request.sample}")


def crash_once(spec):
    opts = dict(spec.options)
    marker, sample = opts.pop("marker"), opts.pop("sample")
    spec = type(spec)(spec.name, "synthetic", opts, spec.source)
    return CrashOnce(build_synthetic(spec), marker, sample)


def always_fails(spec):
    inner = build_synthetic(spec)
    return AlwaysFails(inner.name, inner.degradations)


register_kind("crash_once", crash_once, overwrite=True)
register_kind("always_fails", always_fails, overwrite=True)
'''


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raybench")
    write_synthetic_suite(root / "suite", SceneConfig(frames=9, height=96, width=160, seed=3), samples=N_SAMPLES, name="tiny")
    (root / "plugin_dir").mkdir()
    (root / "plugin_dir" / "ray_test_kinds.py").write_text(textwrap.dedent(PLUGIN))
    (root / "models.yaml").write_text(textwrap.dedent(f"""\
        models:
          base: {{kind: synthetic}}
          warp3: {{kind: synthetic, degrade: [elastic:3]}}
          flaky: {{kind: crash_once, marker: {root / 'crashed.marker'}, sample: {_first_sample(root)}}}
          broken: {{kind: always_fails}}
        """))
    return root


def _first_sample(root: Path) -> str:
    return sorted(p.stem for p in (root / "suite").glob("*.txt"))[0]


@pytest.fixture(scope="module")
def ray_cluster(bench: Path):
    """One local Ray instance for the module: two logical GPUs, loopback only, no dashboard."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(bench / "plugin_dir"), os.environ.get("PYTHONPATH", "")])
    sys.path.insert(0, str(bench / "plugin_dir"))
    import ray_test_kinds  # noqa: F401  (registers the kinds in the driver too)

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def config(root: Path, tag: str, models: list[str], **kw) -> RunConfig:
    return RunConfig(models=models, suite=root / "suite", models_file=root / "models.yaml", metrics=["tse", "cse"],
                     seeds=N_SEEDS, out=root / f"videos_{tag}", store=root / f"{tag}.sqlite", leaderboards=None,
                     plots=False, **kw)


def ray_config(root: Path, tag: str, models: list[str], workers: int | None = None, **kw) -> RunConfig:
    opts = RayOptions(workers=workers, worker_imports=("ray_test_kinds",), **kw)
    return config(root, tag, models, executor="ray", ray=opts)


def rows_of(store_path: Path) -> dict[tuple, tuple]:
    with ResultStore(store_path) as store:
        return {r.key: (r.status, r.value) for r in store.rows()}


def test_ray_run_writes_exactly_the_local_runs_rows_with_one_and_two_workers(bench: Path, ray_cluster) -> None:
    local = run(config(bench, "local", ["base", "warp3"]))
    expected = rows_of(bench / "local.sqlite")
    assert len(expected) == N_SAMPLES * N_SEEDS * 2 * ROWS_PER_VIDEO and not local.errors
    for workers in (1, 2):
        s = run(ray_config(bench, f"ray{workers}", ["base", "warp3"], workers=workers))
        assert s.generation == {"generated": N_SAMPLES * N_SEEDS * 2, "skipped": 0, "failed": 0}
        assert s.rows_written == len(expected) and s.rows_skipped == 0 and not s.errors
        assert rows_of(bench / f"ray{workers}.sqlite") == expected
        # the ranking a user reads is the local one
        assert s.leaderboard.comparisons[("warp3", "tse")].verdict == local.leaderboard.comparisons[("warp3", "tse")].verdict
    again = run(ray_config(bench, "ray2", ["base", "warp3"], workers=2))
    assert again.generation["skipped"] == N_SAMPLES * N_SEEDS * 2 and again.rows_written == 0


def test_a_worker_killed_mid_item_has_the_item_retried(bench: Path, ray_cluster) -> None:
    s = run(ray_config(bench, "flaky", ["base", "flaky"], workers=2))
    assert (bench / "crashed.marker").exists(), "the plugin's crash did not happen: the test proves nothing"
    assert s.generation == {"generated": N_SAMPLES * N_SEEDS * 2, "skipped": 0, "failed": 0}, s.errors
    statuses = [v[0] for v in rows_of(bench / "flaky.sqlite").values()]
    assert len(statuses) == N_SAMPLES * N_SEEDS * 2 * ROWS_PER_VIDEO and set(statuses) == {"ok"}


def test_a_model_that_always_fails_becomes_error_rows_after_the_retries(bench: Path, ray_cluster) -> None:
    s = run(ray_config(bench, "broken", ["base", "broken"], workers=2, max_retries=2))
    assert s.generation["failed"] == N_SAMPLES * N_SEEDS and s.generation["generated"] == N_SAMPLES * N_SEEDS
    rows = rows_of(bench / "broken.sqlite")
    with ResultStore(bench / "broken.sqlite") as store:
        broken = [r for r in store.rows() if r.model == "broken"]
    assert len(broken) == N_SAMPLES * N_SEEDS * ROWS_PER_VIDEO and {r.status for r in broken} == {"error"}
    assert all("failed after 3 attempt(s)" in r.reason and "simulated failure" in r.reason for r in broken)
    assert sum(1 for v in rows.values() if v[0] == "ok") == N_SAMPLES * N_SEEDS * ROWS_PER_VIDEO
