"""``hms-ops logs search|tail|COMPONENT`` against the real VictoriaLogs and a state folder."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.cli import cli
from hms_otel.logs_cli import follow
from hms_otel.stack.processes import free_port, wait_until
from hms_otel.stack.services import VictoriaLogs

from .conftest import flush, ingest, now_ns
from .fakestore import body, endless, fake_store


@pytest.fixture(scope="module")
def state(victorialogs: VictoriaLogs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder as `hms-ops up` leaves it: the log store's recorded URL and component logs."""
    folder = tmp_path_factory.mktemp("state")
    (folder / "victorialogs").mkdir()
    (folder / "victorialogs" / "url").write_text(victorialogs.url + "\n")
    (folder / "collector").mkdir()
    (folder / "collector" / "collector.log").write_text("".join(f"collector line {i}\n" for i in range(300)))
    ingest(
        victorialogs.url,
        "cli-payments",
        [
            ("Payment #41 timed out", "warn", now_ns(-120), {"payment_id": "41", "code.lineno": 7}),
            ("Payment #42 accepted", "info", now_ns(-60), {"payment_id": "42"}),
        ],
    )
    flush(victorialogs.url)
    return folder


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["logs", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_search_prints_a_table_newest_first(state: Path) -> None:
    code, output = _run("--state", str(state), "search", "--service", "cli-payments")
    assert code == 0, output
    assert output.index("Payment #42 accepted") < output.index("Payment #41 timed out")
    assert "payment_id=41" in output and "code.lineno" not in output
    assert "cli-payments (ACH)" in output and "warn" in output


def test_search_json_is_machine_readable(state: Path) -> None:
    code, output = _run("--state", str(state), "search", "timed out", "--level", "warning", "--json")
    assert code == 0, output
    records = json.loads(output)
    assert [r["message"] for r in records] == ["Payment #41 timed out"]
    assert records[0]["service"] == "cli-payments" and records[0]["level"] == "warn"
    assert records[0]["fields"]["payment_id"] == "41"


def test_search_by_time_range(state: Path) -> None:
    code, output = _run("--state", str(state), "search", "--service", "cli-payments", "--from", "90s", "--json")
    assert code == 0 and [r["message"] for r in json.loads(output)] == ["Payment #42 accepted"], output
    code, output = _run("--state", str(state), "search", "--service", "cli-payments", "--since", "1m", "--json")
    assert code == 0 and json.loads(output) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "10x"], "use a number and a unit"),
        (["--from", "yesterday"], "ISO 8601"),
        (["--from", "5m", "--to", "10m"], "must be before --to"),
        (["--since", "5m", "--from", "10m"], "either --since or --from/--to"),
        (["--logsql", "foo:>"], "cannot parse"),
        (["--limit", "0"], "0 is not in the range"),
        (["--since", "99999999999d"], "too far back"),  # timedelta's OverflowError was an "internal error"
        (["--since", "9999999999999999999999w"], "too far back"),
        (["--from", "3000000d"], "too far back"),
        (["--from", "999999999999999999999999"], "past the year 9999"),
        (["--to", "99999999999999"], "past the year 9999"),
    ],
)
def test_bad_query_or_time_range_is_one_line_saying_what_to_fix(state: Path, args: list[str], says: str) -> None:
    code, output = _run("--state", str(state), "search", *args)
    assert code != 0
    assert says in output and "Traceback" not in output
    error_lines = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert len(error_lines) == 1, output


def test_search_without_a_running_stack_names_hms_ops_up(tmp_path: Path) -> None:
    code, output = _run("--state", str(tmp_path), "--url", f"http://127.0.0.1:{free_port()}", "search", "x")
    assert code == 1
    assert "hms-ops up" in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize("command", ["search", "tail"])
@pytest.mark.parametrize(("option", "env", "url"), [
    (["--url", "http://[::1"], {}, "http://[::1"),
    (["--url", "http://127.0.0.1:1/a b"], {}, "http://127.0.0.1:1/a b"),
    (["--url", "nonsense"], {}, "nonsense"),
    ([], {"HMS_LOGS_URL": "http://a..b:1"}, "http://a..b:1"),
    ([], {"HMS_VICTORIALOGS_PORT": "abc"}, "http://127.0.0.1:abc"),
])
def test_a_url_that_is_no_url_is_named_with_where_it_came_from(
    tmp_path: Path, command: str, option: list[str], env: dict[str, str], url: str
) -> None:
    """http.client.InvalidURL and ValueError from urllib were internal errors (exit 70)."""
    result = CliRunner().invoke(cli, ["logs", "--state", str(tmp_path), *option, command], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0].startswith(f"error: {url!r} is not a log store URL (")
    assert "--url or HMS_LOGS_URL" in result.output and "Traceback" not in result.output


