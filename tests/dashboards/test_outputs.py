"""Where `dashboards export --grafana DIR` and the served page write: never into the alert folder, over an
alert file or something that is no file (refused before anything is written, no waiting on a pipe);
through a link to its target; all pages or none when writing fails part way."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel import outputs
from hms_otel.cli import cli
from hms_otel.dashboards import uplot
from hms_otel.dashboards.alert_sources import FILE_NAME, write_sources
from hms_otel.dashboards.build import load
from hms_otel.dashboards.site import write_site
from hms_otel.outputs import OutputRefused

ALERT = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"
TEAM = "page: ACH\npanels:\n  - id: ach_latency_ms\n    title: ACH clearing time\n"
PAGES = 10  # overview, 8 layers, other


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "alert_rules"
    folder.mkdir()
    (folder / "fails.yml").write_text(ALERT)
    (folder / "ach.dashboard.yaml").write_text(TEAM)
    return folder


def _export(source: Path, grafana: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dashboards", "export", "--alerts", str(source), "--grafana", str(grafana)])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result.exit_code, result.output


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`hms-ops` as a process with a time limit: a pipe must not hang it."""
    return subprocess.run([sys.executable, "-c", "from hms_otel.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)


def _inputs(source: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in source.iterdir()}


def test_a_named_pipe_where_a_page_goes_is_refused_without_waiting(source: Path, tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    os.mkfifo(grafana / "hms-overview.json")
    run = _cli("dashboards", "export", "--alerts", str(source), "--grafana", str(grafana))
    assert run.returncode == 1, run.stderr
    assert run.stderr == (f"error: cannot write {grafana / 'hms-overview.json'}: it is a named pipe (FIFO), "
                          "not a regular file\n")
    assert [path.name for path in grafana.iterdir()] == ["hms-overview.json"]  # nothing else written


def test_folders_devices_and_pipes_where_pages_go_are_all_named(source: Path, tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    (grafana / "hms-ach.json").mkdir(parents=True)
    os.mkfifo(grafana / "fifo")
    (grafana / "hms-svc.json").symlink_to("fifo")
    code, output = _export(source, grafana)
    assert code == 1, output
    assert f"cannot write {grafana / 'hms-ach.json'}: it is a folder, not a regular file" in output
    assert f"cannot write {grafana / 'hms-svc.json'}: it is a link to a named pipe (FIFO), not a regular file" in output
    assert sorted(path.name for path in grafana.iterdir()) == ["fifo", "hms-ach.json", "hms-svc.json"]


def test_a_pipe_given_as_the_folder_is_refused(source: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "grafana")
    code, output = _export(source, tmp_path / "grafana")
    assert code == 1, output
    assert f"cannot write into {tmp_path / 'grafana'}: it is a named pipe (FIFO), not a folder" in output


@pytest.mark.parametrize("inside", ["", "generated", ".hidden"])
def test_the_alert_folder_or_one_inside_it_is_refused(source: Path, inside: str) -> None:
    before = _inputs(source)
    grafana = source / inside if inside else source
    code, output = _export(source, grafana)
    assert code == 1, output
    where = "the alert folder" if not inside else "in the alert folder"
    assert f"cannot write into {grafana}: it is {where} {source}; write the outputs outside that folder" in output
    assert _inputs(source) == before  # nothing written there, no folder made


def test_a_folder_linked_from_the_alert_folder_is_refused(source: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (source / "shared").symlink_to(shared)
    code, output = _export(source, shared)
    assert code == 1, output
    assert f"it is in a folder linked from the alert folder {source}" in output
    assert list(shared.iterdir()) == []


def test_a_link_to_an_alert_or_dashboard_file_is_refused_and_the_file_kept(source: Path, tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    (grafana / "hms-ach.json").symlink_to(source / "fails.yml")
    (grafana / "hms-svc.json").symlink_to(source / "ach.dashboard.yaml")
    before = _inputs(source)
    code, output = _export(source, grafana)
    assert code == 1, output
    assert f"cannot write {grafana / 'hms-ach.json'}: it is the alert file {source / 'fails.yml'}" in output
    dashboard_file = source / "ach.dashboard.yaml"
    assert f"cannot write {grafana / 'hms-svc.json'}: it is the dashboard file {dashboard_file}" in output
    assert _inputs(source) == before


def test_a_link_is_written_through_to_its_target(source: Path, tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    (tmp_path / "kept.json").write_text("old\n")
    (grafana / "hms-overview.json").symlink_to(tmp_path / "kept.json")
    code, output = _export(source, grafana)
    assert code == 0, output
    assert (grafana / "hms-overview.json").is_symlink()
    assert json.loads((tmp_path / "kept.json").read_text())["uid"] == "hms-overview"
    assert len(list(grafana.iterdir())) == PAGES


def test_a_failure_part_way_leaves_every_old_page_and_names_the_file(source: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    grafana = tmp_path / "grafana"
    grafana.mkdir()
    for page in ("overview", "ach", "svc", "a2a", "act", "esq"):
        (grafana / f"hms-{page}.json").write_text("old\n")
    real = outputs._temporary
    written: list[Path] = []

    def disk_full_at_the_fifth(target: Path, data: bytes) -> Path:
        if len(written) == 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() says it: no file name
        written.append(real(target, data))
        return written[-1]

    monkeypatch.setattr(outputs, "_temporary", disk_full_at_the_fifth)
    code, output = _export(source, grafana)
    assert code == 1, output
    assert output.strip().splitlines()[-1] == f"error: {grafana / 'hms-act.json'}: No space left on device"
    assert len(written) == 4
    assert sorted(path.name for path in grafana.iterdir()) == sorted(f"hms-{page}.json" for page in (
        "overview", "ach", "svc", "a2a", "act", "esq"))  # no temporaries left behind
    assert all(path.read_text() == "old\n" for path in grafana.iterdir())


def test_an_export_in_place_keeps_the_pages_permissions(source: Path, tmp_path: Path) -> None:
    grafana = tmp_path / "grafana"
    assert _export(source, grafana)[0] == 0
    (grafana / "hms-ach.json").chmod(0o640)
    (grafana / "hms-ach.json").write_text("old\n")
    assert _export(source, grafana)[0] == 0
    assert stat.S_IMODE((grafana / "hms-ach.json").stat().st_mode) == 0o640
    assert "ACH clearing time" in (grafana / "hms-ach.json").read_text()


@pytest.mark.timeout(60)  # before the fix it waited for a reader for ever
def test_the_served_page_refuses_a_pipe_instead_of_hanging(tmp_path: Path) -> None:
    """`hms-ops up` copies the alerts' sources every second: a pipe in their place blocked the copy for ever."""
    site = tmp_path / "site"
    site.mkdir()
    os.mkfifo(site / FILE_NAME)
    with pytest.raises(OutputRefused, match="named pipe"):
        write_sources(site, None)
    os.mkfifo(site / "index.html")
    uplot.install_uplot(progress=lambda _text: None)  # from the cache, or npm pack on a fresh machine
    with pytest.raises(OutputRefused, match=r"index\.html: it is a named pipe"):
        write_site(site, load(None))
    assert sorted(path.name for path in site.iterdir()) == [FILE_NAME, "index.html"]
