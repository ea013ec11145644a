"""``cosmos-bench train``: fine-tune a LoRA/DoRA adapter and register it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from .errors import fail
from .options import ModelsFile
from .output import console


def train_cmd(
    recipe: Path = typer.Option(..., "--recipe", help="Training recipe YAML, e.g. trainer/dora32.yaml."),
    data: Path = typer.Option(..., "--data", help="GR1 train folder: videos/*.mp4 + metas/*.txt (+ metadata.csv)."),
    out: Path = typer.Option(..., "--out", help="Output folder: adapter, checkpoints/, loss.csv + loss.jsonl, train_info.json."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name to register (default: the recipe's name)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Add the finished adapter to the models YAML."),
    models_file: ModelsFile = None,
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after N optimiser steps (checkpointed; --resume continues the same schedule)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Cache of prompt embeddings and VAE latents (default: the recipe's, else $COSMOS_BENCH_CACHE/train)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, or auto (default: CUDA when available)."),
) -> None:
    """Fine-tune a LoRA/DoRA adapter of Cosmos Predict 2.5 on a GR1 train folder (multi-GPU: `accelerate launch -m cosmos_bench.cli train ...`)."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..models.base import ModelConfigError, load_models_config
    from ..models.registration import ModelExistsError, register_adapter
    from ..train.recipe import load_recipe
    from ..train.trainer import models_entry, train

    main_process = os.environ.get("RANK", "0") == "0"
    spec = load_recipe(recipe)
    if not data.is_dir():
        fail(f"{data}: training folder not found", 2)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not main_process)
    task = None

    def on_event(message: str) -> None:
        if main_process:
            console.print(f"[dim]{escape(message)}[/]")

    def on_step(info) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(f"train {spec.name}", total=info.stop_step, completed=info.step - 1, loss="-", rate="")
        progress.update(task, completed=info.step, loss=f"{info.loss:.4f}", rate=f"{1.0 / max(info.seconds, 1e-9):.2f} it/s")

    with progress:
        result = train(spec, data, out, resume=resume, max_steps=max_steps, cache_dir=cache, device=device,
                       on_step=on_step, on_event=on_event)
    if not main_process:
        return
    last = f"{result.losses[-1]:.4f}" if result.losses else "-"
    console.print(f"[green]{'finished' if result.finished else 'stopped'}[/] {spec.name}: step {result.steps_done}/{result.total_steps}, "
                  f"last loss {last}; loss log {out / 'loss.csv'}")
    if not result.finished:
        console.print(f"checkpoint {escape(str(result.checkpoint))}; continue with --resume")
        return
    console.print(f"adapter {escape(str(result.adapter))}")
    try:
        models = load_models_config(models_file, missing_ok=True)  # read once: the entry and the registration use it
    except ModelConfigError:
        models = None  # a broken models YAML is reported when registering
    model_name, entry = models_entry(result, spec, models if models is not None else models_file)
    model_name = name or model_name
    if not register:
        console.print(escape(f"models YAML entry (not registered): {model_name}: {entry}"))
        return
    try:
        if models is None:
            models = load_models_config(models_file, missing_ok=True)  # raises the YAML's problem
        done = register_adapter(model_name, entry, models, keep_same=True)
    except ModelExistsError as exc:
        fail(f"{exc}; pass --name, or add this entry yourself: {model_name}: {entry}", 2)
    except ModelConfigError as exc:
        fail(f"{exc}; entry not registered: {model_name}: {entry}", 2)
    if not done.added:
        console.print(escape(f"{model_name} already registered in {done.path} with this adapter"))
        return
    console.print(f"[green]registered[/] " + escape(f"{model_name} in {done.path}: {entry} (`cosmos-bench run --models {model_name}` finds it)"))
