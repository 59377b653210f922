"""The dashboard page in headless Chromium against a Prometheus that misbehaves (tests/dashboards/fake_prometheus.py):
errors, slow answers that arrive after newer ones, +Inf and NaN, hundreds of series, hostile label values,
alerts of no known layer. Screenshots go to test-output/dashboards/faults/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hms_otel.dashboards.build import load
from hms_otel.dashboards.site import write_site

from .browser import Browser
from .fake_prometheus import Answer, FakePrometheus, fake_prometheus, matrix, quiet, success, vector

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboards" / "faults"
HOSTILE = '<img src=x onerror="window.hacked=1">'
READY = "window.hmsDashboard && hmsDashboard.ready && hmsDashboard"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[FakePrometheus]:
    site = tmp_path / "site"
    site.mkdir()
    write_site(site, load(None))
    with fake_prometheus(site) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Browser]:
    with Browser() as opened:
        yield opened


def _alert(name: str, severity: str, state: str = "firing", **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **labels}, "annotations": {}, "state": state,
            "activeAt": "2026-01-01T00:00:00Z"}


def _alerts(*alerts: dict) -> object:
    def answer(path: str, params: dict[str, str]) -> Answer:
        return success({"alerts": list(alerts)}) if path == "/api/v1/alerts" else quiet(path, params)
    return answer


def _open(browser: Browser, server: FakePrometheus, name: str, page: str = "overview") -> dict:
    browser.goto(f"{server.page_url}?range=1h#/{page}")
    status: dict = browser.wait_for(READY, timeout=60)
    browser.screenshot(OUTPUT / f"{name}.png")
    return status


def test_prometheus_answering_the_alerts_with_an_error_says_the_layers_are_unknown(
        prometheus: FakePrometheus, browser: Browser) -> None:
    # A 503 (Prometheus starting, a query timeout): the page stayed at "loading…" with no word of why.
    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/alerts":
            return 503, {"status": "error", "errorType": "timeout", "error": "query timed out"}, 0.0
        return quiet(path, params)

    prometheus.answer = answer
    status = _open(browser, prometheus, "alerts-503")
    assert set(status["layers"].values()) == {"unknown"}, status["layers"]
    banner = browser.evaluate("document.querySelector('#offline').hidden ? '' : "
                              "document.querySelector('#offline').innerText")
    assert "answered with an error" in banner and "query timed out" in banner, banner
    tiles = browser.evaluate("[...document.querySelectorAll('.tile')].map(t => t.innerText)")
    assert tiles and all(text.endswith("unknown") for text in tiles), tiles
    assert all(panel["drawn"] for panel in status["panels"].values()), status["panels"]  # the charts still come


def test_an_answer_for_an_older_range_never_replaces_the_newer_one(
        prometheus: FakePrometheus, browser: Browser) -> None:
    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/query_range":
            hour = float(params["end"]) - float(params["start"]) == 3600
            _status, body, _delay = success(matrix(params, ({}, lambda i: "111" if hour else "666")))
            return 200, body, 3.0 if hour else 0.0  # the hour's answers arrive last
        return quiet(path, params)

    prometheus.answer = answer
    browser.goto(f"{prometheus.page_url}?range=1h#/ach")
    browser.wait_for("window.hmsDashboard && document.querySelector('#range').options.length", timeout=30)
    browser.evaluate("(() => { const r = document.querySelector('#range'); r.value = '21600'; "
                     "r.dispatchEvent(new Event('change')); })()")
    browser.wait_for(READY, timeout=30)
    browser.pump(4.5)  # the hour's answers have come meanwhile
    status = browser.evaluate("hmsDashboard")
    legend = browser.evaluate("document.querySelector('#panel-ach_latency_ms .u-legend').innerText")
    browser.screenshot(OUTPUT / "stale-answer.png")
    print(f"answers dropped for being older than the shown range: {status.get('discarded')}; legend: {legend!r}")
    assert "666" in legend and "111" not in legend, legend
    assert status["range"] == 21600
    assert status["discarded"] >= 1


def test_infinite_and_nan_values_are_shown_not_dropped(prometheus: FakePrometheus, browser: Browser) -> None:
    # histogram_quantile is +Inf when latency is above the highest bucket: the worst moment, shown as "–".
    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/query_range":
            return success(matrix(params, ({}, lambda i: "+Inf" if i > 200 else "900")))
        if path == "/api/v1/query" and params["query"].startswith("avg("):
            return success(vector(({}, "NaN")))
        return quiet(path, params)

    prometheus.answer = answer
    _open(browser, prometheus, "inf-nan")
    legend = browser.evaluate("document.querySelector('#panel-ach_latency .u-legend').innerText")
    assert "+Inf ms" in legend, legend
    notes = browser.evaluate("[...document.querySelectorAll('#panel-ach_latency .note')].map(n => n.innerText)")
    assert any("p99: +Inf/-Inf at 40 of" in note for note in notes), notes
    stat = browser.evaluate("[document.querySelector('#panel-license_printer .stat').className, "
                            "document.querySelector('#panel-license_printer .stat').innerText]")
    assert stat == ["stat grey", "NaN (no value)"], stat  # not a green "–"


def test_tiles_say_the_state_in_words_and_an_alert_of_no_layer_gets_a_tile(
        prometheus: FakePrometheus, browser: Browser) -> None:
    prometheus.answer = _alerts(
        _alert("ach_down", "critical", layer="ACH"),
        _alert("svc_slow", "warning", layer="SVC"),
        _alert("a2a_slow", "critical", state="pending", layer="A2A"),
        _alert("my_own_rule", "critical", job="not-a-service-of-any-layer"),  # a service without HMS_LAYER
        _alert("custom_metric_high", "warning", layer="Payments"),  # `layer: Payments` on a metric outside the registry
        _alert("esq_pager", "Critical", layer="ESQ"),  # a team's own rule, capitalised
        _alert("act_burn", "page", layer="ACT"),  # paging, as SLO burn-rate rules say it
    )
    status = _open(browser, prometheus, "tiles")
    layers = status["layers"]
    assert (layers["ACH"], layers["SVC"], layers["A2A"]) == ("red", "amber", "amber")
    assert (layers["no layer"], layers["Payments"]) == ("red", "amber")
    assert (layers["ESQ"], layers["ACT"], layers["Governance"]) == ("red", "red", "grey")
    tiles = dict(browser.evaluate("[...document.querySelectorAll('.tile')].map(t => "
                                  "[t.dataset.layer, t.querySelector('span').innerText])"))
    assert tiles["ACH"] == "critical · 1 firing", tiles
    assert tiles["SVC"] == "warning · 1 firing", tiles
    assert tiles["A2A"] == "1 pending", tiles  # a critical alert pending is no warning firing
    assert tiles["no layer"] == "critical · 1 firing", tiles
    assert tiles["Payments"] == "warning · 1 firing", tiles
    assert tiles["Governance"] == "no data", tiles
    current = browser.evaluate("[...document.querySelectorAll('#pages a[aria-current=page]')].map(a => a.innerText)")
    assert current == ["Overview"], current
    # Active since 1 January: said with its date and how long ago, not as a time of today.
    started = browser.evaluate("document.querySelector('.alerts li small').innerText")
    assert re.search(r"since \S*2026\S* .* \(\d+ d \d+ h ago\)", started), started


def test_hostile_label_values_and_hundreds_of_series_keep_the_page_whole(
        prometheus: FakePrometheus, browser: Browser) -> None:
    long_value = '"quoted" 🎉 ' + "x" * 400

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/alerts":
            alert = _alert(HOSTILE, "critical", layer="ACH", job=HOSTILE)
            alert["annotations"] = {"message": HOSTILE, "runbook_url": "javascript:window.hacked=1"}
            return success({"alerts": [alert]})
        if path == "/api/v1/query_range":
            series = [({"job": "one", "instance": f"host-{k}", "v": long_value if k < 3 else HOSTILE},
                       lambda i, k=k: str(k + i % 7)) for k in range(500)]
            return success(matrix(params, *series))
        return quiet(path, params)

    prometheus.answer = answer
    status = _open(browser, prometheus, "hostile-500-series")
    height = browser.evaluate("document.documentElement.scrollHeight")
    width = browser.evaluate("document.documentElement.scrollWidth")
    print(f"500 series per query: page {width}x{height} px, first draw {status['firstDrawMs']:.0f} ms")
    assert width <= 1400 and height < 3000, (width, height)  # was 113386 px tall and wider than the window
    assert browser.evaluate("window.hacked") is None
    assert browser.evaluate("document.querySelectorAll('main img').length") == 0
    runbook = browser.evaluate("[...document.querySelectorAll('.alerts a')].map(a => a.getAttribute('href'))")
    assert runbook == [], runbook
    assert HOSTILE in browser.evaluate("document.querySelector('.alerts').innerText")
    labels = browser.evaluate("[...document.querySelectorAll('#panel-ach_latency .u-legend .u-label')]"
                              ".slice(1, 3).map(l => l.textContent)")
    # Only the labels that differ name a series: job="one" is the same for all 500.
    assert labels[0].startswith('average {instance="host-0", v=' + json.dumps(long_value, ensure_ascii=False)), labels
    assert "job=" not in labels[0], labels


def _key(browser: Browser, key: str, code: int) -> None:
    browser.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=key, windowsVirtualKeyCode=code,
                 **({"text": "\r"} if key == "Enter" else {}))
    browser.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=key, windowsVirtualKeyCode=code)


def test_the_tabs_work_from_the_keyboard_and_keep_the_focus(prometheus: FakePrometheus, browser: Browser) -> None:
    _open(browser, prometheus, "keyboard")
    for _ in range(3):  # Overview, ACH, SVC
        _key(browser, "Tab", 9)
    assert browser.evaluate("document.activeElement.innerText") == "SVC"
    _key(browser, "Enter", 13)
    browser.wait_for("hmsDashboard.page === 'svc'", timeout=30)
    current = browser.evaluate("[...document.querySelectorAll('#pages a[aria-current=page]')].map(a => a.innerText)")
    assert current == ["SVC"], current
    # The focus stays on the tab just chosen: the next Tab goes on to the next tab, not back to the first.
    assert browser.evaluate("document.activeElement.innerText") == "SVC"
    _key(browser, "Tab", 9)
    assert browser.evaluate("document.activeElement.innerText") == "A2A"
    browser.screenshot(OUTPUT / "keyboard.png")


def test_a_layer_of_500_services_keeps_its_head_to_a_line(prometheus: FakePrometheus, browser: Browser) -> None:
    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/query" and "target_info" in params["query"]:
            return success(vector(*[({"job": f"ach-service-{k:03}", "instance": "h", "hms_layer": "ACH"}, "1")
                                    for k in range(500)]))
        return quiet(path, params)

    prometheus.answer = answer
    status = _open(browser, prometheus, "layer-500-services", page="ach")
    assert status["layers"]["ACH"] == "green"
    head = browser.evaluate("document.querySelector('.layer-head').innerText")
    assert head.endswith("ach-service-007 and 492 more"), head[-200:]
    assert browser.evaluate("document.querySelector('.layer-head').getBoundingClientRect().height") < 100


@pytest.mark.parametrize("damage", ["missing", "cut short"])
def test_a_page_without_its_spec_says_so(prometheus: FakePrometheus, browser: Browser, damage: str) -> None:
    spec = prometheus.site / "dashboards.json"
    if damage == "missing":
        spec.unlink()
    else:
        spec.write_text(spec.read_text()[:100])
    browser.goto(prometheus.page_url)
    browser.wait_for("window.hmsDashboard && hmsDashboard.ready", timeout=30)  # was "loading…" for ever
    banner = browser.evaluate("document.querySelector('#offline').innerText")
    assert "Cannot read the dashboard's dashboards.json" in banner and "hms-ops up" in banner, banner
    assert "loading" not in browser.evaluate("document.querySelector('main').innerText")
