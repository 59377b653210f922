"""A broken notifier config is named at file:line:col, every problem at once, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hms_otel.errors import HmsError
from hms_otel.notify.config import ConfigError, load


@pytest.mark.parametrize(("text", "expected"), [
    (b"\xff\xfe\x00garbage", ":1:1: UTF-16 text; notifier configs are YAML text in UTF-8"),
    (b"ok: 1\n\xc3garbage", ":2:1: not UTF-8 text (byte 0xc3)"),
    (b"token: x\nslack: {channels: [a, b]}\n", ":2:19: slack.channels must be a mapping, not a list"),
    (b"token: x\nwebhook: {allowed_hosts: hooks.example.gov}\n", ":2:26: webhook.allowed_hosts must be a list"),
    (b"token: x\ntoken: y\n", ":2:1: duplicate key 'token'"),
    (b"token: x\nsms: {acount_sid: AC1}\n", ":2:7: unknown setting 'acount_sid' in sms"),
    (b"token: ${NOTIFIER_TOKEN}\n", ":1:8: token: ${NOTIFIER_TOKEN... is not expanded here"),
    (b"token: x\nsms: {auth_token: $TWILIO_TOKEN}\n", ":2:19: sms.auth_token: $TWILIO_TOKEN... is not expanded"),
    (b"a: &a [x, x]\nb: &b [*a, *a]\ntoken: *b\n", ":1:4: YAML anchor &a is not allowed"),
    (b"token: x\nsms: {base_url: api.twilio.com}\n", ":2:17: sms.base_url must be a URL starting with https://"),
    # The same check as the environment's and the delivery's: these were taken and failed every message for a day.
    (b"token: x\nslack: {webhook_url: 'https://'}\n", ":2:22: slack.webhook_url must be a URL starting with "
                                                    "https:// or http:// (it names no host)"),
    (b"token: x\nsms: {base_url: 'http://[::1'}\n", ":2:17: sms.base_url must be a URL starting with https:// or "
                                                  "http:// (it is not a URL"),
    (b"token: x\nlog_store: http://\n", ":2:12: log_store must be a URL starting with https:// or http://"),
    (b'token: x\nteams: {ops: "http://127.0.0.1:21201/wf\\nX-Injected: 1"}\n', ":2:14: teams.ops must be a URL "
                                                                            "starting with https:// or http:// (it "
                                                                            "holds a space or a control character)"),
    (b"token: x\nslack: {channels: {'#ops': 'http://u:s3cret@h.example/x'}}\n", ":2:28: slack.channels.#ops must "
                                                                            "be a URL starting with https:// or "
                                                                            "http:// (a user name or password"),
    (b"a: " + b"[" * 5000 + b"\n", ":1:"),
    (b"1: x\ntoken: x\n", ":1:1: unknown setting '1'"),
    (b"token: x\nteams: {ops: }\n", ":2:14: teams.ops is empty"),
    (b"token: [x]\n", ":1:8: token must be text, not a list"),
    (b"- token: x\n", ":1:1: the file must be a mapping, not a list"),
    (b"token: x\n" + b"#" * 1_000_001 + b"\n", ": notifier config is larger than"),
    (b"token: x\nsms: {a: [}\n", ":2:11: invalid YAML"),
    # teams:OPS is teams:ops; the second one silently replaced the first.
    (b"token: x\nteams:\n  OPS: https://a.example/wf\n  ops: https://b.example/wf\n",
     ":4:3: teams.ops is the same channel as teams.OPS at line 3 (names are matched without case); keep one"),
])
def test_a_broken_config_is_located(tmp_path: Path, text: bytes, expected: str) -> None:
    path = tmp_path / "notifier.yml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as refused:
        load(path, environ={})
    assert isinstance(refused.value, HmsError)
    assert str(refused.value).startswith(str(path)), str(refused.value)
    assert expected in str(refused.value)
    assert "s3cret" not in str(refused.value)  # a URL setting's value is not shown: a webhook URL is a secret


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yml"
    path.write_text("tokn: x\nsms: {from: [1]}\nslack: {webhook_url: hooks.slack.com}\n")
    with pytest.raises(ConfigError) as refused:
        load(path, environ={})
    assert [line.split(": ", 1)[0] for line in str(refused.value).splitlines()] == \
        [f"{path}:1:1", f"{path}:2:13", f"{path}:3:22"]


def test_the_stacks_generated_config_and_a_full_one_still_load(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    path = tmp_path / "notifier.yml"
    path.write_text(f'{{"listen": "127.0.0.1:9195", "token_file": "{tmp_path / "token"}", "state_dir": "{tmp_path}"}}')
    assert load(path, environ={}).token == "s3cret"
    path.write_text("token: t\nsms: {account_sid: AC1, auth_token: a, from: '+15550100', base_url: https://x.example}\n"
                    "slack: {webhook_url: https://hooks.slack.com/services/T/B/x, channels: {'#ops': https://h.example}}\n"
                    "teams: {ops: https://prod.logic.azure.com/workflows/1}\nwebhook: {allowed_hosts: [hooks.local]}\n"
                    "log_store: http://127.0.0.1:9428\n")
    config = load(path, environ={})
    assert config.sms.configured and config.slack_channels == {"#ops": "https://h.example"}
    assert config.teams == {"ops": "https://prod.logic.azure.com/workflows/1"}
    assert config.webhook_allowed_hosts == ("hooks.local",)


def test_a_secret_file_too_large_for_a_secret_is_named(tmp_path: Path) -> None:
    """/dev/zero was read without end (a file that is not UTF-8: test_a_secret_file_that_is_not_utf8_is_named)."""
    token = tmp_path / "token"
    token.write_bytes(b"x" * 70_000)
    path = tmp_path / "notifier.yml"
    path.write_text(f"token_file: {token}\n")
    with pytest.raises(ConfigError) as refused:
        load(path, environ={})
    assert str(refused.value).startswith(f"{path}: token_file {token}: larger than 65536 bytes")


def test_the_command_exits_1_with_the_location(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yml"
    path.write_bytes(b"token: x\nslack: {channels: [a]}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("HMS_")}
    done = subprocess.run([sys.executable, "-m", "hms_otel.cli", "notifier", f"--config={path}"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert f"{path}:2:19: slack.channels must be a mapping" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize("variable", ["HMS_TWILIO_BASE_URL", "HMS_SLACK_WEBHOOK_URL", "HMS_SLACK_PAYMENTS_WEBHOOK_URL",
                                      "HMS_TEAMS_A2A_OPS_URL", "HMS_LOGSTORE_URL"])
@pytest.mark.parametrize("value", ["hooks.slack.com/services/T0/B0/secret-part", "http://[::1", "https://",
                                   "ftp://files.example/x", "http://h.example/secret-part\nX-Injected: 1",
                                   "http://user:secret-part@h.example/x"])
def test_a_url_variable_that_is_no_url_is_refused_by_name(variable: str, value: str) -> None:
    """In the file such a value is refused at its line; from the environment it was taken, and every message for it
    failed and was retried for a day before anyone saw it. The value is not shown: a webhook URL is a secret."""
    with pytest.raises(ConfigError) as raised:
        load(None, environ={"HMS_NOTIFIER_TOKEN": "t", variable: value})
    assert str(raised.value).startswith(f"{variable} must be a URL starting with https:// or http:// (")
    assert "secret-part" not in str(raised.value)


def test_url_variables_that_are_urls_load() -> None:
    config = load(None, environ={"HMS_NOTIFIER_TOKEN": "t", "HMS_SLACK_PAYMENTS_WEBHOOK_URL": "https://hooks.example/x",
                                 "HMS_TWILIO_BASE_URL": "http://127.0.0.1:8080", "HMS_TEAMS_OPS_URL": " "})
    assert config.slack_channels == {"#payments": "https://hooks.example/x"}
    assert config.sms.base_url == "http://127.0.0.1:8080"


def test_a_secret_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """It was an "internal error" (UnicodeDecodeError), exit 70."""
    secret = tmp_path / "badtoken"
    secret.write_bytes(b"\xff\xfe\x00bad")
    path = tmp_path / "notifier.yml"
    path.write_text(f"token_file: {secret}\nsms: {{auth_token_file: {secret}}}\n")
    with pytest.raises(ConfigError) as raised:
        load(path, environ={})
    assert str(raised.value).startswith(f"{path}: token_file {secret}: not UTF-8 text"), str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load(None, environ={"HMS_NOTIFIER_TOKEN_FILE": str(secret)})
    assert str(raised.value).startswith(f"HMS_NOTIFIER_TOKEN_FILE: token_file {secret}: not UTF-8"), str(raised.value)
    with pytest.raises(ConfigError) as raised:
        load(path, environ={"HMS_NOTIFIER_TOKEN": "t"})  # the token from the environment: sms's file is read
    assert "auth_token_file" in str(raised.value), str(raised.value)


@pytest.mark.parametrize("listen", ["127.0.0.1:2100\u00b2", "127.0.0.1:\u0661\u0662"])
def test_a_listen_port_with_digits_int_refuses_is_named(listen: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(None, environ={"HMS_NOTIFIER_TOKEN": "t", "HMS_NOTIFIER_LISTEN": listen})
    assert "must be HOST:PORT" in str(raised.value)


@pytest.mark.parametrize(("environ", "missing"), [
    ({"HMS_TWILIO_ACCOUNT_SID": "AC1", "HMS_TWILIO_FROM": "+15550100"}, "HMS_TWILIO_AUTH_TOKEN"),
    ({"HMS_TWILIO_AUTH_TOKEN": "s3cret"}, "HMS_TWILIO_ACCOUNT_SID"),
    ({"HMS_TWILIO_ACCOUNT_SID": "AC1", "HMS_TWILIO_AUTH_TOKEN": "s3cret"}, "HMS_TWILIO_FROM"),
])
def test_sms_set_up_in_part_is_refused_naming_what_is_missing(environ: dict[str, str], missing: str) -> None:
    """A forgotten HMS_TWILIO_AUTH_TOKEN was taken as "no SMS provider": every page was only printed on the
    notifier's console, said in one line at its start among the others."""
    with pytest.raises(ConfigError) as refused:
        load(None, environ={"HMS_NOTIFIER_TOKEN": "t", **environ})
    message = str(refused.value)
    assert message.startswith("environment: SMS is set up only in part: ") and missing in message, message
    assert "s3cret" not in message


def test_sms_set_up_in_part_stops_the_notifier_with_the_variable_named(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HMS_")}
    env.update(HMS_NOTIFIER_TOKEN="t", HMS_TWILIO_ACCOUNT_SID="AC1", HMS_TWILIO_FROM="+15550100",
               HMS_NOTIFIER_STATE=str(tmp_path / "state"))
    done = subprocess.run([sys.executable, "-m", "hms_otel.cli", "notifier"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "HMS_TWILIO_AUTH_TOKEN (sms.auth_token or sms.auth_token_file) is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_sms_set_up_whole_or_not_at_all_loads() -> None:
    assert not load(None, environ={"HMS_NOTIFIER_TOKEN": "t"}).sms.configured
    assert load(None, environ={"HMS_NOTIFIER_TOKEN": "t", "HMS_TWILIO_ACCOUNT_SID": "AC1", "HMS_TWILIO_AUTH_TOKEN": "x",
                               "HMS_TWILIO_MESSAGING_SERVICE_SID": "MG1"}).sms.configured
