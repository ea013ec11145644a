"""Stored scores of a video that has since changed are reported, never passed off as the new video's.

Rows are keyed by generation key, not by content, and an output can change under its key: ``generate``
regenerates a video in place when its inputs change (an edited prompt or conditioning image), and outputs
written before ``kind: folder`` keyed its videos' content were replaced in place. The store keeps the rows
it has (a row with a result is never edited), so the run would skip the new video and the leaderboard show
the old number beside it. Each row records the content hash of the video it scored (``provenance``); this
compares it with the output's sidecar and returns one line per changed video, which ``run`` and
``rescore`` report as problems (exit 1).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..models.outputs import Output
from .store import ResultRow


def changed_since_scored(outputs: Sequence[Output], rows: Iterable[ResultRow], versions: Mapping[str, str]) -> list[str]:
    """Lines for outputs whose current-version rows were scored from other content than the file holds now."""
    scored: dict[tuple, set[str]] = {}
    for r in rows:
        content = (r.provenance or {}).get("content_sha256")
        if r.status != "error" and content and versions.get(r.metric) == r.metric_version:
            scored.setdefault((r.model, r.generation_key, r.sample, r.seed), set()).add(content)
    lines = []
    for o in outputs:
        now = o.sidecar.content_sha256 if o.sidecar is not None and o.error is None else None
        before = scored.get((o.model, o.key, o.sample, o.seed))
        if now and before and now not in before:
            lines.append(f"{o.label}: the video changed after it was scored (stored rows are of content "
                         f"{sorted(before)[0][:12]}, the file now holds {now[:12]}); its stored scores are of the old "
                         "video: score the new one into another --store, or generate it into another --out")
    return lines


__all__ = ["changed_since_scored"]
