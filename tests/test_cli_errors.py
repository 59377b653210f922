"""The one CLI error wrapper: every known error is one clear line (or one line per problem) and an
exit code, for every command group, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hms_otel.cli import SUBCOMMANDS, GuardedGroup, cli
from hms_otel.errors import HmsError, Location, Problem, ProblemsError


@click.group(cls=GuardedGroup)
def group() -> None:
    pass


@group.command()
@click.argument("kind")
def fail(kind: str) -> None:
    if kind == "problems":
        raise ProblemsError([Problem(Location("b.yml", 3, 1), "third"), Problem(Location("a.yml", 9, 2), "first"),
                             Problem(Location("b.yml", 1, 5), "second"),
                             Problem(Location("b.yml", 2, 1), "just so", "warning")])
    if kind == "hms":
        raise HmsError("port 9090 is in use; pass --prometheus-port")
    if kind == "os":
        raise FileNotFoundError(2, "No such file or directory", "/nope/collector")
    if kind == "bug":
        raise RuntimeError("boom")
    if kind == "interrupt":
        raise KeyboardInterrupt


@pytest.mark.parametrize(("kind", "code", "lines"), [
    ("problems", 1, ["a.yml:9:2: first", "b.yml:1:5: second", "b.yml:2:1: warning: just so", "b.yml:3:1: third",
                     "3 errors"]),
    ("hms", 1, ["error: port 9090 is in use; pass --prometheus-port"]),
    ("os", 1, ["error: /nope/collector: No such file or directory"]),
    ("bug", 70, ["error: internal error: RuntimeError: boom (a bug in hms-ops; please report it with the command "
                 "and the files it read; HMS_OPS_TRACEBACK=1 shows where)"]),
    ("interrupt", 130, ["interrupted"]),
])
def test_errors_become_lines_and_exit_codes(kind: str, code: int, lines: list[str]) -> None:
    result = CliRunner().invoke(group, ["fail", kind])
    assert result.exit_code == code
    assert result.output.splitlines() == lines
    assert "Traceback" not in result.output


def test_every_command_group_is_guarded() -> None:
    ctx = click.Context(cli)
    for name in SUBCOMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            assert isinstance(command, GuardedGroup) or isinstance(cli, GuardedGroup), name
    assert isinstance(cli, GuardedGroup)


def test_real_command_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_bytes(b"metric: \xff\n")
    (tmp_path / "hooks.yaml").write_bytes(b"hooks: [\n")
    for args in (["alerts", "check", "--no-tools", str(tmp_path)], ["hooks", "check", str(tmp_path / "hooks.yaml")]):
        done = subprocess.run([sys.executable, "-c", "from hms_otel.cli import main; main()", *args],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert str(tmp_path) in done.stderr


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:abc/-/reload", "nonsense", "http://a..b:1/",
                                 "http://127.0.0.1:1/a b"])
def test_a_url_that_is_no_url_is_an_http_error_naming_it(url: str) -> None:
    """`alerts watch --prometheus-url http://127.0.0.1:abc` ended in an internal error at the first reload."""
    from hms_otel import http

    with pytest.raises(http.HTTPError, match="not a valid URL") as raised:
        http.request("POST", url, timeout=1)
    assert str(raised.value).startswith(url)



@pytest.mark.parametrize("args", [["collector", "pii"], ["alerts", "compile", "{rules}"],
                                  ["dashboards", "export", "--format", "yaml"]])
def test_output_to_a_reader_that_went_away_ends_quietly(tmp_path: Path, args: list[str]) -> None:
    """`hms-ops ... | head -0` printed "error: Broken pipe" as if the command had failed; click's own output
    (`--help`) ends quietly with exit 1, and so does every command's now."""
    rules = Path(__file__).parents[1] / "alert_rules"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away
    try:
        done = subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()",
                               *(arg.format(rules=rules) for arg in args)],
                              cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if ": warning: " not in line] == [], done.stderr


def _all_commands(command: click.Command, ctx: click.Context) -> list[click.Command]:
    found = [command]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                found.extend(_all_commands(sub, click.Context(sub, parent=ctx, info_name=name)))
    return found


