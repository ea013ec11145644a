"""What every metric returns.

A :class:`MetricResult` is one number with its provenance: the metric's ``version`` string holds
every setting that changes the number, ``status`` says whether the number exists, and ``details``
keep the per-pair values the number was aggregated from. The results store persists it through
:meth:`MetricResult.to_dict` / :meth:`MetricResult.from_dict`, which are JSON-safe (NaN and
infinities become ``None``; numpy scalars and arrays become Python numbers and lists).

A NaN is never averaged in silently: a result whose ``value`` is NaN has status ``degenerate``
(the input holds nothing to measure, e.g. blank frames) or ``error`` (the computation failed),
and says why in ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from ..serialize import json_safe

Direction = Literal["lower", "higher"]
# "static": a video whose content does not move, so there is no geometry to check (a result, never a
# best score: it is not averaged, like "degenerate" and "error").
Status = Literal["ok", "degenerate", "static", "error"]

STATUSES: tuple[str, ...] = ("ok", "degenerate", "static", "error")
DIRECTIONS: tuple[str, ...] = ("lower", "higher")


@dataclass
class MetricResult:
    """One metric's value for one sample.

    Attributes:
        name: metric name, e.g. ``"tse"``.
        version: every setting that changes the number, e.g. ``"tse/1;backend=opencv;ratio=0.8;..."``.
        direction: ``"lower"`` or ``"higher"`` is better.
        value: the headline number, NaN when ``status`` is not ``"ok"``.
        status: ``"ok"`` | ``"degenerate"`` | ``"static"`` | ``"error"``.
        reason: why the status is not ``"ok"`` (None when it is); may also carry a note for ``"ok"``.
        details: JSON-safe per-pair / per-view values, counts and secondary numbers.
    """

    name: str
    version: str
    direction: Direction
    value: float
    status: Status = "ok"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        self.value = float("nan") if self.value is None else float(self.value)
        if self.status == "ok" and not math.isfinite(self.value):
            raise ValueError(f"an 'ok' result needs a finite value, got {self.value} ({self.name})")
        if self.status != "ok" and not self.reason:
            raise ValueError(f"a {self.status!r} result needs a reason ({self.name})")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN → None) that :meth:`from_dict` turns back into an equal result."""
        return {
            "name": self.name,
            "version": self.version,
            "direction": self.direction,
            "value": json_safe(self.value),
            "status": self.status,
            "reason": self.reason,
            "details": json_safe(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MetricResult":
        value = data.get("value")
        return cls(
            name=data["name"],
            version=data["version"],
            direction=data["direction"],
            value=float("nan") if value is None else float(value),
            status=data.get("status", "ok"),
            reason=data.get("reason"),
            details=dict(data.get("details") or {}),
        )

    @classmethod
    def failed(cls, name: str, version: str, direction: Direction, status: Status, reason: str,
               details: dict[str, Any] | None = None) -> "MetricResult":
        """A result without a value (``status`` ``"degenerate"``, ``"static"`` or ``"error"``)."""
        if status == "ok":
            raise ValueError("failed() is for 'degenerate' or 'error' results")
        return cls(name, version, direction, float("nan"), status, reason, details or {})
