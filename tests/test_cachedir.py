"""Where caches live: one root under the user cache directory, one override, never the current folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cosmos_bench.cachedir import user_cache_dir
from cosmos_bench.judge.cache import ScoreCache, default_cache_path
from cosmos_bench.provenance import hash_cache_path
from cosmos_bench.train.cache import TrainCache


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("COSMOS_BENCH_CACHE", "COSMOS_BENCH_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_default_is_the_user_cache_dir_not_the_current_folder(clean_env: Path, monkeypatch) -> None:
    assert user_cache_dir() == clean_env / "home" / ".cache" / "cosmos-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    root = clean_env / "xdg" / "cosmos-bench"
    assert default_cache_path() == root / "judge_scores.jsonl"
    assert hash_cache_path() == root / "file_hashes.json"
    assert TrainCache().root == root / "train"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")  # invalid by the XDG spec: ignored
    assert user_cache_dir() == clean_env / "home" / ".cache" / "cosmos-bench"
    # a ScoreCache with no path writes there, and nothing lands in the current folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    ScoreCache().put(("sha", "judge-v1", "", 0), {"score": 4})
    assert (root / "judge_scores.jsonl").is_file() and not any(Path.cwd().iterdir())


def test_one_variable_overrides_every_cache(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    monkeypatch.setenv("COSMOS_BENCH_CACHE", str(clean_env / "mine"))
    assert default_cache_path() == clean_env / "mine" / "judge_scores.jsonl"
    assert hash_cache_path() == clean_env / "mine" / "file_hashes.json"
    assert TrainCache().root == clean_env / "mine" / "train"


def test_the_old_name_still_works_with_a_deprecation_warning(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("COSMOS_BENCH_CACHE_DIR", str(clean_env / "old"))
    with pytest.warns(DeprecationWarning, match="COSMOS_BENCH_CACHE instead"):
        assert default_cache_path() == clean_env / "old" / "judge_scores.jsonl"
    monkeypatch.setenv("COSMOS_BENCH_CACHE", str(clean_env / "new"))  # the new name wins, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert default_cache_path() == clean_env / "new" / "judge_scores.jsonl"
