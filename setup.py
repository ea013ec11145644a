"""Build step that puts the top-level project files into the wheel (all other metadata: pyproject.toml).

``models.yaml``, ``trainer/*.yaml`` and ``rubrics/*.yaml`` stay at the top level of the checkout, the one
copy users and tests edit; package data cannot reach outside the package, so this copies them into the
built package as ``cosmos_bench/project_files/`` (``cosmos_bench.shipped`` finds them in either place). An
editable install needs no copy: it reads them beside the package.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
_SHIPPED = runpy.run_path(str(HERE / "cosmos_bench" / "shipped.py"))


def _project_files() -> list[tuple[Path, str]]:
    """(source file, path inside the built package) for every shipped file (YAML only, no caches)."""
    out = []
    for name in _SHIPPED["SHIPPED"]:
        src = HERE / name
        files = [src] if src.is_file() else sorted(src.rglob("*.yaml"))
        if not files:
            raise FileNotFoundError(f"{src}: shipped project file missing from the source tree")
        for f in files:
            out.append((f, f"cosmos_bench/{_SHIPPED['WHEEL_DIR']}/{f.relative_to(HERE).as_posix()}"))
    return out


class BuildPyWithProjectFiles(build_py):
    """``build_py`` that also copies the top-level project files into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for src, rel in _project_files():
            dst = Path(self.build_lib) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        extra = [] if getattr(self, "editable_mode", False) else [str(Path(self.build_lib) / rel) for _, rel in _project_files()]
        return [*super().get_outputs(include_bytecode), *extra]


setup(cmdclass={"build_py": BuildPyWithProjectFiles})
