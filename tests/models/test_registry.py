"""Kind registry (in-process and entry points) and the models YAML."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from cosmos_bench.models import base
from cosmos_bench.models.base import (
    ModelConfigError,
    available_kinds,
    build_model,
    get_kind,
    load_models,
    load_models_config,
    register_kind,
    register_model,
    unregister_kind,
)


def test_builtin_kinds_are_listed_without_loading_them() -> None:
    kinds = available_kinds()
    for name in ("cosmos", "diffusers-i2v", "folder"):
        assert kinds[name].source == "built-in"
    assert kinds["cosmos"].target == "cosmos_bench.models.cosmos:build_cosmos"


def test_register_kind_as_function_and_decorator() -> None:
    def factory(spec):
        return spec

    try:
        register_kind("demo-fn", factory)
        assert get_kind("demo-fn") is factory
        assert available_kinds()["demo-fn"].source == "registered in-process"

        @register_kind("demo-deco")
        def other(spec):
            return spec

        assert get_kind("demo-deco") is other
        with pytest.raises(ValueError, match="already registered"):
            register_kind("demo-fn", factory)
        with pytest.raises(ValueError, match="already registered"):
            register_kind("cosmos", factory)  # built-ins are protected unless overwrite=True
        register_kind("demo-fn", other, overwrite=True)
        assert get_kind("demo-fn") is other
    finally:
        unregister_kind("demo-fn")
        unregister_kind("demo-deco")
    with pytest.raises(ModelConfigError, match="unknown world-model kind 'demo-fn'"):
        get_kind("demo-fn")


def test_unknown_kind_suggests_the_closest() -> None:
    with pytest.raises(ModelConfigError, match="Did you mean 'cosmos'"):
        get_kind("cosmo")


def test_entry_point_kind_from_an_installed_package(tmp_path: Path, monkeypatch) -> None:
    """A third-party package registers a kind through the entry point group, and it generates."""
    src = tmp_path / "src"
    (src / "cb_plugin_demo").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "cb-plugin-demo"
        version = "0.1"
        [project.entry-points."cosmos_bench.world_models"]
        flat-colour = "cb_plugin_demo:build"
    '''))
    (src / "cb_plugin_demo" / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        from cosmos_bench.models.base import GeneratedVideo

        class FlatColour:
            kind = "flat-colour"
            uses_settings = True
            def __init__(self, spec):
                spec.check_options(["value"])
                self.name = spec.name
                self.value = int(spec.options.get("value", 128))
            def identity(self):
                return {"kind": self.kind, "value": self.value}
            def generate(self, request):
                frames = np.full((request.num_frames, request.height, request.width, 3), self.value, np.uint8)
                return GeneratedVideo(frames=frames, fps=request.fps)

        def build(spec):
            return FlatColour(spec)
    '''))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
        check=True, capture_output=True,
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    info = available_kinds()["flat-colour"]
    assert info.source == "entry point (cb-plugin-demo)" and info.target == "cb_plugin_demo:build"

    models_yaml = tmp_path / "models.yaml"
    models_yaml.write_text("models:\n  grey:\n    kind: flat-colour\n    value: 90\n")
    [model] = load_models("grey", models_yaml)
    assert model.identity() == {"kind": "flat-colour", "value": 90}

    from cosmos_bench.data.video import read_video
    from cosmos_bench.models.generate import GenerationSettings, generate
    from tests.models.conftest import make_suite

    suite = make_suite(tmp_path / "suite", names=("a",))
    report = generate([model], suite, tmp_path / "out", seeds=1, settings=GenerationSettings(num_frames=5, height=16, width=16, fps=4))
    assert report.count("generated") == 1
    video = read_video(report.results[0].sidecar.with_suffix(".mp4"))
    assert video.frames.shape == (5, 16, 16, 3) and abs(int(video.frames.mean()) - 90) <= 2


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "models.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_extends_merges_and_paths_resolve_against_the_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, """
        models:
          base:
            kind: cosmos
            model: nvidia/Cosmos-Predict2.5-2B
            safety_checker: none
          lora8:
            extends: base
            adapter: adapters/lora8
            fuse: true
    """)
    config = load_models_config(path)
    spec = config.spec("lora8")
    assert spec.kind == "cosmos"
    assert spec.options == {"model": "nvidia/Cosmos-Predict2.5-2B", "safety_checker": "none", "adapter": "adapters/lora8", "fuse": True}
    assert spec.path_option("adapter") == tmp_path / "adapters" / "lora8"


@pytest.mark.parametrize(
    "text, message",
    [
        ("cosmos: {kind: cosmos}\n", "unknown top-level key"),
        ("models: [base]\n", "'models' must map names"),
        ("models:\n  base: cosmos\n", "must be a mapping"),
        ("models:\n  base: {model: x}\n", "needs 'kind'"),
        ("models:\n  a: {extends: b}\n  b: {extends: a}\n", "'extends' loops"),
        ("models:\n  a: {extends: nowhere}\n", "extends unknown model 'nowhere'"),
        ("models:\n  'bad name': {kind: folder}\n", "must be letters"),
        ("models: {a: {kind: cosmos}\n", "not valid YAML"),
    ],
)
def test_bad_yaml_is_reported_with_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ModelConfigError, match=message) as err:
        load_models_config(path)
    assert str(path.resolve()) in str(err.value) or str(path) in str(err.value)


def test_unknown_model_and_option_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, """
        models:
          base: {kind: cosmos, safety_checker: none}
          typo: {kind: cosmos, safety_checker: none, adaptor: x}
    """)
    with pytest.raises(ModelConfigError, match="no model named 'bsae'. Did you mean 'base'"):
        load_models("bsae", path)
    with pytest.raises(ModelConfigError, match="unknown option 'adaptor' \\(did you mean 'adapter'\\?\\)"):
        load_models("typo", path)
    with pytest.raises(ModelConfigError, match="models file not found"):
        load_models_config(tmp_path / "missing.yaml")


def test_default_path_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(base.MODELS_ENV, str(tmp_path / "elsewhere.yaml"))
    assert base.default_models_path() == tmp_path / "elsewhere.yaml"
    monkeypatch.delenv(base.MODELS_ENV)
    monkeypatch.chdir(tmp_path)
    assert base.default_models_path() == tmp_path / "models.yaml"


def test_register_model_appends_and_keeps_comments(tmp_path: Path) -> None:
    path = write(tmp_path, """
        # my candidates
        models:
            base:   # four-space indent on purpose
                kind: folder
                path: .
    """)
    register_model("lora8", {"extends": "base", "layout": ""}, path)
    text = path.read_text()
    assert "# my candidates" in text and "# four-space indent on purpose" in text
    assert load_models_config(path).spec("lora8").options == {"path": ".", "layout": ""}
    with pytest.raises(ModelConfigError, match="already exists"):
        register_model("lora8", {"extends": "base"}, path)
    register_model("lora8", {"extends": "base", "layout": "v{seed}"}, path, overwrite=True)
    assert load_models_config(path).entries["lora8"]["layout"] == "v{seed}"
    with pytest.raises(ModelConfigError, match="extends unknown model"):
        register_model("orphan", {"extends": "nope"}, path)
    assert "orphan" not in load_models_config(path).entries


def test_register_model_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "models.yaml"
    register_model("theirs", {"kind": "folder", "path": "/data"}, path)
    assert yaml.safe_load(path.read_text()) == {"models": {"theirs": {"kind": "folder", "path": "/data"}}}


def test_build_model_checks_the_returned_object(tmp_path: Path) -> None:
    register_kind("broken", lambda spec: object(), overwrite=True)
    try:
        config = base.parse_models({"models": {"x": {"kind": "broken"}}}, tmp_path / "m.yaml")
        with pytest.raises(ModelConfigError, match="without \\['name', 'identity', 'generate'\\]"):
            build_model(config.spec("x"))
    finally:
        unregister_kind("broken")


def test_the_example_models_yaml_parses() -> None:
    path = Path(__file__).resolve().parents[2] / "models.yaml"
    config = load_models_config(path)
    assert {"base", "lora8", "lora32", "dora8", "dora32"} <= set(config.names)
    spec = config.spec("dora32")
    assert spec.kind == "cosmos" and spec.options["fuse"] is True and spec.options["safety_checker"] == "guardrail"
    assert spec.path_option("adapter") == path.parent / "runs" / "train" / "dora32"
