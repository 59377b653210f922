"""`hms-ops up` parses plain arguments without click: both parsers must agree on everything the plain one takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ForwardRef

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hms_otel import errors
from hms_otel.stack import lifecycle, localstack, services, state, up
from hms_otel.stack.cli import up as up_command
from hms_otel.stack.localstack import Ports, port_option
from hms_otel.stack.up import FLAG_OPTIONS, VALUE_OPTIONS, UpOptions, parse_plain

PORT_ENV = [port_option(name)[1] for name in Ports._fields]


def click_parse(args: list[str], environ: dict[str, str]) -> UpOptions | None:
    """What the click command makes of ``args`` (None: it refuses them or only prints help)."""
    saved = {name: os.environ.pop(name) for name in PORT_ENV if name in os.environ}
    os.environ.update(environ)
    try:
        context = up_command.make_context("up", list(args))
    except (click.exceptions.ClickException, click.exceptions.Exit):
        return None
    finally:
        for name in environ:
            os.environ.pop(name, None)
        os.environ.update(saved)
    return UpOptions.from_params(context.params)


def test_the_plain_parser_knows_exactly_the_options_of_the_click_command() -> None:
    declared = {option for param in up_command.params for option in param.opts if option.startswith("--")}
    plain = {*VALUE_OPTIONS, *FLAG_OPTIONS, *(port_option(name)[0] for name in Ports._fields)}
    assert declared == plain


def test_defaults_and_a_full_command_line(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "local.yaml").write_text("receivers: {}\n")
    assert parse_plain([], {}) == click_parse([], {}) == UpOptions()
    args = ["--detach", "--no-logs", "--fresh", "--examples", "--demo", "--demo-calm=2.5",
            "--state", str(tmp_path / "state"), f"--alerts={tmp_path / 'alerts'}",
            "--config", str(tmp_path / "local.yaml"),
            "--scrape-interval", "2s", "--evaluation-interval=500ms", "--prometheus-port", "19090"]
    plain = parse_plain(args, {"HMS_NOTIFIER_PORT": "19095"})
    assert plain == click_parse(args, {"HMS_NOTIFIER_PORT": "19095"})
    assert plain is not None and plain.detach and plain.ports.prometheus == 19090 and plain.ports.notifier == 19095
    assert plain.alert_dir == tmp_path / "alerts" and plain.demo_calm == 2.5


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--bogus"], ["extra"], ["--", "--detach"], ["--detach=yes"], ["--prometheus-port"],
    ["--prometheus-port", "0"], ["--prometheus-port", "65536"], ["--prometheus-port", "x"], ["--demo-calm", "soon"],
    ["--alerts", "/no/such/folder"], ["--alerts", "/dev/null"], ["--config", "/no/such/file.yaml"], ["--alerts="],
    ["--state", "/etc/hostname"],
    ["--demo-calm", "nan"], ["--demo-calm=-1"], ["--demo-calm", "inf"], ["--demo-calm=-0.5"],
    ["--scrape-interval", "banana"], ["--scrape-interval="], ["--evaluation-interval", "0s"], ["--scrape-interval=5"],
    ["--evaluation-interval", "1.5s"], ["--scrape-interval", "5s "],
])
def test_what_click_must_report_goes_to_click(args: list[str]) -> None:
    assert parse_plain(args, {}) is None
    assert click_parse(args, {}) is None


def test_a_bad_port_variable_goes_to_click_and_an_empty_one_counts_as_unset() -> None:
    assert parse_plain([], {"HMS_PROMETHEUS_PORT": "ninety"}) is None
    assert parse_plain([], {"HMS_PROMETHEUS_PORT": ""}) == click_parse([], {"HMS_PROMETHEUS_PORT": ""}) == UpOptions()
    options = parse_plain(["--prometheus-port", "9991"], {"HMS_PROMETHEUS_PORT": "9990"})
    assert options == click_parse(["--prometheus-port", "9991"], {"HMS_PROMETHEUS_PORT": "9990"})
    assert options is not None and options.ports.prometheus == 9991  # the option wins over the variable


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("places")
    (root / "dir").mkdir()
    (root / "file.yaml").write_text("x: 1\n")
    yield {"dir": str(root / "dir"), "file": str(root / "file.yaml"), "missing": str(root / "missing")}


_WORDS = [*VALUE_OPTIONS, *FLAG_OPTIONS, "--prometheus-port", "--notifier-port", "--otlp-grpc-port", "--help",
          "--", "-d", "--detach=1", "stray", "0", "1", "65535", "65536", "-5", " 42 ", "1_000", "x", "2.5", "nan",
          "", "5s", "{dir}", "{file}", "{missing}", "--alerts={dir}", "--config={file}", "--state={dir}",
          "--state={file}", "--prometheus-port=9999", "--demo-calm=1e3", "--scrape-interval=", "1m30s", "0s",
          "500ms", "inf", "-0"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(_WORDS), max_size=7),
       port_variable=st.sampled_from([None, "", "9999", "0", "abc", " 77 "]))
def test_whatever_the_plain_parser_takes_click_takes_the_same_way(
    places: dict[str, str], words: list[str], port_variable: str | None
) -> None:
    args = [word.format(**places) for word in words]
    environ = {} if port_variable is None else {"HMS_ALERTMANAGER_PORT": port_variable}
    plain = parse_plain(args, environ)
    if plain is not None:
        assert plain == click_parse(args, environ), args


def run_hms_ops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script's entry point, as `hms-ops` runs it."""
    return subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_a_bad_option_gets_clicks_message_and_usage_exit_code(tmp_path: Path) -> None:
    done = run_hms_ops("up", "--prometheus-port", "70000", cwd=tmp_path)
    assert done.returncode == 2
    assert "Invalid value for '--prometheus-port'" in done.stderr and "Traceback" not in done.stderr
    assert "--detach" in run_hms_ops("up", "--help", cwd=tmp_path).stdout


