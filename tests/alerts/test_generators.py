"""Model -> PromQL, SLO windows, rule groups and Alertmanager routing (no external tools)."""

from __future__ import annotations

import pytest
import yaml

from hms_otel.alerts.alertmanager import DEFAULT_RECEIVER, alertmanager_config
from hms_otel.alerts.compiler import compile_files, message_warnings, slo_warnings, window_warnings
from hms_otel.alerts.model import AlertFile
from hms_otel.alerts.promql import alert_expr
from hms_otel.alerts.settings import Settings, SettingsError
from hms_otel.alerts.slo import burn_windows
from hms_otel.alerts.spec import load_bytes
from hms_otel.alerts.syntax import VALUE_TEMPLATE


def _file(text: str, name: str = "a.yml") -> AlertFile:
    parsed, problems = load_bytes(text, name)
    assert not problems, [str(p) for p in problems]
    assert parsed is not None
    return parsed


def _expr(text: str) -> str:
    return alert_expr(_file(text).alerts[0])


def _births(measured: str, born: str, probe: str, window: str) -> str:
    return (f"({born} unless {probe} offset {window} and on (job) group by (job) (target_info offset {window}))"
            f" or {measured}")


def test_expressions_follow_the_metric_kind() -> None:
    head = "action: slack:#ops\n"
    assert _expr(head + "metric: payment_latency_ms\nwhen: avg_over_30s > 2000") == "(" + _births(
        "rate(payment_latency_ms_sum[30s]) / rate(payment_latency_ms_count[30s])",
        "max_over_time(payment_latency_ms_sum[30s]) / max_over_time(payment_latency_ms_count[30s])",
        "payment_latency_ms_count", "30s") + ") > 2000"
    assert _expr(head + "metric: a2a_transfer_ms\nwhen: p95_over_5m > 5000") == "(" + _births(
        "histogram_quantile(0.95, rate(a2a_transfer_ms_bucket[5m]))",
        "histogram_quantile(0.95, max_over_time(a2a_transfer_ms_bucket[5m]))", "a2a_transfer_ms_count", "5m") + \
        ") > 5000"
    assert _expr(head + "metric: ach_flagged_total\nwhen: increase_over_1h > 5") == "(" + _births(
        "increase(ach_flagged_total[1h])", "max_over_time(ach_flagged_total[1h])", "ach_flagged_total", "1h") + \
        ") > 5"
    assert _expr(head + "metric: vet_denied_total\nwhen: rate_over_5m > 0.5") == "(" + _births(
        "rate(vet_denied_total[5m])", "max_over_time(vet_denied_total[5m]) / 300", "vet_denied_total", "5m") + \
        ") > 0.5"
    assert _expr(head + "metric: refund_pdf_total\nwhen: last_over_5m > 9") == \
        "last_over_time(refund_pdf_total[5m]) > 9"
    assert _expr(head + "metric: activities_pending\nwhen: avg_over_5m > 100") == \
        "avg_over_time(activities_pending[5m]) > 100"
    assert _expr(head + "metric: job_queue_depth\nwhen: p50_over_5m > 10") == \
        "quantile_over_time(0.5, job_queue_depth[5m]) > 10"
    assert _expr(head + "metric: refund_pdf_total\nabsent_for: 10m") == "absent_over_time(refund_pdf_total[10m])"
    assert _expr(head + "metric: payment_latency_ms\nabsent_for: 5m") == \
        "absent_over_time(payment_latency_ms_count[5m])"


def test_selector_labels_are_quoted_and_service_means_job() -> None:
    text = ('action: slack:#ops\nmetric: job_fail_total\nwhen: increase_over_5m > 3\n'
            'labels: {service: payments, error.type: "x\\"} or vector(1) #"}\n')
    series = 'job_fail_total{error_type="x\\"} or vector(1) #",job="payments"}'
    assert _expr(text) == "(" + _births(f"increase({series}[5m])", f"max_over_time({series}[5m])", series, "5m") + \
        ") > 3"


def test_unknown_metric_with_type() -> None:
    alert = _file("metric: checkout_ms\ntype: histogram\nwhen: avg_over_1m > 300\naction: slack:#ops\n").alerts[0]
    assert alert.layer == "custom"
    assert alert_expr(alert).endswith(" or rate(checkout_ms_sum[1m]) / rate(checkout_ms_count[1m])) > 300")


