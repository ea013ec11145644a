"""Third-party world models: any diffusers image-to-video pipeline, or videos produced elsewhere.

``diffusers-i2v`` runs a diffusers pipeline that takes a prompt and a first frame (Wan 2.x I2V,
CogVideoX I2V, LTX-Video I2V, ...)::

    wan-i2v:
      kind: diffusers-i2v
      model: Wan-AI/Wan2.1-I2V-14B-480P-Diffusers   # hub id or local folder
      pipeline: WanImageToVideoPipeline             # optional; default: the folder's model_index.json
      dtype: bfloat16
      args: {fps: null}                             # request field -> pipeline argument (null: not passed)
      call: {negative_prompt: "blurry"}             # fixed extra arguments

The request fields are ``prompt image negative_prompt num_frames height width steps guidance fps
generator``; their default argument names are diffusers' usual ones (``steps`` ->
``num_inference_steps``, ``guidance`` -> ``guidance_scale``), and known pipelines have presets
(LTX-Video takes ``fps`` as ``frame_rate``). Noise comes from a CPU ``torch.Generator`` seeded with
the request's seed (diffusers draws it on the CPU and moves it), so a seed means the same noise on
any GPU.

``folder`` scores videos made by any other system without running it::

    their-model:
      kind: folder
      path: /data/their_model_outputs    # holds seed0/<sample>.mp4, seed1/<sample>.mp4, ...
      layout: "seed{seed}"               # sub-folder per seed ("" when there is one video per sample)

The files must be in the suite's storage form (``<sample>.mp4`` for single/grid suites,
``<sample>_<view>.mp4`` for per-view files). They are copied byte for byte (never re-encoded), and
each output's sidecar records the source file's hash. The folder's videos are the model, so their
content fingerprint is part of its identity: replacing any video gives a new generation key, hence new
outputs and new result rows (the store keys rows by generation key), and the leaderboard's newest-key
rule shows the new scores, never the old number beside the new video.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from .base import GeneratedVideo, GenerationRequest, ModelConfigError, ModelSpec, file_sha256
from .loading import ModelSource, load_pretrained, pretrained_kwargs, resolve_device

REQUEST_FIELDS = ("prompt", "image", "negative_prompt", "num_frames", "height", "width", "steps", "guidance", "fps", "generator")
DEFAULT_ARGS: dict[str, str | None] = {
    "prompt": "prompt",
    "image": "image",
    "negative_prompt": "negative_prompt",
    "num_frames": "num_frames",
    "height": "height",
    "width": "width",
    "steps": "num_inference_steps",
    "guidance": "guidance_scale",
    "fps": None,
    "generator": "generator",
}
# Per-pipeline differences from DEFAULT_ARGS (class name -> overrides).
PRESETS: dict[str, dict[str, str | None]] = {
    "LTXImageToVideoPipeline": {"fps": "frame_rate"},
    "LTXConditionPipeline": {"fps": "frame_rate"},
    "CogVideoXImageToVideoPipeline": {},
    "WanImageToVideoPipeline": {},
    "HunyuanVideoImageToVideoPipeline": {},
}
I2V_OPTIONS = ("model", "revision", "pipeline", "dtype", "device", "args", "call", "guidance", "local_files_only", "variant")


def _to_uint8_video(frames: Any) -> np.ndarray:
    """A pipeline's first video (np float [0, 1], torch, or list of PIL) as uint8 ``(T, H, W, 3)``."""
    if isinstance(frames, (list, tuple)) and frames and hasattr(frames[0], "convert"):
        return np.stack([np.asarray(f.convert("RGB")) for f in frames])
    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    arr = np.asarray(frames)
    if arr.ndim == 4 and arr.shape[-1] != 3 and arr.shape[1] == 3:  # (T, C, H, W)
        arr = arr.transpose(0, 2, 3, 1)
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"pipeline output is not a (T, H, W, 3) video: shape {arr.shape}")
    return arr


