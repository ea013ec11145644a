"""Ask a vision-language judge (Cosmos Reason2 or any OpenAI-compatible server) to score videos.

One HTTP call scores one *sample* of one video; ``config.samples`` samples per video give a mean and
a spread. Calls are bounded by ``config.concurrency``; transient failures (429, 5xx, timeouts, dropped
connections) are retried with exponential backoff, replies without a valid score are re-asked, and
whatever still fails becomes an ``error`` sample with its reason and raw reply, never a number.

Valid samples go to a :class:`~cosmos_bench.judge.cache.ScoreCache` keyed by
(video sha256, judge version, instruction sha256, sample index), so a rerun asks only for what is
missing. The judge version (:func:`judge_version`) hashes everything that can change a score: the
rubric text, the model id, the sampling settings and the video encoding.

The API key is used for the ``Authorization`` header only: it is not logged, not part of any result
or cache record, and not shown by ``repr(JudgeConfig)``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import openai

from cosmos_bench.judge.cache import ScoreCache
from cosmos_bench.judge.rubric import Rubric, load_rubric
from cosmos_bench.judge.scoring import extract_score
from cosmos_bench.judge.server import (
    SERVER_ENV,
    SERVER_PROFILES,
    Endpoint,
    RequestForm,
    probe_endpoint,
    refuses_video,
    request_fields,
    request_settings,
    server_reason,
    unknown_fields,
)
from ..errors import InputError, WorkFailedError

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_BASE_URL",
    "JudgeConfig",
    "JudgeRequest",
    "JudgeSample",
    "JudgeResult",
    "ProgressEvent",
    "JudgeEndpointError",
    "SERVER_PROFILES",
    "resolve_endpoint",
    "judge_version",
    "judge_settings",
    "judge_videos",
    "judge_videos_sync",
    "check_endpoint",
    "build_messages",
    "messages_json",
    "PROMPT_STYLES",
]

log = logging.getLogger("cosmos_bench.judge")

DEFAULT_MODEL = "nvidia/Cosmos-Reason2-8B"
DEFAULT_BASE_URL = "http://localhost:8000/v1"
# Bump when the message layout below changes (order of parts, preamble, roles): it is in the judge version.
# 2: frames mode labels each frame with its time, the way Qwen3-VL labels the frames of a video.
# 3: the frames preamble names the span of the frame labels (0.0 to the last frame's time), not the clip's
#    length; Cosmos Reason2 models get their documented system prompt and reasoning format (PROMPT_STYLES).
MESSAGE_PROTOCOL = 3
FRAMES_PREAMBLE = "The video is shown as {n} frames in time order, evenly spaced from 0.0 to {seconds:.1f} seconds."
FRAME_LABEL = "<{seconds:.1f} seconds>"
# How the question is laid out. "rubric": the rubric's system prompt as the system message and its answer
# format (think, then "Score: N") at the end of the user text. "cosmos-reason2": what nvidia-cosmos/cosmos-reason2
# documents for its models (cosmos_reason2_utils/text.py): the default system prompt, the whole rubric as the user
# turn, and the documented reasoning instruction appended after a blank line, as its inference script does.
PROMPT_STYLES: tuple[str, ...] = ("auto", "cosmos-reason2", "rubric")
REASON2_PREFIX = "nvidia/cosmos-reason2"
REASON2_SYSTEM_PROMPT = "You are a helpful assistant."
REASON2_REASONING_FORMAT = (
    "Answer the question using the following format:\n\n<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
REASON2_ANSWER_LINE = 'Your final answer is one line of the form "Score: N", where N is a whole number from {score_min} to {score_max}.'
# rubric name -> what its control does
CONTROL_KINDS = {"video_physics": "shuffled_frames", "video_IF": "other_instruction"}


def control_settings(rubric_name: str, share: float, seed: int) -> dict[str, Any] | None:
    """What the judge version records about controls (None: no controls for this rubric or share 0)."""
    kind = CONTROL_KINDS.get(rubric_name)
    if share <= 0 or kind is None:
        return None
    return {"kind": kind, "share": float(share), "seed": int(seed)}


FRAMES_HINT = "the server may take no video input: pass --frames-mode (JudgeConfig(video_mode='frames'))"
# cosmos-bench's own variables; the generic OpenAI ones many users keep set for other tools are read only
# when a caller opts in (the explicit `judge` command), so they never switch the judge on or leak a key.
URL_ENV = "COSMOS_BENCH_JUDGE_URL"
KEY_ENV = "COSMOS_BENCH_JUDGE_API_KEY"
GENERIC_URL_ENV = "OPENAI_BASE_URL"
GENERIC_KEY_ENV = "OPENAI_API_KEY"
_ENV_MODEL = ("COSMOS_BENCH_JUDGE_MODEL",)
_VIDEO_MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska"}


class JudgeEndpointError(WorkFailedError, RuntimeError):
    """The judge server cannot be reached or refuses every request (wrong URL, server down, bad key)."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how it is asked.

    ``base_url``, ``api_key`` and ``model`` left as ``None`` are read from the environment by
    :meth:`resolved`: ``COSMOS_BENCH_JUDGE_URL`` (default ``http://localhost:8000/v1``),
    ``COSMOS_BENCH_JUDGE_API_KEY`` (default ``"EMPTY"``, what vLLM accepts without ``--api-key``),
    ``COSMOS_BENCH_JUDGE_MODEL`` (default ``nvidia/Cosmos-Reason2-8B``) and ``server`` from
    ``COSMOS_BENCH_JUDGE_SERVER`` (default ``auto``; see :mod:`cosmos_bench.judge.server` for what each
    profile sends). ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are fallbacks only with ``generic=True``.

    Settings that change scores (model, sampling, encoding, ``extra_body``) enter the judge version;
    the rest (where the server is, concurrency, timeouts, retries, backoff) do not.
    """

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    # request form (in the judge version as the fields it sends): auto | vllm | openai | generic
    server: str | None = None
    # tokens the server's context holds (vLLM lists it as max_model_len); sizes vLLM's pixel budget
    context_length: int | None = None
    # sampling (in the judge version); Reason2 with reasoning: T=0.6, top_p=0.95, top_k=20,
    # repetition_penalty 1.0, presence_penalty 0.0, 4096 tokens
    samples: int = 1
    temperature: float = 0.6
    top_p: float | None = 0.95
    top_k: int | None = 20
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    max_tokens: int = 4096
    seed: int = 0
    # video encoding (in the judge version)
    # auto: the video itself to vLLM, JPEG frames as image_url parts to every other server (few take
    # video_url parts); and frames from then on when a server refuses the video part (recorded in the version)
    video_mode: Literal["auto", "video", "frames"] = "auto"
    fps: float | None = 4.0  # vLLM video mode: media_io_kwargs.video.fps; None sends no fps
    # the server runs with --trust-request-mm-kwargs: send Reason2's pixel budget as mm_processor_kwargs
    request_mm_kwargs: bool = False
    # auto: Cosmos Reason2's documented prompt layout for nvidia/Cosmos-Reason2-* models, the rubric's own
    # system prompt for any other model (see PROMPT_STYLES)
    prompt_style: Literal["auto", "cosmos-reason2", "rubric"] = "auto"
    # share of the videos also asked a control that must score lower (judge/controls.py; in the judge version)
    control_share: float = 0.0
    num_frames: int = 8
    jpeg_quality: int = 90
    extra_body: dict[str, Any] = field(default_factory=dict)
    # transport (not in the judge version)
    concurrency: int = 8
    timeout_s: float = 300.0
    retries: int = 4
    reasks: int = 2
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        checks = [
            (self.samples >= 1, "samples", self.samples, ">= 1"),
            (self.concurrency >= 1, "concurrency", self.concurrency, ">= 1"),
            (self.retries >= 0, "retries", self.retries, ">= 0"),
            (self.reasks >= 0, "reasks", self.reasks, ">= 0"),
            (self.timeout_s > 0, "timeout_s", self.timeout_s, "> 0"),
            (self.fps is None or self.fps > 0, "fps", self.fps, "> 0 or None"),
            (self.num_frames >= 1, "num_frames", self.num_frames, ">= 1"),
            (self.video_mode in ("auto", "video", "frames"), "video_mode", self.video_mode, "'auto', 'video' or 'frames'"),
            (self.prompt_style in PROMPT_STYLES, "prompt_style", self.prompt_style, " or ".join(PROMPT_STYLES)),
            (0 <= self.control_share <= 1, "control_share", self.control_share, "in [0, 1]"),
            (0 < self.jpeg_quality <= 100, "jpeg_quality", self.jpeg_quality, "in 1..100"),
            (self.backoff_s >= 0 and self.backoff_max_s >= 0, "backoff_s", self.backoff_s, ">= 0"),
            (self.server is None or self.server in SERVER_PROFILES, "server", self.server, " or ".join(SERVER_PROFILES)),
            (self.context_length is None or self.context_length > self.max_tokens, "context_length",
             self.context_length, f"> max_tokens ({self.max_tokens}) or None"),
        ]
        for ok, name, value, want in checks:
            if not ok:
                raise InputError(f"JudgeConfig.{name} must be {want}, got {value!r}")
        if self.server == "openai" and self.video_mode == "video":  # auto sends it frames
            raise InputError("server 'openai' takes no video input (OpenAI's API has no video parts); "
                             "use video_mode='frames'", option="frames_mode")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, generic: bool = False, **overrides: Any) -> JudgeConfig:
        """A config with ``overrides`` (``None`` values ignored) and the rest from ``env``/defaults."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**given).resolved(env, generic=generic)

    def resolved(self, env: dict[str, str] | None = None, generic: bool = False) -> JudgeConfig:
        """Fill ``base_url``, ``api_key`` and ``model`` from the environment where they are ``None``.

        ``generic``: also fall back to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` (see
        :func:`generic_env_used` for telling the user so). A config resolved already is returned as it
        is, without looking at the environment: it is resolved once where the run starts (the CLI, or
        the top of ``runner.run``), and every later step (versions, requests, endpoints) takes it as given.
        """
        if self.is_resolved:
            return self
        env = os.environ if env is None else env

        def first(names: Sequence[str], default: str) -> str:
            for n in names:
                if env.get(n):
                    return env[n]
            return default

        server = self.server or first((SERVER_ENV,), "auto")
        if server not in SERVER_PROFILES:
            raise InputError(f"{SERVER_ENV} must be {' or '.join(SERVER_PROFILES)}, got {server!r}")
        return dataclasses.replace(
            self,
            base_url=self.base_url or first(_url_vars(generic), DEFAULT_BASE_URL),
            api_key=self.api_key if self.api_key is not None else first(_key_vars(generic, self.base_url, env), "EMPTY"),
            model=self.model or first(_ENV_MODEL, DEFAULT_MODEL),
            server=server,
        )

    @property
    def is_resolved(self) -> bool:
        """Where the judge is, its key, its model and the request form are all decided."""
        return None not in (self.base_url, self.api_key, self.model, self.server)

    @property
    def effective_video_mode(self) -> str:
        """``video`` or ``frames``: ``auto`` sends the video itself only to vLLM (the one server known to
        take ``video_url`` parts with a frame rate), frames as ``image_url`` parts to the rest."""
        if self.video_mode != "auto":
            return self.video_mode
        return "video" if self.request_form.server == "vllm" else "frames"

    @property
    def effective_prompt_style(self) -> str:
        """``cosmos-reason2`` for ``nvidia/Cosmos-Reason2-*`` models under ``auto``, else ``rubric``."""
        if self.prompt_style != "auto":
            return self.prompt_style
        return "cosmos-reason2" if (self.model or "").lower().startswith(REASON2_PREFIX) else "rubric"

    @property
    def request_form(self) -> RequestForm:
        """The form requests are sent in; an unresolved ``auto`` counts as ``generic``, its fallback."""
        return RequestForm(self.server if self.server not in (None, "auto") else "generic")


def judge_config_if_asked(base_url: str | None = None, env: Mapping[str, str] | None = None,
                          **overrides: Any) -> JudgeConfig | None:
    """The resolved judge config when an endpoint was named (``base_url``, else ``$COSMOS_BENCH_JUDGE_URL``),
    else ``None``: a benchmark run then leaves the judge columns "not run".

    The generic ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` never switch the judge on here: many users keep
    them set for other tools, and a benchmark must not send their key or videos there unasked. This is
    the one place that decides from the environment whether a run has a judge.
    """
    env = os.environ if env is None else env
    if not (base_url or env.get(URL_ENV)):
        return None
    return JudgeConfig.from_env(dict(env), base_url=base_url, **overrides)


def endpoint_urls(base_url: str) -> list[str]:
    """``--judge-url a,b``: several servers of the same judge model; requests are spread over them."""
    return [u.strip() for u in base_url.split(",") if u.strip()]


def check_endpoint_urls(base_url: str | None) -> None:
    """Refuse a judge URL that is not ``http(s)://host[:port][/path]`` before any work (exit 2).

    Otherwise ``--judge-url notaurl`` would be found out only when the judge stage starts, after
    every video was generated and scored.
    """
    from urllib.parse import urlsplit

    for url in endpoint_urls(base_url or ""):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise InputError(f"{url!r} is not a URL ({exc})", option="judge_url") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{url!r} is not an http(s)://host[:port]/... URL of an OpenAI-compatible server",
                             option="judge_url")


