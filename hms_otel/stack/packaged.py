"""Files hms-ops reads at run time, shipped inside the package under ``hms_otel/data/``.

The repository keeps them where people read and edit them (``collector-config/``,
``alert_rules/``); ``hms_otel/data/`` holds symlinks to those folders, which the
wheel build follows, so the wheel carries real copies and no second copy is
kept by hand. Code finds them beside this package, never through the source
checkout.
"""

from __future__ import annotations

from pathlib import Path

# The package is installed as plain files (a wheel is never run zipped, and an editable install is the
# checkout), so the data is a folder beside this module. importlib.resources would give the same path at
# about 15 ms of imports on every `hms-ops up`, whose start-up time is a product target.
_DATA = Path(__file__).parent.parent / "data"


def data_path(*parts: str) -> Path:
    """Path of a packaged data file or folder (``data_path("collector-config", "local.yaml")``)."""
    return _DATA.joinpath(*parts)


def collector_config_dir() -> Path:
    """The collector manifest and configs (``builder-config.yaml``, ``local.yaml``, ``gateway.yaml``, ...)."""
    return data_path("collector-config")


def example_alerts_dir() -> Path:
    """The project's own example alert files (loaded by ``hms-ops up --demo`` or ``--examples``)."""
    return data_path("alert_rules")
