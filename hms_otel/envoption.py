"""Command options that read an environment variable, and name it when its value is wrong.

click reports a bad value as "Invalid value for '--prometheus-port'" also when
it came from ``HMS_PROMETHEUS_PORT``: the user looks for an option they never
typed. Every option of ``hms-ops`` with ``envvar=`` is declared with
``cls=EnvOption`` (``tests/test_cli_errors.py`` checks it), so such a value is
reported as ``HMS_PROMETHEUS_PORT='abc' is not a port number (1-65535); fix or
unset it``.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource

from hms_otel.errors import shown


class EnvOption(click.Option):
    """A click option whose bad value, when read from its environment variable, is reported as the variable's."""

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        try:
            return super().process_value(ctx, value)
        except click.BadParameter as error:
            if self.name is None or ctx.get_parameter_source(self.name) is not ParameterSource.ENVIRONMENT:
                raise
            variable, raw = self._variable()
            if variable is None:
                raise
            raise click.UsageError(variable_message(variable, raw, error.message), ctx) from None

    def _variable(self) -> tuple[str | None, str]:
        """The variable click took the value from (the first set one, as click reads them) and its text."""
        names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar or ())
        for name in names:
            text = os.environ.get(name)
            if text:  # click skips an empty variable
                return name, text
        return None, ""


def variable_message(variable: str, raw: str, reason: str) -> str:
    """``HMS_X='value' <reason>; fix or unset it``, without saying the value twice when the reason starts with it."""
    reason = reason.rstrip(".")
    quoted = shown(raw, 200)  # room for a path: cut at 60 it would not name the folder
    said = reason[len(repr(raw)):] if reason.startswith(repr(raw)) else f": {reason}"
    return f"{variable}={quoted}{said}; fix or unset it"
