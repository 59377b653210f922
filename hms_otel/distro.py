"""Entry points for ``opentelemetry-instrument``: no code, no config.

``HmsDistro`` fills in HMS defaults for every ``OTEL_*`` variable the user did
not set; ``HmsConfigurator`` is upstream's SDK configurator (every upstream
option works as upstream documents) plus what :mod:`hms_otel.sdk` adds.
:class:`~hms_otel.agent.OPSAgent` sets up through the same configurator.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro

from hms_otel import sdk
from hms_otel._sdk_internals import SdkConfigurator


class HmsDistro(BaseDistro):
    def _configure(self, **kwargs: Any) -> None:
        sdk.apply_default_env()


class HmsConfigurator(SdkConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        sdk.configure(super()._configure, **kwargs)
