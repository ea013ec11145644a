"""Which server the judge talks to, and the request form each kind accepts.

OpenAI-compatible servers agree on the core of a chat completion (``model``, ``messages``,
``temperature``, ``top_p``, ``seed``, a token limit) and disagree on the rest: vLLM takes
``top_k``, ``repetition_penalty`` and per-request media options (``media_io_kwargs``,
``mm_processor_kwargs``; 0.32 only with ``--trust-request-mm-kwargs``) and ignores fields it does not
know; OpenAI's API and Hugging Face ``transformers serve`` refuse unknown fields (HTTP 400 / 422), and
most servers but vLLM take no ``video_url`` parts. A *server profile* picks the form:

``vllm``
    Cosmos Reason2's documented sampling (nvidia-cosmos/cosmos-reason2, its online client): explicit
    ``top_k``, ``repetition_penalty`` = 1.0, ``presence_penalty`` = 0.0, ``max_completion_tokens``.
    In video mode the frame rate goes in ``media_io_kwargs`` = {``video``: {``fps``, ``num_frames``: -1}}:
    vLLM 0.32 applies these per request in its video loader (they decide the frames the model sees) when
    the server runs with ``--trust-request-mm-kwargs`` (README's command); without that flag it refuses
    them (HTTP 400 "Per-request media_io_kwargs are disabled"), they are dropped like any refused field,
    and the judge version records that no frame rate was sent. ``mm_processor_kwargs.fps`` changes
    nothing, and ``do_sample_frames`` makes the HF processor re-sample frames the loader already
    picked (IndexError), so neither is sent. Only with
    ``JudgeConfig.request_mm_kwargs`` (for a server started with that flag) is Reason2's pixel budget
    sent as ``mm_processor_kwargs`` = {``size``: {``shortest_edge``: 128 tokens, ``longest_edge``: 90 %
    of what the context length leaves after ``max_tokens``}}, at 32 × 32 pixels per visual token
    (Qwen3-VL: 16-pixel patches, 2 × 2 merge).
``openai``
    Only OpenAI's own fields, the limit as ``max_completion_tokens``; no video parts (frames as images).
``generic``
    Only the core fields, the limit as ``max_tokens`` (what every server accepts); by default the video
    goes as ``image_url`` frames, since few servers beside vLLM take ``video_url`` parts.
``auto``
    Asks the server once: vLLM names itself in ``/v1/models`` (``owned_by: "vllm"``) and answers
    ``/version``; anything else is ``generic``.

The form actually sent enters the judge version (:func:`request_settings`): a server that saw a
pixel budget or a top-k cut and one that did not are different judges, and their scores never mix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import openai

__all__ = [
    "SERVER_PROFILES",
    "Endpoint",
    "RequestForm",
    "probe_endpoint",
    "refuses_video",
    "request_fields",
    "server_reason",
    "shorten",
    "unknown_fields",
]

Profile = Literal["auto", "vllm", "openai", "generic"]
SERVER_PROFILES: tuple[str, ...] = ("auto", "vllm", "openai", "generic")
SERVER_ENV = "COSMOS_BENCH_JUDGE_SERVER"

# Cosmos Reason2 / Qwen3-VL vision constants (their client and qwen-vl-utils): a visual token is a
# 32 x 32 pixel patch; a video frame gets at least 128 tokens; 10 % of the budget is kept spare.
PIXELS_PER_TOKEN = 32 * 32
MIN_TOKENS_PER_FRAME = 128
BUDGET_SHARE = 0.9
# what Reason2's README serves with (`--max-model-len 16384`), when the server does not say
DEFAULT_CONTEXT_LENGTH = 16384
_CORE = ("model", "messages")
_REASON_CHARS = 2000  # enough of a processor error to act on: its start and its end


@dataclass(frozen=True)
class RequestForm:
    """A concrete profile, the fields a server refused (dropped after a 400/422 naming them), and whether
    it refused the video part (then frames are sent instead)."""

    server: str
    dropped: tuple[str, ...] = ()
    video_refused: bool = False

    def without(self, names: set[str]) -> RequestForm:
        return RequestForm(self.server, tuple(sorted(set(self.dropped) | names)), self.video_refused)

    @property
    def label(self) -> str:
        label = self.server + (f" without {', '.join(self.dropped)}" if self.dropped else "")
        return label + (", frames instead of the video" if self.video_refused else "")


@dataclass(frozen=True)
class Endpoint:
    """What one look at the server found: the profile to use, its models and their context lengths."""

    server: str
    models: list[str] | None
    context_lengths: dict[str, int] = field(default_factory=dict)
    why: str = ""
    notes: list[str] = field(default_factory=list)


def pixel_budget(context_length: int, max_tokens: int) -> dict[str, int]:
    """``size`` for ``mm_processor_kwargs``: the most video pixels the context can hold beside the reply."""
    if context_length <= max_tokens:
        raise ValueError(
            f"JudgeConfig.context_length ({context_length}) must exceed max_tokens ({max_tokens}): "
            "the video needs room in the context beside the reply"
        )
    longest = int((context_length - max_tokens) * PIXELS_PER_TOKEN * BUDGET_SHARE)
    return {"shortest_edge": MIN_TOKENS_PER_FRAME * PIXELS_PER_TOKEN, "longest_edge": longest}


def request_fields(config: Any, form: RequestForm, seed: int) -> dict[str, Any]:
    """Every top-level field of a chat request but ``messages``, as ``form`` sends it.

    ``config`` is a resolved :class:`~cosmos_bench.judge.client.JudgeConfig`; its ``extra_body``
    is sent with every profile (the user asked for it) unless the server refused a field of it.
    """
    fields: dict[str, Any] = {"model": config.model, "temperature": config.temperature}
    if config.top_p is not None:
        fields["top_p"] = config.top_p
    fields["seed"] = seed
    if form.server == "generic":
        fields["max_tokens"] = config.max_tokens
    else:
        fields["max_completion_tokens"] = config.max_tokens
    if form.server == "vllm":
        if config.top_k is not None:
            fields["top_k"] = config.top_k
        fields["repetition_penalty"] = config.repetition_penalty
        fields["presence_penalty"] = config.presence_penalty
        if config.effective_video_mode == "video":
            if config.fps is not None:
                fields["media_io_kwargs"] = {"video": {"fps": float(config.fps), "num_frames": -1}}
            if config.request_mm_kwargs:
                fields["mm_processor_kwargs"] = {
                    "size": pixel_budget(config.context_length or DEFAULT_CONTEXT_LENGTH, config.max_tokens),
                }
    for key, value in config.extra_body.items():
        if key in ("mm_processor_kwargs", "media_io_kwargs") and isinstance(fields.get(key), dict) and isinstance(value, dict):
            fields[key] = _merged(fields[key], value)
        else:
            fields[key] = value
    for name in form.dropped:
        value = fields.pop(name, None)
        if name == "max_completion_tokens" and value is not None:
            fields.setdefault("max_tokens", value)  # the older name of the same limit
    return fields


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, one level of nesting deep (``{"video": {...}}`` keeps the keys it does not set)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = {**out[key], **value} if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def request_settings(config: Any, form: RequestForm) -> dict[str, Any]:
    """The part of the judge version that says how the request was formed (no per-call seed)."""
    sent = request_fields(config, form, seed=0)
    sent.pop("seed", None)
    sent.pop("model", None)
    settings = {"server": form.server, "dropped": list(form.dropped), "fields": sent}
    if form.video_refused:
        settings["video_refused"] = True
    return settings


# ------------------------------------------------------------------------------- errors
def server_reason(exc: openai.APIStatusError) -> str:
    """The server's own words for a refused request: FastAPI's ``detail``, OpenAI's
    ``error.message``, a top-level ``message``, else the raw body; shortened."""
    body = getattr(exc, "body", None)
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            pass
    reason: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            reason = error.get("message")
        elif isinstance(error, str):
            reason = error
        reason = reason or body.get("detail") or body.get("message")
        if isinstance(reason, list):  # FastAPI/pydantic validation errors: [{"loc": [...], "msg": ...}]
            reason = "; ".join(_validation_item(item) for item in reason)
    if not reason:
        try:
            reason = exc.response.text
        except Exception:  # pragma: no cover - no response body at all
            reason = None
    if not reason:
        reason = str(body) if body else getattr(exc, "message", None) or str(exc)
    return shorten(" ".join(str(reason).split()))


def shorten(text: str, limit: int = _REASON_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and its end (a server's error often
    names the cause first and the failing value last)."""
    if len(text) <= limit:
        return text
    head = (limit - 5) * 2 // 3
    return f"{text[:head]} ... {text[-(limit - 5 - head):]}"