def test_component_log_shows_the_last_lines(state: Path) -> None:
    code, output = _run("--state", str(state), "collector", "-n", "3")
    assert code == 0, output
    assert output.splitlines() == ["collector line 297", "collector line 298", "collector line 299"]


def test_unknown_component_lists_the_known_ones(state: Path) -> None:
    code, output = _run("--state", str(state), "prometheus")
    assert code == 1
    assert "no log for 'prometheus'" in output and "collector" in output


def test_component_log_without_state_folder_names_hms_ops_up(tmp_path: Path) -> None:
    code, output = _run("--state", str(tmp_path / "missing"), "collector")
    assert code == 1 and "hms-ops up" in output


def test_state_folder_from_environment(state: Path) -> None:
    result = CliRunner().invoke(cli, ["logs", "collector", "-n", "1"], env={"HMS_OPS_STATE": str(state)})
    assert result.output == "collector line 299\n"


def test_component_log_shows_control_sequences_escaped(tmp_path: Path) -> None:
    """A component's log holds what it was sent; printed raw, a title-setting sequence or a screen clear in
    it acted on the operator's terminal."""
    (tmp_path / "collector").mkdir()
    (tmp_path / "collector" / "collector.log").write_bytes(
        b"query \x1b]0;pwned\x07 refused\n\tindented \x1b[2J\x00 \xe2\x80\xae evil \xff\n"
    )
    code, output = _run("--state", str(tmp_path), "collector")
    assert code == 0, output
    assert output == "query \\x1b]0;pwned\\x07 refused\n\tindented \\x1b[2J\\x00 \\u202e evil \ufffd\n"


def _followed(path: Path, changes: list[Callable[[], object]], count: int) -> list[str]:
    """The first ``count`` lines ``follow`` gives for ``path`` (opened at its end), making the next of
    ``changes`` to the file each time it has read to the end."""
    pending = list(changes)

    def at_the_end() -> None:
        assert pending, "follow waited for more than the changes give"
        pending.pop(0)()

    handle = path.open("rb")
    handle.seek(0, 2)
    return list(itertools.islice(follow(handle, path, wait=at_the_end), count))


def _append(path: Path, text: str) -> None:
    with path.open("a") as out:
        out.write(text)


