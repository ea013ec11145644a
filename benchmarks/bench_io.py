"""Output shared by the benchmark scripts: one JSON object per line, printed and appended to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(record: dict[str, Any], out: Path | None) -> None:
    """Print ``record`` as a JSON line and append it to ``out`` (if given), so runs accumulate."""
    line = json.dumps(record)
    print(line, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