def _validation_item(item: Any) -> str:
    if isinstance(item, dict):
        loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
        return f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg", item))
    return str(item)


def unknown_fields(status: int, reason: str, sent: dict[str, Any]) -> set[str]:
    """Fields of ``sent`` that a 400/422 ``reason`` names as unknown (empty: not that kind of refusal).

    Matches how servers say it: transformers serve ``Unexpected fields in the request: {'top_k'}``,
    OpenAI ``Unrecognized request argument supplied: top_k``, pydantic ``extra_forbidden``.
    """
    if status not in (400, 422):
        return set()
    if not re.search(r"unexpected|unrecogni[sz]ed|unknown|not permitted|extra|unsupported|not allowed|disabled", reason, re.I):
        return set()
    return {name for name in sent if name not in _CORE and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", reason)}


def refuses_video(status: int, reason: str) -> bool:
    """A 400/415/422 whose reason is about the video part: the server takes no ``video_url`` input
    (OpenAI: "Invalid value: 'video_url'"; vLLM with an image-only model: "... video ... not supported")."""
    return status in (400, 415, 422) and re.search(r"video", reason, re.I) is not None


# ------------------------------------------------------------------------------- probing
async def probe_endpoint(base_url: str, api_key: str, model: str, profile: str, timeout_s: float) -> Endpoint:
    """List the models (``GET /models``) and, for ``auto``, tell vLLM from the rest.

    Raises ``openai`` errors as they come (the caller turns them into one clear line).
    """
    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "EMPTY", max_retries=0, timeout=timeout_s)
    try:
        models: list[str] | None = None
        owners: set[str] = set()
        lengths: dict[str, int] = {}
        try:
            raw = await client.get("/models", cast_to=bytes)
            entries = json.loads(raw).get("data") or []
            models = [str(e.get("id")) for e in entries if isinstance(e, dict)]
            owners = {str(e.get("owned_by", "")).lower() for e in entries if isinstance(e, dict)}
            lengths = {str(e["id"]): int(e["max_model_len"]) for e in entries
                       if isinstance(e, dict) and isinstance(e.get("max_model_len"), int)}
        except openai.APIStatusError as exc:
            if exc.status_code not in (404, 405):
                raise
        except (ValueError, AttributeError, TypeError):
            models = None  # answered, but not a model list
        notes: list[str] = []
        if models is not None and model not in models:
            listed = ", ".join(models) if models else "none"
            notes.append(f"the judge at {base_url} does not list {model!r} (it lists: {listed}); "
                         "asking anyway, as servers that load models on demand list only loaded ones")
        if profile != "auto":
            return Endpoint(profile, models, lengths, "chosen", notes)
        if "vllm" in owners:
            return Endpoint("vllm", models, lengths, "/v1/models says owned_by vllm", notes)
        if await _answers_version(client, base_url):
            return Endpoint("vllm", models, lengths, "the server answers vLLM's /version", notes)
        host = urlsplit(base_url).hostname or ""
        if host == "openai.com" or host.endswith(".openai.com"):
            return Endpoint("openai", models, lengths, f"{host} is OpenAI's API", notes)
        return Endpoint("generic", models, lengths, "not vLLM: standard fields only", notes)
    finally:
        await client.close()


async def _answers_version(client: openai.AsyncOpenAI, base_url: str) -> bool:
    """vLLM serves ``GET /version`` → ``{"version": "0.11.0"}`` beside ``/v1``."""
    root = base_url.rstrip("/")
    root = root[: -len("/v1")] if root.endswith("/v1") else root
    try:
        raw = await client.get(f"{root}/version", cast_to=bytes)
        data = json.loads(raw)
    except (openai.APIError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("version"), str) and set(data) <= {"version"}
