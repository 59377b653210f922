"""Issue 9: PII never reaches storage. Probes go through every path (log body, log attribute, resource
attribute, metric data point attribute; as text and as bytes) from two clients: the HMS SDK (masks before
export, the collector again) and a bare OTLP/HTTP client like a browser (only the collector masks). Both
stores are read back: no probe (nor its digits alone, nor its base64) in VictoriaLogs or Prometheus, and
the ordinary ids and numbers arrive unchanged."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import urllib.request

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from hms_otel.logstore import LogStore
from hms_otel.stack import LocalStack
from hms_otel.stack.processes import wait_until

from ..logs.test_pii import ORDINARY, PROBES
from ..support import log_marker

pytestmark = pytest.mark.e2e
ALL_PROBES = [p for values in PROBES.values() for p in values]
#: Ordinary values a non-SDK client can send: the collector cannot run Luhn, so no card-shaped ids.
RAW_ORDINARY = [o for o in ORDINARY if "1234 5678" not in o]


def _forms(probe: str) -> list[re.Pattern[str]]:
    """How a probe could show up in storage: as is, its digits alone (a whole number), base64 of its UTF-8."""
    forms = [re.escape(probe), re.escape(base64.b64encode(probe.encode()).decode())]
    digits = "".join(ch for ch in probe if ch.isdigit())
    if len(digits) >= 9:
        forms.append(rf"(?<!\d){digits}(?!\d)")
    return [re.compile(form) for form in forms]


def _assert_clean(where: str, stored: str) -> None:
    for probe in [*ALL_PROBES, "321-54-9876"]:  # the last one only ever sent as bytes
        for form in _forms(probe):
            found = form.search(stored)
            context = stored[max(0, found.start() - 80) : found.end() + 80] if found else ""
            assert not found, f"PII {probe!r} reached {where}: ...{context}..."


def _any(value: object) -> common_pb2.AnyValue:
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    return common_pb2.AnyValue(string_value=str(value))


def _kv(values: dict[str, object]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=_any(v)) for k, v in values.items()]


def _post(stack: LocalStack, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        stack.otlp_http_endpoint + path, data=body, headers={"Content-Type": "application/x-protobuf"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _send_raw(stack: LocalStack, service: str, marker: str) -> int:
    """A bare OTLP client: every probe in a body, a string attribute, a bytes attribute, a resource attribute
    and a metric attribute; returns the number of log records sent."""
    resource = resource_pb2.Resource(
        attributes=_kv(
            {
                "service.name": service,
                **{f"owner.{i}": p for i, p in enumerate(ALL_PROBES)},
                "owner.raw": b"ssn 321-54-9876",
                "order.ref": "ORD-2026-000123",
            }
        )
    )
    now = time.time_ns()
    records = []
    for kind, values in (("probes", ALL_PROBES), ("ordinary", RAW_ORDINARY)):
        for i, value in enumerate(values):
            records.append(
                logs_pb2.LogRecord(
                    time_unix_nano=now,
                    severity_number=13,
                    body=_any(f"{marker} {kind} {i} raw body: {value} end"),
                    attributes=_kv({"detail": value, "raw": value.encode(), "kind": kind}),
                )
            )
    records.append(logs_pb2.LogRecord(time_unix_nano=now, body=_any(f"{marker} bytes body 123-45-6789".encode())))
    logs = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(resource=resource, scope_logs=[logs_pb2.ScopeLogs(log_records=records)])]
    )
    _post(stack, "/v1/logs", logs.SerializeToString())
    points = [
        metrics_pb2.NumberDataPoint(
            attributes=_kv({"probe": value, "kind": kind, "index": str(i)}), time_unix_nano=now, as_int=1
        )
        for kind, values in (("probes", ALL_PROBES), ("ordinary", RAW_ORDINARY))
        for i, value in enumerate(values)
    ]
    points.append(
        metrics_pb2.NumberDataPoint(
            attributes=_kv({"probe": b"mail jane.doe@example.gov", "kind": "bytes"}),
            time_unix_nano=now,
            as_int=1,
        )
    )
    metric = metrics_pb2.Metric(
        name="pii_raw_probe_total",
        sum=metrics_pb2.Sum(data_points=points, is_monotonic=True, aggregation_temporality=2),
    )
    metrics = metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(resource=resource, scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])])
        ]
    )
    _post(stack, "/v1/metrics", metrics.SerializeToString())
    return len(records)


def _stored_logs(stack: LocalStack, service: str, expected: int) -> list[dict]:
    store = LogStore(stack.victorialogs_url)
    rows: list[list[dict]] = [[]]

    def arrived() -> bool:
        rows[0] = store.query(f'{{"service.name"="{service}"}}')
        return len(rows[0]) >= expected

    assert wait_until(arrived, timeout=60, interval=0.5), f"{len(rows[0])} of {expected} records arrived"
    return rows[0]


def _stored_series(stack: LocalStack, job: str, metric: str, expected: int) -> list[dict]:
    series: list[list[dict]] = [[]]

    def arrived() -> bool:
        series[0] = stack.query(f'{metric}{{job="{job}"}}')
        return len(series[0]) >= expected

    assert wait_until(arrived, timeout=60, interval=0.5), f"{len(series[0])} of {expected} series: {series[0]}"
    return series[0] + stack.query(f'target_info{{job="{job}"}}')


@pytest.fixture(scope="module")
def sdk_run(stack: LocalStack, run_app) -> dict:
    marker, service = log_marker("pii"), "pii-sdk"
    resource = ",".join(f"owner.{i}={urllib.parse.quote(p, safe='')}" for i, p in enumerate(ALL_PROBES))
    spec = {"probes": ALL_PROBES, "ordinary": ORDINARY, "marker": marker}
    run_app(stack, "pii_app", json.dumps(spec), service_name=service, OTEL_RESOURCE_ATTRIBUTES=resource)
    total = 2 * (len(ALL_PROBES) + len(ORDINARY))
    return {
        "logs": _stored_logs(stack, service, total),
        "series": _stored_series(stack, service, "pii_probe_total", len(ALL_PROBES) + len(ORDINARY)),
    }


@pytest.fixture(scope="module")
def raw_run(stack: LocalStack) -> dict:
    marker, service = log_marker("pii"), "pii-raw"
    sent = _send_raw(stack, service, marker)
    return {
        "logs": _stored_logs(stack, service, sent),
        "series": _stored_series(stack, service, "pii_raw_probe_total", len(ALL_PROBES) + len(RAW_ORDINARY) + 1),
    }


def test_at_least_20_probes_of_every_kind() -> None:
    assert len(ALL_PROBES) >= 20 and set(PROBES) == {"ssn", "card", "email", "phone"}


@pytest.mark.parametrize("client", ["sdk_run", "raw_run"])
def test_no_probe_in_the_log_store(client: str, request: pytest.FixtureRequest) -> None:
    rows = request.getfixturevalue(client)["logs"]
    _assert_clean("VictoriaLogs", json.dumps(rows, ensure_ascii=False))
    text = json.dumps(rows, ensure_ascii=False)
    assert text.count("****") >= len(ALL_PROBES) * 2
    assert not any(key.startswith("hms.redacted") for row in rows for key in row)


@pytest.mark.parametrize("client", ["sdk_run", "raw_run"])
def test_no_probe_in_prometheus(client: str, request: pytest.FixtureRequest) -> None:
    series = request.getfixturevalue(client)["series"]
    labels = json.dumps([s["metric"] for s in series], ensure_ascii=False)
    _assert_clean("Prometheus", labels)
    assert "target_info" in labels and "hms_redacted" not in labels
    masked = [s["metric"]["probe"] for s in series if s["metric"].get("kind") == "probes"]
    assert len(masked) == len(set(masked)) == len(ALL_PROBES), "masked values must stay distinct series"
    assert all(re.fullmatch(r".*\*\*\*\*[0-9a-f]{6}.*", value) for value in masked), masked


@pytest.mark.parametrize(("client", "ordinary"), [("sdk_run", ORDINARY), ("raw_run", RAW_ORDINARY)])
def test_ordinary_values_arrive_unchanged(client: str, ordinary: list[str], request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue(client)
    details = {row.get("detail") for row in run["logs"]} | {row.get("contact") for row in run["logs"]}
    assert set(ordinary) <= details, set(ordinary) - details
    values = {s["metric"].get("probe") for s in run["series"]}
    assert set(ordinary) <= values, set(ordinary) - values
