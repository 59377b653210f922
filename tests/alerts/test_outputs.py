"""Where `alerts compile` and `alerts watch` write: never over an alert file, into the alert folder, both
outputs to one file, or over a device or pipe; through a link to its target. Refused before anything is
written, with a message naming the path and exit 1."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.alerts import rebuild
from hms_otel.alerts.cli import alerts

ALERT = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "alert_rules"
    folder.mkdir()
    (folder / "fails.yml").write_text(ALERT)
    return folder


def _compile(source: Path, *outputs: str) -> tuple[int, str]:
    result = CliRunner().invoke(alerts, ["compile", "--no-tools", str(source), *outputs])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result.exit_code, result.output


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`hms-ops` as a process with a time limit: a pipe or a device output must not hang or eat memory."""
    return subprocess.run([sys.executable, "-c", "from hms_otel.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)


def test_an_output_that_is_an_alert_file_is_refused_and_the_alert_kept(source: Path, tmp_path: Path) -> None:
    (tmp_path / "link.yml").symlink_to(source / "fails.yml")
    os.link(source / "fails.yml", tmp_path / "hard.yml")
    for output in (source / "fails.yml", tmp_path / "link.yml", tmp_path / "hard.yml"):
        code, output_text = _compile(source, "-o", str(output))
        assert code == 1, output_text
        assert f"cannot write {output}: it is the alert file {source / 'fails.yml'}" in output_text
        assert (source / "fails.yml").read_text() == ALERT


@pytest.mark.parametrize("name", ["rules.yml", "generated/am.yaml"])
def test_an_output_the_next_compile_would_read_is_refused(source: Path, name: str) -> None:
    code, output = _compile(source, "--alertmanager", str(source / name))
    assert code == 1, output
    assert f"cannot write {source / name}: it is in the alert folder {source}, so the next compile" in output
    assert sorted(path.name for path in source.iterdir()) == ["fails.yml"]


def test_an_output_in_the_alert_folder_that_is_never_read_is_written(source: Path) -> None:
    for name in ("rules.txt", ".rules.yml", ".out/rules.yml"):
        code, output = _compile(source, "-o", str(source / name))
        assert code == 0, output
        assert (source / name).read_text().count("groups:") == 1


def test_one_file_for_both_outputs_is_refused(source: Path, tmp_path: Path) -> None:
    (tmp_path / "link.yml").symlink_to("out.yml")
    for manager in ("out.yml", "./out.yml", "link.yml"):
        code, output = _compile(source, "-o", str(tmp_path / "out.yml"), "--alertmanager", str(tmp_path / manager))
        assert code == 1, output
        assert "it is the same file as" in output and "need a file each" in output
        assert not (tmp_path / "out.yml").exists()


def test_a_named_pipe_is_refused_without_waiting_for_a_reader(source: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yml")
    run = _cli("alerts", "compile", "--no-tools", str(source), "-o", str(tmp_path / "fifo.yml"))
    assert run.returncode == 1, run.stderr
    assert f"cannot write {tmp_path / 'fifo.yml'}: it is a named pipe (FIFO), not a regular file" in run.stderr
    assert stat.S_ISFIFO((tmp_path / "fifo.yml").stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_refused_not_replaced(source: Path, tmp_path: Path) -> None:
    """As root, `-o /dev/null` replaced the system's /dev/null with a rules file (a copy of it here)."""
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (tmp_path / "link.yml").symlink_to(device)
    for output, what in ((device, "a character device"), (tmp_path / "link.yml", "a link to a character device")):
        run = _cli("alerts", "compile", "--no-tools", str(source), "--alertmanager", str(output))
        assert run.returncode == 1, run.stderr
        assert f"cannot write {output}: it is {what}, not a regular file; to only check" in run.stderr
        assert stat.S_ISCHR(device.stat().st_mode)


def test_a_link_is_written_through_to_its_target(source: Path, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "real-rules.yml").write_text("old\n")
    (deploy / "rules.yml").symlink_to("real-rules.yml")
    code, output = _compile(source, "-o", str(deploy / "rules.yml"))
    assert code == 0, output
    assert (deploy / "rules.yml").is_symlink()
    assert "increase(job_fail_total[5m])) > 3" in (deploy / "real-rules.yml").read_text()
    assert sorted(path.name for path in deploy.iterdir()) == ["real-rules.yml", "rules.yml"]


def test_rebuild_and_watch_refuse_an_output_in_the_alert_folder(source: Path) -> None:
    """watch wrote its outputs into the folder, then read them back as broken alert files at every later edit."""
    messages: list[str] = []
    report = rebuild(source, source / "rules.yml", source / "am.yml", echo=lambda text, _error: messages.append(text))
    assert not report.ok and not report.written
    assert "cannot write" in messages[0] and "nothing written" in messages[0]
    run = _cli("alerts", "watch", str(source), "-o", str(source / "rules.yml"))
    assert run.returncode == 1, run.stderr
    assert "it is in the alert folder" in run.stderr
    assert sorted(path.name for path in source.iterdir()) == ["fails.yml"]
