"""What the compiler reads and where its errors point: links that dangle or loop are reported,
every problem of a file is printed in line order, and a tool's complaint about the generated
output points at the user's own file and line, never at the generated file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.alerts import compiler, tools
from hms_otel.alerts.cli import alerts
from hms_otel.alerts.compiler import compile_dir, load_dir

GOOD = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"


def test_dangling_and_looping_links_are_reported(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    (tmp_path / "dangling.yml").symlink_to(tmp_path / "missing.yml")
    (tmp_path / "self.yml").symlink_to(tmp_path / "self.yml")
    (tmp_path / "loop").symlink_to(tmp_path)
    files, problems = load_dir(tmp_path)
    text = "\n".join(str(problem) for problem in problems)
    assert [f.path for f in files] == [str(tmp_path / "good.yml")] or len(files) == 1
    assert f"{tmp_path / 'dangling.yml'}:1:1: link to" in text
    assert f"{tmp_path / 'self.yml'}:1:1: cannot follow link" in text
    assert f"{tmp_path / 'loop'}:1:1: this link leads back to a folder already read" in text


def test_an_upper_case_extension_is_an_alert_file(tmp_path: Path) -> None:
    """Latency.YML was skipped without a word ("no alert files found" when alone)."""
    (tmp_path / "Latency.YML").write_text(GOOD)
    (tmp_path / "other.Yaml").write_text(GOOD.replace("> 3", "> 4"))
    (tmp_path / "notes.yml.txt").write_text("not an alert")
    files, problems = load_dir(tmp_path)
    assert not problems, problems
    assert sorted(Path(f.path).name for f in files) == ["Latency.YML", "other.Yaml"]


def test_a_link_to_a_file_is_read(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.yml").write_text(GOOD)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "linked.yml").symlink_to(elsewhere / "real.yml")
    assert len(compile_dir(rules).files) == 1


def test_three_mistakes_print_three_located_problems_in_line_order(tmp_path: Path) -> None:
    (tmp_path / "three.yml").write_text("metric: job_fail_total\nwhen: increase_over_5q > 3\nseverity: loud\n"
                                        "action: pager:x\n")
    result = CliRunner().invoke(alerts, ["check", "--no-tools", str(tmp_path)])
    assert result.exit_code == 1
    located = [line for line in result.output.splitlines() if "three.yml:" in line]
    assert [line.split(":")[1] for line in located] == ["2", "3", "4"], result.output
    assert "3 errors" in result.output and "Traceback" not in result.output


def test_an_slo_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "slo.yml").write_text("slo: payments\nobjective: 200%\nperiod: 5x\nlatency:\n"
                                      "  metric: payment_latency_ms\n  below: 7\naction: 'pager:x'\n")
    result = CliRunner().invoke(alerts, ["check", "--no-tools", str(tmp_path)])
    lines = [line.split(":")[1] for line in result.output.splitlines() if "slo.yml:" in line]
    assert lines == ["2", "3", "6", "7"], result.output


def test_a_tool_rejecting_the_output_points_at_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yml").write_text(GOOD + "name: fine\n")
    (tmp_path / "b.yml").write_text("- " + GOOD.replace("\n", "\n  ") + "name: also_fine\n"
                                    "- " + GOOD.replace("\n", "\n  ") + "name: rejected\n")
    result = compile_dir(tmp_path)

    def promtool(text: str) -> tools.ToolRun:  # stands in for a promtool that refuses one rule
        if "alert: rejected" in text:
            return tools.ToolRun(False, "rules.yml: 7:5: group \"b\", rule 1, \"rejected\": something is wrong")
        return tools.ToolRun(True, "")

    monkeypatch.setattr(tools, "check_rules", promtool)
    monkeypatch.setattr(tools, "check_alertmanager", lambda _text: tools.ToolRun(True, ""))
    problems = compiler.validate(result)
    assert [str(problem.location) for problem in problems] == [f"{tmp_path / 'b.yml'}:5:3"]
    assert "something is wrong" in problems[0].message
    assert "<generated" not in str(problems[0])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_an_unreadable_file_is_located(tmp_path: Path) -> None:
    (tmp_path / "secret.yml").write_text(GOOD)
    (tmp_path / "secret.yml").chmod(0)
    _files, problems = load_dir(tmp_path)
    assert "secret.yml:1:1: cannot read alert file" in str(problems[0])


def test_dashboard_files_next_to_alert_files_report_dangling_links_too(tmp_path: Path) -> None:
    from hms_otel.dashboards.spec import iter_dashboard_files

    (tmp_path / "ach.dashboard.yaml").write_text("page: ACH\npanels: [{id: ach_latency_ms, title: x}]\n")
    (tmp_path / "gone.dashboard.yaml").symlink_to(tmp_path / "missing.dashboard.yaml")
    files, problems = iter_dashboard_files(tmp_path)
    assert [path.name for path in files] == ["ach.dashboard.yaml"]
    assert [str(problem.location) for problem in problems] == [f"{tmp_path / 'gone.dashboard.yaml'}:1:1"]
    alert_files, alert_problems = load_dir(tmp_path)
    assert alert_files == [] and "gone.dashboard.yaml" not in str(alert_problems)


def test_an_alertmanager_refusal_points_at_the_action(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yml").write_text("metric: job_fail_total\nwhen: increase_over_5m > 3\n"
                                    "action: ['slack:#ops', 'email:refused@example.gov']\n")
    result = compile_dir(tmp_path)

    def amtool(text: str) -> tools.ToolRun:  # stands in for an amtool that refuses one receiver
        if "refused@example.gov" in text:
            return tools.ToolRun(False, "Checking 'alertmanager.yml'  FAILED: bad address\n\namtool: error: failed")
        return tools.ToolRun(True, "")

    monkeypatch.setattr(tools, "check_rules", lambda _text: tools.ToolRun(True, ""))
    monkeypatch.setattr(tools, "check_alertmanager", amtool)
    (problem,) = compiler.validate(result)
    assert str(problem) == (f"{tmp_path / 'a.yml'}:3:24: Alertmanager (amtool check-config) rejects what this "
                            "produces: bad address")


def _write_named(folder: Path, name: bytes, text: str) -> None:
    """A file whose name is given as bytes, which need not be UTF-8 (as on any Linux file system)."""
    with open(os.fsencode(folder) + b"/" + name, "w") as handle:
        handle.write(text)


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (Debian prometheus)")
def test_file_names_a_terminal_cannot_show_are_escaped_and_still_compile(tmp_path: Path) -> None:
    _write_named(tmp_path, b"p\xffay.yml", GOOD)  # a Latin-1 name copied from another system
    _write_named(tmp_path, b"new\nline.yml", GOOD.replace("job_fail", "refund_pdf"))
    _write_named(tmp_path, "\u202eelif.yml".encode(), GOOD.replace("job_fail", "ach_flagged"))
    result = compile_dir(tmp_path)
    problems = compiler.validate(result)  # promtool and amtool read what the file names became
    assert [problem for problem in problems if problem.is_error] == []
    assert len(result.files) == 3
    rules = result.rules_yaml
    for shown_name in ("p\\xffay.yml:1:1", "new\\nline.yml:1:1", "\\u202eelif.yml:1:1"):
        assert f"{tmp_path}/{shown_name}" in rules


def test_a_problem_in_a_file_with_a_newline_in_its_name_stays_one_line(tmp_path: Path) -> None:
    _write_named(tmp_path, b"two\nlines.yml", "metric: job_fail_total\n")
    result = CliRunner().invoke(alerts, ["check", "--no-tools", str(tmp_path)])
    assert result.exit_code == 1
    located = [line for line in result.output.splitlines() if "lines.yml" in line]
    assert located and all(line.startswith(f"{tmp_path}/two\\nlines.yml:1:1: ") for line in located), result.output


def test_a_link_to_a_device_or_a_pipe_is_named_for_what_it_is(tmp_path: Path) -> None:
    (tmp_path / "zero.yml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.yml")
    (tmp_path / "to-pipe.yml").symlink_to(tmp_path / "pipe.yml")
    _files, problems = load_dir(tmp_path)
    text = {Path(problem.location.path).name: problem.message for problem in problems}
    assert text["zero.yml"] == "link to '/dev/zero', which is not a regular file; alert files are text files"
    assert text["pipe.yml"] == "not a regular file; alert files are text files"
    assert "which is not a regular file" in text["to-pipe.yml"]