def _url_vars(generic: bool) -> tuple[str, ...]:
    return (URL_ENV, GENERIC_URL_ENV) if generic else (URL_ENV,)


def _key_vars(generic: bool, base_url: str | None = None, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Which variables hold the key: a URL taken from ``$OPENAI_BASE_URL`` gets ``$OPENAI_API_KEY`` only, so
    cosmos-bench's own key never goes to the generic OpenAI endpoint."""
    if not generic:
        return (KEY_ENV,)
    if env is not None and _generic_url_used(base_url, env):
        return (GENERIC_KEY_ENV,)
    return (KEY_ENV, GENERIC_KEY_ENV)


def _generic_url_used(base_url: str | None, env: Mapping[str, str]) -> bool:
    return base_url is None and not env.get(URL_ENV) and bool(env.get(GENERIC_URL_ENV))


def generic_env_used(base_url: str | None, api_key: str | None = None, env: dict[str, str] | None = None) -> list[str]:
    """The generic OpenAI variables that ``from_env(generic=True)`` takes for the fields not given."""
    env = os.environ if env is None else env
    used = []
    generic_url = _generic_url_used(base_url, env)
    if generic_url:
        used.append(GENERIC_URL_ENV)
    if api_key is None and (generic_url or not env.get(KEY_ENV)) and env.get(GENERIC_KEY_ENV):
        used.append(GENERIC_KEY_ENV)
    return used


@dataclass(frozen=True)
class JudgeRequest:
    """One video to score: a path to an mp4 file and, for rubrics that need it, the instruction."""

    video: str | os.PathLike
    instruction: str | None = None
    id: str | None = None

    @property
    def key(self) -> str:
        return self.id if self.id is not None else str(self.video)


@dataclass
class JudgeSample:
    """One scored (or failed) sample of one video."""

    index: int
    seed: int | None
    status: Literal["ok", "error"]
    score: int | None
    reason: str | None = None
    raw_reply: str | None = None
    reasoning: str | None = None
    attempts: int = 0
    cached: bool = False
    errors: list[str] = field(default_factory=list)
    latency_s: float | None = None
    endpoint: str | None = None  # the server that answered (None: from the cache, or no answer)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class JudgeResult:
    """All samples of one video under one judge version, with their mean and spread.

    ``status`` is ``"ok"`` only when every sample has a valid score; otherwise ``"error"`` with a
    reason, ``score`` and ``spread`` are ``None``, and the valid samples are kept (and cached) so a
    rerun asks only for the failed ones.
    """

    id: str
    video: str
    video_sha256: str | None
    instruction: str | None
    rubric: str
    judge_version: str
    judge: dict[str, Any]
    samples: list[JudgeSample]
    status: Literal["ok", "error"]
    score: float | None
    spread: float | None
    reason: str | None = None
    endpoint: str | None = None  # the server asked last for this video (several: --judge-url a,b)

    @property
    def scores(self) -> list[int]:
        return [s.score for s in self.samples if s.status == "ok" and s.score is not None]

    @property
    def calls(self) -> int:
        """HTTP calls made for this video in this run (cached samples cost none)."""
        return sum(s.attempts for s in self.samples if not s.cached)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["n_samples"] = len(self.samples)
        d["n_ok"] = len(self.scores)
        return d


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to the progress callback after each sample finishes (from the cache or the server)."""

    done: int
    total: int
    request_id: str
    sample_index: int
    status: str
    score: int | None
    cached: bool


ProgressCallback = Callable[[ProgressEvent], None]


# --------------------------------------------------------------------------------------- versioning
def judge_settings(rubric: Rubric, config: JudgeConfig, form: RequestForm | None = None) -> dict[str, Any]:
    """Everything that can change a score, as a JSON-able dict (no URL, no key).

    ``form`` is the request form actually used (default: the config's own); resolve ``auto`` first
    (:func:`resolve_endpoint`), or it counts as ``generic``.
    """
    config = config.resolved()
    form = form or config.request_form
    if config.effective_video_mode == "video":
        # the frame rate the server was asked for: none unless the vLLM form sent it and the server took it
        sent = form.server == "vllm" and "media_io_kwargs" not in form.dropped
        fps = float(config.fps) if config.fps is not None and sent else None
        encoding: dict[str, Any] = {"mode": "video", "fps": fps}
    else:
        encoding = {
            "mode": "frames",
            "num_frames": int(config.num_frames),
            "jpeg_quality": int(config.jpeg_quality),
            "preamble": FRAMES_PREAMBLE,
            "frame_label": FRAME_LABEL,
        }
        if form.video_refused:
            encoding["fallback"] = "the server refused the video part; sent as frames"
    style = config.effective_prompt_style
    prompt: dict[str, Any] = {"style": style}
    if style == "cosmos-reason2":
        prompt.update(system_prompt=REASON2_SYSTEM_PROMPT, answer_line=REASON2_ANSWER_LINE,
                      reasoning_format=REASON2_REASONING_FORMAT)
    return {
        "protocol": MESSAGE_PROTOCOL,
        "rubric": rubric.name,
        "rubric_version": rubric.version,
        "rubric_sha256": rubric.sha256,
        "model": config.model,
        "sampling": {
            "temperature": float(config.temperature),
            "top_p": None if config.top_p is None else float(config.top_p),
            "top_k": config.top_k,
            "max_tokens": int(config.max_tokens),
            "seed": int(config.seed),
        },
        "encoding": encoding,
        "prompt": prompt,
        **({"controls": controls} if (controls := control_settings(rubric.name, config.control_share, config.seed)) else {}),
        "extra_body": config.extra_body,
        "request": request_settings(config, form),
    }


def judge_version(rubric: Rubric, config: JudgeConfig, form: RequestForm | None = None) -> str:
    """``<rubric>-v<version>-<12 hex>``: the hex hashes :func:`judge_settings` (rubric text, model id,
    sampling settings, video encoding, request form). Scores under different versions never mix."""
    blob = json.dumps(judge_settings(rubric, config, form), sort_keys=True, ensure_ascii=False)
    return f"{rubric.name}-v{rubric.version}-{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:12]}"


def sample_seed(config: JudgeConfig, index: int, ask: int) -> int:
    """Seed of sample ``index`` on its ``ask``-th try: re-asks get new seeds, reproducibly."""
    return int(config.seed) + index + 100_000 * ask


# --------------------------------------------------------------------------------------- encoding
def _sha256_file(path: Path) -> tuple[str, bytes]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), data


@dataclass(frozen=True)
class _Media:
    """One media part: ``kind`` is the content-part type (``video_url`` / ``image_url``), ``b64`` the
    base64 bytes of the file (ASCII only, so it goes into JSON as is), ``label`` a text part sent
    just before it (a frame's time)."""

    kind: str
    mime: str
    b64: bytes
    label: str | None = None


def _video_media(path: Path, data: bytes, config: JudgeConfig) -> tuple[list[_Media], str | None]:
    """The video as media parts (placed before the text) and an optional text preamble."""
    if config.effective_video_mode == "video":
        mime = _VIDEO_MIME.get(path.suffix.lower(), "video/mp4")
        return [_Media("video_url", mime, base64.b64encode(data))], None
    frames, fps = _read_frames(path)
    n_total = len(frames)
    if n_total == 0:
        raise ValueError(f"{path}: no frames decoded")
    n = min(config.num_frames, n_total)
    idx = sorted({int(round(i)) for i in _linspace(0, n_total - 1, n)})
    import cv2  # local: only frames mode needs OpenCV

    media = []
    for i in idx:
        ok, buf = cv2.imencode(".jpg", frames[i][:, :, ::-1], [int(cv2.IMWRITE_JPEG_QUALITY), int(config.jpeg_quality)])
        if not ok:
            raise ValueError(f"{path}: JPEG encoding failed for frame {i}")
        # the frame's time, so the model sees the timing of what it judges (it cannot see the gaps)
        label = FRAME_LABEL.format(seconds=i / fps if fps and fps > 0 else 0.0)
        media.append(_Media("image_url", "image/jpeg", base64.b64encode(buf.tobytes()), label))
    last = idx[-1] / fps if fps and fps > 0 else 0.0  # the last frame's label: the span the model is told of
    return media, FRAMES_PREAMBLE.format(n=len(media), seconds=last)


_MEDIA_TOKEN = f"cosmos-bench-media-{uuid.uuid4().hex}"


def messages_json(rubric: Rubric, media: list[_Media], preamble: str | None, instruction: str | None,
                  style: str = "rubric") -> bytes:
    """:func:`build_messages` serialized to JSON bytes, with the media as ``data:`` URLs.

    Done once per video (in a worker thread), not per call: the base64 text is spliced in as bytes
    instead of going through the JSON encoder, which would scan megabytes for characters that base64
    never contains, on the event loop, for every sample and retry.
    """
    parts: list[dict] = []
    for i, m in enumerate(media):
        if m.label:
            parts.append({"type": "text", "text": m.label})
        parts.append({"type": m.kind, m.kind: {"url": f"{_MEDIA_TOKEN}:{i}"}})
    blob = json.dumps(build_messages(rubric, parts, preamble, instruction, style), ensure_ascii=False).encode("utf-8")
    for i, m in enumerate(media):
        url = b'"data:' + m.mime.encode("ascii") + b";base64," + m.b64 + b'"'
        blob = blob.replace(f'"{_MEDIA_TOKEN}:{i}"'.encode("ascii"), url, 1)
    return blob


def _linspace(a: float, b: float, n: int) -> list[float]:
    if n == 1:
        return [(a + b) / 2]
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def _read_frames(path: Path):
    """(T, H, W, 3) uint8 RGB frames and fps, through the project's one video reader."""
    from cosmos_bench.data.video import read_video  # local: only frames mode decodes

    video = read_video(path)
    return video.frames, float(video.fps)


def build_messages(rubric: Rubric, media_parts: list[dict], preamble: str | None, instruction: str | None,
                   style: str = "rubric") -> list[dict]:
    """System prompt, then one user message: the media parts first, then the text.

    ``rubric`` style: the rubric's system prompt, and the user text ends with the rubric's answer format
    (think inside ``<think>…</think>``, answer right after ``</think>``). ``cosmos-reason2`` style (the
    default for ``nvidia/Cosmos-Reason2-*``): the documented system prompt, the rubric's system prompt and
    question as the user turn, then the score line and the documented reasoning format after a blank line.
    Both put the media before the text, as Reason2's docs do.
    """
    if style == "cosmos-reason2":
        answer = REASON2_ANSWER_LINE.format(score_min=rubric.score_min, score_max=rubric.score_max)
        text = f"{rubric.system_prompt}\n\n{rubric.question(instruction)}\n\n{answer}\n\n{REASON2_REASONING_FORMAT}"
        system = REASON2_SYSTEM_PROMPT
    else:
        text, system = rubric.render(instruction), rubric.system_prompt
    if preamble:
        text = f"{preamble}\n\n{text}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": [*media_parts, {"type": "text", "text": text}]},
    ]


# --------------------------------------------------------------------------------------- calling
class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.extra_calls = 0  # calls beyond the first that this attempt made (a refused-fields retry)


class _EncodeError(Exception):
    pass


class _Permanent(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.extra_calls = 0


class _VideoRefused(_Permanent):
    """A 400/415/422 about the video part: the server takes no video input."""


class _Refused(_Permanent):
    """A 400/422 that names fields of the request as unknown: worth one more try without them."""

    def __init__(self, fields: set[str], reason: str):
        super().__init__(reason)
        self.fields = fields


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _parse_completion(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """(content, reasoning, finish_reason) of the first choice of a chat completion body.

    The reasoning is read from ``reasoning`` (vLLM) or ``reasoning_content`` (older vLLM, others).
    A body that is not a chat completion is a transient error (a proxy's HTML page, a cut body).
    """
    try:
        data = json.loads(raw)
        choices = data["choices"]
        if not choices:
            return None, None, None
        choice = choices[0]
        msg = choice.get("message") or {}
        content, finish = msg.get("content"), choice.get("finish_reason")
        reasoning = msg.get("reasoning") or msg.get("reasoning_content")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        text = raw[:200].decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else repr(raw)[:200]
        raise _Transient(f"bad response: not a chat completion: {text!r}") from None
    if isinstance(content, list):  # content parts instead of a string
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    if reasoning is not None and not isinstance(reasoning, str):
        reasoning = json.dumps(reasoning)
    return content, reasoning, finish


@dataclass(frozen=True)
class _Reply:
    content: str | None
    reasoning: str | None
    finish: str | None
    form: RequestForm  # the form of the call that answered
    calls: int  # HTTP calls it took (2 when the server refused fields and was asked again)
    version: str  # the judge version the answering call was asked under


@dataclass
class _Encoded:
    """One video's bytes and instruction, and its request messages per video mode (a switch to frames
    after the server refused the video encodes it again, once)."""

    path: Path
    data: bytes
    instruction: str | None
    by_mode: dict[str, bytes] = field(default_factory=dict)


class _Judge:
    def __init__(self, rubric: Rubric, config: JudgeConfig, cache: ScoreCache | None, progress: ProgressCallback | None):
        self.rubric = rubric
        self.config = config
        self.cache = cache
        self.progress = progress
        self.form = config.request_form
        # video refused -> frames, automatically only when the mode was left to auto (else: a hint)
        self.video_fallback = config.video_mode == "auto"
        # several endpoints: where a video that fails here is asked next (None: this is its last chance)
        self.next_endpoint: str | None = None
        self.version = judge_version(rubric, config, self.form)
        self.settings = judge_settings(rubric, config, self.form)
        self.call_slots = asyncio.Semaphore(config.concurrency)
        # videos being encoded or in flight; bounded so a long list does not hold every video in memory
        self.video_slots = asyncio.Semaphore(max(2 * config.concurrency, 2))
        self.done = 0
        self.total = 0
        self._progress_failed = False
        self.client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "EMPTY",
            max_retries=0,  # retries are ours: counted, logged and bounded per sample
            timeout=config.timeout_s,
        )

    def _drop_fields(self, refused: set[str], reason: str) -> None:
        """The server refused ``refused`` by name: ask without them from now on, as another judge
        version (what the model is sent changed, so its scores must not mix with the full form's)."""
        if refused <= set(self.form.dropped):
            return
        self.form = self.form.without(refused)
        self.version = judge_version(self.rubric, self.config, self.form)
        self.settings = judge_settings(self.rubric, self.config, self.form)
        log.warning("the judge server refused %s (%s); asking without them: request form %r, judge version %s. "
                    "Pass --server generic (or COSMOS_BENCH_JUDGE_SERVER=generic) to ask this way from the start.",
                    ", ".join(sorted(refused)), reason, self.form.label, self.version)

    def scrub(self, text: str | None) -> str | None:
        key = self.config.api_key
        if text and key and len(key) >= 4 and key in text:
            return text.replace(key, "***")
        return text

    def _emit(self, req: JudgeRequest, sample: JudgeSample) -> None:
        self.done += 1
        if self.progress is not None:
            event = ProgressEvent(self.done, self.total, req.key, sample.index, sample.status, sample.score, sample.cached)
            try:
                self.progress(event)
            except Exception:  # a broken progress display must not lose scores
                if not self._progress_failed:
                    log.exception("judge progress callback failed; continuing without it")
                self._progress_failed = True

    def _prepare(self, req: JudgeRequest, instr: str | None, instr_sha: str) -> tuple[str, dict[int, dict], _Encoded | None]:
        """In a worker thread, in one hop: read and hash the file, look up cached samples, and encode
        the video only if some sample is missing. Raises ``OSError`` (unreadable file) or
        ``_EncodeError`` (undecodable video)."""
        path = Path(req.video)
        video_sha, data = _sha256_file(path)
        cached: dict[int, dict] = {}
        if self.cache is not None:
            for i in range(self.config.samples):
                rec = self.cache.get((video_sha, self.version, instr_sha, i))
                if rec is not None:
                    cached[i] = rec
        if len(cached) == self.config.samples:
            return video_sha, cached, None
        encoded = _Encoded(path, data, instr)
        encoded.by_mode[self.config.effective_video_mode] = self._encode(encoded)
        return video_sha, cached, encoded

    def _encode(self, encoded: _Encoded) -> bytes:
        """The request messages of one video in the current video mode (in a worker thread)."""
        try:
            media, preamble = _video_media(encoded.path, encoded.data, self.config)
        except Exception as exc:  # undecodable video, bad frames: an error row, not a crash
            raise _EncodeError(f"{type(exc).__name__}: {exc}") from exc
        return messages_json(self.rubric, media, preamble, encoded.instruction, self.config.effective_prompt_style)

    async def _messages(self, encoded: _Encoded) -> bytes:
        """``encoded``'s messages in the current video mode: encoded again after a switch to frames."""
        mode = self.config.effective_video_mode
        if mode not in encoded.by_mode:
            try:
                encoded.by_mode[mode] = await asyncio.to_thread(self._encode, encoded)
            except _EncodeError as exc:
                raise _Permanent(f"cannot encode video: {exc}") from None
        return encoded.by_mode[mode]

    def _video_refused(self, reason: str) -> None:
        """The server refused the video part: send frames from now on, as another judge version."""
        if self.form.video_refused:
            return
        self.config = dataclasses.replace(self.config, video_mode="frames")
        self.form = dataclasses.replace(self.form, video_refused=True)
        self.version = judge_version(self.rubric, self.config, self.form)
        self.settings = judge_settings(self.rubric, self.config, self.form)
        log.warning("the judge server refused the video (%s); sending %d frames as images instead: judge version %s. "
                    "Pass --frames-mode to ask this way from the start.", reason, self.config.num_frames, self.version)

    async def judge_one(self, req: JudgeRequest) -> JudgeResult:
        n = self.config.samples
        instr = req.instruction if self.rubric.needs_instruction else None
        if self.rubric.needs_instruction and not (instr and instr.strip()):
            return self._failed(req, None, n, f"rubric {self.rubric.name!r} needs an instruction; none given")
        instr_sha = hashlib.sha256(instr.strip().encode("utf-8")).hexdigest() if instr else ""
        async with self.video_slots:
            try:
                video_sha, cached, encoded = await asyncio.to_thread(self._prepare, req, instr, instr_sha)
            except OSError as exc:
                return self._failed(req, None, n, f"cannot use video: {exc}")
            except _EncodeError as exc:
                return self._failed(req, None, n, f"cannot encode video: {exc}")
            samples: list[JudgeSample] = []
            for i, rec in sorted(cached.items()):
                s = JudgeSample(
                    index=i,
                    seed=rec.get("seed"),
                    status="ok",
                    score=int(rec["score"]),
                    raw_reply=rec.get("raw_reply"),
                    reasoning=rec.get("reasoning"),
                    attempts=int(rec.get("attempts", 1)),
                    cached=True,
                )
                samples.append(s)
                self._emit(req, s)
            missing = [i for i in range(n) if i not in cached]
            if missing:
                key = (video_sha, self.version, instr_sha)
                samples += await asyncio.gather(*(self.sample(req, encoded, i, key) for i in missing))
        return self._aggregate(req, video_sha, samples)

    def _failed(self, req: JudgeRequest, video_sha: str | None, n: int, reason: str) -> JudgeResult:
        samples = [JudgeSample(i, None, "error", None, reason=reason) for i in range(n)]
        for s in samples:
            self._emit(req, s)
        return self._aggregate(req, video_sha, samples)

    def _aggregate(self, req: JudgeRequest, video_sha: str | None, samples: list[JudgeSample]) -> JudgeResult:
        scores = [s.score for s in samples if s.status == "ok" and s.score is not None]
        failed = [s for s in samples if s.status != "ok"]
        if failed:
            first = failed[0]
            reason = f"{len(failed)}/{len(samples)} sample(s) failed; sample {first.index}: {first.reason}"
            status, score, spread = "error", None, None
        else:
            status, reason = "ok", None
            score = sum(scores) / len(scores)
            spread = (
                math.sqrt(sum((x - score) ** 2 for x in scores) / (len(scores) - 1)) if len(scores) > 1 else None
            )
        return JudgeResult(
            id=req.key,
            video=str(req.video),
            video_sha256=video_sha,
            instruction=req.instruction if self.rubric.needs_instruction else None,
            rubric=self.rubric.name,
            judge_version=self.version,
            judge=self.settings,
            samples=sorted(samples, key=lambda s: s.index),
            status=status,
            score=score,
            spread=spread,
            reason=reason,
            endpoint=self.config.base_url,
        )

    async def sample(self, req: JudgeRequest, encoded: _Encoded, index: int, key: tuple[str, str, str]) -> JudgeSample:
        cfg = self.config
        errors: list[str] = []
        attempts = 0
        transient_left = cfg.retries
        reasks_left = cfg.reasks
        ask = 0
        last_reply: tuple[str | None, str | None] = (None, None)
        t0 = time.perf_counter()
        while True:
            seed = sample_seed(cfg, index, ask)
            attempts += 1
            try:
                reply = await self._call(encoded, seed, errors)
            except _Transient as exc:
                attempts += exc.extra_calls
                reason = self.scrub(exc.reason) or "transient error"
                errors.append(reason)
                if transient_left <= 0:
                    return self._sample_error(req, index, seed, f"{reason} (after {attempts} attempt(s))", attempts, errors, last_reply, t0)
                transient_left -= 1
                delay = min(cfg.backoff_max_s, cfg.backoff_s * 2 ** (cfg.retries - transient_left - 1))
                delay *= 0.5 + random.random() / 2  # jitter: spread simultaneous retries apart
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, cfg.backoff_max_s))
                log.info("judge %s sample %d: %s; retrying in %.2fs", req.key, index, reason, delay)
                await asyncio.sleep(delay)
                continue
            except _Permanent as exc:
                attempts += exc.extra_calls
                reason = self.scrub(exc.reason) or "request refused"
                errors.append(reason)
                return self._sample_error(req, index, seed, reason, attempts, errors, last_reply, t0)

            attempts += reply.calls - 1
            content, reasoning, finish = self.scrub(reply.content), self.scrub(reply.reasoning), reply.finish
            last_reply = (content, reasoning)
            got = extract_score(content, reasoning, self.rubric.score_min, self.rubric.score_max,
                                truncated=finish == "length")
            if got.score is not None:
                s = JudgeSample(index, seed, "ok", got.score, None, content, reasoning, attempts, False, errors,
                                time.perf_counter() - t0, self.config.base_url)
                if self.cache is not None:  # at once, so an interrupted run keeps every score it got
                    version = reply.version
                    self.cache.put(
                        (key[0], version, key[2], index),
                        {"score": s.score, "seed": seed, "raw_reply": content, "reasoning": reasoning,
                         "attempts": attempts, "rubric": self.rubric.name},
                    )
                self._emit(req, s)
                return s
            reason = got.reason or "no valid score"
            if finish == "length":
                reason += " (reply cut at max_tokens)"
            errors.append(reason)
            if reasks_left <= 0:
                return self._sample_error(req, index, seed, f"invalid reply: {reason}", attempts, errors, last_reply, t0)
            reasks_left -= 1
            ask += 1
            log.info("judge %s sample %d: %s; asking again", req.key, index, reason)

    def _sample_error(self, req, index, seed, reason, attempts, errors, last_reply, t0) -> JudgeSample:
        if self.config.effective_video_mode == "video" and reason.startswith("HTTP ") and FRAMES_HINT not in reason:
            reason = f"{reason} ({FRAMES_HINT})"  # e.g. transformers serve's bare 500 for a data: video URL
        s = JudgeSample(index, seed, "error", None, reason, last_reply[0], last_reply[1], attempts, False, errors,
                        time.perf_counter() - t0)
        if self.next_endpoint is not None:  # not final: the video is asked again there
            log.info("judge %s sample %d failed at %s: %s; asking %s next", req.key, index, self.config.base_url,
                     reason, self.next_endpoint)
        else:
            log.warning("judge %s sample %d failed: %s", req.key, index, reason)
        self._emit(req, s)
        return s

    async def _call(self, encoded: _Encoded, seed: int, errors: list[str]) -> _Reply:
        """One answer to one sample's request; a refusal of named fields or of the video part is noted
        in ``errors`` and asked once more without them."""
        async with self.call_slots:
            calls = 0
            retried: set[str] = set()  # each kind of refusal is worth one more try; a repeat is final
            while True:
                form, version, config = self.form, self.version, self.config
                messages = await self._messages(encoded)
                fields = request_fields(config, form, seed)
                calls += 1
                try:
                    try:
                        raw = await self._post(messages, fields)
                    except _Refused as exc:
                        if "fields" not in retried:
                            retried.add("fields")
                            errors.append(self.scrub(f"{exc.reason} (asked again without {', '.join(sorted(exc.fields))})"))
                            self._drop_fields(exc.fields, exc.reason)
                            continue
                        raise _Permanent(exc.reason) from None
                    except _VideoRefused as exc:
                        if self.video_fallback and "video" not in retried:
                            retried.add("video")
                            errors.append(self.scrub(f"{exc.reason} (asked again with frames)"))
                            self._video_refused(exc.reason)
                            continue
                        raise _Permanent(f"{exc.reason} ({FRAMES_HINT})") from None
                    return _Reply(*_parse_completion(raw), form=form, calls=calls, version=version)
                except (_Transient, _Permanent) as exc:
                    exc.extra_calls = calls - 1
                    raise

    async def _post(self, messages: bytes, fields: dict[str, Any]) -> bytes:
        cfg = self.config
        # {"messages": <serialized once per video>, <the small per-call fields>}
        body = b'{"messages":' + messages + b"," + json.dumps(fields).encode("utf-8")[1:]
        try:
            # The client's generic POST (documented for requests the typed methods do not cover),
            # with a body serialized once per video and the reply parsed here, rather than
            # chat.completions.create: same HTTP, retries-off, auth and error classes, without
            # re-encoding megabytes of base64 and building typed models per call on the event loop
            # (client CPU per call bounds throughput; see benchmarks/judge_bench.py).
            raw = await self.client.post(
                "/chat/completions",
                cast_to=bytes,
                content=body,
                options={"timeout": cfg.timeout_s, "headers": {"Content-Type": "application/json"}},
            )
        except openai.APITimeoutError:
            raise _Transient(f"no answer within {cfg.timeout_s:g} s (--timeout)") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise _Transient(f"connection error: {type(cause).__name__}: {cause}") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            msg = server_reason(exc)
            if status == 429 or status == 408 or status == 409 or status >= 500:
                raise _Transient(f"HTTP {status}: {msg}", _retry_after(exc)) from None
            refused = unknown_fields(status, msg, fields)
            if refused:
                raise _Refused(refused, f"HTTP {status}: {msg}") from None
            if cfg.effective_video_mode == "video" and refuses_video(status, msg):
                raise _VideoRefused(f"HTTP {status}: {msg}") from None
            raise _Permanent(f"HTTP {status}: {msg}") from None
        except openai.APIError as exc:  # malformed response body and the like
            raise _Transient(f"bad response: {type(exc).__name__}: {str(exc)[:300]}") from None
        return raw

    async def aclose(self) -> None:
        await self.client.close()


