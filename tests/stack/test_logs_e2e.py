"""Issue 9 acceptance on the shared stack: `metric.log` and Python `logging` records, through the real collector
into VictoriaLogs, are found by `hms-ops logs search` by service, layer, level, text and time range."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from hms_otel.cli import cli
from hms_otel.stack import LocalStack
from hms_otel.stack.processes import wait_until

from ..support import log_marker

pytestmark = pytest.mark.e2e
SERVICE = "logs-e2e"


def _search(stack: LocalStack, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["logs", "--url", stack.victorialogs_url, "search", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def sent(stack: LocalStack, run_app) -> dict:
    marker = log_marker("m")
    done = run_app(stack, "logs_app", marker, service_name=SERVICE, HMS_LAYER="SVC")
    times = json.loads(done.stdout.strip().splitlines()[-1])

    def all_arrived() -> bool:
        return len(_search(stack, marker, "--since", "10m")) == 3

    assert wait_until(all_arrived, timeout=60, interval=0.5), _search(stack, marker, "--since", "10m")
    return {"marker": marker, **times}


def test_found_by_text_newest_first(stack: LocalStack, sent: dict) -> None:
    records = _search(stack, sent["marker"], "--since", "10m")
    assert [r["message"] for r in records] == [
        f"{sent['marker']} logging info",
        f"{sent['marker']} logging error",
        f"{sent['marker']} facade warning",
    ]
    assert {r["service"] for r in records} == {SERVICE}
    assert {r["layer"] for r in records} == {"SVC"}
    facade = records[-1]
    assert facade["fields"]["order_id"] == "A-1001"


def test_found_by_service_layer_and_level(stack: LocalStack, sent: dict) -> None:
    marker = sent["marker"]
    assert [r["level"] for r in _search(stack, "--service", SERVICE, "--since", "10m")] == ["info", "error", "warn"]
    assert len(_search(stack, marker, "--layer", "SVC", "--since", "10m")) == 3
    assert _search(stack, marker, "--layer", "ACH", "--since", "10m") == []
    errors = _search(stack, marker, "--service", SERVICE, "--level", "error", "--since", "10m")
    assert [r["message"] for r in errors] == [f"{marker} logging error"]
    warnings = _search(stack, marker, "--level", "warning", "--since", "10m")
    assert [r["message"] for r in warnings] == [f"{marker} facade warning"]
    assert _search(stack, marker, "--service", "someone-else", "--since", "10m") == []


def test_found_by_time_range(stack: LocalStack, sent: dict) -> None:
    def iso(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat()

    window = _search(
        stack, sent["marker"], "--from", iso(sent["error"] - 200_000_000), "--to", iso(sent["info"] - 200_000_000)
    )
    assert [r["message"] for r in window] == [f"{sent['marker']} logging error"]
