"""Generated outputs against the real promtool and amtool (Debian packages)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_otel.alerts import compile_dir, run_tests, validate
from hms_otel.alerts.cli import alerts
from hms_otel.alerts.compiler import compile_files
from hms_otel.alerts.promtool_tests import alert_tests
from hms_otel.alerts.settings import Settings
from hms_otel.alerts.spec import load_bytes
from hms_otel.alerts.tools import ToolMissing, check_alertmanager, check_rules, find_tool, route

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"


def _tools_missing() -> str:
    """Why the checks cannot run, or "" (amtool is the one `hms-ops install alertmanager` builds, rarely on PATH:
    asking PATH skipped this whole file on a machine set up by `scripts/test`)."""
    try:
        find_tool("promtool"), find_tool("amtool")
    except ToolMissing as missing:
        return str(missing)
    return ""


pytestmark = pytest.mark.skipif(bool(_tools_missing()), reason=_tools_missing() or "-")

#: alert id -> receivers its action names (shipped alert_rules/)
SHIPPED_ROUTES = {
    "payment_latency_high": ["sms:+15551234"],
    "ach_flagged_payouts": ["slack:#ach-ops", "email:ach-oncall@example.gov"],
    "worker_crash_loop": ["pagerduty:svc-oncall"],
    "envelope_transfer_slow": ["teams:a2a-ops"],
    "activity_backlog": ["slack:#activities"],
    "vet_denied_spike": ["email:governance@example.gov"],
    "payments_page": ["sms:+15551234"],
    "payments_ticket": ["slack:#payments"],
    "log_records_dropped": ["slack:#observability"],
}


def test_shipped_rules_pass_promtool_and_amtool() -> None:
    result = compile_dir(ALERT_RULES, Settings())
    assert validate(result) == []
    assert sorted(result.alert_ids()) == sorted(SHIPPED_ROUTES)


def test_shipped_rules_cover_every_layer_of_the_issue() -> None:
    result = compile_dir(ALERT_RULES, Settings())
    layers = {alert.layer for source in result.files for alert in source.alerts}
    assert {"ACH", "SVC", "A2A", "ACT", "Governance", "quick start"} <= layers
    assert [slo.id for source in result.files for slo in source.slos] == ["payments"]


def test_amtool_routes_each_alert_to_its_receivers() -> None:
    result = compile_dir(ALERT_RULES, Settings())
    for alert_id, receivers in SHIPPED_ROUTES.items():
        assert route(result.alertmanager_yaml, {"alertname": alert_id, "hms_alert": alert_id}) == receivers
    assert route(result.alertmanager_yaml, {"alertname": "Watchdog"}) == ["hms-unrouted"]


def test_generated_promtool_tests_pass_for_shipped_rules() -> None:
    outcomes = run_tests(compile_dir(ALERT_RULES, Settings()))
    assert len(outcomes) == len(list(ALERT_RULES.glob("*.yml")))
    for outcome in outcomes:
        assert outcome.ok, outcome.output
        assert outcome.tests >= 1 and not outcome.skipped


def test_cli_test_command_passes_on_shipped_rules() -> None:
    result = CliRunner().invoke(alerts, ["test", str(ALERT_RULES)])
    assert result.exit_code == 0, result.output
    assert result.output.count("PASS ") == len(list(ALERT_RULES.glob("*.yml")))


def test_cli_test_reports_a_failing_alert_by_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crash_loop.yml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n")
    (tmp_path / "gauge_count.yml").write_text(
        "metric: activities_pending\nwhen: count_over_5m > 3\naction: slack:#ops\n")
    # Make the expectation wrong, as a compiler bug would: promtool must catch it and name the file.
    monkeypatch.setattr("hms_otel.alerts.promtool_tests.render_message", lambda text, value: "not what fires")
    result = CliRunner().invoke(alerts, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL crash_loop.yml" in result.output or f"FAIL {tmp_path}" in result.output
    assert "crash_loop.yml" in result.output and "not what fires" in result.output
    assert "gauge_count.yml" in result.output and "no promtool test generated" in result.output


def _compile_text(text: str, tmp_path: Path, name: str = "alert.yml"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return compile_dir(tmp_path, Settings())


def test_go_template_text_in_messages_is_shown_literally(tmp_path: Path) -> None:
    message = ('Latency {{value}} ms; {{ .Labels }} {{ template "x" . }} {{ $value }} }} {{ end }} '
               '{{- printf "%d" 1 -}} {{{{value}}}} {{ value }}')
    text = yaml.safe_dump({"metric": "payment_latency_ms", "when": "avg_over_30s > 2000",
                           "action": "sms:+15551234", "message": message, "summary": "{{ .Value }} {{value}}",
                           "runbook": "https://runbooks.example.gov/{{ .x }}"})
    result = _compile_text(text, tmp_path)
    assert check_rules(result.rules_yaml).ok
    outcomes = run_tests(result)  # the generated test compares the rendered annotation with the literal text
    assert outcomes[0].ok, outcomes[0].output
    from hms_otel.alerts.promtool_tests import plan

    expected = plan(result.files[0]).files["test_alert.yml"]["tests"][0]["alert_rule_test"][0]
    annotations = expected["exp_alerts"][0]["exp_annotations"]
    assert annotations["message"] == ('Latency 4000 ms; {{ .Labels }} {{ template "x" . }} {{ $value }} }} '
                                      '{{ end }} {{- printf "%d" 1 -}} {{4000}} 4000')
    assert annotations["summary"] == "{{ .Value }} 4000"
    assert annotations["runbook_url"] == "https://runbooks.example.gov/{{ .x }}"


@pytest.mark.parametrize("text", [
    "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\nmessage: 'cost {{{value}}} jobs'\n"
    "summary: '{{{value}}}{{{}}x{}}'\nrunbook: 'https://x.gov/{'\nlabels:\n  queue: 'a{'\n",
    "slo: pay\nobjective: 99%\nlatency: {metric: payment_latency_ms, below: 2000}\naction: slack:#ops\n"
    "message: 'budget {{{value}}}'\nsummary: '{ {{value}} }{'\n",
])
def test_a_brace_next_to_a_placeholder_or_delimiter_is_literal(text: str, tmp_path: Path) -> None:
    """'{' right before {{value}} made '{{{ $value | humanize }}', which Prometheus refuses (and --no-tools wrote)."""
    result = _compile_text(text, tmp_path)
    checked = check_rules(result.rules_yaml)
    assert checked.ok, checked.output
    outcome = run_tests(result)[0]  # the rendered message and summary are compared with the text as written
    assert outcome.ok, outcome.output
    if not result.files[0].slos:
        from hms_otel.alerts.promtool_tests import plan

        expected = plan(result.files[0]).files["test_alert.yml"]["tests"][0]["alert_rule_test"][0]
        annotations = expected["exp_alerts"][0]["exp_annotations"]
        assert (annotations["message"], annotations["summary"]) == ("cost {6} jobs", "{6}{{{}}x{}}")


@pytest.mark.parametrize("when,expr", [
    ("avg_over_30s > 2000", "rate(payment_latency_ms_sum[30s]) / rate(payment_latency_ms_count[30s])) > 2000"),
    ("p99_over_5m > 2000", "histogram_quantile(0.99, rate(payment_latency_ms_bucket[5m]))) > 2000"),
    ("rate_over_1m < 1", "rate(payment_latency_ms_count[1m]) or on () vector(0)) < 1"),
    ("count_over_10m >= 100", "increase(payment_latency_ms_count[10m])) >= 100"),
])
def test_histogram_promql_passes_promtool_and_its_tests(when: str, expr: str, tmp_path: Path) -> None:
    result = _compile_text(f"metric: payment_latency_ms\nwhen: {when}\nfor: 1m\naction: slack:#ops\n", tmp_path)
    assert result.rules["groups"][0]["rules"][0]["expr"].endswith(f" or {expr}")
    assert check_rules(result.rules_yaml).ok
    assert run_tests(result)[0].ok


@pytest.mark.parametrize("text", [
    "metric: activities_pending\nwhen: max_over_10m >= 100\naction: slack:#ops\n",
    "metric: activities_pending\nwhen: p90_over_10m != 0\naction: slack:#ops\n",
    "metric: citizen_satisfaction_score\nwhen: last_over_5m < 0.6\nfor: 5m\naction: slack:#ops\n",
    "metric: job_queue_depth\nwhen: sum_over_1m > 50\naction: slack:#ops\n",
    "metric: refund_pdf_total\nwhen: rate_over_5m > 2.5\naction: webhook:https://hooks.example.gov/x\n",
    "metric: refund_pdf_total\nabsent_for: 10m\naction: email:ops@example.gov\nlabels: {service: refunds}\n",
    "metric: payment_latency_ms\nabsent_for: 5m\nfor: 1m\naction: sms:+15551234\n",
    "metric: checkout_ms\ntype: histogram\nlayer: SHOP\nwhen: p50_over_2m > 300\naction: slack:#ops\n",
    "slo: transfers\nobjective: 99.9%\nperiod: 28d\nerrors: {metric: a2a_failed_total, total: a2a_transfer_ms}\n"
    "action: teams:a2a\nlabels: {agency: irs}\n",
    "slo: loose\nobjective: 0.9\nperiod: 7d\nlatency: {metric: ach_latency_ms, below: 5000}\naction: slack:#ach\n",
])
def test_other_kinds_pass_promtool_and_their_tests(text: str, tmp_path: Path) -> None:
    result = _compile_text(text, tmp_path)
    checked = check_rules(result.rules_yaml)
    assert checked.ok, checked.output
    assert check_alertmanager(result.alertmanager_yaml).ok
    outcome = run_tests(result)[0]
    assert outcome.ok, outcome.output


@pytest.mark.parametrize("text", [
    "metric: payment_latency_ms\nabsent_for: 10m\nfor: 1y\naction: slack:#ops\n",
    "metric: job_fail_total\nwhen: increase_over_5m > 1\nfor: 30d\naction: slack:#ops\n",
    "metric: payment_latency_ms\nwhen: p99_over_10m > 100\nfor: 1y1d\naction: slack:#ops\n",
])
def test_a_long_for_is_tested_quickly(text: str, tmp_path: Path) -> None:
    # The generated test evaluated every window step up to `for`: 1.5 min of CPU for 30d, over
    # the 120 s limit for 1y. Evaluations are spread out now; the test still checks the firing.
    result = _compile_text(text, tmp_path)
    data, reason = alert_tests(result.files[0].alerts[0])
    assert data is not None, reason
    started = time.monotonic()
    outcome = run_tests(result)[0]
    assert outcome.ok and outcome.tests == 1, outcome.output
    assert time.monotonic() - started < 20


def test_a_for_too_long_for_its_window_is_skipped_saying_why(tmp_path: Path) -> None:
    result = _compile_text("metric: job_fail_total\nwhen: increase_over_1s > 1\nfor: 1y\naction: slack:#ops\n",
                           tmp_path)
    outcome = run_tests(result)[0]
    assert outcome.tests == 0 and "for 1y spans" in outcome.skipped[0].message


def test_k8s_format_is_a_prometheus_rule(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    result = CliRunner().invoke(alerts, ["compile", str(ALERT_RULES), "-o", str(out), "--format", "k8s"])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(out.read_text())
    assert document["apiVersion"] == "monitoring.coreos.com/v1" and document["kind"] == "PrometheusRule"
    assert check_rules(yaml.safe_dump(document["spec"])).ok


def test_cli_compile_writes_both_files_and_is_deterministic(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs = []
    for attempt in range(2):
        rules, manager = tmp_path / f"rules{attempt}.yml", tmp_path / f"am{attempt}.yml"
        result = runner.invoke(alerts, ["compile", str(ALERT_RULES), "-o", str(rules), "--alertmanager", str(manager)])
        assert result.exit_code == 0, result.output
        outputs.append((rules.read_text(), manager.read_text()))
    assert outputs[0] == outputs[1]
    names = [group["name"] for group in yaml.safe_load(outputs[0][0])["groups"]]
    assert names == sorted(names)  # one group per file, in file order


def test_group_wait_help_says_the_defaults_the_code_uses() -> None:
    """--help said "default 10s"; the code (and the README) use one per severity."""
    from hms_otel.alerts.settings import SEVERITY_TIMING

    text = " ".join(CliRunner().invoke(alerts, ["compile", "--help"]).output.split())
    assert "default 10s" not in text
    for severity, (wait, _interval, _repeat) in SEVERITY_TIMING.items():
        assert f"{severity} {wait}" in text


def test_cli_compile_writes_nothing_on_error(tmp_path: Path) -> None:
    source = tmp_path / "rules"
    source.mkdir()
    (source / "ok.yml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n")
    (source / "bad.yml").write_text("metric: job_fail_total\nwhen: avg_over_5m > 3\naction: slack:#ops\n")
    out = tmp_path / "rules.yml"
    result = CliRunner().invoke(alerts, ["compile", str(source), "-o", str(out)])
    assert result.exit_code == 1
    assert "bad.yml:2:7: job_fail_total is a counter" in result.output
    assert not out.exists()


def test_cli_compile_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    """The rules were written through a private temporary file: replacing a 0644 rules file left it 0600, which
    Prometheus running as another user (Debian's `prometheus`) cannot read."""
    shared, fresh = tmp_path / "shared.yml", tmp_path / "fresh.yml"
    shared.write_text("groups: []\n")
    shared.chmod(0o640)
    for out in (shared, fresh):
        result = CliRunner().invoke(alerts, ["compile", str(ALERT_RULES), "-o", str(out)])
        assert result.exit_code == 0, result.output
    umask = os.umask(0o022)
    os.umask(umask)
    assert shared.stat().st_mode & 0o777 == 0o640
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMS_NOTIFIER_URL", "http://notifier.internal:9095")
    monkeypatch.setenv("HMS_NOTIFIER_TOKEN_FILE", "/run/secrets/notifier_token")
    monkeypatch.setenv("HMS_TEAMS_A2A_OPS_URL", "https://teams.example/a2a")
    monkeypatch.setenv("HMS_SLACK_WEBHOOK_URL", "https://slack.example/hook")
    monkeypatch.setenv("HMS_TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("HMS_TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("HMS_TWILIO_FROM", "+15550100")
    monkeypatch.setenv("HMS_SMTP_SMARTHOST", "smtp.internal:587")
    monkeypatch.setenv("HMS_SECRETS_DIR", "/run/secrets")
    result = compile_dir(ALERT_RULES)
    config = yaml.safe_load(result.alertmanager_yaml)
    receivers = {r["name"]: r for r in config["receivers"]}
    sms = receivers["sms:+15551234"]["webhook_configs"][0]
    assert sms["url"] == "http://notifier.internal:9095/v1/alerts?channel=sms&target=%2B15551234"
    assert sms["http_config"] == {"authorization": {"type": "Bearer",
                                                    "credentials_file": "/run/secrets/notifier_token"}}
    assert receivers["teams:a2a-ops"]["webhook_configs"][0]["url"].endswith("channel=teams&target=a2a-ops")
    assert receivers["slack:#payments"]["webhook_configs"][0]["url"].endswith("channel=slack&target=%23payments")
    assert receivers["pagerduty:svc-oncall"]["pagerduty_configs"][0]["routing_key_file"] == \
        "/run/secrets/pagerduty/svc-oncall"
    assert config["global"]["smtp_smarthost"] == "smtp.internal:587"
    # Every channel has a destination: no warnings about channels that only print locally.
    assert not [w for w in result.warnings if "not set" in w.message or "destination" in w.message]
    assert check_alertmanager(result.alertmanager_yaml).ok


_label_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(message=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
       .filter(lambda text: text.strip()), value=_label_text)
def test_any_message_and_label_value_renders_literally(message: str, value: str) -> None:
    document = {"metric": "job_fail_total", "when": "increase_over_5m > 3", "action": "slack:#ops",
                "message": message + " {{value}}", "labels": {"queue": value}}
    parsed, problems = load_bytes(yaml.safe_dump(document, allow_unicode=True), "prop.yml")
    assert not problems, problems
    result = compile_files([parsed], Settings())
    checked = check_rules(result.rules_yaml)
    assert checked.ok, checked.output
    outcome = run_tests(result)[0]
    assert outcome.ok, outcome.output
