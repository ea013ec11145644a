"""Rubric YAML schema, validation and rendering.

A rubric is the whole question put to the judge: a system prompt, a user prompt (optionally holding
the ``{instruction}`` placeholder for the generation prompt), an anchored score range and an answer
format. Every field that reaches the model is part of :attr:`Rubric.text`, which feeds the judge
version, so editing a rubric never reuses scores asked with the old wording.

Schema (all keys required, no others allowed)::

    name: video_physics            # [A-Za-z0-9_.-]+, used on the command line
    version: 1                     # bump when the meaning changes; the hash catches the rest
    description: one line for humans (not sent to the model, not hashed)
    needs_instruction: false       # true: user_prompt must hold {instruction}; false: it must not
    score_range: [1, 5]            # integers, min < max
    system_prompt: |               # no placeholders
    user_prompt: |                 # placeholders: {instruction} (only if needs_instruction)
    answer_format: |               # placeholders: {score_min}, {score_max}

Literal braces are written ``{{`` and ``}}`` (Python ``str.format`` rules).
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..provenance import sha256_hex
from ..errors import CosmosBenchError
from ..shipped import shipped_path

__all__ = ["Rubric", "RubricError", "load_rubric", "rubric_dirs", "available_rubrics"]

REQUIRED_KEYS = (
    "name",
    "version",
    "description",
    "needs_instruction",
    "score_range",
    "system_prompt",
    "user_prompt",
    "answer_format",
)
ALLOWED_PLACEHOLDERS = {
    "system_prompt": set(),
    "user_prompt": {"instruction"},
    "answer_format": {"score_min", "score_max"},
}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
# The shipped rubrics: the top-level rubrics/ of the checkout, which a wheel carries inside the package
# (cosmos_bench.shipped), so any install -- editable, `pip install .`, a wheel -- finds them.
PACKAGED_RUBRICS = shipped_path("rubrics")
RUBRICS_ENV = "COSMOS_BENCH_RUBRICS"


class RubricError(CosmosBenchError, ValueError):
    """A rubric file that cannot be used; the message names the file and the offending key/value."""


@dataclass(frozen=True)
class Rubric:
    """One validated rubric. Build it with :func:`load_rubric` or :meth:`Rubric.from_dict`."""

    name: str
    version: str
    description: str
    needs_instruction: bool
    score_min: int
    score_max: int
    system_prompt: str
    user_prompt: str
    answer_format: str
    source: str = "<memory>"

    @classmethod
    def from_dict(cls, data: object, source: str = "<memory>") -> Rubric:
        """Validate a parsed YAML mapping; raise :class:`RubricError` naming ``source`` on any problem."""
        if not isinstance(data, dict):
            raise RubricError(f"{source}: a rubric must be a YAML mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(REQUIRED_KEYS), key=str)
        if unknown:
            raise RubricError(
                f"{source}: unknown key(s) {unknown}; allowed keys are {list(REQUIRED_KEYS)}"
            )
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise RubricError(f"{source}: missing key(s) {missing}")

        name = data["name"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise RubricError(f"{source}: 'name' must match [A-Za-z0-9_.-]+, got {name!r}")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, (str, int, float)) or str(version) == "":
            raise RubricError(f"{source}: 'version' must be a non-empty string or number, got {version!r}")
        if not isinstance(data["description"], str):
            raise RubricError(f"{source}: 'description' must be a string, got {data['description']!r}")
        needs = data["needs_instruction"]
        if not isinstance(needs, bool):
            raise RubricError(f"{source}: 'needs_instruction' must be true or false, got {needs!r}")
        rng = data["score_range"]
        if (
            not isinstance(rng, (list, tuple))
            or len(rng) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in rng)
            or rng[0] >= rng[1]
        ):
            raise RubricError(f"{source}: 'score_range' must be two integers [min, max] with min < max, got {rng!r}")

        texts = {}
        for key, allowed in ALLOWED_PLACEHOLDERS.items():
            text = data[key]
            if not isinstance(text, str) or not text.strip():
                raise RubricError(f"{source}: '{key}' must be a non-empty string, got {text!r}")
            found = _placeholders(text, source, key)
            bad = sorted(found - allowed)
            if bad:
                raise RubricError(
                    f"{source}: '{key}' uses unknown placeholder(s) {['{' + b + '}' for b in bad]}; "
                    f"allowed: {sorted('{' + a + '}' for a in allowed) or 'none'}"
                )
            texts[key] = text
        has_instruction = "instruction" in _placeholders(texts["user_prompt"], source, "user_prompt")
        if needs and not has_instruction:
            raise RubricError(
                f"{source}: needs_instruction is true but 'user_prompt' has no {{instruction}} placeholder"
            )
        if not needs and has_instruction:
            raise RubricError(
                f"{source}: 'user_prompt' uses {{instruction}} but needs_instruction is false"
            )
        return cls(
            name=name,
            version=str(version),
            description=data["description"].strip(),
            needs_instruction=needs,
            score_min=int(rng[0]),
            score_max=int(rng[1]),
            system_prompt=texts["system_prompt"].strip(),
            user_prompt=texts["user_prompt"].strip(),
            answer_format=texts["answer_format"].strip(),
            source=source,
        )

    @property
    def text(self) -> str:
        """Canonical text of everything the model sees (plus name and version); hashed into the judge version."""
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "needs_instruction": self.needs_instruction,
                "score_range": [self.score_min, self.score_max],
                "system_prompt": self.system_prompt,
                "user_prompt": self.user_prompt,
                "answer_format": self.answer_format,
            },
            sort_keys=True,
            ensure_ascii=False,
        )

    @property
    def sha256(self) -> str:
        return sha256_hex(self.text)

    def render(self, instruction: str | None = None) -> str:
        """The user message text: the prompt with ``{instruction}`` filled in, then the answer format.

        Raises :class:`RubricError` when the rubric needs an instruction and none (or an empty one) is
        given. An instruction passed to a rubric that does not use it is ignored on purpose: the
        physics rubric is judged without the prompt.
        """
        answer = self.answer_format.format(score_min=self.score_min, score_max=self.score_max)
        return f"{self.question(instruction)}\n\n{answer}"

    def question(self, instruction: str | None = None) -> str:
        """The user prompt with ``{instruction}`` filled in, without the answer format (for request
        layouts that state the answer format their own way, e.g. Cosmos Reason2's documented one)."""
        if self.needs_instruction:
            if instruction is None or not str(instruction).strip():
                raise RubricError(f"rubric {self.name!r} needs an instruction (the generation prompt); none given")
            return self.user_prompt.format(instruction=str(instruction).strip())
        return self.user_prompt.format()


def _placeholders(text: str, source: str, key: str) -> set[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:  # unbalanced braces
        raise RubricError(f"{source}: '{key}' has malformed braces ({exc}); write literal braces as {{{{ }}}}") from exc
    out = set()
    for f in fields:
        if f == "" or not f.isidentifier():
            raise RubricError(f"{source}: '{key}' has an invalid placeholder {{{f}}}; use named placeholders")
        out.add(f)
    return out


def rubric_dirs() -> list[Path]:
    """Where rubric names are looked up, first match wins: ``$COSMOS_BENCH_RUBRICS`` (os.pathsep list),
    ``./rubrics`` (a user's own or edited copies), then the rubrics shipped inside the package."""
    dirs = [Path(p) for p in os.environ.get(RUBRICS_ENV, "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "rubrics", PACKAGED_RUBRICS]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def available_rubrics() -> dict[str, Path]:
    """Rubric name → file, over :func:`rubric_dirs` (earlier directories shadow later ones)."""
    found: dict[str, Path] = {}
    for d in rubric_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
                found.setdefault(p.stem, p)
    return found


def load_rubric(name_or_path: str | os.PathLike | Rubric) -> Rubric:
    """Load a rubric by short name (``video_physics``) or by path to a YAML file."""
    if isinstance(name_or_path, Rubric):
        return name_or_path
    raw = str(name_or_path)
    path = Path(raw)
    if not (path.suffix in (".yaml", ".yml") or os.sep in raw or "/" in raw):
        known = available_rubrics()
        if raw not in known:
            raise RubricError(
                f"unknown rubric {raw!r}; known: {sorted(known)} (searched {[str(d) for d in rubric_dirs()]}); "
                "or pass a path to a .yaml file"
            )
        path = known[raw]
    if not path.is_file():
        raise RubricError(f"rubric file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from exc
    return Rubric.from_dict(data, source=str(path))