async def judge_videos(
    videos: Sequence[JudgeRequest | str | os.PathLike],
    rubric: Rubric | str | os.PathLike,
    config: JudgeConfig | None = None,
    cache: ScoreCache | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[JudgeResult]:
    """Score every video with ``config.samples`` samples each; results in input order.

    Never raises for a failing server or video: failures are ``error`` results with reasons. Raises
    only for bad arguments (unknown rubric, invalid config). Pass ``cache`` to skip samples already
    scored under the same judge version and to store new valid ones.
    """
    rubric = load_rubric(rubric)
    config = (config or JudgeConfig()).resolved()
    if config.server == "auto":  # ask the server once which form it takes; unreachable: generic
        try:
            config, found = await resolve_endpoint(config, timeout_s=min(config.timeout_s, 15.0))
            for note in found.notes:  # callers that resolved it themselves show the notes their own way
                log.warning("%s", note)
        except JudgeEndpointError as exc:
            log.warning("%s; asking in the generic form", exc)
            config = dataclasses.replace(config, server="generic")
    requests = [v if isinstance(v, JudgeRequest) else JudgeRequest(video=v) for v in videos]
    urls = endpoint_urls(config.base_url)
    if len(urls) > 1:
        return await _judge_on_endpoints(requests, rubric, config, cache, progress, urls)
    judge = _Judge(rubric, config, cache, progress)
    judge.total = len(requests) * config.samples
    try:
        return list(await asyncio.gather(*(judge.judge_one(r) for r in requests)))
    finally:
        await judge.aclose()


async def _judge_on_endpoints(requests: list[JudgeRequest], rubric: Rubric, config: JudgeConfig,
                              cache: ScoreCache | None, progress: ProgressCallback | None,
                              urls: list[str]) -> list[JudgeResult]:
    """Videos dealt round-robin to the endpoints, each with its own client, concurrency and retry
    budget; a video whose result failed on one endpoint is asked again on the next (once per endpoint),
    so an endpoint that goes down mid-run costs retries, not scores. Every endpoint is asked in the
    same request form, so their scores share one judge version."""
    total = len(requests) * config.samples
    done = [0]

    def forward(event: ProgressEvent) -> None:
        done[0] += 1
        if progress is not None:
            progress(dataclasses.replace(event, done=min(done[0], total), total=total))

    judges = [_Judge(rubric, dataclasses.replace(config, base_url=url), cache, forward) for url in urls]
    results: list[JudgeResult | None] = [None] * len(requests)
    pending = list(range(len(requests)))

    async def ask(i: int, judge: _Judge) -> tuple[int, JudgeResult]:
        return i, await judge.judge_one(requests[i])

    failed_at: dict[int, list[str]] = {}
    try:
        for turn in range(len(judges)):
            if not pending:
                break
            last = turn == len(judges) - 1
            for judge_i, judge in enumerate(judges):  # a failure is final only on the last turn
                judge.next_endpoint = None if last else judges[(judge_i + 1) % len(judges)].config.base_url
            answered = await asyncio.gather(*(ask(i, judges[(i + turn) % len(judges)]) for i in pending))
            for i, res in answered:
                results[i] = res
                if res.status == "ok" and i in failed_at:
                    log.warning("judge %s: scored at %s after failing at %s", res.id, res.endpoint, ", ".join(failed_at[i]))
                elif res.status != "ok":
                    failed_at.setdefault(i, []).append(str(res.endpoint))
            pending = [i for i, res in answered if res.status != "ok"]
    finally:
        for judge in judges:
            await judge.aclose()
    return [r for r in results if r is not None]


def judge_videos_sync(
    videos: Sequence[JudgeRequest | str | os.PathLike],
    rubric: Rubric | str | os.PathLike,
    config: JudgeConfig | None = None,
    cache: ScoreCache | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[JudgeResult]:
    """Blocking :func:`judge_videos` for scripts and the CLI (not from inside a running event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(judge_videos(videos, rubric, config, cache, progress=progress))
    raise RuntimeError("judge_videos_sync called inside a running event loop; use `await judge_videos(...)`")


async def resolve_endpoint(config: JudgeConfig | None = None, timeout_s: float = 10.0) -> tuple[JudgeConfig, Endpoint]:
    """Look at the server once: the config with ``server`` decided (``auto`` → ``vllm`` or
    ``generic``) and ``context_length`` taken from the server's listing when it gives one, and what
    was found (``notes`` holds warnings for the user, e.g. a model the server does not list).

    Raises :class:`JudgeEndpointError` when the server cannot be reached, rejects the key, or
    answers the model listing with an error. Compute judge versions from the returned config.
    """
    config = (config or JudgeConfig()).resolved()
    urls = endpoint_urls(config.base_url)
    if len(urls) > 1:
        return await _resolve_endpoints(config, urls, timeout_s)
    try:
        found = await probe_endpoint(config.base_url, config.api_key, config.model, config.server, timeout_s)
    except openai.APIConnectionError as exc:
        raise JudgeEndpointError(f"cannot reach the judge at {config.base_url}: {type(exc).__name__}") from None
    except openai.AuthenticationError:
        raise JudgeEndpointError(f"the judge at {config.base_url} rejected the API key (HTTP 401)") from None
    except openai.APIStatusError as exc:
        raise JudgeEndpointError(
            f"the judge at {config.base_url} answered HTTP {exc.status_code}: {server_reason(exc)}") from None
    context = config.context_length
    if context is None and config.model in found.context_lengths:
        context = found.context_lengths[config.model]
        if context <= config.max_tokens:
            raise JudgeEndpointError(
                f"the judge at {config.base_url} serves {config.model!r} with a context of {context} tokens, "
                f"no more than max_tokens ({config.max_tokens}): restart it with a larger --max-model-len")
    return dataclasses.replace(config, server=found.server, context_length=context), found


async def _resolve_endpoints(config: JudgeConfig, urls: list[str], timeout_s: float) -> tuple[JudgeConfig, Endpoint]:
    """Each endpoint looked at once; those that answer are kept (a note names the others), and the first
    one that answers decides the request form and context length for all of them."""
    reachable: list[tuple[JudgeConfig, Endpoint]] = []
    problems: list[str] = []
    for url in urls:
        try:
            reachable.append(await resolve_endpoint(dataclasses.replace(config, base_url=url), timeout_s))
        except JudgeEndpointError as exc:
            problems.append(str(exc))
    if not reachable:
        raise JudgeEndpointError("; ".join(problems))
    first, found = reachable[0]
    notes = [*found.notes, *(f"{p}: using the other judge endpoint(s)" for p in problems)]
    joined = ",".join(c.base_url for c, _ in reachable)
    return dataclasses.replace(first, base_url=joined), dataclasses.replace(found, notes=notes)


async def check_endpoint(config: JudgeConfig | None = None, timeout_s: float = 10.0) -> list[str] | None:
    """Ask the server which models it serves (``GET /models``).

    Returns the model ids, or ``None`` when the server answers but does not list models. Raises
    :class:`JudgeEndpointError` when it cannot be reached or rejects the key. A model it does not
    list is a warning, not an error: servers that load models on demand (``transformers serve``)
    list only the loaded ones.
    """
    _, found = await resolve_endpoint(config, timeout_s)
    return found.models