def test_defaults_and_labels() -> None:
    result = compile_files([_file("metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n",
                                  "payment_latency_high.yml")], Settings())
    rule = result.rules["groups"][0]["rules"][0]
    assert rule["alert"] == "payment_latency_high"
    assert rule["labels"] == {"severity": "critical", "layer": "quick start", "hms_alert": "payment_latency_high"}
    assert "for" not in rule
    assert rule["annotations"]["message"] == \
        f"payment_latency_ms avg over 30s is {VALUE_TEMPLATE} ms (> 2000)"


def test_workbook_windows_for_thirty_days() -> None:
    windows = [(w.severity, w.long, w.short, w.factor) for w in burn_windows(30 * 86_400_000)]
    assert windows == [("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6), ("ticket", "1d", "2h", 3),
                       ("ticket", "3d", "6h", 1)]


def test_windows_scale_with_the_period() -> None:
    windows = burn_windows(7 * 86_400_000)
    assert windows[0].long == "14m" and windows[0].short == "1m10s"
    assert [round(w.factor, 1) for w in windows] == [14.4, 6, 3, 1]


def test_slo_rules() -> None:
    text = ("slo: payments\nobjective: 99%\nlatency: {metric: payment_latency_ms, below: 2000}\n"
            "action: sms:+15551234\nticket_action: slack:#payments\n")
    result = compile_files([_file(text)], Settings())
    rules = result.rules["groups"][0]["rules"]
    records = [r["record"] for r in rules if "record" in r]
    assert records == [f"hms_slo:error_ratio:rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]
    assert rules[0]["expr"] == ('1 - (sum(rate(payment_latency_ms_bucket{le="2000"}[5m])) / '
                                'sum(rate(payment_latency_ms_count[5m])))')
    page = next(r for r in rules if r.get("alert") == "payments_page")
    assert "hms_slo:error_ratio:rate1h{hms_slo=\"payments\"} / 0.01 > 14.4" in page["expr"]
    assert page["labels"]["severity"] == "critical"
    routes = yaml.safe_load(result.alertmanager_yaml)["route"]["routes"]
    assert [(r["matchers"], r["receiver"]) for r in routes] == [
        (['hms_alert="payments_page"'], "sms:+15551234"), (['hms_alert="payments_ticket"'], "slack:#payments")]


def test_alertmanager_one_receiver_per_action_and_one_route_per_alert_action() -> None:
    files = [_file("- name: a\n  metric: job_fail_total\n  when: increase_over_5m > 3\n"
                   "  action: [sms:+15551234, slack:#ops]\n"
                   "- name: b\n  metric: vet_denied_total\n  when: increase_over_5m > 3\n  action: slack:#ops\n")]
    config = alertmanager_config(files, Settings(group_wait="0s")).config
    assert [r["name"] for r in config["receivers"]] == [DEFAULT_RECEIVER, "sms:+15551234", "slack:#ops"]
    assert [(r["matchers"][0], r["receiver"], r["continue"]) for r in config["route"]["routes"]] == [
        ('hms_alert="a"', "sms:+15551234", True), ('hms_alert="a"', "slack:#ops", True),
        ('hms_alert="b"', "slack:#ops", True)]
    assert config["route"]["group_wait"] == "0s"


def test_window_warnings() -> None:
    files = [_file("metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")]
    warnings = window_warnings(files, Settings(scrape_interval_ms=15_000))
    assert len(warnings) == 1 and "2.0 samples" in warnings[0].message
    assert window_warnings(files, Settings(scrape_interval_ms=1000, export_interval_ms=5000)) == []
    never = window_warnings(files, Settings(scrape_interval_ms=60_000))
    assert "may never fire" in never[0].message
    # `< 0.5` holds for no events: with no rate it reads 0 and fires all along
    quiet = [_file("metric: payment_latency_ms\nwhen: rate_over_30s < 0.5\naction: sms:+15551234\n")]
    always = window_warnings(quiet, Settings(scrape_interval_ms=60_000))
    assert "will read 0 and fire while the service runs" in always[0].message
    late = window_warnings(quiet, Settings(scrape_interval_ms=15_000))[0].message
    assert "jumpy, and a window left with one sample (a late export) reads as 0 events and fires" in late


def test_slo_windows_too_short_for_the_scrape_interval_are_warned_about() -> None:
    head = "slo: s\nobjective: 99.9%\nlatency:\n  metric: payment_latency_ms\n  below: 2000\naction: slack:#ops\n"
    settings = Settings(scrape_interval_ms=5000, export_interval_ms=5000)
    hour = window_warnings([_file(head + "period: 1h\n")], settings)  # rate(...[1s]) at a 5 s interval
    assert len(hour) == 1 and hour[0].severity == "warning" and hour[0].location.line == 1
    assert "1s burn-rate window" in hour[0].message and "may never fire" in hour[0].message
    assert "period of at least 2d" in hour[0].message
    assert "jumpy" in window_warnings([_file(head + "period: 1d\n")], settings)[0].message  # 10 s: 2 samples
    assert window_warnings([_file(head + "period: 30d\n")], settings) == []


@pytest.mark.parametrize(("objective", "never"), [("50%", ["s_page"]), ("80%", ["s_page"]), ("85%", []),
                                                  ("99.9%", [])])
def test_an_slo_alert_that_can_never_fire_is_warned_about(objective: str, never: list[str]) -> None:
    # The burn rate is at most 1/(1-objective): 2 at 50 %, never over the page's 14.4 or 6.
    text = (f"slo: s\nobjective: {objective}\nlatency:\n  metric: payment_latency_ms\n  below: 2000\n"
            "action: slack:#ops\n")
    warnings = slo_warnings([_file(text)])
    assert [w.message.split(" ")[0] for w in warnings] == never
    assert all(w.severity == "warning" and w.location.line == 1 for w in warnings)
    if objective == "50%":
        assert "burn rate is at most 2 (every event bad), never over 6" in warnings[0].message
        assert compile_files([_file(text)], Settings()).warnings[0] == warnings[0]


def test_message_warnings_name_template_text_that_is_sent_as_written() -> None:
    head = "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n"
    assert message_warnings([_file(head + 'message: "Payment latency {{value}} ms, {{ value }}"\n')]) == []
    assert message_warnings([_file(head)]) == []  # the default message
    prometheus_style = message_warnings([_file(head + 'message: "{{ $value }} ms on {{ $labels.job }}"\n')])
    assert len(prometheus_style) == 1 and prometheus_style[0].severity == "warning"
    assert "'{{ $value }}' (and 1 more) is sent as written" in prometheus_style[0].message
    assert prometheus_style[0].location.line == 1
    lone = message_warnings([_file(head + 'summary: "latency {{value ms"\n')])
    assert [w.message.split(":")[0] for w in lone] == ["summary of alert 'a'"]
    # Linear on the longest message a file may hold.
    assert len(message_warnings([_file(head + 'message: "' + "{{ x" * 450 + '"\n')])) == 1


def test_settings_from_env() -> None:
    settings = Settings.from_env({"HMS_NOTIFIER_URL": "http://notifier:9095/", "HMS_TEAMS_A2A_OPS_URL": "http://b/a2a",
                                  "HMS_SCRAPE_INTERVAL": "1s", "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    assert settings.notifier_url == "http://notifier:9095"
    assert settings.notifier is not None and settings.notifier.teams == {"a2a-ops": "http://b/a2a"}
    assert (settings.scrape_interval_ms, settings.export_interval_ms) == (1000, 1000)
    assert "HMS_NOTIFIER_URL" not in settings.defaulted and "HMS_SMTP_SMARTHOST" in settings.defaulted


@pytest.mark.parametrize("url", ["http://x y", "notifier:9095", "https://", "ftp://notifier/"])
def test_a_bad_notifier_url_is_named_as_the_setting_at_fault(url: str) -> None:
    # Not an amtool error at the first alert file's action line: the environment is at fault.
    with pytest.raises(SettingsError, match=r"^HMS_NOTIFIER_URL must be a URL"):
        Settings.from_env({"HMS_NOTIFIER_URL": url})
