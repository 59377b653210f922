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


GOOD = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"


def test_a_name_made_from_a_file_name_is_valid_and_said_when_changed(tmp_path: Path) -> None:
    """über.yml became _ber and 2fast.yml 2fast (which name: refuses), without a word."""
    from hms_otel.alerts.compiler import compile_dir

    for name in ("über.yml", "2fast.yml", "payment-latency.yml", "named ü.yml"):
        (tmp_path / name).write_text(GOOD + ("name: chosen\ngroup: chosen\n" if name == "named ü.yml" else ""),
                                     encoding="utf-8")
    result = compile_dir(tmp_path)
    ids = sorted(alert.id for source in result.files for alert in source.alerts)
    assert ids == ["_2fast", "_ber", "chosen", "payment_latency"]
    notes = sorted(str(problem) for problem in result.warnings if "made from the file name" in problem.message)
    assert len(notes) == 2, notes  # the hyphen is the documented rule, and named ü.yml sets both
    assert notes[0].startswith(f"{tmp_path}/2fast.yml:1:1: warning: alert name and rule group '_2fast' made "
                               "from the file name '2fast.yml'") and "set name: and group:" in notes[0]


def test_default_names_that_collide_are_located_problems(tmp_path: Path) -> None:
    (tmp_path / "über.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "_ber.yml").write_text(GOOD)
    _files, problems = load_dir(tmp_path)
    messages = [str(problem) for problem in problems]
    assert any("über.yml:1:1: alert name '_ber' is already used at" in message for message in messages), messages
    assert any("rule group '_ber' is already used" in message for message in messages), messages


def test_a_runbook_is_one_line() -> None:
    for runbook, shown in (('"https://wiki.example.gov/a\\nb"', "'\\n'"), ('"a\\tb"', "'\\t'"),
                           ('"x\\u2028y"', "'\\u2028'"), ('"x\\u200by"', "'\\u200b'")):
        for text in (GOOD, "slo: pay\nobjective: 99%\nlatency: {metric: payment_latency_ms, below: 2000}\n"
                           "action: slack:#ops\n"):
            parsed, problems = load_bytes(f"{text}runbook: {runbook}\n", "a.yml")
            assert parsed is None and len(problems) == 1, problems
            assert str(problems[0]).startswith("a.yml:4:10: runbook must be one line") or str(
                problems[0]).startswith("a.yml:5:10: runbook must be one line"), problems
            assert shown in problems[0].message
    parsed, problems = load_bytes(GOOD + "runbook: 'https://x.gov/{{ .Value }} page'\n", "a.yml")
    assert problems == [] and parsed is not None


def test_an_exact_rate_no_increase_gives_is_an_error() -> None:
    """Prometheus multiplies the increase by 1/300: no counter shows rate_over_5m exactly 2000 (2000 + 1 ulp)."""
    parsed, problems = load_bytes("metric: job_fail_total\nwhen: rate_over_5m == 2000\naction: slack:#ops\n", "a.yml")
    assert parsed is None and "can never fire" in problems[0].message and "1/300 s" in problems[0].message
    assert str(problems[0]).startswith("a.yml:2:20: ")
    for reachable in ("rate_over_5m == 0.333333", "rate_over_5m == 2.5", "rate_over_5m != 2000",
                      "increase_over_5m == 2000", "rate_over_1m == 2000"):
        parsed, problems = load_bytes(f"metric: job_fail_total\nwhen: {reachable}\naction: slack:#ops\n", "a.yml")
        assert problems == [], (reachable, problems)


def test_a_threshold_written_with_a_unit_says_the_number_to_write() -> None:
    """Told only "not a number", people drop the unit: `> 2` on payment_latency_ms alerts on every call over 2 ms."""
    cases = {
        ("payment_latency_ms", "avg_over_30s > 2s"): "measures (ms): write 2000",
        ("payment_latency_ms", "p99_over_5m >= 1.5 min"): "measures (ms): write 90000",
        ("payment_latency_ms", "rate_over_5m > 2s"): "measures (/s)",
        ("citizen_satisfaction_score", "last_over_5m < 60%"): "a ratio is a plain number: write 0.6 for 60%",
        ("job_queue_depth", "avg_over_5m > 10k"): "measures ({job})",
    }
    for (metric, when), hint in cases.items():
        _parsed, problems = load_bytes(f"metric: {metric}\nwhen: {when}\naction: slack:#ops\n", "a.yml")
        assert len(problems) == 1 and problems[0].message.endswith(hint), (when, [str(p) for p in problems])
        assert problems[0].location.line == 2


def test_a_count_compared_so_that_it_always_holds_is_refused() -> None:
    """No data counts as 0 events (a stopped service must fire `rate_over_1m < 0.5`), so `increase >= 0`,
    which once needed data to fire, would page all day."""
    for when in ("increase_over_5m >= 0", "rate_over_5m > -1", "increase_over_5m != -2"):
        _parsed, problems = load_bytes(f"metric: job_fail_total\nwhen: {when}\naction: slack:#ops\n", "a.yml")
        assert len(problems) == 1 and "this alert always fires" in problems[0].message, when
        assert problems[0].location.line == 2
    for when in ("increase_over_5m > 0", "increase_over_5m >= 1", "rate_over_5m != 0"):
        _parsed, problems = load_bytes(f"metric: job_fail_total\nwhen: {when}\naction: slack:#ops\n", "a.yml")
        assert problems == [], when
    # a gauge has no events: no data stays no alert, whatever the comparison
    assert load_bytes("metric: activities_pending\nwhen: avg_over_5m >= 0\naction: slack:#ops\n", "a.yml")[1] == []
