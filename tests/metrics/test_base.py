"""MetricResult: JSON-safe round trip, NaN never silently a number, and the Metric protocol."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cosmos_bench.metrics import CrossViewSampson, Metric, MetricResult, TemporalSampson, json_safe


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


def test_sampson_metrics_follow_the_protocol():
    for m in (TemporalSampson(stride=2), CrossViewSampson(mode="per_frame", backend="kornia")):
        assert isinstance(m, Metric)
        assert m.direction == "lower"
        assert m.version.startswith(m.name + "/")
    assert "stride=2" in TemporalSampson(stride=2).version
    assert TemporalSampson(keep=0.9).version != TemporalSampson().version


def test_compute_turns_bad_input_into_an_error_row():
    r = TemporalSampson().compute(np.zeros((4, 8, 8), np.uint8))  # no channel axis
    assert r.status == "error" and "(T, H, W, 3)" in r.reason and math.isnan(r.value)
    json.dumps(r.to_dict(), allow_nan=False)