def test_an_error_on_the_plain_path_reads_as_on_the_click_path(tmp_path: Path) -> None:
    ports = Ports.free()
    args = ["up", "--no-logs", "--state", str(tmp_path / "state"), *ports.as_options()]
    environ = {**os.environ, "HMS_OPS_CACHE": str(tmp_path / "empty-cache")}
    plain = subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()", *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, env=environ)
    through_click = subprocess.run([sys.executable, "-m", "hms_otel.cli", *args], cwd=tmp_path,
                                   capture_output=True, text=True, timeout=60, env=environ)
    assert plain.returncode == through_click.returncode == 1
    assert plain.stderr == through_click.stderr
    assert plain.stderr.startswith("Error: ") and "hms-otelcol not found" in plain.stderr


#: Each dominated `hms-ops up`'s start-up once; none is needed to launch a server (up.py, "start-up").
HEAVY_MODULES = ("click", "dataclasses", "inspect", "yaml", "importlib.resources", "encodings.idna", "rich",
                 "hashlib", "_hashlib", "secrets", "shutil")

#: Runs `hms-ops up` as the console script does, and writes what is loaded when it launches its first server.
FIRST_LAUNCH_PROBE = """
import json, sys
report = sys.argv[1]
def hook(event, args):
    if event == "subprocess.Popen":
        with open(report, "w") as out:
            json.dump(sorted(sys.modules), out)
        raise SystemExit("stopped at the first launch")
sys.addaudithook(hook)
from hms_otel.tooling import main
sys.argv = ["hms-ops", *sys.argv[2:]]
main()
"""


def test_what_up_loads_before_its_first_server_stays_small(tmp_path: Path) -> None:
    """Issue 11 (at most 1.2x the servers started by hand): the modules that cost most stay off the path."""
    loaded = tmp_path / "loaded.json"
    args = ["up", "--state", str(tmp_path / "state"), *Ports.free().as_options()]
    subprocess.run([sys.executable, "-c", FIRST_LAUNCH_PROBE, str(loaded), *args], cwd=tmp_path,
                   capture_output=True, text=True, timeout=60)
    modules = set(json.loads(loaded.read_text()))
    assert "hms_otel.stack.localstack" in modules
    assert [name for name in HEAVY_MODULES if name in modules] == []


def test_the_named_tuples_on_the_path_hold_no_forward_references() -> None:
    """A ForwardRef calls compile(), whose first call sets up the compiler: about 3 ms (up.py, "start-up")."""
    path_modules = [up, lifecycle, localstack, state, services, errors]
    named_tuples = [value for module in path_modules for value in vars(module).values()
                    if isinstance(value, type) and issubclass(value, tuple) and value.__module__ == module.__name__]
    assert len(named_tuples) >= 9
    for named_tuple in named_tuples:
        annotations = named_tuple.__annotations__.values()
        assert not [a for a in annotations if isinstance(a, (str, ForwardRef))], named_tuple
