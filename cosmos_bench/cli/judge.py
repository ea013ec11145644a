"""``cosmos-bench judge``: score video files 1-5 with a vision-language judge."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .options import (
    JudgeConcurrency, JudgeConfigFile, JudgeControls, JudgeFramesMode, JudgeNumFrames, JudgeServer, JudgeTimeout, check_output_file,
    judge_settings,
)
from .output import console, err_console


def judge_cmd(
    videos: List[Path] = typer.Argument(..., help="mp4 files to score."),
    rubric: str = typer.Option("video_physics", "--rubric", help="video_physics, video_IF, or a path to a rubric .yaml."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="The generation prompt, for rubrics that need it (video_IF); applies to every video."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (default: $COSMOS_BENCH_JUDGE_URL, then $OPENAI_BASE_URL with a note, then http://localhost:8000/v1). The API key comes from $COSMOS_BENCH_JUDGE_API_KEY, then $OPENAI_API_KEY."),
    model: Optional[str] = typer.Option(None, "--model", "--judge-model", help="Served model id (default: $COSMOS_BENCH_JUDGE_MODEL or nvidia/Cosmos-Reason2-8B)."),
    server: JudgeServer = None,
    samples: Optional[int] = typer.Option(None, "--samples", "--judge-samples", min=1, help="Judge samples per video; the score is their mean (default 1; 2+: the judge's test-retest agreement too)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, help="Sampling temperature (default 0.6)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of sample 0; sample i uses seed+i (default 0)."),
    fps: Optional[float] = typer.Option(None, "--fps", "--judge-fps", min=0.1, help="Frames per second vLLM samples from the video in video mode (default 4; sent as media_io_kwargs)."),
    frames_mode: JudgeFramesMode = None,
    num_frames: JudgeNumFrames = None,
    concurrency: JudgeConcurrency = None,
    timeout: JudgeTimeout = None,
    config_file: JudgeConfigFile = None,
    controls: JudgeControls = None,
    cache: Optional[Path] = typer.Option(None, "--cache", help="Score cache (JSON lines; default judge_scores.jsonl under $COSMOS_BENCH_CACHE, else ~/.cache/cosmos-bench)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask again for every sample and store nothing."),
    json_out: Optional[Path] = typer.Option(None, "--json", callback=check_output_file, help="Write every result (samples, raw replies, judge version) here."),
) -> None:
    """Score videos 1-5 with a vision-language judge (Cosmos Reason2 behind vLLM/NIM or any OpenAI-compatible server).

    Failed samples are reported as errors, never as numbers; exits 1 if the endpoint is down or any video failed.
    """
    import asyncio
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..judge import JudgeConfig, JudgeEndpointError, JudgeRequest, ScoreCache, load_rubric, resolve_endpoint
    from ..judge.agreement import agreement_of_results
    from ..judge.client import generic_env_used
    from ..judge.preflight import judge_probed_videos_sync

    the_rubric = load_rubric(rubric)
    values = judge_settings(config_file, frames_mode=frames_mode, base_url=base_url, model=model, server=server,
                            samples=samples, temperature=temperature, seed=seed, fps=fps, num_frames=num_frames,
                            concurrency=concurrency, timeout_s=timeout, control_share=controls)
    config = JudgeConfig.from_env(generic=True, **values)
    for name in generic_env_used(values.get("base_url")):
        err_console.print(f"[yellow]note:[/] using ${name} for the judge (set COSMOS_BENCH_JUDGE_URL / "
                          "COSMOS_BENCH_JUDGE_API_KEY or pass --base-url to choose explicitly)")
    if the_rubric.needs_instruction and not (instruction and instruction.strip()):
        fail(f"rubric {the_rubric.name!r} judges against the generation prompt: pass --instruction TEXT", 2)
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        fail(f"video file(s) not found: {', '.join(missing)}", 2)
    try:
        config, endpoint = asyncio.run(resolve_endpoint(config, timeout_s=min(config.timeout_s, 15.0)))
    except JudgeEndpointError as exc:
        fail(f"{exc}\nStart a server first, e.g. `vllm serve nvidia/Cosmos-Reason2-8B --max-model-len 16384 "
              "--media-io-kwargs '{\"video\": {\"num_frames\": -1}}' --reasoning-parser qwen3 --trust-request-mm-kwargs`, "
              "or point --base-url / COSMOS_BENCH_JUDGE_URL at one.")
    for note in endpoint.notes:
        err_console.print(f"[yellow]warning:[/] {note}")
    err_console.print(f"judge server: {endpoint.server} ({endpoint.why})")
    store = None if no_cache else ScoreCache(cache)
    requests = [JudgeRequest(v, instruction) for v in videos]
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("judge", total=len(requests) * config.samples)
        results = judge_probed_videos_sync(requests, the_rubric, config, store, progress=lambda e: bar.update(task, completed=e.done))

    table = Table(title=f"{escape(the_rubric.name)} · {escape(config.model)} · judge version {results[0].judge_version if results else '-'}")
    for col, kw in (("video", {"overflow": "fold"}), ("score", {"justify": "right"}), ("spread", {"justify": "right"}),
                    ("samples", {}), ("calls", {"justify": "right"}), ("status", {"overflow": "fold"})):
        table.add_column(col, **kw)
    for r in results:
        per_sample = ",".join("-" if s.score is None else str(s.score) for s in r.samples)
        status = "[green]ok[/]" if r.status == "ok" else f"[red]error[/] {escape(str(r.reason))}"
        table.add_row(
            escape(str(r.video)), "-" if r.score is None else f"{r.score:.2f}", "-" if r.spread is None else f"{r.spread:.2f}",
            per_sample, str(r.calls), status,
        )
    console.print(table)
    if config.samples >= 2:
        for name, agreement in agreement_of_results(results).items():
            console.print(f"{name}: test-retest agreement of the judge (Krippendorff's ordinal alpha over {config.samples} samples): "
                          f"{agreement.summary()}")
            if agreement.flagged:
                console.print(f"[yellow]samples disagree by 2+ points:[/] {', '.join(agreement.flagged)}")
    control_results = _controls(requests, results, the_rubric, config, store)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([r.to_dict() for r in [*results, *control_results]], indent=2, ensure_ascii=False))
        console.print(f"[green]wrote[/] {escape(str(json_out))}")
    failed = [r for r in results if r.status != "ok"]
    if failed:
        err_console.print(f"[bold red]{len(failed)} of {len(results)} video(s) have no score[/] (errors are never counted as numbers); "
                          "run the same command again to retry only the failed samples.")
        raise typer.Exit(1)


def _controls(requests, results, rubric, config, store) -> list:
    """With ``--controls``: score the controls of the videos that got a score, print the report (kept apart
    from the table above: controls are never a video's score)."""
    if config.control_share <= 0:
        return []
    from ..judge.controls import CONTROL_KINDS, control_report, judge_controls

    if rubric.name not in CONTROL_KINDS:
        err_console.print(f"[yellow]note:[/] rubric {escape(rubric.name)!r} has no controls (known: {', '.join(CONTROL_KINDS)})")
        return []
    control_results = list(judge_controls(requests, results, rubric, config, store).values())
    report = control_report(rubric.name, results, control_results)
    style = {True: "green", False: "bold red", None: "yellow"}[report.discriminates]
    console.print(f"[{style}]{escape(report.summary())}[/]")
    return control_results
