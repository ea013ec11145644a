"""Judge stage of cosmos-bench: a vision-language model scores each video 1–5 against a rubric.

Library entry points::

    from cosmos_bench.judge import JudgeConfig, JudgeRequest, ScoreCache, judge_videos_sync

    results = judge_videos_sync(
        [JudgeRequest("out/sample0.mp4", instruction="pick up the red cup with the left hand")],
        rubric="video_IF",
        config=JudgeConfig.from_env(samples=3),
        cache=ScoreCache(),
    )

``await judge_videos(...)`` is the async form (with a ``progress=`` callback for the runner).
"""

from cosmos_bench.judge.cache import ScoreCache, default_cache_path
from cosmos_bench.judge.client import (
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    JudgeConfig,
    JudgeEndpointError,
    JudgeRequest,
    JudgeResult,
    JudgeSample,
    ProgressEvent,
    check_endpoint,
    judge_settings,
    judge_version,
    judge_videos,
    judge_videos_sync,
    resolve_endpoint,
)
from cosmos_bench.judge.rubric import Rubric, RubricError, available_rubrics, load_rubric
from cosmos_bench.judge.scoring import Extraction, extract_score

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "Extraction",
    "JudgeConfig",
    "JudgeEndpointError",
    "JudgeRequest",
    "JudgeResult",
    "JudgeSample",
    "ProgressEvent",
    "Rubric",
    "RubricError",
    "ScoreCache",
    "available_rubrics",
    "check_endpoint",
    "default_cache_path",
    "extract_score",
    "judge_settings",
    "judge_version",
    "judge_videos",
    "judge_videos_sync",
    "load_rubric",
    "resolve_endpoint",
]
