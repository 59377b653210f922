"""The ``hms-ops`` console script: one clear line when the tooling extra is missing.

``pip install hms-otel`` installs the library a service imports; the operator
tooling behind ``hms-ops`` (stack, builds, alert compiler, notifier,
dashboards) needs ``pip install 'hms-otel[ops]'``. This module imports nothing
of it until it knows it is there.
"""

from __future__ import annotations

import importlib.util
import sys

#: Import names of the ``ops`` extra's packages that ``hms-ops`` cannot start without.
OPS_MODULES = ("click", "rich", "watchfiles", "jsonschema")


def missing_ops_modules() -> list[str]:
    return [name for name in OPS_MODULES if importlib.util.find_spec(name) is None]


def main() -> None:
    missing = missing_ops_modules()
    if missing:
        print(
            f"hms-ops: the operator tooling is not installed (missing {', '.join(missing)}): "
            "install hms-otel[ops], e.g. pip install 'hms-otel[ops]'",
            file=sys.stderr,
        )
        sys.exit(1)
    from hms_otel.terminal import output_checked

    with output_checked():  # a closed stdout (`>&-`) is an error, not an exit 0 with nothing shown
        if sys.argv[1:2] == ["up"]:
            # Plain `hms-ops up` starts without loading click: its start-up time is a product target.
            # What it allocates until the servers are up stays alive, so the cyclic collector would only
            # cost time (about 3 ms); hms_otel.stack.up turns it back on once ready or handing over.
            import gc

            gc.disable()
            from hms_otel.stack.up import main_plain

            main_plain(sys.argv[2:])  # returns only when click should parse these arguments
        from hms_otel.cli import main as cli_main

        cli_main()
