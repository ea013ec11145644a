"""World models: the ``WorldModel`` protocol, the kind registry and the models YAML.

A *kind* is a factory that turns one models-YAML entry into a ``WorldModel``. Built-in kinds are
``cosmos`` (Cosmos Predict 2.5 with optional LoRA/DoRA adapter), ``diffusers-i2v`` (any diffusers
image-to-video pipeline), ``folder`` (videos produced elsewhere) and ``synthetic`` (the renderer
of a synthetic suite, see synthetic.py). Third-party packages add kinds
through the entry point group ``cosmos_bench.world_models``::

    # pyproject.toml of a third-party package
    [project.entry-points."cosmos_bench.world_models"]
    mymodel = "my_package.cosmos_bench_plugin:build"   # build(spec: ModelSpec) -> WorldModel

and code running in-process can register one directly (``register_kind("synthetic", factory)``
or ``@register_kind("synthetic")``). Nothing here imports torch: listing kinds and reading the
YAML stay fast.

The models YAML (``models.yaml`` at the project root unless told otherwise)::

    models:
      base:
        kind: cosmos
        model: nvidia/Cosmos-Predict2.5-2B
        revision: diffusers/base/post-trained
        safety_checker: guardrail          # or: none (see cosmos.py)
      lora8:
        extends: base                      # every option of base, then these
        adapter: trainer/runs/lora8        # folder with pytorch_lora_weights.safetensors
        fuse: true

Relative paths in options are relative to the YAML file's folder.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, Union, runtime_checkable

import numpy as np
import yaml

from ..atomic import atomic_write_text
from ..names import NAME_RE
from ..provenance import file_sha256, folder_fingerprint  # re-exported: imported from here by models and train
from ..errors import CosmosBenchError
from ..shipped import shipped_path

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cosmos_bench.world_models"
MODELS_FILE = "models.yaml"
MODELS_ENV = "COSMOS_BENCH_MODELS"

# One stream of frames ``(T, H, W, 3)`` uint8 RGB (for a grid suite: the whole grid), or one per view.
Frames = Union[np.ndarray, Mapping[str, np.ndarray]]


class ModelConfigError(CosmosBenchError, ValueError):
    """A models YAML or model entry that cannot be used; the message names the file and entry."""


class AdapterNotTrainedError(ModelConfigError):
    """An entry whose adapter path does not exist yet: the adapter has not been trained.

    Loading such a model still fails (it is a :class:`ModelConfigError`), but listing the models
    YAML shows it as a note with the command that trains it (:func:`train_command`), not as a broken
    entry: the shipped ``models.yaml`` names adapters a fresh checkout has not trained.
    """

    def __init__(self, path: Path, where: str | None = None, hint: str | None = None):
        self.path = path
        self.hint = hint  # how to train it, or how a Hub adapter is named when the path looks like a repo id
        super().__init__(f"{where + ': ' if where else ''}{path}: adapter not found" + (f" ({hint})" if hint else ""))


def train_command(spec: "ModelSpec", adapter: Path) -> str:
    """The ``cosmos-bench train`` command that writes ``spec``'s adapter at ``adapter``.

    Names the project's recipe ``trainer/<name>.yaml`` when it exists beside the models YAML."""
    recipe = spec.base_dir / "trainer" / f"{spec.name}.yaml"
    if not recipe.is_file():  # the packaged recipe (`cosmos-bench init` writes an editable copy)
        recipe = shipped_path("trainer") / f"{spec.name}.yaml"
    shown_recipe = _shown_path(recipe) if recipe.is_file() else "RECIPE.yaml"
    return f"cosmos-bench train --recipe {shown_recipe} --data TRAIN_DATA --out {_shown_path(adapter)}"


def _shown_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it (shorter to copy), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


