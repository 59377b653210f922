"""The facades' fast path sends what the plain SDK sends for the same calls.

tests/apps/differential_app.py runs under ``opentelemetry-instrument`` (the
HMS distro, so the fast path is on) and makes every call twice: on an SDK
instrument ``sdk_X`` and through a facade as ``fp_X``. The exported OTLP
(received by the test-side receiver) is compared field by field: names,
units, descriptions, temporality, monotonicity, bucket boundaries, counts,
sums, min/max, values, attribute sets, start and end times, resource and scope.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from .conftest import app_env, run_instrumented
from .otlp_receiver import OtlpReceiver

# Times differ by when each call ran; the rest must be equal.
_TIMES = ("startTimeUnixNano", "timeUnixNano")
_TIME_SLACK_NS = 5_000_000_000  # a loaded CI machine


def _last_export_per_instance(receiver: OtlpReceiver) -> dict[str, dict[str, Any]]:
    """service.instance.id -> {"resource": ..., "metrics": {name: (scope, metric)}} from
    the last request that instance sent (cumulative: the last one holds everything)."""
    out: dict[str, dict[str, Any]] = {}
    for request in receiver.metric_requests:
        for resource_metrics in request.resource_metrics:
            resource = MessageToDict(resource_metrics.resource)
            instance = next(
                a["value"]["stringValue"] for a in resource["attributes"] if a["key"] == "service.instance.id"
            )
            found: dict[str, Any] = {}
            for scope_metrics in resource_metrics.scope_metrics:
                scope = MessageToDict(scope_metrics.scope), scope_metrics.schema_url
                for item in scope_metrics.metrics:
                    found[item.name] = (scope, MessageToDict(item))
            out[instance] = {"resource": resource, "metrics": found}
    return out


def _points(metric: dict[str, Any]) -> tuple[str, dict[str, Any], dict[tuple, dict[str, Any]]]:
    kind = next(k for k in ("sum", "gauge", "histogram") if k in metric)
    data = dict(metric[kind])
    points = {
        tuple(sorted((a["key"], repr(a["value"])) for a in p.get("attributes", []))): p for p in data.pop("dataPoints")
    }
    return kind, data, points


def _compare(sdk_metric: dict[str, Any], fp_metric: dict[str, Any], *, values: bool = True) -> None:
    name = sdk_metric["name"].removeprefix("sdk_")
    assert fp_metric["name"] == f"fp_{name}"
    for field in ("unit", "description"):
        assert fp_metric.get(field) == sdk_metric.get(field), (name, field)
    sdk_kind, sdk_data, sdk_points = _points(sdk_metric)
    fp_kind, fp_data, fp_points = _points(fp_metric)
    assert (fp_kind, fp_data) == (sdk_kind, sdk_data), name  # temporality, monotonicity
    assert sorted(fp_points) == sorted(sdk_points), f"{name}: attribute sets differ"
    for key, sdk_point in sdk_points.items():
        fp_point = fp_points[key]
        for time_field in _TIMES:
            assert (time_field in fp_point) == (time_field in sdk_point), (name, key, time_field)
            if time_field in sdk_point:
                delta = abs(int(fp_point[time_field]) - int(sdk_point[time_field]))
                assert delta < _TIME_SLACK_NS, (name, key, time_field, delta)
        if sdk_point.get("startTimeUnixNano"):
            assert int(fp_point["startTimeUnixNano"]) <= int(fp_point["timeUnixNano"])
        # attributes were compared as a set (the point's key); their order is the first call's
        rest_sdk = {k: v for k, v in sdk_point.items() if k not in (*_TIMES, "attributes")}
        rest_fp = {k: v for k, v in fp_point.items() if k not in (*_TIMES, "attributes")}
        if not values:
            rest_sdk = {k: v for k, v in rest_sdk.items() if k in ("count", "explicitBounds")}
            rest_fp = {k: v for k, v in rest_fp.items() if k in ("count", "explicitBounds")}
        assert rest_fp == rest_sdk, (name, key)


def _compare_instance(export: dict[str, Any], bases: list[str], timer: bool = False) -> None:
    found = export["metrics"]
    for base in bases:
        assert f"sdk_{base}" in found, f"sdk_{base} not exported: {sorted(found)}"
        assert f"fp_{base}" in found, f"fp_{base} not exported: {sorted(found)}"
        (sdk_scope, sdk_metric), (fp_scope, fp_metric) = found[f"sdk_{base}"], found[f"fp_{base}"]
        assert fp_scope == sdk_scope, base
        _compare(sdk_metric, fp_metric, values=not (timer and base in ("timer_ms", "hook_ms")))


_BASES = ["latency_ms", "size_bytes", "ratio", "jobs_total", "depth"]


def _run(receiver: OtlpReceiver, *args: str, **env: str) -> dict[str, dict[str, Any]]:
    result = run_instrumented("differential_app", app_env(receiver.endpoint, **env), *args, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return _last_export_per_instance(receiver)


def test_single_thread_same_data_as_the_sdk(otlp_receiver: OtlpReceiver) -> None:
    exports = _run(otlp_receiver, "single", HMS_OTEL_MAX_METRIC_NAMES="3")
    assert len(exports) == 1
    export = next(iter(exports.values()))
    capped = [f"capped{index}_total" for index in range(3)]
    _compare_instance(
        export,
        [*_BASES, "cardinality_total", "timer_ms", "hook_ms", "hook_total", "hook_active", *capped],
        timer=True,
    )
    # long attribute values: cut where recorded (same cut values as the plain path, compared above)
    _, _, points = _points(export["metrics"]["fp_latency_ms"][1])
    notes = [dict(key)["note"] for key in points if "note" in dict(key)]
    assert len(notes) == 2 and all(len(note) < 5000 for note in notes), [len(note) for note in notes]
    _, _, points = _points(export["metrics"]["fp_jobs_total"][1])
    notes = [dict(key)["note"] for key in points if "note" in dict(key)]
    assert len(notes) == 3 and all(len(note) < 7000 for note in notes), [len(note) for note in notes]
    assert (("queue", repr({"stringValue": "shard"})), ("shard", repr({"stringValue": str(2**64)}))) in points
    # names past the cap: refused on the fast path too, and counted
    assert "fp_capped3_total" not in export["metrics"] and "fp_capped4_total" not in export["metrics"]
    _, _, dropped = _points(export["metrics"]["hms_otel_dropped_total"][1])
    by_reason = {
        (dict(key)["signal"], dict(key)["reason"]): point["asInt"] for key, point in dropped.items()
    }
    assert by_reason[(repr({"stringValue": "metric_names"}), repr({"stringValue": "name_limit"}))] == "4"
    hook_scope, _ = export["metrics"]["fp_hook_total"]
    assert hook_scope[0] == {"name": "differential_hooks", "version": "1.2.3"}  # the hooks' own scope
    _, _, points = _points(export["metrics"]["fp_cardinality_total"][1])
    assert len(points) == 2001  # 2000 attribute sets and the overflow set
    overflow = [p for p in points.values() if p["attributes"][0]["key"] == "otel.metric.overflow"]
    assert overflow and overflow[0]["asInt"] == "5"


@pytest.mark.parametrize("threads", [2, 8])
def test_threads_same_data_as_the_sdk(otlp_receiver: OtlpReceiver, threads: int) -> None:
    exports = _run(otlp_receiver, "threads", str(threads))
    export = next(iter(exports.values()))
    _compare_instance(export, _BASES)
    _, _, points = _points(export["metrics"]["fp_jobs_total"][1])
    shared = points[(("queue", repr({"stringValue": "a"})), ("tier", repr({"stringValue": "x"})))]
    assert shared["asInt"] == str(threads * 200 * 2)  # no update lost under threads


def test_fork_same_data_as_the_sdk(otlp_receiver: OtlpReceiver) -> None:
    exports = _run(otlp_receiver, "fork")
    assert len(exports) == 2, "parent and child report as two instances"
    for export in exports.values():
        _compare_instance(export, _BASES)
    child = next(e for e in exports.values() if "fp_depth" in e["metrics"] and _has_queue(e, "child"))
    assert not _has_queue(child, "parent"), "the child re-sent the parent's series"


def _has_queue(export: dict[str, Any], queue: str) -> bool:
    _, _, points = _points(export["metrics"]["fp_depth"][1])
    return any(repr({"stringValue": queue}) in dict(key).get("queue", "") for key in points)


def test_metric_use_block_in_between(otlp_receiver: OtlpReceiver) -> None:
    """Inside ``metric.use(...)`` the facades record to that provider (checked in
    the app); before and after it the fast path exports what the SDK does."""
    exports = _run(otlp_receiver, "use")
    export = next(iter(exports.values()))
    _compare_instance(export, _BASES)
