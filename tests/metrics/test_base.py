"""MetricResult: JSON-safe round trip, NaN never silently a number; the versions the geometry stage stores under."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cosmos_bench.metrics import MetricResult, SampsonOptions, json_safe, sampson_metrics
from cosmos_bench.metrics.geometry import cse_version, tse_version


def test_round_trip_is_json_safe_and_restores_nan():
    r = MetricResult.failed("tse", "tse/1;x", "lower", "degenerate", "all 3 pairs degenerate",
                            {"pairs": [{"median": float("nan"), "n": np.int64(3)}], "arr": np.arange(2.0)})
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises if a NaN survived
    back = MetricResult.from_dict(json.loads(text))
    assert d["value"] is None and d["details"]["pairs"][0]["median"] is None
    assert math.isnan(back.value) and back.status == "degenerate" and back.reason == r.reason
    assert back.details["arr"] == [0.0, 1.0]


def test_ok_needs_a_finite_value_and_failures_need_a_reason():
    with pytest.raises(ValueError, match="finite"):
        MetricResult("tse", "v", "lower", float("nan"), "ok")
    with pytest.raises(ValueError, match="reason"):
        MetricResult("tse", "v", "lower", float("nan"), "degenerate")
    with pytest.raises(ValueError, match="status"):
        MetricResult("tse", "v", "lower", 1.0, "fine")
    ok = MetricResult("tse", "v", "lower", 0.25, details={"x": 1})
    assert MetricResult.from_dict(ok.to_dict()) == ok


def test_json_safe_rejects_unknown_objects():
    with pytest.raises(TypeError, match="not JSON"):
        json_safe({"a": object()})


def test_versions_name_the_metric_and_change_with_the_settings():
    """What GeometryStage.versions stores rows under (tse_version / cse_version of SampsonOptions)."""
    tse, cse = tse_version(SampsonOptions(), 2), cse_version(SampsonOptions(backend="kornia"), "per_frame")
    assert tse.startswith("tse/") and cse.startswith("cse/")
    assert "stride=2" in tse and "mode=per_frame" in cse and "backend=kornia" in cse
    assert tse_version(SampsonOptions(keep=0.9), 2) != tse


def test_bad_input_raises_a_value_error_naming_the_shape():
    """sampson_metrics (which the geometry stage turns into an error row, never a crash) refuses a
    video without a channel axis, saying which shape it needs."""
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        sampson_metrics(np.zeros((4, 8, 8), np.uint8), mode=None)
