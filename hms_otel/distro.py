"""Entry points for ``opentelemetry-instrument``: no code, no config.

``HmsDistro`` fills in HMS defaults for every ``OTEL_*`` variable the user did
not set; ``HmsConfigurator`` then builds the SDK through :mod:`hms_otel.sdk`.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.sdk._configuration import _BaseConfigurator

from hms_otel import sdk


class HmsDistro(BaseDistro):
    def _configure(self, **kwargs: Any) -> None:
        sdk.apply_default_env()


class HmsConfigurator(_BaseConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        sdk.install()
