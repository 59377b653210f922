"""Every shipped collector config validates with the real hms-otelcol; gateway.yaml rejects clients without
the bearer token; the manifest and the Helm values hold what issue 3 asks for."""

from __future__ import annotations

import re
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

from hms_otel.stack import ConfigInvalid, collector_config_path, validate_collector_config
from hms_otel.stack.builds import default_manifest
from hms_otel.stack.processes import free_port
from hms_otel.stack.services import Collector

CONFIG_DIR = collector_config_path("local").parent
TOKEN = "s3cret-test-token"


def _required_env(config: Path) -> set[str]:
    """Variables a config uses without a default."""
    return set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", config.read_text()))


def _fake_env(config: Path, tmp_path: Path) -> dict[str, str]:
    values = {"HMS_TLS_CERT_FILE": str(tmp_path / "cert.pem"), "HMS_TLS_KEY_FILE": str(tmp_path / "key.pem")}
    return {
        name: values.get(name, "https://backend.example:443/x" if name.endswith("URL") else "value")
        for name in _required_env(config)
    }


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["local", "gateway", "agent"])
def test_shipped_config_validates(name: str, tmp_path: Path) -> None:
    config = collector_config_path(name)
    validate_collector_config(config, _fake_env(config, tmp_path))


@pytest.mark.e2e
def test_gateway_without_its_environment_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as error:
        validate_collector_config(collector_config_path("gateway"), {})
    assert "no bearer token provided" in str(error.value)
    assert "certificate and key" in str(error.value)


def test_manifest_has_the_components_issue_3_asks_for() -> None:
    manifest = yaml.safe_load(default_manifest().read_text())
    modules = " ".join(
        entry["gomod"]
        for section in ("receivers", "processors", "exporters", "extensions")
        for entry in manifest[section]
    )
    for component in (
        "otlpreceiver",
        "memorylimiterprocessor",
        "batchprocessor",
        "resourceprocessor",
        "transformprocessor",
        "redactionprocessor",
        "prometheusremotewriteexporter",
        "prometheusexporter",
        "otlphttpexporter",
        "debugexporter",
        "healthcheckextension",
        "filestorage",
        "bearertokenauthextension",
    ):
        assert f"/{component} " in modules, component
    versions = set(
        re.findall(
            r" (v0\.\d+\.\d+)$",
            "\n".join(
                entry["gomod"]
                for section in ("receivers", "processors", "exporters", "extensions")
                for entry in manifest[section]
            ),
            re.M,
        )
    )
    assert len(versions) == 1, f"core and contrib must share one release, got {versions}"


def test_helm_values_run_the_agent_config_with_its_required_environment() -> None:
    values = yaml.safe_load((CONFIG_DIR / "values.yaml").read_text())
    assert values["mode"] == "daemonset"
    assert values["command"]["name"] == "hms-otelcol"
    assert values["configMap"] == {"create": False, "existingName": "hms-otelcol-agent"}
    provided = {env["name"] for env in values["extraEnvs"]}
    assert _required_env(CONFIG_DIR / "agent.yaml") <= provided


def test_no_secret_in_gateway_config() -> None:
    text = collector_config_path("gateway").read_text()
    for line in text.splitlines():
        if re.search(r"\b(token|password|key_file|cert_file)\s*:", line):
            assert "${env:" in line, f"literal secret-like value in gateway.yaml: {line.strip()}"


# -- bearer token on the gateway's receivers, with the real collector ----------------------------------------


