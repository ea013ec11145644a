"""``cosmos-bench init``: a project folder a user can edit, from the files the package carries.

Installing the wheel gives the default models (``base`` from the Hub, LoRA/DoRA candidates from
``runs/train/<name>``), the trainer's recipes and the rubrics, but a user who wants to change a model
or a recipe needs them as files. :func:`init_project` copies the shipped ``models.yaml`` and
``trainer/*.yaml`` byte for byte (comments included) and renders a small synthetic suite with known
cameras, so ``run`` has something to score before real data exists. A file that is already there is
kept unless ``force``: an edited models YAML is never lost to a second ``init``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .data.synthetic import SceneConfig
from .data.synthetic_suite import write_synthetic_suite
from .errors import InputError
from .shipped import shipped_path

STARTER_SUITE = Path("suites") / "starter"
STARTER_SCENES = SceneConfig(views=("left", "right"), frames=33, height=256, width=448, camera_motion="orbit")
STARTER_SAMPLES = 2


@dataclass
class InitReport:
    """What :func:`init_project` did: files written, files kept because they existed, the suite folder."""

    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    suite: Path | None = None


def _copy(src: Path, dst: Path, report: InitReport, force: bool) -> None:
    if dst.exists() and not force:
        report.kept.append(dst)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    report.written.append(dst)


def init_project(folder: str | os.PathLike = ".", *, force: bool = False, suite: bool = True,
                 samples: int = STARTER_SAMPLES) -> InitReport:
    """Write ``models.yaml``, ``trainer/*.yaml`` and (``suite``) a starter synthetic suite into ``folder``."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: is a file; init writes a project folder")
    report = InitReport(root=root)
    models = shipped_path("models.yaml")
    recipes = sorted(shipped_path("trainer").glob("*.yaml"))
    if not models.is_file() or not recipes:
        raise InputError(f"{models.parent}: this install lacks the packaged models.yaml or trainer recipes")
    _copy(models, root / "models.yaml", report, force)
    for recipe in recipes:
        _copy(recipe, root / "trainer" / recipe.name, report, force)
    if suite:
        target = root / STARTER_SUITE
        if (target / "suite.yaml").exists() and not force:
            report.kept.append(target)
        else:
            write_synthetic_suite(target, STARTER_SCENES, samples=samples, name="starter")
            report.written.append(target)
        report.suite = target
    return report


__all__ = ["InitReport", "STARTER_SUITE", "init_project"]
