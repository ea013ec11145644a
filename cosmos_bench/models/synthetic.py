"""The ``synthetic`` world-model kind: the exact renderer of a synthetic suite, optionally degraded.

Why a "model" that is a renderer: it gives the whole benchmark a known answer. On a suite written by
``cosmos-bench data synth``, the undegraded renderer reproduces each test pair's scene with perfect
geometry, and degraded versions (``elastic:1``, ``view_shift:4``, ...) break it by known amounts. A
leaderboard over these candidates must rank them in the known order; if it does not, a metric, the
store or the statistics is wrong. This is what the offline demo runs, and what the end-to-end tests
check.

The generation seed varies the degradation pattern (not the scene), so several seeds of a degraded
candidate differ the way several samples of a generator do.

models YAML::

    base:   {kind: synthetic}
    warp2:  {kind: synthetic, degrade: [elastic:2]}
    shift4: {kind: synthetic, degrade: [view_shift:4]}
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..data.synthetic import Degradation, parse_degradation, render_clip
from ..data.synthetic_suite import scene_config_of
from .base import GeneratedVideo, GenerationRequest, ModelConfigError, ModelSpec

RENDERER_VERSION = "1"


class SyntheticWorldModel:
    """Re-renders the suite's own scene for each request, with optional degradations."""

    kind = "synthetic"
    uses_settings = True

    def __init__(self, name: str, degradations: list[Degradation]):
        self.name = name
        self.degradations = degradations

    def identity(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "renderer": RENDERER_VERSION,
            "degradations": [f"{d.kind}:{d.amplitude:g}" for d in self.degradations],
        }

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        suite = request.suite
        if suite is None or not request.sample:
            raise ValueError(f"model {self.name!r}: the synthetic kind needs the suite and sample of the request")
        config = scene_config_of(suite, request.sample)
        config = replace(config, frames=int(request.num_frames), degradation_seed=int(request.seed))
        clip = render_clip(config, self.degradations)
        return GeneratedVideo(
            frames=dict(clip.views),
            fps=clip.fps,
            info={"scene_seed": config.seed, "degradation_seed": int(request.seed),
                  "degradations": self.identity()["degradations"]},
        )


def build_synthetic(spec: ModelSpec) -> SyntheticWorldModel:
    spec.check_options(["degrade"])
    raw = spec.options.get("degrade") or []
    if isinstance(raw, str):
        raw = [raw]
    try:
        degradations = [parse_degradation(d) for d in raw]
    except ValueError as exc:
        raise ModelConfigError(f"{spec.where}: {exc}") from None
    return SyntheticWorldModel(spec.name, degradations)