@pytest.fixture
def gateway(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    rw_port = free_port()  # nothing listens: these tests send no data points, so nothing is exported
    collector = Collector(
        tmp_path / "gateway",
        config=collector_config_path("gateway"),
        otlp_grpc_port=free_port(),
        otlp_http_port=free_port(),
        health_port=free_port(),
        telemetry_port=free_port(),
        remote_write_url=f"http://127.0.0.1:{rw_port}/api/v1/write",
        logs_otlp_url=f"http://127.0.0.1:{rw_port}/insert/opentelemetry",
        env={
            "HMS_GATEWAY_TOKEN": TOKEN,
            "HMS_BACKEND_TOKEN": "backend",
            "HMS_TLS_CERT_FILE": str(cert),
            "HMS_TLS_KEY_FILE": str(key),
            "HMS_REMOTE_WRITE_URL": f"http://127.0.0.1:{rw_port}/api/v1/write",
        },
    )
    collector.start()
    try:
        yield collector, cert
    finally:
        collector.stop()


def _post_metrics(collector: Collector, cert: Path, token: str | None) -> int:
    headers = {"Content-Type": "application/x-protobuf"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = metrics_service_pb2.ExportMetricsServiceRequest().SerializeToString()
    request = urllib.request.Request(
        f"https://127.0.0.1:{collector.otlp_http_port}/v1/metrics", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=str(cert)), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


def _grpc_export(collector: Collector, cert: Path, token: str | None) -> grpc.StatusCode:
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{collector.otlp_grpc_port}", credentials) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            stub.Export(metrics_service_pb2.ExportMetricsServiceRequest(), metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK


@pytest.mark.e2e
def test_gateway_rejects_otlp_http_without_bearer_token(gateway) -> None:
    collector, cert = gateway
    assert _post_metrics(collector, cert, token=None) == 401
    assert _post_metrics(collector, cert, token="wrong") == 401
    assert _post_metrics(collector, cert, token=TOKEN) == 200


@pytest.mark.e2e
def test_gateway_rejects_otlp_grpc_without_bearer_token(gateway) -> None:
    collector, cert = gateway
    assert _grpc_export(collector, cert, token=None) == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_export(collector, cert, token=TOKEN) == grpc.StatusCode.OK


def _documented_log_store_urls() -> list[str]:
    """The `HMS_LOGS_OTLP_URL` examples of collector-config/README.md's log store table, hosts filled in."""
    readme = (CONFIG_DIR / "README.md").read_text()
    urls = re.findall(r"^\| [^|]+ \| `(https?://HOST:\d+/[^`]*)` \|$", readme, re.M)
    return [url.replace("HOST", "logs.hms.internal") for url in urls] + ["https://otlp.vendor.example/logs"]


@pytest.mark.e2e
@pytest.mark.parametrize("logs_url", _documented_log_store_urls())
def test_gateway_sends_logs_to_any_otlp_log_store_by_one_variable(logs_url: str, tmp_path: Path) -> None:
    config = collector_config_path("gateway")
    assert len(_documented_log_store_urls()) == 3  # the local store, the production one, a vendor
    validate_collector_config(config, {**_fake_env(config, tmp_path), "HMS_LOGS_OTLP_URL": logs_url})
    gateway = yaml.safe_load(config.read_text())
    log_exporters = gateway["service"]["pipelines"]["logs"]["exporters"]
    assert log_exporters == ["otlp_http/logs"]
    assert gateway["exporters"]["otlp_http/logs"]["endpoint"] == "${env:HMS_LOGS_OTLP_URL}"


def test_log_stream_fields_are_the_low_cardinality_three() -> None:
    local = yaml.safe_load(collector_config_path("local").read_text())
    assert local["exporters"]["otlp_http/logs"]["headers"] == {"VL-Stream-Fields": "service.name,hms.layer,level"}
    gateway = yaml.safe_load(collector_config_path("gateway").read_text())
    header = gateway["exporters"]["otlp_http/logs"]["headers"]["VL-Stream-Fields"]
    assert header == "${env:HMS_LOG_STREAM_FIELDS:-service.name,hms.layer,level}"


@pytest.mark.parametrize("name", ["local", "gateway"])
def test_pii_is_masked_in_both_pipelines(name: str) -> None:
    config = yaml.safe_load(collector_config_path(name).read_text())
    pipelines = config["service"]["pipelines"]
    assert "transform/pii" in pipelines["logs"]["processors"]
    assert "transform/pii_metrics" in pipelines["metrics"]["processors"]


# -- CORS: the documented browser snippet's preflight, against the gateway ---------------------------------


def _snippet_request_headers() -> list[str]:
    """The headers the fetch() of docs/browser.md sets (each needs the collector's CORS consent)."""
    doc = (Path(__file__).parents[2] / "docs" / "browser.md").read_text()  # the repository's docs
    snippet = re.findall(r"```js\n(.*?)```", doc, flags=re.S)[0]
    headers = re.search(r"headers:\s*\{(.*?)\}", snippet, flags=re.S)
    assert headers, "the snippet's fetch() sets no headers: update this test"
    return [name.lower() for name in re.findall(r'"([A-Za-z-]+)"\s*:', headers.group(1))]


def _preflight(url: str, origin: str, cert: Path | None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(_snippet_request_headers()),
        },
    )
    context = ssl.create_default_context(cafile=str(cert)) if cert else None
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


@pytest.mark.e2e
def test_gateway_cors_allows_the_headers_of_the_documented_browser_snippet(gateway) -> None:
    collector, cert = gateway
    url = f"https://127.0.0.1:{collector.otlp_http_port}/v1/metrics"
    assert "content-type" in _snippet_request_headers()
    status, headers = _preflight(url, "https://portal.hms.gov", cert)
    assert status == 204, (status, headers)
    assert headers.get("access-control-allow-origin") == "https://portal.hms.gov"
    allowed = {h.strip().lower() for h in headers.get("access-control-allow-headers", "").split(",")}
    assert set(_snippet_request_headers()) <= allowed, headers
    _, headers = _preflight(url, "https://evil.example", cert)
    assert "access-control-allow-origin" not in headers


@pytest.mark.e2e
def test_local_cors_allows_the_headers_of_the_documented_browser_snippet(isolated_stack) -> None:
    status, headers = _preflight(f"{isolated_stack.otlp_http_endpoint}/v1/metrics", "http://localhost:8080", None)
    assert status == 204, (status, headers)
    allowed = {h.strip().lower() for h in headers.get("access-control-allow-headers", "").split(",")}
    assert set(_snippet_request_headers()) <= allowed, headers
