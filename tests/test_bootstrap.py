"""scripts/bootstrap with a stand-in Python: a broken .venv is made again instead of failing on every run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: A Python as far as bootstrap uses one. Like the real venv module, `-m venv DIR` over a venv whose python is a
#: dangling link fails unless --clear is given.
FAKE_PYTHON = r"""#!/bin/sh
case "$1" in
  --version) echo "Python 3.11.2";;
  -c) exit 0;;
  -m)
    case "$2" in
      venv)
        shift 2
        clear=; [ "$1" = --clear ] && { clear=1; shift; }
        if [ -z "$clear" ] && [ -L "$1/bin/python" ] && [ ! -e "$1/bin/python" ]; then
          echo "Error: [Errno 2] No such file or directory: '$1/bin/python3'"; exit 1
        fi
        [ -n "$clear" ] && rm -rf "$1"
        mkdir -p "$1/bin" && cp "$0" "$1/bin/python";;
      pip) echo "Successfully installed nothing"; echo pip >> "$(dirname "$0")/pip-runs";;
    esac;;
esac
"""


def test_a_venv_whose_python_is_gone_is_made_again(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap", root / "scripts" / "bootstrap")
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(tmp_path / "python3.9-removed-by-an-upgrade")
    run = subprocess.run(["bash", str(root / "scripts" / "bootstrap")], env={**os.environ, "PYTHON": str(fake)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "bootstrap: .venv is broken" in run.stdout
    assert (root / ".venv" / "bin" / "python").is_file()
    again = subprocess.run(["bash", str(root / "scripts" / "bootstrap")], env={**os.environ, "PYTHON": str(fake)},
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "creating .venv" not in again.stdout, again.stdout + again.stderr


def test_a_python_older_than_3_10_is_named(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap", root / "scripts" / "bootstrap")
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")  # sys.version_info < (3, 10)
    old.chmod(0o755)
    run = subprocess.run(["bash", str(root / "scripts" / "bootstrap")], env={**os.environ, "PYTHON": str(old)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == (f"bootstrap: {old} is not Python 3.10 or newer: install it (Debian: apt-get "
                                  "install python3 python3-venv) or set PYTHON to one")
    assert not (root / ".venv").exists()


def test_a_second_run_skips_pip_until_a_pyproject_changes(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap", root / "scripts" / "bootstrap")
    (root / "pyproject.toml").write_text('[project]\nname = "hms-otel"\n')
    layer = root / "instrumentations" / "hms-instrumentation-ach"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text('[project]\nname = "hms-instrumentation-ach"\n')
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    pip_runs = root / ".venv" / "bin" / "pip-runs"

    def bootstrap() -> str:
        run = subprocess.run(["bash", str(root / "scripts" / "bootstrap")], env={**os.environ, "PYTHON": str(fake)},
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stderr == ""
        return run.stdout

    bootstrap()
    (root / ".venv" / "bin" / "hms-ops").write_text("#!/bin/sh\n")  # what pip installs
    (root / ".venv" / "bin" / "hms-ops").chmod(0o755)
    assert pip_runs.read_text().count("pip") == 2  # the packages, then the test utilities
    assert "bootstrap: .venv is up to date" in bootstrap()
    assert pip_runs.read_text().count("pip") == 2
    (layer / "pyproject.toml").write_text('[project]\nname = "hms-instrumentation-ach"\nversion = "2"\n')
    assert "bootstrap: .venv is up to date" not in bootstrap()  # a new entry point or dependency: install again
    assert pip_runs.read_text().count("pip") == 4
    (root / ".venv" / "bin" / "hms-ops").unlink()  # a venv that lost its packages
    assert "bootstrap: .venv is up to date" not in bootstrap()
    assert pip_runs.read_text().count("pip") == 6
