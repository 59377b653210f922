"""Files hms-ops reads at run time, shipped inside the package under ``hms_otel/data/``.

The repository keeps them where people read and edit them (``collector-config/``,
``alert_rules/``); ``hms_otel/data/`` holds symlinks to those folders, which the
wheel build follows, so the wheel carries real copies and no second copy is
kept by hand. Code finds them through :mod:`importlib.resources`, never through
the source checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(*parts: str) -> Path:
    """Path of a packaged data file or folder (``data_path("collector-config", "local.yaml")``)."""
    # The package is installed as plain files (wheel or editable), so the resource is a real path.
    return Path(str(files("hms_otel").joinpath("data", *parts)))


def collector_config_dir() -> Path:
    """The collector manifest and configs (``builder-config.yaml``, ``local.yaml``, ``gateway.yaml``, ...)."""
    return data_path("collector-config")


def example_alerts_dir() -> Path:
    """The project's own example alert files (loaded by ``hms-ops up --demo`` or ``--examples``)."""
    return data_path("alert_rules")