def test_every_option_read_from_a_variable_names_the_variable_when_wrong() -> None:
    """A bad value from a variable was reported as the option's ("Invalid value for '--prometheus-port'")."""
    from hms_otel.envoption import EnvOption

    ctx = click.Context(cli, info_name="hms-ops")
    with_variables = {f"{command.name} {param.name}": isinstance(param, EnvOption)
                      for command in _all_commands(cli, ctx) for param in command.params
                      if isinstance(param, click.Option) and param.envvar}
    assert len(with_variables) >= 12  # the 8 ports of `up`, logs --state and --url, alerts watch's 2 URLs
    assert [name for name, named in with_variables.items() if not named] == []


@pytest.mark.parametrize(("args", "environ", "expected"), [
    (["up"], {"HMS_PROMETHEUS_PORT": "abc"},
     "HMS_PROMETHEUS_PORT='abc' is not a port number (1-65535); fix or unset it"),
    (["up"], {"HMS_NOTIFIER_PORT": "0"}, "HMS_NOTIFIER_PORT='0' is not a port number (1-65535); fix or unset it"),
    (["logs", "collector"], {"HMS_OPS_STATE": "{file}"}, "HMS_OPS_STATE='{file}': Directory '{file}' is a file; "
                                                         "fix or unset it"),
])
def test_a_bad_variable_is_named_not_its_option(tmp_path: Path, args: list[str], environ: dict[str, str],
                                                expected: str) -> None:
    (tmp_path / "file").write_text("")
    places = {"file": str(tmp_path / "file")}
    done = subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **{name: value.format(**places) for name, value in environ.items()}})
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "Error: " + expected.format(**places)
    assert "Invalid value" not in done.stderr and "Traceback" not in done.stderr


def test_a_bad_option_still_names_the_option() -> None:
    result = CliRunner().invoke(cli, ["up", "--prometheus-port", "abc"], env={"HMS_PROMETHEUS_PORT": "9090"})
    assert result.exit_code == 2
    assert "Invalid value for '--prometheus-port': 'abc' is not a port number (1-65535)" in result.output


def _hms_ops(args: list[str], cwd: Path, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(environ or {})})


@pytest.mark.parametrize("command", [["up"], ["status"], ["down"], ["logs", "collector"]])
@pytest.mark.parametrize("place", ["file", "under-file"])
@pytest.mark.parametrize("setting", ["--state", "HMS_OPS_STATE"])
def test_a_state_folder_that_is_a_file_is_named_with_its_setting(tmp_path: Path, command: list[str], place: str,
                                                                 setting: str) -> None:
    """`HMS_OPS_STATE=/etc/passwd hms-ops up` printed "[Errno 17] File exists: '/etc/passwd'"; `status` and `down`
    said no stack was running there."""
    (tmp_path / "file").write_text("")
    folder = tmp_path / "file" if place == "file" else tmp_path / "file" / "state"
    args = [command[0], "--state", str(folder), *command[1:]] if setting == "--state" else command
    done = _hms_ops(args, tmp_path, {"HMS_OPS_STATE": str(folder)} if setting == "HMS_OPS_STATE" else {})
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr
    last = done.stderr.splitlines()[-1]
    if place == "file" and (command[0] == "logs" or setting == "--state"):  # click's check of the option, named
        assert (f"'{setting}'" if setting == "--state" else setting) in last
        assert f"Directory '{folder}' is a file" in last
        return
    what = "is a file" if place == "file" else f"cannot be created: {tmp_path / 'file'} is a file"
    assert last == (f"Error: the state folder {folder} (from {setting}) {what}; give --state or HMS_OPS_STATE a "
                    "folder (one that does not exist yet is created)")


def test_an_os_error_in_the_state_folder_names_the_path_and_the_setting(tmp_path: Path) -> None:
    (tmp_path / "state" / "hms-ops.lock").mkdir(parents=True)
    done = _hms_ops(["up"], tmp_path, {"HMS_OPS_STATE": str(tmp_path / "state")})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"Error: cannot use the state folder {tmp_path / 'state'} (from "
                                            f"HMS_OPS_STATE): {tmp_path / 'state' / 'hms-ops.lock'}: Is a directory")