class DiffusersI2VWorldModel:
    """A diffusers image-to-video pipeline as a world model."""

    kind = "diffusers-i2v"
    uses_settings = True

    def __init__(self, spec: ModelSpec):
        spec.check_options(I2V_OPTIONS)
        o = spec.options
        self.name = spec.name
        self.spec = spec
        if not o.get("model"):
            raise ModelConfigError(f"{spec.where}: 'model' (hub id or local folder) is required")
        self.source = ModelSource.from_spec(spec, str(o["model"]))
        self.local_path, self.model, self.revision = self.source.local_path, self.source.model, self.source.revision
        self.pipeline_class = o.get("pipeline")
        self.dtype = str(o.get("dtype", "bfloat16"))
        self.device_option = str(o.get("device", "auto"))
        self.local_files_only = bool(o.get("local_files_only", False))
        self.variant = o.get("variant")
        self.guidance = o.get("guidance")
        user_args = o.get("args") or {}
        if not isinstance(user_args, dict):
            raise ModelConfigError(f"{spec.where}: 'args' must map request fields to pipeline argument names")
        unknown = set(user_args) - set(REQUEST_FIELDS)
        if unknown:
            raise ModelConfigError(f"{spec.where}: args has unknown request field(s) {sorted(unknown)}; known: {list(REQUEST_FIELDS)}")
        self.user_args = dict(user_args)
        self.call = dict(o.get("call") or {})
        self._pipe = None

    def arg_map(self, class_name: str | None) -> dict[str, str | None]:
        mapping = dict(DEFAULT_ARGS)
        mapping.update(PRESETS.get(class_name or "", {}))
        mapping.update(self.user_args)
        return mapping

    def identity(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "base": self.source.identity(),
            "pipeline": self.pipeline_class,
            "dtype": self.dtype,
            "args": self.user_args,
            "call": self.call,
            "guidance": self.guidance,
        }

    def describe(self) -> dict[str, Any]:
        return {"base": self.source.describe(), "pipeline": self.pipeline_class or "auto", "dtype": self.dtype}

    def pipeline(self):
        if self._pipe is None:
            import diffusers

            cls = diffusers.DiffusionPipeline
            if self.pipeline_class:
                cls = getattr(diffusers, str(self.pipeline_class), None)
                if cls is None:
                    raise ModelConfigError(f"{self.spec.where}: diffusers has no pipeline class {self.pipeline_class!r}")
            kwargs = pretrained_kwargs(self.dtype, revision=self.revision, local_files_only=self.local_files_only, variant=self.variant or None)
            pipe = load_pretrained(
                cls, self.model, device=resolve_device(self.device_option), failure=f"{self.spec.where}: could not load {self.model!r}", **kwargs
            )
            self._pipe = pipe
        return self._pipe

    def release(self) -> None:
        """Drop the loaded pipeline (the generator calls this after the model's last video)."""
        self._pipe = None

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        import torch
        from PIL import Image

        pipe = self.pipeline()
        class_name = type(pipe).__name__
        mapping = self.arg_map(class_name)
        guidance = request.guidance if request.guidance is not None else self.guidance
        values: dict[str, Any] = {
            "prompt": request.prompt,
            "image": None if request.image is None else Image.fromarray(np.ascontiguousarray(request.image)),
            "negative_prompt": request.negative_prompt,
            "num_frames": request.num_frames,
            "height": request.height,
            "width": request.width,
            "steps": request.steps,
            "guidance": guidance,
            "fps": request.fps,
            "generator": torch.Generator("cpu").manual_seed(int(request.seed)),
        }
        kwargs = dict(self.call)
        for field_name, value in values.items():
            target = mapping.get(field_name)
            if target and value is not None:
                kwargs[target] = value
        kwargs.setdefault("output_type", "np")
        out = pipe(**kwargs)
        frames = out.frames[0] if hasattr(out, "frames") else out[0][0]
        video = _to_uint8_video(frames)
        info = {
            "pipeline": class_name,
            "arguments": {k: (v if isinstance(v, (int, float, str, bool)) or v is None else type(v).__name__) for k, v in kwargs.items()},
            "noise": {"generator": "torch.Generator('cpu').manual_seed(seed)", "seed": int(request.seed)},
            "base": {"model": self.model, "revision": self.revision},
            "dtype": self.dtype,
        }
        return GeneratedVideo(frames=video, fps=request.fps, info=info)


