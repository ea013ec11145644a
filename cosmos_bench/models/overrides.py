"""``--set NAME.KEY=VALUE``: change one model's option for one run, without editing the models YAML.

lm-evaluation-harness has ``--model_args`` and Inspect AI ``-M`` for the same need: try a guidance scale
or an adapter scale once. An override is applied to the named model's resolved entry only (not to the
models that ``extends:`` it), checked like any option of its kind (a typo names the closest option),
and, because options make the model's identity, a changed value is a new generation key: its videos and
rows never mix with the YAML's. VALUE is read as YAML (``7``, ``true``, ``[elastic:1]``, ``hf://org/x``).
Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import yaml

from ..errors import InputError
from ..names import NAME_RE

Overrides = Mapping[str, Mapping[str, Any]]


def parse_overrides(items: Sequence[str], *, option: str = "set") -> dict[str, dict[str, Any]]:
    """``["lora8.lora_scale=0.5", "base.guidance=5"]`` → ``{"lora8": {"lora_scale": 0.5}, "base": {"guidance": 5}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, eq, raw = item.partition("=")
        name, dot, key = target.strip().partition(".")
        if not eq or not dot or not name or not key:
            raise InputError(f"{item!r} must look like NAME.KEY=VALUE (e.g. lora8.lora_scale=0.5)", option=option)
        if not NAME_RE.match(name):
            raise InputError(f"{item!r}: {name!r} is not a model name", option=option)
        if key in ("kind", "extends"):
            raise InputError(f"{item!r}: {key!r} cannot be overridden; name another model instead", option=option)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise InputError(f"{item!r}: VALUE is not valid YAML ({exc})", option=option) from None
        if key in out.get(name, {}):
            raise InputError(f"{item!r}: {name}.{key} is set twice", option=option)
        out.setdefault(name, {})[key] = value
    return out


def check_override_targets(overrides: Overrides, names: Sequence[str], *, option: str = "set") -> None:
    """Every override names a model of this run (a misspelt name would otherwise change nothing)."""
    unused = sorted(set(overrides) - set(names))
    if unused:
        raise InputError(f"names model(s) {unused} that this run does not use (models: {list(names)})", option=option)


__all__ = ["Overrides", "check_override_targets", "parse_overrides"]
