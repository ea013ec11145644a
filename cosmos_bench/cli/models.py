"""``cosmos-bench models``: list the configured models and kinds, register a trained adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .options import ModelsFile
from .output import console


models_app = typer.Typer(
    help="World models: list configured models and installed kinds; register a trained adapter.",
    invoke_without_command=True,
)


def _models_table(models_file: Optional[Path]) -> None:
    from ..models.base import AdapterNotTrainedError, ModelConfigError, available_kinds, build_model, load_models_config, train_command

    config = load_models_config(models_file, missing_ok=True)
    if config.packaged is not None:
        title = f"default models the package carries ({escape(str(config.path))} not found; `cosmos-bench init` writes an editable copy)"
    else:
        title = f"models in {escape(str(config.path))}" + ("" if config.path and config.path.exists() else " (file not found)")
    table = Table(title=title)
    for col in ("name", "kind", "details", "status"):
        table.add_column(col, overflow="fold")
    broken = 0
    for name in config.names:
        spec = config.spec(name)  # extends chains were checked when the file was read
        try:
            model = build_model(spec)
            describe = getattr(model, "describe", None)
            details = describe() if callable(describe) else spec.options
            text = ", ".join(f"{k}={v}" for k, v in details.items() if v not in (None, ""))
            table.add_row(escape(name), escape(spec.kind), escape(text), "[green]ok[/]")
        except AdapterNotTrainedError as exc:  # a note, not a failure: a fresh checkout has trained nothing
            table.add_row(escape(name), escape(spec.kind), "", f"[yellow]not trained yet[/]: {escape(train_command(spec, exc.path))}")
        except ModelConfigError as exc:
            broken += 1
            table.add_row(escape(name), escape(spec.kind), "", f"[red]{escape(str(exc))}[/]")
    console.print(table)
    kinds = Table(title="world-model kinds")
    for col in ("kind", "source", "factory"):
        kinds.add_column(col, overflow="fold")
    for info in available_kinds().values():
        kinds.add_row(info.name, info.source, info.target)
    console.print(kinds)
    if broken:
        raise typer.Exit(1)


@models_app.callback()
def models_root(
    ctx: typer.Context,
    models_file: ModelsFile = None,
) -> None:
    """List the configured models (with their base, adapter, safety checker) and the installed kinds."""
    if ctx.invoked_subcommand is None:
        _models_table(models_file)


@models_app.command("list")
def models_list(models_file: ModelsFile = None) -> None:
    """List the configured models and the installed world-model kinds; exits 1 if an entry is broken
    (an adapter not trained yet is a note with the command that trains it)."""
    _models_table(models_file)


@models_app.command("register")
def models_register(
    name: str = typer.Argument(..., help="New model name, e.g. lora8."),
    adapter: Path = typer.Option(..., "--adapter", help="Folder holding pytorch_lora_weights.safetensors (as the trainer writes it), or the file."),
    base: str = typer.Option("base", "--base", help="Models-YAML entry the adapter is applied to."),
    fuse: bool = typer.Option(False, "--fuse/--no-fuse", help="Fuse the adapter into the base weights (pipe.fuse_lora)."),
    lora_scale: Optional[float] = typer.Option(None, "--lora-scale", help="Adapter scale (default 1.0)."),
    models_file: ModelsFile = None,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing entry of that name."),
) -> None:
    """Add a trained adapter to the models YAML as `NAME: {extends: BASE, adapter: DIR}`."""
    from ..models.base import default_models_path, load_models_config
    from ..models.registration import ModelExistsError, adapter_entry, register_adapter

    # no models YAML named or found: start from the packaged defaults, so `extends: base` has its base
    config = load_models_config(models_file, missing_ok=True)
    path = (config.path or models_file or default_models_path()).resolve()
    try:
        entry = adapter_entry(adapter, path, base=base, fuse=fuse, lora_scale=lora_scale)
        done = register_adapter(name, entry, config, overwrite=overwrite)
    except ModelExistsError as exc:
        fail(f"{exc} (pass --overwrite to replace it)", 2)
    console.print(f"[green]registered[/] {escape(name)} in {escape(str(done.path))}: {escape(str(done.entry))}")
