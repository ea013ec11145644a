"""An adapter that changes nothing is an error, not a candidate.

A LoRA whose weights never loaded (a wrong file, a name mismatch that peft skipped with a warning, a
freshly initialised ``B = 0``) gives videos identical to the base model's, and would be benchmarked as a
candidate "as good as base". Each run generates both anyway for the paired comparison, with the same
seeded noise, so the check costs nothing: the first video of each adapter candidate is compared with
the base video of the same test pair and seed, by the hash of its frames (``content_sha256``, computed
from the raw frames before encoding). Identical frames turn every output of that candidate in the run
into an error output, which the scoring stages store as error rows with :data:`NO_EFFECT`.

Which model is an adapter's base is read from the sidecars' model identities: a model whose identity
has an ``adapter`` entry, and another model of the run whose identity is the same with ``adapter: None``
(for ``cosmos``: same base weights, dtype, sampler and options). Kinds without adapters are never checked.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from .outputs import Output

NO_EFFECT = "adapter had no effect (identical to base)"


def _without_adapter(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k != "adapter"}


def adapter_bases(outputs: Sequence[Output]) -> dict[str, str]:
    """Adapter candidate → the model of the run that is its base (same identity, no adapter)."""
    identities: dict[str, dict[str, Any]] = {}
    for o in outputs:
        if o.sidecar is not None and isinstance(o.sidecar.model_identity, dict):
            identities.setdefault(o.model, o.sidecar.model_identity)
    bases = {name: _without_adapter(i) for name, i in identities.items() if i.get("adapter") is None}
    found: dict[str, str] = {}
    for name, identity in identities.items():
        if identity.get("adapter") is None:
            continue
        match = sorted(b for b, plain in bases.items() if plain == _without_adapter(identity))
        if match:
            found[name] = match[0]
    return found


def silent_adapters(outputs: Sequence[Output]) -> dict[str, tuple[str, Output]]:
    """Adapter candidates whose first comparable video equals the base's: model → (base, that output)."""
    content = {(o.model, o.sample, o.seed): o.sidecar.content_sha256 for o in outputs
               if o.error is None and o.sidecar is not None and o.sidecar.content_sha256}
    silent: dict[str, tuple[str, Output]] = {}
    for model, base in adapter_bases(outputs).items():
        mine = sorted((o for o in outputs if o.model == model and (model, o.sample, o.seed) in content),
                      key=lambda o: (o.sample, o.seed))
        first = next((o for o in mine if (base, o.sample, o.seed) in content), None)
        if first is not None and content[(model, first.sample, first.seed)] == content[(base, first.sample, first.seed)]:
            silent[model] = (base, first)
    return silent


def flag_silent_adapters(outputs: Sequence[Output]) -> tuple[list[Output], list[str]]:
    """``outputs`` with every output of a silent adapter turned into an error output, and one line per
    such adapter for the run's summary."""
    silent = silent_adapters(outputs)
    flagged = [dataclasses.replace(o, error=NO_EFFECT) if o.model in silent and o.error is None else o for o in outputs]
    notes = [f"{model}: {NO_EFFECT}: {first.sample} seed {first.seed} has the same frames as {base}'s"
             for model, (base, first) in sorted(silent.items())]
    return flagged, notes


__all__ = ["NO_EFFECT", "adapter_bases", "flag_silent_adapters", "silent_adapters"]