# ------------------------------------------------------------------------------------ contract
@dataclass
class GenerationRequest:
    """Everything one video is generated from.

    ``image`` is the conditioning first frame, ``uint8 (H, W, 3)`` RGB (``None`` for text-only
    models); ``video`` an optional conditioning clip ``(T, H, W, 3)``. ``height``/``width`` are the
    size of the generated stream (for a grid suite, the whole grid). ``guidance=None`` means the
    model's own default. ``sample`` names the test pair, so that kinds that look videos up (e.g.
    ``folder``) can find them; ``views`` and ``suite`` tell the suite's view names and storage, for
    models that produce views separately or read files in the suite's layout.
    """

    prompt: str
    image: np.ndarray | None = None
    num_frames: int = 93
    height: int = 432
    width: int = 768
    seed: int = 0
    steps: int = 36
    guidance: float | None = None
    fps: float = 16.0
    video: np.ndarray | None = None
    negative_prompt: str | None = None
    sample: str = ""
    views: tuple[str, ...] = ("view0",)
    suite: Any = None  # the cosmos_bench.data.suite.Suite being generated, for kinds that need its layout


@dataclass
class GeneratedVideo:
    """A model's output: frames (one stream, or ``{view: frames}``), their rate and provenance.

    ``info`` holds model-specific facts recorded in the sidecar (e.g. the number of conditioning
    latent frames). ``files`` lets a model hand over already-encoded mp4 files in the suite's
    storage form (``{view: path}``, every view the same path for a single/grid file); the writer
    copies them byte for byte instead of re-encoding (the ``folder`` kind does this). ``frames`` may
    then be ``None``.
    """

    frames: Frames | None
    fps: float
    info: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] | None = None


@runtime_checkable
class WorldModel(Protocol):
    """What the generator needs from a world model.

    ``identity()`` returns a JSON-able description of everything that changes the model's output
    (base model id and revision, adapter file hash, dtype, options); it is hashed into the
    generation key, so two models with the same identity share nothing but also never reuse each
    other's videos by accident. ``uses_settings`` is False for models whose output does not depend
    on the generation settings (the ``folder`` kind), so those stay out of their key.
    ``request_inputs(request)`` may return per-request facts that must invalidate an output when
    they change (``folder``: the source file's hash); it is optional.
    """

    name: str
    kind: str
    uses_settings: bool

    def identity(self) -> dict[str, Any]: ...

    def generate(self, request: GenerationRequest) -> GeneratedVideo: ...