def test_follow_reads_what_the_rotated_file_got_before_the_new_one(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_text("old\n")

    def rotate() -> None:  # a last line lands in the file just before it is renamed and a new one made
        _append(log, "last line of the old file\n")
        log.rename(tmp_path / "collector.log.1")
        log.write_text("first line of the new file\n")

    assert _followed(log, [rotate], 2) == ["last line of the old file\n", "first line of the new file\n"]


def test_follow_sees_a_truncation_followed_by_more_than_was_there(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_text("")

    def truncate_and_write() -> None:  # copytruncate, then a line longer than what was read before
        log.write_text("after truncation, a longer line\n")

    changes = [lambda: _append(log, "short\n"), truncate_and_write]
    assert _followed(log, changes, 2) == ["short\n", "after truncation, a longer line\n"]


def test_follow_survives_a_deleted_and_recreated_file(tmp_path: Path) -> None:
    log = tmp_path / "collector.log"
    log.write_text("x\n")
    changes = [log.unlink, lambda: log.write_text("after restart\n")]
    assert _followed(log, changes, 1) == ["after restart\n"]


def _follow(argv: list[str]) -> tuple[subprocess.Popen[str], list[str]]:
    import threading

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    return proc, lines


def _interrupt(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_component_log_follow_prints_new_lines(state: Path) -> None:
    log = state / "collector" / "collector.log"
    proc, lines = _follow(
        [sys.executable, "-m", "hms_otel.cli", "logs", "--state", str(state), "collector", "-f", "-n", "1"]
    )
    try:
        assert wait_until(lambda: "collector line 299\n" in lines, timeout=30, interval=0.1), lines
        time.sleep(0.5)
        with log.open("a") as out:
            out.write("a new line after start\n")
        assert wait_until(lambda: "a new line after start\n" in lines, timeout=30, interval=0.1), lines
    finally:
        _interrupt(proc)


def test_tail_follows_new_records(state: Path, victorialogs: VictoriaLogs) -> None:
    argv = [sys.executable, "-m", "hms_otel.cli", "logs", "--state", str(state), "tail", "--service", "cli-tail"]
    proc, lines = _follow(argv)
    try:
        time.sleep(2)  # the tail request is open
        ingest(victorialogs.url, "cli-tail", [("fresh record for tail", "error", now_ns(), {})])
        assert wait_until(lambda: any("fresh record for tail" in line for line in lines), timeout=60, interval=0.2), (
            lines
        )
        line = next(line for line in lines if "fresh record for tail" in line)
        assert "cli-tail" in line and "error" in line
    finally:
        _interrupt(proc)


def test_a_search_for_text_the_stack_masks_says_why_it_finds_nothing(state: Path) -> None:
    """A request id in hex holds nine digits in a row now and then; the collector stores them masked."""
    code, output = _run("--state", str(state), "search", "uid985901795", "--service", "cli-payments")
    assert code == 0, output
    assert "no records" in output
    assert 'note: "uid985901795" holds what the stack masks as personal data' in output
    assert 'records read "uid****"' in output
    code, output = _run("--state", str(state), "search", "timed out", "--service", "cli-payments")
    assert "note:" not in output  # found, and nothing in it is masked
    code, output = _run("--state", str(state), "search", "nothing like it", "--service", "cli-payments")
    assert "no records" in output and "note:" not in output


_ODD = {"_time": "2025-01-01T00:00:00.123456789Z", "_msg": "line1\nline2\x1b[2J\x00 [bold]rich[/bold] \u202e evil",
        "service.name": "svc\x1b]0;title\x07", "hms.layer": "ACH", "level": "[red]x", "k\x1b[31m": "v\x00"}


@pytest.mark.parametrize("command", ["search", "tail"])
def test_what_services_log_is_shown_escaped_not_obeyed(tmp_path: Path, command: str) -> None:
    """Escape sequences, NUL, BEL and a bidi override in a record reached the terminal raw."""
    with fake_store(body(json.dumps(_ODD).encode() + b"\n")) as url:
        code, output = _run("--state", str(tmp_path), "--url", url, command)
    assert not any(c in output for c in "\x1b\x00\x07\u202e"), repr(output)
    for shown in (r"svc\x1b]0;title\x07", r"line2\x1b[2J\x00", r"\u202e evil", r"k\x1b[31m=v\x00", "[bold]rich"):
        assert shown in output.replace("\n", "").replace("│", "").replace(" ", "") or shown in output, output
    if command == "tail":
        assert r"line1\nline2" in output and code == 1  # one line per record; then the store closed


def test_search_json_stays_exact(tmp_path: Path) -> None:
    with fake_store(body(json.dumps(_ODD).encode() + b"\n")) as url:
        code, output = _run("--state", str(tmp_path), "--url", url, "search", "--json")
    assert code == 0, output
    [record] = json.loads(output)
    assert record["message"] == _ODD["_msg"] and record["service"] == _ODD["service.name"]
    assert record["fields"] == {"k\x1b[31m": "v\x00"}


@pytest.mark.parametrize("command", ["search", "tail"])
@pytest.mark.parametrize("answer", [b"this is not json\n", b"[1,2]\n",
                                    b'{"_time":"2025-01-01T00:00:00Z","_msg":123,"service.name":null}\n'])
def test_an_answer_that_is_not_victorialogs_json_is_one_line_exit_1(tmp_path: Path, command: str,
                                                                     answer: bytes) -> None:
    """These were "internal error" (exit 70); --json copied null and 123 through as they came."""
    with fake_store(body(answer)) as url:
        code, output = _run("--state", str(tmp_path), "--url", url, command, "--json" if command == "search" else "x")
    assert code == 1, output
    assert output.startswith(f"error: the log store at {url} answered something that is not VictoriaLogs JSON (")
    assert len(output.strip().splitlines()) == 1, output


def test_an_endless_answer_is_one_line_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hms_otel import logstore

    monkeypatch.setattr(logstore, "MAX_ANSWER_BYTES", 2**20)
    with fake_store(endless) as url:
        code, output = _run("--state", str(tmp_path), "--url", url, "search", "x")
    assert code == 1, output
    assert output.startswith(f"error: the log store at {url} gave up: ") and "over 1 MiB" in output


@pytest.mark.parametrize("command", ["search", "tail"])
@pytest.mark.parametrize(("args", "says"), [
    (["--service", "svc-a", "--logsql", "x) or (*"], "--logsql must be one filter, not one with an unbalanced ')'"),
    (["--logsql", "*) | stats count() as n | filter (n:*"], "an unbalanced ')'"),
    (["--logsql", "* | stats count()"], "a pipe '|'"),
    (["a\udcff"], r"TEXT is not valid UTF-8: a\xff"),
    (["--service", "s\udcff"], r"--service is not valid UTF-8: s\xff"),
    (["--logsql", "x\udcff"], r"--logsql is not valid UTF-8: x\xff"),
])
def test_filters_no_query_can_carry_are_usage_errors(tmp_path: Path, command: str, args: list[str],
                                                      says: str) -> None:
    """A --logsql leaving its parentheses dropped --service (or crashed); bytes that are not UTF-8 were
    an internal error. Refused before any connection."""
    code, output = _run("--state", str(tmp_path), "--url", f"http://127.0.0.1:{free_port()}", command, *args)
    assert code == 2, output
    assert says in output and "internal error" not in output
    assert len([line for line in output.splitlines() if line.startswith("Error")]) == 1, output
