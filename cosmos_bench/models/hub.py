"""Adapters from the Hugging Face Hub: ``adapter: hf://org/name[@revision][/subfolder][/file.safetensors]``.

Fine-tuned adapters are shared on the Hub, and peft and diffusers load them by repo id; here the file
is fetched with ``huggingface_hub.hf_hub_download`` into its usual cache (``$HF_HUB_CACHE``, honouring
``HF_HUB_OFFLINE=1``), then loaded like a local adapter file. What the video depends on goes into the
generation key: the file's SHA-256 (as for a local adapter) and the commit the revision pointed at, so a
moved branch or a re-uploaded adapter never reuses the old videos.

The ``hf://`` prefix is required: a bare ``org/name`` is a local path (``runs/lora8`` looks the same),
and a missing one says how to name a Hub adapter. A revision holding ``/`` (``refs/pr/1``) is set with
the ``adapter_revision`` option instead of ``@``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import AdapterNotTrainedError, ModelConfigError, ModelSpec
from .cosmos_facts import ADAPTER_FILE, resolve_adapter_file
from .loading import HUB_ID_RE

HUB_PREFIX = "hf://"


@dataclass(frozen=True)
class HubRef:
    """A file on the Hub: repo id, revision (None: the default branch), subfolder and file name."""

    repo_id: str
    revision: str | None
    subfolder: str | None
    filename: str | None  # None: the adapter option did not name one

    def url(self) -> str:
        return HUB_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "") + (
            f"/{self.subfolder}" if self.subfolder else "") + (f"/{self.filename}" if self.filename else "")


@dataclass(frozen=True)
class HubFile:
    """A fetched Hub file: its path in the local cache and the commit its revision resolved to."""

    ref: HubRef
    path: Path
    commit: str | None

    def identity(self) -> dict[str, Any]:
        return {"repo_id": self.ref.repo_id, "revision": self.ref.revision, "commit": self.commit,
                "subfolder": self.ref.subfolder, "filename": self.path.name}


def parse_hub_ref(value: str, *, revision: str | None = None) -> HubRef | None:
    """``hf://org/name[@rev][/sub/dirs][/file.safetensors]`` → :class:`HubRef`; None for anything else."""
    if not value.startswith(HUB_PREFIX):
        return None
    parts = [p for p in value[len(HUB_PREFIX):].split("/")]
    if len(parts) < 2 or not all(parts):
        raise ModelConfigError(f"adapter {value!r}: a Hub adapter is hf://org/name[@revision][/subfolder]")
    name, _, at = parts[1].partition("@")
    repo_id = f"{parts[0]}/{name}"
    if not HUB_ID_RE.fullmatch(repo_id):
        raise ModelConfigError(f"adapter {value!r}: {repo_id!r} is not a Hub repo id (org/name)")
    if at and revision:
        raise ModelConfigError(f"adapter {value!r}: revision given twice (@{at} and adapter_revision: {revision})")
    rest = parts[2:]
    filename = rest.pop() if rest and rest[-1].endswith(".safetensors") else None
    return HubRef(repo_id, at or revision or None, "/".join(rest) or None, filename)


def _commit_of(path: Path) -> str | None:
    """The commit folder of a cached Hub file (``.../snapshots/<commit>/...``)."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def fetch_hub_file(ref: HubRef, weight_name: str | None = None) -> HubFile:
    """Download (or find in the cache) the adapter file of ``ref``; a failure names the adapter and why."""
    from huggingface_hub import hf_hub_download

    filename = ref.filename or weight_name or ADAPTER_FILE
    try:
        path = Path(hf_hub_download(ref.repo_id, filename, subfolder=ref.subfolder, revision=ref.revision))
    except Exception as exc:  # offline without a cached copy, a missing file or repo, no network, a bad id
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelConfigError(f"adapter {ref.url()}: {filename} could not be fetched ({type(exc).__name__}: {reason})") from exc
    return HubFile(ref, path, _commit_of(path))


def resolve_adapter(spec: ModelSpec) -> tuple[Path, dict[str, Any] | None] | None:
    """The adapter file of ``spec`` (a local folder/file, or a Hub reference) and, for the Hub, what
    identifies it beyond its hash (repo, revision, commit); None when the entry has no adapter."""
    raw = spec.options.get("adapter")
    if raw in (None, ""):
        return None
    weight_name = spec.options.get("adapter_weight_name")
    ref = parse_hub_ref(str(raw), revision=spec.options.get("adapter_revision"))
    if ref is not None:
        got = fetch_hub_file(ref, weight_name)
        return got.path, got.identity()
    if spec.options.get("adapter_revision"):
        raise ModelConfigError(f"{spec.where}: adapter_revision applies to a Hub adapter (adapter: hf://org/name)")
    path = spec.path_option("adapter")
    try:
        return resolve_adapter_file(path, weight_name), None
    except AdapterNotTrainedError as exc:
        if HUB_ID_RE.fullmatch(str(raw)) and str(raw).count("/") == 1:
            raise AdapterNotTrainedError(exc.path, hint=f"a Hugging Face Hub adapter is written adapter: hf://{raw}") from None
        raise


__all__ = ["HUB_PREFIX", "HubFile", "HubRef", "fetch_hub_file", "parse_hub_ref", "resolve_adapter"]