# ------------------------------------------------------------------------------------ specs
@dataclass
class ModelSpec:
    """One resolved models-YAML entry: name, kind and options (``extends`` already merged)."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    root: Path | None = None  # what relative paths are relative to, when not the source's folder

    @property
    def base_dir(self) -> Path:
        if self.root is not None:
            return self.root
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def where(self) -> str:
        return f"{self.source}: model {self.name!r}" if self.source else f"model {self.name!r}"

    def path_option(self, key: str, value: Any | None = None) -> Path | None:
        """A path option resolved against the YAML's folder (``~`` expanded)."""
        raw = self.options.get(key) if value is None else value
        if raw in (None, ""):
            return None
        p = Path(os.path.expanduser(str(raw)))
        return p if p.is_absolute() else (self.base_dir / p)

    def check_options(self, allowed: Sequence[str]) -> None:
        """Raise on unknown option names, suggesting the closest allowed one."""
        allowed_set = set(allowed) | {"kind", "extends", "description"}
        for key in self.options:
            if key not in allowed_set:
                hint = difflib.get_close_matches(key, sorted(allowed_set), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ModelConfigError(
                    f"{self.where}: unknown option {key!r}{extra}; kind {self.kind!r} takes {sorted(allowed_set)}"
                )


# ------------------------------------------------------------------------------------ registry
@dataclass
class KindInfo:
    name: str
    source: str  # "built-in", "entry point (<dist>)", "registered in-process"
    target: str  # "module:attr" or repr of the callable


_BUILTIN_KINDS: dict[str, str] = {
    "cosmos": "cosmos_bench.models.cosmos:build_cosmos",
    "diffusers-i2v": "cosmos_bench.models.external:build_diffusers_i2v",
    "folder": "cosmos_bench.models.external:build_folder",
    "synthetic": "cosmos_bench.models.synthetic:build_synthetic",
}
_REGISTERED: dict[str, Callable[[ModelSpec], WorldModel]] = {}


def register_kind(name: str, factory: Callable[[ModelSpec], WorldModel] | None = None, *, overwrite: bool = False):
    """Register a kind in-process: ``register_kind("synthetic", factory)`` or as a decorator.

    ``factory(spec: ModelSpec) -> WorldModel``. Built-in and entry-point kinds can be replaced
    only with ``overwrite=True``.
    """
    if not NAME_RE.match(name):
        raise ValueError(f"kind name must be letters, digits, '-', '_' or '.', got {name!r}")

    def _register(fn: Callable[[ModelSpec], WorldModel]):
        if not callable(fn):
            raise TypeError(f"factory for kind {name!r} must be callable, got {fn!r}")
        if not overwrite and (name in _REGISTERED or name in _BUILTIN_KINDS or name in _entry_points()):
            raise ValueError(f"kind {name!r} is already registered; pass overwrite=True to replace it")
        _REGISTERED[name] = fn
        return fn

    return _register if factory is None else _register(factory)


def unregister_kind(name: str) -> None:
    """Remove an in-process registration (tests, notebooks)."""
    _REGISTERED.pop(name, None)


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def available_kinds() -> dict[str, KindInfo]:
    """Every kind that can be used now: in-process registrations, built-ins, entry points."""
    kinds: dict[str, KindInfo] = {}
    for name, ep in _entry_points().items():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        kinds[name] = KindInfo(name, f"entry point ({dist})", ep.value)
    for name, target in _BUILTIN_KINDS.items():
        kinds[name] = KindInfo(name, "built-in", target)
    for name, fn in _REGISTERED.items():
        target = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
        kinds[name] = KindInfo(name, "registered in-process", target)
    return dict(sorted(kinds.items()))


def _load_target(target: str) -> Callable[[ModelSpec], WorldModel]:
    import importlib

    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def get_kind(name: str) -> Callable[[ModelSpec], WorldModel]:
    """The factory of a kind; in-process registrations win, then built-ins, then entry points."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN_KINDS:
        return _load_target(_BUILTIN_KINDS[name])
    eps = _entry_points()
    if name in eps:
        try:
            factory = eps[name].load()
        except Exception as exc:  # a broken plugin must say which one
            raise ModelConfigError(f"kind {name!r}: entry point {eps[name].value!r} failed to load: {exc}") from exc
        if not callable(factory):
            raise ModelConfigError(f"kind {name!r}: entry point {eps[name].value!r} is not callable")
        return factory
    known = sorted(set(_REGISTERED) | set(_BUILTIN_KINDS) | set(eps))
    hint = difflib.get_close_matches(name, known, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ModelConfigError(
        f"unknown world-model kind {name!r}.{extra} Known kinds: {known}. Third-party kinds register "
        f"through the entry point group {ENTRY_POINT_GROUP!r}."
    )


def build_model(spec: ModelSpec) -> WorldModel:
    """Instantiate a model from its spec (validates options; weights load lazily).

    Every configuration error names the models YAML and the model (an unknown kind or a missing
    adapter file otherwise said neither, and the user could not tell which entry to fix).
    """
    try:
        model = get_kind(spec.kind)(spec)
    except AdapterNotTrainedError as exc:  # stays a note in `cosmos-bench models`, now naming the entry
        if str(exc).startswith(spec.where):
            raise
        hint = exc.hint or f"train it: {train_command(spec, exc.path)}"
        raise AdapterNotTrainedError(exc.path, where=spec.where, hint=hint) from None
    except ModelConfigError as exc:
        if str(exc).startswith(spec.where):
            raise
        raise ModelConfigError(f"{spec.where}: {exc}") from None
    missing = [a for a in ("name", "identity", "generate") if not hasattr(model, a)]
    if missing:
        raise ModelConfigError(f"{spec.where}: kind {spec.kind!r} returned {type(model).__name__} without {missing}")
    return model


# ------------------------------------------------------------------------------------ YAML
@dataclass
class ModelsConfig:
    """The parsed models YAML: raw entries plus the file they came from.

    ``packaged`` is set when no models YAML was found and the defaults the package carries were read
    instead: entries then name that file as their source, their relative paths (``runs/train/lora8``)
    are relative to ``path``'s folder (the current one), and a registration creates ``path``.
    """

    path: Path | None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    packaged: Path | None = None

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def spec(self, name: str) -> ModelSpec:
        """The resolved spec of ``name`` (``extends`` chains merged, child options win)."""
        if name not in self.entries:
            where = str(self.path) if self.path else "the models YAML"
            hint = difflib.get_close_matches(name, self.names, n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ModelConfigError(f"{where}: no model named {name!r}.{extra} Configured: {self.names or 'none'}")
        chain: list[str] = []
        merged: dict[str, Any] = {}
        current: str | None = name
        while current is not None:
            if current in chain:
                raise ModelConfigError(f"{self.path}: 'extends' loops: {' -> '.join(chain + [current])}")
            if current not in self.entries:
                raise ModelConfigError(f"{self.path}: model {chain[-1]!r} extends unknown model {current!r}")
            chain.append(current)
            current = self.entries[current].get("extends")
        for link in reversed(chain):
            merged.update({k: v for k, v in self.entries[link].items() if k != "extends"})
        kind = merged.pop("kind", None)
        if not kind:
            raise ModelConfigError(f"{self.path}: model {name!r} has no 'kind' (e.g. kind: cosmos)")
        merged.pop("description", None)
        if self.packaged is not None:
            return ModelSpec(name=name, kind=str(kind), options=merged, source=self.packaged,
                             root=self.path.parent if self.path is not None else None)
        return ModelSpec(name=name, kind=str(kind), options=merged, source=self.path)

    def specs(self, names: Sequence[str] | None = None) -> list[ModelSpec]:
        return [self.spec(n) for n in (self.names if names is None else names)]


def default_models_path() -> Path:
    """``$COSMOS_BENCH_MODELS`` if set, else ``models.yaml`` in the current folder."""
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else Path.cwd() / MODELS_FILE


def parse_models(data: Any, path: Path | None = None) -> ModelsConfig:
    where = str(path) if path else "models YAML"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ModelConfigError(f"{where}: expected a mapping with a 'models:' key, got {type(data).__name__}")
    unknown = set(data) - {"models"}
    if unknown:
        raise ModelConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; models go under 'models:' (name: {{kind: ..., ...}})"
        )
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise ModelConfigError(f"{where}: 'models' must map names to entries, got {type(models).__name__}")
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in models.items():
        name = str(name)
        if not NAME_RE.match(name):
            raise ModelConfigError(f"{where}: model name {name!r} must be letters, digits, '-', '_' or '.' (used in paths)")
        if not isinstance(entry, dict):
            raise ModelConfigError(f"{where}: model {name!r} must be a mapping (kind: ..., options), got {entry!r}")
        if "kind" not in entry and "extends" not in entry:
            raise ModelConfigError(f"{where}: model {name!r} needs 'kind' (or 'extends: <model>')")
        entries[name] = dict(entry)
    config = ModelsConfig(path=path, entries=entries)
    for name in entries:  # surface extends errors at load time, not mid-run
        config.spec(name)
    return config


def packaged_models_config(folder: str | os.PathLike | None = None) -> ModelsConfig:
    """The default models the package carries (base, lora8, lora32, dora8, dora32, ...), read as if
    they were ``models.yaml`` in ``folder`` (default: the current one): adapters resolve there."""
    shipped = shipped_path(MODELS_FILE)
    if not shipped.is_file():
        raise ModelConfigError(f"{shipped}: the packaged default models are missing from this install")
    config = _read_models_file(shipped)
    target = (Path(folder) if folder is not None else Path.cwd()).resolve() / MODELS_FILE
    return ModelsConfig(path=target, entries=config.entries, packaged=shipped)


def load_models_config(path: str | os.PathLike | None = None, *, missing_ok: bool = False) -> ModelsConfig:
    """Read a models YAML (default: :func:`default_models_path`).

    When no file was named (no ``path``, no ``$COSMOS_BENCH_MODELS``) and ``./models.yaml`` does not
    exist, the packaged defaults are used (:func:`packaged_models_config`) and a warning says so: the
    headline command works in an empty folder. A named file that is missing is an error (or, with
    ``missing_ok``, an empty config to register into).
    """
    p = Path(path) if path is not None else default_models_path()
    if not p.exists() and path is None and not os.environ.get(MODELS_ENV):
        config = packaged_models_config(p.parent)
        log.warning("%s not found: using the default models the package carries (%s); "
                    "`cosmos-bench init` writes an editable copy", p, ", ".join(config.names))
        return config
    if not p.exists():
        if missing_ok:
            return ModelsConfig(path=p)
        raise ModelConfigError(
            f"{p}: models file not found. Create it (see models.yaml in the repository) or name another one.",
            option="models_file",
        )
    return _read_models_file(p)


def _read_models_file(p: Path) -> ModelsConfig:
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"{p}: not valid YAML ({exc})") from None
    return parse_models(data, p.resolve())


def load_models(names: Sequence[str] | str, path: str | os.PathLike | None = None, *,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[WorldModel]:
    """Build the named models (``"base,lora8"`` or a list) from the models YAML.

    ``overrides``: ``{name: {option: value}}`` applied to those models' resolved options (``--set``,
    see :mod:`.overrides`); they reach each model's identity, hence its generation key."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise ModelConfigError("no model names given")
    if len(set(names)) != len(names):
        raise ModelConfigError(f"model names repeat: {list(names)}")
    config = load_models_config(path)
    specs = config.specs(names)
    if overrides:
        from .overrides import check_override_targets

        check_override_targets(overrides, names)
        for spec in specs:
            spec.options.update(overrides.get(spec.name, {}))
    return [build_model(spec) for spec in specs]


