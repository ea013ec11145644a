"""``cosmos-bench init``: write an editable project folder (models YAML, trainer recipes, a starter suite)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from .output import console


def init_cmd(
    folder: Path = typer.Argument(Path("."), help="Project folder to write into (created if missing)."),
    force: bool = typer.Option(False, "--force", help="Replace files that already exist (default: keep them)."),
    suite: bool = typer.Option(True, "--suite/--no-suite", help="Render the starter synthetic suite (suites/starter)."),
) -> None:
    """Write models.yaml, trainer/*.yaml and a starter synthetic suite, copied from the package's defaults.

    Existing files are kept (listed as such) unless --force: a second init never loses your edits.
    """
    from ..project import init_project

    report = init_project(folder, force=force, suite=suite)
    for path in report.written:
        console.print(f"[green]wrote[/] {escape(str(path))}")
    for path in report.kept:
        console.print(f"[yellow]kept[/] {escape(str(path))} (exists; --force replaces it)")
    if report.suite is not None:
        models = report.root / "models.yaml"
        console.print(escape(f"next: cosmos-bench run --models-file {models} --models base,lora8 --suite {report.suite} "
                             f"(train the adapters first: cosmos-bench models --models-file {models})"))
