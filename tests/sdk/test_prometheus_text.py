"""OPSAgent's /metrics text, written with the standard library, parses as Prometheus text."""

from __future__ import annotations

import urllib.request

from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client.parser import text_string_to_metric_families

from hms_otel import metric
from hms_otel.prometheus_text import CONTENT_TYPE, PrometheusTextReader, serve


def test_text_parses_with_hms_names_labels_and_escaping() -> None:
    reader = PrometheusTextReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):
        with metric.timer("p_text_ms", channel="web"):
            pass
        metric.increment("p_text_total", 2, note='say "hi"\\n', **{"error.type": "KeyError"})
        metric.gauge("p_text_gauge", 0.5)
    server = serve(reader, 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        provider.shutdown()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    histogram = families["p_text_ms"]
    assert histogram.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name == "p_text_ms_bucket"}
    assert buckets["2000.0"] == 1 and buckets["+Inf"] == 1 and len(buckets) == 19
    counter = families["p_text"]  # the parser strips `_total` from a counter family's name
    assert counter.type == "counter"
    (sample,) = counter.samples
    assert sample.labels == {"note": 'say "hi"\\n', "error_type": "KeyError"}
    assert sample.value == 2
    assert families["p_text_gauge"].samples[0].value == 0.5
    assert "_milliseconds" not in text and "_total_total" not in text