class FolderWorldModel:
    """Videos produced elsewhere, looked up by sample name and seed."""

    kind = "folder"
    uses_settings = False

    def __init__(self, spec: ModelSpec):
        spec.check_options(("path", "layout"))
        self.name = spec.name
        self.spec = spec
        path = spec.path_option("path")
        if path is None:
            raise ModelConfigError(f"{spec.where}: 'path' (the folder holding the videos) is required")
        if not path.is_dir():
            raise ModelConfigError(f"{spec.where}: folder {path} not found")
        self.path = path.resolve()
        self.layout = str(spec.options.get("layout", "seed{seed}"))
        try:
            self.layout.format(seed=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ModelConfigError(f"{spec.where}: layout {self.layout!r} may only use {{seed}} ({exc})") from None
        sample = Path(self.layout.format(seed=0))
        if sample.is_absolute() or ".." in sample.parts or "\\" in self.layout:
            raise ModelConfigError(f"{spec.where}: layout {self.layout!r} must be a relative folder inside 'path' "
                                   "(no '..', no absolute path), e.g. 'seed{seed}'")
        self._videos: str | None = None

    def identity(self) -> dict[str, Any]:
        # The folder's location is not part of the identity (moving it keeps its outputs); its videos'
        # content is, so a replaced video gets new rows instead of the old score.
        return {"kind": self.kind, "layout": self.layout, "videos_sha256": self.videos_fingerprint()}

    def videos_fingerprint(self) -> str:
        """SHA-256 over the relative names and content hashes of the folder's ``*.mp4`` files (read once per
        model: a run sees one state of the folder). Other files (notes, logs) do not count."""
        if self._videos is None:
            h = hashlib.sha256()
            for f in sorted(p for p in self.path.rglob("*.mp4") if p.is_file() and not p.name.startswith(".")):
                h.update(f"{f.relative_to(self.path).as_posix()}\0{file_sha256(f)}\n".encode())
            self._videos = h.hexdigest()
        return self._videos

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "layout": self.layout}

    def folder(self, seed: int) -> Path:
        return self.path / self.layout.format(seed=seed) if self.layout else self.path

    def source_files(self, request: GenerationRequest) -> dict[str, Path]:
        folder = self.folder(request.seed)
        if request.suite is not None:
            return request.suite.sample_files(folder, request.sample)
        return {v: folder / f"{request.sample}.mp4" for v in request.views}

    def request_inputs(self, request: GenerationRequest) -> dict[str, Any]:
        files = self.source_files(request)
        missing = sorted({str(p) for p in files.values() if not p.is_file()})
        if missing:
            raise FileNotFoundError(f"model {self.name!r}: no video for sample {request.sample!r} seed {request.seed}: {missing}")
        return {"source_sha256": {v: file_sha256(p) for v, p in files.items()}}

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        files = self.source_files(request)
        inputs = self.request_inputs(request)
        fps = request.fps
        if request.suite is not None:
            # decode once: an unreadable or inconsistent source must fail here, not in the metrics
            _, fps = request.suite.read_views(self.folder(request.seed), request.sample)
        return GeneratedVideo(
            frames=None,
            fps=fps,
            files=files,
            info={"source": {v: str(p) for v, p in files.items()}, **inputs},
        )


def build_diffusers_i2v(spec: ModelSpec) -> DiffusersI2VWorldModel:
    """Factory of the built-in ``diffusers-i2v`` kind."""
    return DiffusersI2VWorldModel(spec)


def build_folder(spec: ModelSpec) -> FolderWorldModel:
    """Factory of the built-in ``folder`` kind."""
    return FolderWorldModel(spec)


__all__ = [
    "DEFAULT_ARGS",
    "DiffusersI2VWorldModel",
    "FolderWorldModel",
    "PRESETS",
    "build_diffusers_i2v",
    "build_folder",
]
