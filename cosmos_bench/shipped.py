"""The project files every install carries: ``models.yaml``, ``trainer/`` recipes and ``rubrics/``.

They live once, at the project's top level, where users read and edit them. A wheel carries them inside
the package as ``cosmos_bench/project_files/<name>`` (``setup.py`` copies them there at build time, so the
tree holds no second copy); a checkout or an editable install reads them at the top level, beside the
package. :func:`shipped_path` answers for both, so nothing else needs to know which install it runs in.
Nothing here imports more than the standard library (``setup.py`` reads :data:`SHIPPED` from this file).
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = ("models.yaml", "trainer", "rubrics")  # top-level names, copied into the wheel as they are
WHEEL_DIR = "project_files"  # their folder inside the installed package
PACKAGE = Path(__file__).resolve().parent


def shipped_path(name: str) -> Path:
    """Where this install keeps the shipped file or folder ``name`` (one of :data:`SHIPPED`).

    Inside the package when it was installed from a wheel, else the checkout's top level. The path
    may not exist (a source copy without that file): callers say what is missing.
    """
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not a shipped project file; shipped: {list(SHIPPED)}")
    packaged = PACKAGE / WHEEL_DIR / name
    return packaged if packaged.exists() else PACKAGE.parent / name


__all__ = ["SHIPPED", "WHEEL_DIR", "shipped_path"]