def test_os_errors_read_as_path_and_reason() -> None:
    from hms_otel.errors import os_error_text

    assert os_error_text(FileExistsError(17, "File exists", "/etc/passwd")) == (
        "/etc/passwd: it is a file, not a folder")  # mkdir on a file: the project opens nothing with O_EXCL
    assert os_error_text(OSError(18, "Invalid cross-device link", "/a", None, "/b")) == (
        "/a -> /b: Invalid cross-device link")
    assert os_error_text(OSError(9, "Bad file descriptor", 3)) == "3: Bad file descriptor"
    assert os_error_text(OSError("no errno")) == "no errno"


def test_every_path_parameter_says_whether_it_takes_a_file_or_a_folder() -> None:
    """`collector validate /tmp` said "no such file": a path parameter that declares its kind has click say
    "File '/tmp' is a directory" (or "Directory 'x' is a file") before the command runs."""
    ctx = click.Context(cli, info_name="hms-ops")
    paths = {f"{command.name} {param.name}": param.type for command in _all_commands(cli, ctx)
             for param in command.params if isinstance(param.type, click.Path)}
    assert len(paths) >= 20
    assert [name for name, kind in paths.items() if kind.file_okay == kind.dir_okay] == []


def test_a_folder_given_as_the_collector_config_is_named_as_a_folder(tmp_path: Path) -> None:
    from hms_otel.stack.services import ConfigInvalid, validate_collector_config

    done = _hms_ops(["collector", "validate", str(tmp_path)], tmp_path)
    assert done.returncode == 2 and f"File '{tmp_path}' is a directory" in done.stderr
    with pytest.raises(ConfigInvalid, match=f"^{tmp_path} is a folder; give the collector config file"):
        validate_collector_config(tmp_path)


@pytest.mark.parametrize(("output", "said"), [("afile/out.yml", "afile: it is a file, not a folder"),
                                              ("afile/deeper/out.yml", "afile is a file, not a folder")])
def test_an_output_path_through_a_file_names_the_file_in_the_way(tmp_path: Path, output: str, said: str) -> None:
    """`-o afile/out.yml` said "afile: File exists" (or "Not a directory"), not which part to change."""
    (tmp_path / "afile").write_text("mine\n")
    rules = Path(__file__).parents[1] / "alert_rules"
    done = subprocess.run([sys.executable, "-c", "from hms_otel.tooling import main; main()",
                           "alerts", "compile", str(rules), "-o", output],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if ": warning: " not in line]
    assert len(errors) == 1 and said in errors[0] and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


CLOSED_STDOUT = "error: standard output is closed, so what hms-ops had to print was lost; give it an output"


@pytest.mark.parametrize("args", [["alerts", "check", "{rules}"], ["--help"], ["dashboards", "export", "--format",
                                                                              "yaml"], ["up", "--bad-option"]])
@pytest.mark.parametrize("stderr", ["open", "closed"])
def test_a_closed_standard_output_is_an_error_not_an_exit_0(tmp_path: Path, args: list[str], stderr: str) -> None:
    """`hms-ops alerts check DIR >&-` exited 0: Python has no sys.stdout then, and click.echo drops what it
    is given without a word."""
    rules = Path(__file__).parents[1] / "alert_rules"
    closing = ">&- 2>&-" if stderr == "closed" else ">&-"
    done = subprocess.run(["sh", "-c", f'exec "$@" {closing}', "sh", sys.executable, "-c",
                           "from hms_otel.tooling import main; main()", *(arg.format(rules=rules) for arg in args)],
                          cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    said = [line for line in done.stderr.splitlines() if ": warning: " not in line]
    if args[0] == "up":  # a usage error, already on stderr: its own exit status, and no word of stdout
        assert done.returncode == 2 and not [line for line in said if CLOSED_STDOUT in line], done.stderr
        return
    assert done.returncode == 1, done.stderr
    assert said == ([] if stderr == "closed" else [said[0]]) and "Traceback" not in done.stderr
    if stderr == "open":
        assert said[0].startswith(CLOSED_STDOUT), said
