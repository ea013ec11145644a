"""Refuse files that are not whole videos before any byte of them goes to the judge.

The judge client base64s a file's bytes as they are, and a server scores whatever it is sent: a PNG
renamed ``.mp4``, a 0-byte or text file, a cut mp4 all came back with scores. So every file is probed
(``cosmos_bench.data.video.probe_video``) first; one that fails gets an error result saying why, and
is never uploaded. Kept apart from the client so the request code stays about requests.
"""

from __future__ import annotations

from typing import Sequence

from ..data.video import VideoError, probe_video
from .cache import ScoreCache
from .client import JudgeConfig, JudgeRequest, JudgeResult, JudgeSample, ProgressCallback, judge_settings, judge_version, judge_videos_sync
from .rubric import Rubric


def refused_result(req: JudgeRequest, rubric: Rubric, config: JudgeConfig, reason: str) -> JudgeResult:
    """The error result of a video that was not sent: every sample failed for ``reason``."""
    return JudgeResult(
        id=req.key, video=str(req.video), video_sha256=None,
        instruction=req.instruction if rubric.needs_instruction else None, rubric=rubric.name,
        judge_version=judge_version(rubric, config), judge=judge_settings(rubric, config),
        samples=[JudgeSample(i, None, "error", None, reason=reason) for i in range(config.samples)],
        status="error", score=None, spread=None, reason=f"not sent to the judge: {reason}",
    )


def judge_probed_videos_sync(
    requests: Sequence[JudgeRequest],
    rubric: Rubric,
    config: JudgeConfig,
    cache: ScoreCache | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[JudgeResult]:
    """:func:`judge_videos_sync` over the files that probe as videos; the others get error results.

    Results come back in the order of ``requests``.
    """
    refused: dict[int, JudgeResult] = {}
    usable: list[JudgeRequest] = []
    for i, req in enumerate(requests):
        try:
            probe_video(req.video)
        except VideoError as exc:
            refused[i] = refused_result(req, rubric, config, str(exc))
        else:
            usable.append(req)
    judged = iter(judge_videos_sync(usable, rubric, config, cache, progress=progress) if usable else [])
    return [refused[i] if i in refused else next(judged) for i in range(len(requests))]
