"""Judge controls: cheap questions whose right answer is known, asked beside the real ones.

A judge that barely moves when its input is broken is not judging. For a share of the videos
(``JudgeConfig.control_share``, e.g. 0.1) the judge is also asked a *control*, which must score lower:

``video_physics``
    the same video with its frames shuffled in time (objects jump back and forth: physically impossible);
``video_IF``
    the same video against another video's instruction (it does not show what that one asked for).

:func:`control_report` gives, per rubric, the mean drop (original − control) over the videos where both
were scored, its 95 % t-interval (paired differences), and the share of videos where the control scored
at least as high; a judge whose interval does not lie above 0 is flagged as not shown to discriminate.
Controls are separate results (ids ending in ``#control``): they never enter a model's scores.

The selection is deterministic (the videos whose seeded hash of their id is smallest), so reruns ask the
same controls and hit the cache; the share and kind are part of the judge version (:func:`control_settings`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .client import (
    CONTROL_KINDS,
    JudgeConfig,
    JudgeRequest,
    control_settings,
    judge_videos_sync,
)
from .rubric import load_rubric

__all__ = ["CONTROL_KINDS", "CONTROL_SUFFIX", "ControlReport", "control_detail", "control_report", "control_reports_of_rows",
           "control_requests", "control_settings", "judge_controls",
           "judge_with_controls", "pick_controls", "shuffled_copy"]

CONTROL_SUFFIX = "#control"
log = logging.getLogger("cosmos_bench.judge")
CONFIDENCE = 0.95


def pick_controls(keys: Sequence[str], share: float, seed: int = 0) -> list[str]:
    """The keys that get a control: ``round(share × n)`` of them (at least one when ``share`` > 0), those whose
    SHA-256 of ``"<seed>:<key>"`` is smallest, so the pick does not depend on the order of the videos."""
    if not 0 <= share <= 1:
        raise InputError(f"control share must be in [0, 1], got {share!r}", option="control_share")
    if share == 0 or not keys:
        return []
    n = min(len(keys), max(1, round(share * len(keys))))
    ranked = sorted(set(keys), key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    return ranked[:n]


def shuffled_copy(path: str | Path, out_dir: str | Path, seed: int = 0) -> Path:
    """The video at ``path`` with its frames in a seeded random order (never the original order), written once
    to ``out_dir`` under a name of its content hash and the seed."""
    from ..data.video import read_video, write_video

    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = Path(out_dir) / f"{digest}-shuffled-{seed}.mp4"
    if out.is_file():
        return out
    video = read_video(path)
    frames = video.frames
    order = np.random.default_rng([seed, int(digest, 16) % 2**32]).permutation(len(frames))
    if len(frames) > 1 and np.array_equal(order, np.arange(len(frames))):
        order = np.roll(order, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.mp4")
    write_video(tmp, frames[order], fps=float(video.fps))
    tmp.replace(out)
    return out


def control_requests(requests: Sequence[Any], rubric_name: str, share: float, seed: int,
                     out_dir: str | Path) -> tuple[list[Any], list[str]]:
    """The control requests for ``requests`` (``JudgeRequest``s) and notes on videos that could get none.

    Each control's id is its video's key plus :data:`CONTROL_SUFFIX`. ``video_IF``'s control takes the
    instruction of the next picked video (in the pick's order) whose instruction differs, else of any other video."""
    kind = CONTROL_KINDS.get(rubric_name)
    if kind is None or share <= 0:
        return [], []
    by_key = {r.key: r for r in requests}
    picked = pick_controls(list(by_key), share, seed)
    controls, notes = [], []
    for i, key in enumerate(picked):
        req = by_key[key]
        if kind == "shuffled_frames":
            try:
                video = shuffled_copy(req.video, out_dir, seed)
            except Exception as exc:  # an unreadable video has no control; its own result says why
                notes.append(f"{key}: no control ({type(exc).__name__}: {exc})")
                continue
            controls.append(JudgeRequest(video, req.instruction, id=key + CONTROL_SUFFIX))
            continue
        own = (req.instruction or "").strip()
        others = [by_key[k] for k in picked[i + 1:] + picked[:i]] + [r for r in requests if r.key not in picked]
        other = next((r.instruction for r in others if (r.instruction or "").strip() not in ("", own)), None)
        if other is None:
            notes.append(f"{key}: no control (no other video has a different instruction)")
            continue
        controls.append(JudgeRequest(req.video, other, id=key + CONTROL_SUFFIX))
    return controls, notes


@dataclass(frozen=True)
class ControlReport:
    """How much the controls lowered the score, for one rubric."""

    rubric: str
    kind: str
    pairs: int  # videos where both the original and its control were scored
    mean_drop: float | None
    low: float | None  # 95 % t-interval of the mean drop (None below 2 pairs)
    high: float | None
    share_not_lower: float | None  # share of pairs where the control scored at least as high

    @property
    def discriminates(self) -> bool | None:
        """True when the interval lies above 0; False when it does not; None with too few pairs to tell."""
        return None if self.low is None else self.low > 0

    def summary(self) -> str:
        what = {"shuffled_frames": "frames shuffled in time", "other_instruction": "another video's instruction"}[self.kind]
        if self.pairs == 0:
            return f"{self.rubric} controls ({what}): none scored"
        drop = f"mean drop {self.mean_drop:.2f}"
        if self.low is not None:
            drop += f" [{self.low:.2f}, {self.high:.2f}]"
        verdict = {True: "the judge discriminates", False: "NOT shown to discriminate",
                   None: "too few to tell"}[self.discriminates]
        return (f"{self.rubric} controls ({what}, {self.pairs} video(s)): {drop}; control scored at least as high "
                f"in {self.share_not_lower:.0%}: {verdict}")

    def to_dict(self) -> dict[str, Any]:
        return {"rubric": self.rubric, "kind": self.kind, "pairs": self.pairs, "mean_drop": self.mean_drop,
                "low": self.low, "high": self.high, "share_not_lower": self.share_not_lower,
                "discriminates": self.discriminates}


def control_report(rubric_name: str, results: Sequence[Any], controls: Sequence[Any]) -> ControlReport:
    """Pair each control result with its original (``JudgeResult``s) and summarise the drops."""
    scores = {r.id: r.score for r in results if r.status == "ok" and r.score is not None}
    drops = [scores[c.id[: -len(CONTROL_SUFFIX)]] - c.score for c in controls
             if c.status == "ok" and c.score is not None and c.id.endswith(CONTROL_SUFFIX)
             and c.id[: -len(CONTROL_SUFFIX)] in scores]
    return _report(rubric_name, CONTROL_KINDS[rubric_name], drops)


def control_detail(control: Any) -> dict[str, Any]:
    """What a results-store row keeps of its video's control (in ``details["control"]``; never its value)."""
    return {"kind": CONTROL_KINDS.get(control.rubric), "status": control.status, "score": control.score,
            "reason": control.reason, "judge_version": control.judge_version, "instruction": control.instruction}


def control_reports_of_rows(rows: Iterable[Any]) -> dict[tuple[str, str], ControlReport]:
    """Per (model, metric), the controls kept in judge rows' ``details["control"]`` against the rows' own scores."""
    drops: dict[tuple[str, str], list[float]] = {}
    kinds: dict[tuple[str, str], str] = {}
    for row in rows:
        control = (getattr(row, "details", None) or {}).get("control")
        if not control:
            continue
        key = (row.model, row.metric)
        kinds[key] = control.get("kind") or "shuffled_frames"
        drops.setdefault(key, [])
        if row.status == "ok" and row.value is not None and control.get("status") == "ok" and control.get("score") is not None:
            drops[key].append(float(row.value) - float(control["score"]))
    return {key: _report(key[1], kinds[key], d) for key, d in drops.items()}


def judge_controls(requests: Sequence[Any], results: Sequence[Any], rubric: Any, config: Any, cache: Any = None,
                   workdir: str | Path | None = None) -> dict[str, Any]:
    """The controls of the videos that got a score (``config.control_share`` of them), keyed by the video's id;
    videos that could get none are logged. Control videos (shuffled copies) go under ``workdir``
    (default: ``judge-controls`` in the cache root)."""
    from ..cachedir import user_cache_dir

    rubric = load_rubric(rubric)
    scored = [req for req, res in zip(requests, results) if res.status == "ok"]
    controls, notes = control_requests(scored, rubric.name, config.control_share, config.seed,
                                       workdir or user_cache_dir() / "judge-controls")
    for note in notes:
        log.warning("judge controls: %s", note)
    answered = judge_videos_sync(controls, rubric, config, cache) if controls else []
    return {c.id[: -len(CONTROL_SUFFIX)]: c for c in answered}


def _report(rubric_name: str, kind: str, drops: Sequence[float]) -> ControlReport:
    from scipy import stats

    if not drops:
        return ControlReport(rubric_name, kind, 0, None, None, None, None)
    x = np.asarray(drops, dtype=float)
    mean = float(x.mean())
    low = high = None
    if x.size >= 2:
        sd = float(x.std(ddof=1))
        half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1)) * sd / math.sqrt(x.size)
        low, high = mean - half, mean + half
    return ControlReport(rubric_name, kind, int(x.size), mean, low, high, float(np.mean(x <= 0)))


def judge_with_controls(requests: Sequence[Any], rubric: Any, config: Any, cache: Any = None, *,
                        workdir: str | Path, progress: Any = None) -> tuple[list[Any], list[Any], ControlReport | None, list[str]]:
    """Score ``requests`` and, for ``config.control_share`` of them, their controls, in one batch.

    Returns (results in input order, control results, the report or None when the rubric or share has no
    controls, notes on videos that got no control). Control videos (shuffled copies) are written under ``workdir``.
    """
    rubric = load_rubric(rubric)
    config = (config or JudgeConfig()).resolved()
    controls, notes = control_requests(requests, rubric.name, config.control_share, config.seed, workdir)
    answered = judge_videos_sync([*requests, *controls], rubric, config, cache, progress=progress)
    results, control_results = answered[: len(requests)], answered[len(requests):]
    if rubric.name not in CONTROL_KINDS or config.control_share <= 0:
        return results, control_results, None, notes
    return results, control_results, control_report(rubric.name, results, control_results), notes
