"""Issue 33: plain progress lines (a CI log) report each judged item once."""

from __future__ import annotations

import io

from rich.console import Console

from cosmos_bench.cli.output import PlainReporter
from cosmos_bench.runner import StageEvent


def test_judge_items_are_reported_once_in_plain_progress() -> None:
    out = io.StringIO()
    report = PlainReporter(Console(file=out, width=200))
    items = 3
    report(StageEvent("judge", "start", total=items, message="physics"))
    report(StageEvent("judge", "note", message="endpoint: vllm"))  # a real note still shows
    for i in range(items):  # what the runner emits per video: the judge's sample progress, then the stage's advance
        report(StageEvent("judge", "note", message=f"physics: {i + 1}/{items} samples"))
        report(StageEvent("judge", "advance", status="ok", message=f"v{i}"))
    lines = out.getvalue().splitlines()
    assert lines == ["judge (physics): 3 to do", "judge: endpoint: vllm",
                     "judge: 1/3 (ok 1)", "judge: 2/3 (ok 2)", "judge: 3/3 (ok 3)"]
