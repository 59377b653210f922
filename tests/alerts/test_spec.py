"""Alert files -> model: the issue's examples, lists, SLOs and cross-file checks."""

from __future__ import annotations

from pathlib import Path

from hms_otel.alerts.compiler import load_dir
from hms_otel.alerts.spec import load_bytes

TUTORIAL = """\
metric:   payment_latency_ms
when:     avg_over_30s > 2000   # ms
action:   sms:+15551234
message:  "Payment latency {{value}} ms (>2 s)"
"""


def test_the_tutorial_alert() -> None:
    parsed, problems = load_bytes(TUTORIAL, "alert_rules/payment.yml")
    assert problems == [] and parsed is not None
    alert = parsed.alerts[0]
    assert alert.id == "payment" and parsed.group == "payment"
    assert alert.metric.name == "payment_latency_ms" and alert.layer == "quick start"
    assert (alert.condition.aggregation, alert.condition.window.text, alert.condition.threshold) == ("avg", "30s", 2000)
    assert [a.receiver for a in alert.actions] == ["sms:+15551234"]
    assert alert.severity == "critical"  # sms pages a person
    assert alert.message == "Payment latency {{value}} ms (>2 s)"
    assert str(alert.source) == "alert_rules/payment.yml:1:1"


def test_a_list_with_optional_fields() -> None:
    text = """\
- metric: job_fail_total
  when: increase_over_5m > 3
  for: 5m
  severity: info
  labels: {service: workers, queue: billing}
  summary: crash loop
  runbook: https://runbooks.example.gov/svc
  group: svc
  action: [slack:#svc, slack:#svc, email:svc@example.gov]
- name: heartbeat
  metric: refund_pdf_total
  absent_for: 15m
  group: svc
  action: webhook:https://hooks.example.gov/hb
"""
    parsed, problems = load_bytes(text, "svc.yml")
    assert problems == [] and parsed is not None
    first, second = parsed.alerts
    assert (first.id, second.id, parsed.group) == ("svc_1", "heartbeat", "svc")
    assert first.for_.text == "5m" and first.severity == "info"
    assert first.selector == (("job", "workers"), ("queue", "billing"))
    assert [a.receiver for a in first.actions] == ["slack:#svc", "email:svc@example.gov"]  # deduplicated
    assert second.condition is None and second.absent_for.text == "15m" and second.severity == "warning"


def test_slo_forms() -> None:
    parsed, problems = load_bytes("slo: payments\nobjective: 99.5%\n"
                                  "latency: {metric: payment_latency_ms, below: 2000}\naction: sms:+15551234\n",
                                  "slo.yml")
    assert problems == [] and parsed is not None
    slo = parsed.slos[0]
    assert (slo.objective, slo.period.text, slo.latency_below) == (0.995, "30d", 2000)
    assert [a.receiver for a in slo.ticket_actions] == ["sms:+15551234"]
    parsed, problems = load_bytes("slo: transfers\nobjective: 99.9\nperiod: 28d\n"
                                  "errors: {metric: a2a_failed_total, total: a2a_transfer_ms}\naction: teams:a2a\n",
                                  "slo.yml")
    assert problems == [] and parsed is not None
    assert parsed.slos[0].errors.name == "a2a_failed_total" and parsed.slos[0].objective == 0.999


def test_several_errors_in_one_alert_are_all_reported() -> None:
    _parsed, problems = load_bytes("metric: job_fail_total\nwhen: increase_over_5m > 3\nfor: 5\nseverity: loud\n"
                                   "action: slack:#ops\n", "x.yml")
    assert [str(p).split(": ")[0] for p in problems] == ["x.yml:3:6", "x.yml:4:11"]


def test_columns_inside_quoted_when() -> None:
    _parsed, problems = load_bytes("metric: payment_latency_ms\nwhen: 'avg_over_5m > x'\naction: slack:#ops\n", "q.yml")
    assert str(problems[0]).startswith("q.yml:2:22:")


def test_cross_file_duplicates(tmp_path: Path) -> None:
    body = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#a\n"
    (tmp_path / "a.yml").write_text("name: slow\n" + body)
    (tmp_path / "b.yml").write_text("name: slow\n" + body)
    (tmp_path / "c.yml").write_text("group: a\nmetric: job_fail_total\nwhen: increase_over_1h > 9\naction: slack:#b\n")
    _files, problems = load_dir(tmp_path)
    messages = [str(p) for p in problems]
    assert any("b.yml:1:1: alert name 'slow' is already used at" in m for m in messages), messages
    assert any("c.yml" in m and "rule group 'a' is already used" in m for m in messages), messages


def test_empty_directory(tmp_path: Path) -> None:
    _files, problems = load_dir(tmp_path)
    assert "no alert files" in problems[0].message
