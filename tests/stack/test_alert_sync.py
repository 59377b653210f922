"""The alert build's child process reloads the stack's servers itself, found through the state file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hms_otel import http
from hms_otel.stack import LocalStack, alert_sync, state
from hms_otel.stack.lifecycle import status
from hms_otel.stack.processes import process_start_ticks


def sync(tmp_path: Path, *extra: str, rules: Path | None = None, alertmanager_yml: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    if not (tmp_path / "alerts").exists():  # later calls build what the test left in the folder
        (tmp_path / "alerts").mkdir()
        (tmp_path / "alerts" / "payment_latency.yaml").write_text(
            "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "token").write_text("t0k3n")
    argv = [sys.executable, "-m", "hms_otel.stack.alert_sync", "--alerts", str(tmp_path / "alerts"),
            "--rules", str(rules or tmp_path / "rules" / "hms-alerts.yml"),
            "--alertmanager-yml", str(alertmanager_yml or tmp_path / "alertmanager.yml"),
            "--notifier-url", "http://127.0.0.1:9", "--notifier-token-file", str(tmp_path / "token"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_without_a_running_server_the_build_says_which_and_exits_not_reloaded(tmp_path: Path) -> None:
    me = state.ProcessRecord("hms-ops up", os.getpid(), process_start_ticks(os.getpid()))
    gone = state.ProcessRecord("alertmanager", 2**22 + 1, 1, url="http://127.0.0.1:9")
    state.write(tmp_path / "state", state.StackState(me, [gone]))
    done = sync(tmp_path, "--first", "--state", str(tmp_path / "state"))
    assert done.returncode == alert_sync.NOT_RELOADED, done.stderr
    assert "alerts: reload of Alertmanager failed: alertmanager is not running; nothing to reload" in done.stderr
    assert "alerts: loaded" not in done.stdout


@pytest.mark.parametrize("extra", [[], ["--state", ""]])
def test_without_a_state_folder_nothing_is_reloaded(tmp_path: Path, extra: list[str]) -> None:
    done = sync(tmp_path, "--first", *extra)
    assert done.returncode == alert_sync.CHANGED, done.stderr
    assert "reload" not in done.stdout + done.stderr


def test_a_server_that_does_not_answer_is_asked_again_later(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    me = state.ProcessRecord("hms-ops up", os.getpid(), process_start_ticks(os.getpid()))
    silent = state.ProcessRecord("alertmanager", os.getpid(), process_start_ticks(os.getpid()),
                                 url=f"http://127.0.0.1:{closed}")
    state.write(tmp_path / "state", state.StackState(me, [silent]))
    done = sync(tmp_path, "--first", "--state", str(tmp_path / "state"))
    assert done.returncode == alert_sync.RELOAD_LATER, done.stderr
    assert "alerts: reload of Alertmanager failed: Alertmanager does not answer" in done.stderr
    assert "asking again shortly" in done.stderr and "rejected" not in done.stderr
    assert "alerts: loaded" not in done.stdout
    # `hms-ops status` says the rules are not loaded, and why.
    recorded = state.read_alerts(tmp_path / "state")
    assert recorded is not None and not recorded.ok
    assert recorded.detail.startswith("reload of Alertmanager failed: Alertmanager does not answer")


def test_a_broken_file_keeps_the_recorded_series_of_its_metric(tmp_path: Path) -> None:
    checkout = tmp_path / "alerts" / "checkout.yaml"
    checkout.parent.mkdir()
    checkout.write_text("metric: checkout_ms\ntype: histogram\nwhen: avg_over_30s > 2000\naction: sms:+15551234\n")
    assert sync(tmp_path).returncode == alert_sync.CHANGED
    recorded = tmp_path / "rules" / "hms-recorded.yml"
    good = recorded.read_text()
    assert "record: checkout_ms" in good
    checkout.write_text("metric: checkout_ms\n")  # half saved: the series the loaded rules use must stay
    done = sync(tmp_path)
    assert done.returncode == alert_sync.FAILED, done.stderr
    assert "checkout.yaml:1:1: missing field 'when'" in done.stderr
    assert recorded.read_text() == good


def record_servers(tmp_path: Path, stack: LocalStack) -> dict[str, Path]:
    """A state folder naming the stack's Alertmanager and Prometheus (as `up` records them), and the
    outputs they read, as arguments of :func:`sync`."""
    me = state.ProcessRecord("hms-ops up", os.getpid(), process_start_ticks(os.getpid()))
    servers = [state.ProcessRecord(service.name, service.process.pid, service.process.start_ticks, service.url,
                                   service.health_url, str(service.log_path), dict(service.process.ready_headers or {}))
               for service in (stack.alertmanager, stack.prometheus) if service.process]
    state.write(tmp_path / "state", state.StackState(me, servers))
    return {"rules": stack.rules_dir / "hms-alerts.yml", "alertmanager_yml": stack.alertmanager_config_path}


def rule_names(stack: LocalStack) -> set[str]:
    answer = http.get_json(stack.prometheus_url + "/api/v1/rules")
    return {rule["name"] for group in answer["data"]["groups"] for rule in group["rules"]}


@pytest.mark.e2e
def test_removing_the_last_alert_file_unloads_its_rules(tmp_path: Path, isolated_stack: LocalStack) -> None:
    outputs = record_servers(tmp_path, isolated_stack)
    assert sync(tmp_path, "--state", str(tmp_path / "state"), **outputs).returncode == alert_sync.CHANGED
    assert "payment_latency" in rule_names(isolated_stack)
    (tmp_path / "alerts" / "payment_latency.yaml").unlink()  # the alert is not wanted any more
    done = sync(tmp_path, "--state", str(tmp_path / "state"), **outputs)
    assert done.returncode == alert_sync.CHANGED, done.stderr
    assert f"alerts: 0 alerts from {tmp_path / 'alerts'} compiled" in done.stdout
    assert "payment_latency" not in rule_names(isolated_stack)
    assert "payment_latency_ms" in rule_names(isolated_stack)  # the recorded series stays


@pytest.mark.e2e
def test_status_shows_what_the_last_build_loaded(tmp_path: Path, isolated_stack: LocalStack) -> None:
    outputs = record_servers(tmp_path, isolated_stack)
    done = sync(tmp_path, "--state", str(tmp_path / "state"), **outputs)
    assert done.returncode == alert_sync.CHANGED, done.stderr
    loaded = state.read_alerts(tmp_path / "state")
    assert loaded is not None and loaded.ok
    assert loaded.detail.startswith(f"1 alert from {tmp_path / 'alerts'} loaded at"), loaded.detail
    (tmp_path / "alerts" / "dup.yaml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\n"
                                                  "action: sms:+15551234\nname: payment_latency\n")
    assert sync(tmp_path, "--state", str(tmp_path / "state"), **outputs).returncode == alert_sync.FAILED
    _recorded, rows = status(tmp_path / "state")
    assert rows[-1].name == "alerts" and not rows[-1].healthy
    assert "alert name 'payment_latency' is already used at " in rows[-1].detail, rows[-1].detail
    assert "dup.yaml:1:1" in rows[-1].detail, rows[-1].detail
    assert rows[-1].detail.endswith("the previous rules stay active"), rows[-1].detail
    state.remove(tmp_path / "state")
    assert state.read_alerts(tmp_path / "state") is None  # a next stack does not show this one's
