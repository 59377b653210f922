"""The browser snippet of docs/browser.md, run under Node, into the real collector and Prometheus; and CORS."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hms_otel.stack import LocalStack

pytestmark = pytest.mark.e2e

DOC = Path(__file__).parents[2] / "docs" / "browser.md"
JOB = "citizen-portal-e2e"
DRIVER = """
const { ENDPOINT, SERVICE } = process.env;
const hms = hmsBrowserMetrics({ endpoint: ENDPOINT, serviceName: SERVICE, intervalMs: 3600000 });
for (const ms of [120, 840, 2600]) hms.recordPageLoad("/renew", ms);
hms.recordSatisfaction("/renew", 0.75);
hms.flush().then(() => process.exit(0));
"""


def _snippet() -> str:
    blocks = re.findall(r"```js\n(.*?)```", DOC.read_text(), flags=re.S)
    return blocks[0]


def _preflight(url: str, origin: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Access-Control-Allow-Origin")


def test_cors_preflight_allows_only_configured_origins(stack: LocalStack) -> None:
    url = f"{stack.otlp_http_endpoint}/v1/metrics"
    status, allowed = _preflight(url, "http://localhost:8080")
    assert (status, allowed) == (204, "http://localhost:8080")
    _, allowed = _preflight(url, "https://evil.example")
    assert allowed is None


def test_snippet_metrics_reach_prometheus(stack: LocalStack, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed to run the documented browser snippet (apt-get install nodejs)"
    script = tmp_path / "browser.mjs"
    script.write_text(_snippet() + DRIVER)
    env = {"ENDPOINT": f"{stack.otlp_http_endpoint}/v1/metrics", "SERVICE": JOB, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr

    selector = f'job="{JOB}",page="/renew"'
    assert stack.wait_for(f"sum(page_load_ms_count{{{selector}}})", lambda v: v == 3, timeout=60) == 3
    assert stack.query_value(f"sum(page_load_ms_sum{{{selector}}})") == 120 + 840 + 2600
    assert stack.query_value(f'sum(page_load_ms_bucket{{{selector},le="1000"}})') == 2
    assert stack.query_value(f'sum(page_load_ms_bucket{{{selector},le="2500"}})') == 2
    assert stack.query_value(f'sum(page_load_ms_bucket{{{selector},le="5000"}})') == 3
    assert stack.wait_for(f"citizen_satisfaction_score{{{selector}}}", lambda v: v == 0.75, timeout=30) == 0.75