def register_model(
    name: str,
    entry: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    config: ModelsConfig | None = None,
) -> Path:
    """Add ``name: entry`` to the models YAML (created if absent), atomically.

    A new name is appended as text, so comments in the file survive. Replacing an existing name
    (``overwrite=True``) rewrites the file from its parsed form, which drops comments. ``config``:
    the file as the caller already read it (else it is read here).
    """
    p = Path(path) if path is not None else default_models_path()
    if not NAME_RE.match(name):
        raise ModelConfigError(f"model name {name!r} must be letters, digits, '-', '_' or '.'")
    entry = dict(entry)
    config = config if config is not None else load_models_config(p, missing_ok=True)
    if name in config.entries and not overwrite:
        raise ModelConfigError(f"{p}: model {name!r} already exists (use overwrite to replace it)")
    trial = dict(config.entries)
    trial[name] = entry
    parse_models({"models": trial}, p)  # validate (kind/extends) before touching the file
    text = None
    # the file to extend: the models YAML itself, or the packaged defaults it was read from (their comments kept)
    starting = p if p.exists() else config.packaged
    if name not in config.entries and starting is not None and starting.exists():
        # Append as text so that comments survive; keep it only if it parses to the intended entries.
        original = starting.read_text(encoding="utf-8")
        candidate = original if original.endswith("\n") else original + "\n"
        if not re.search(r"^models:", candidate, flags=re.M):
            candidate += "models:\n"
        indent = re.search(r"^models:[ \t]*\n(?:[ \t]*(?:#.*)?\n)*([ \t]+)\S", candidate, flags=re.M)
        pad = indent.group(1) if indent else "  "
        block = yaml.safe_dump({name: entry}, sort_keys=False)
        candidate += "".join(pad + line + "\n" for line in block.splitlines())
        try:
            if (yaml.safe_load(candidate) or {}).get("models") == trial:
                text = candidate
        except yaml.YAMLError:
            pass
    if text is None:
        text = yaml.safe_dump({"models": trial}, sort_keys=False)
    return atomic_write_text(p, text)


__all__ = [
    "AdapterNotTrainedError",
    "ENTRY_POINT_GROUP",
    "Frames",
    "GeneratedVideo",
    "GenerationRequest",
    "KindInfo",
    "MODELS_ENV",
    "MODELS_FILE",
    "ModelConfigError",
    "ModelSpec",
    "ModelsConfig",
    "WorldModel",
    "available_kinds",
    "build_model",
    "default_models_path",
    "file_sha256",
    "folder_fingerprint",
    "get_kind",
    "load_models",
    "load_models_config",
    "packaged_models_config",
    "parse_models",
    "register_kind",
    "register_model",
    "train_command",
    "unregister_kind",
]
