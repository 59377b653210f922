"""OpenTelemetry instrumentors whose hook points are data.

A layer package subclasses :class:`HookInstrumentor` and declares its default
hooks; an environment variable can replace them with a team's own. The
generic :class:`HooksInstrumentor` (entry point ``hms_hooks``) has no defaults
and instruments whatever ``HMS_OTEL_HOOKS`` names.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.metrics import get_meter

from hms_otel import terminal
from hms_otel.errors import Problem
from hms_otel.hooks import engine, spec
from hms_otel.hooks.spec import Hook, HookConfigError

_log = logging.getLogger("hms_otel.hooks")


def _by_file(problems: list[Problem]) -> dict[str, list[Problem]]:
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.location.path, []).append(problem)
    return grouped


def warn(message: str) -> None:
    """One visible line (or block) on stderr, and the same on the ``hms_otel.hooks`` logger."""
    terminal.warn(f"hms-otel: warning: {message}")
    _log.warning("%s", message)


class HookInstrumentor(BaseInstrumentor):
    """Base class: set ``hooks``, ``config_env``, ``scope`` and ``_instruments``.

    ``instrument()`` accepts ``meter_provider=`` and ``hooks=`` (a sequence of
    :class:`Hook`, replacing both the defaults and the environment variable).
    Each layer's hooks load on their own: a hook that cannot be applied is
    skipped with one warning on stderr (not through logging, which the OTel log
    bridge may carry away from the terminal), the others are installed, and
    nothing here ever raises: ``opentelemetry-instrument`` stops loading the
    remaining instrumentors at the first one that raises, and the application
    must always start.
    """

    #: The default hook points, usually the layer library's documented surface.
    hooks: ClassVar[Sequence[Hook]] = ()
    #: Environment variable whose hooks (a YAML file path or inline YAML) replace ``hooks``.
    config_env: ClassVar[str | None] = None
    #: Instrumentation scope name given to the meter.
    scope: ClassVar[str] = "hms_otel.hooks"
    #: Instrumentation scope version: a layer package sets its own version; ``None`` means hms-otel's.
    scope_version: ClassVar[str | None] = None
    #: Requirement strings of the instrumented library, checked by opentelemetry-instrument.
    _instruments: ClassVar[Collection[str]] = ()

    _installation: engine.Installation | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # BaseInstrumentor keeps one instance per class in `_instance`; without
        # this a subclass of an already-created instrumentor would inherit it.
        cls._instance = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._instruments

    def configured_hooks(self) -> tuple[Hook, ...]:
        """The hooks to install: the environment variable's if set, else the defaults."""
        if self.config_env:
            from_env = spec.from_env(self.config_env)
            if from_env is not None:
                return from_env
        return tuple(self.hooks)

    def _readable_hooks(self) -> tuple[tuple[Hook, ...], list[Problem]]:
        """Like :meth:`configured_hooks`, but a hook file that cannot be read costs only itself."""
        if self.config_env:
            found, problems = spec.read_env(self.config_env)
            if found is not None:
                return found, problems
        return tuple(self.hooks), []

    def _instrument(self, **kwargs: Any) -> None:
        from hms_otel import __version__

        name = type(self).__name__
        try:
            version = self.scope_version or __version__
            meter = get_meter(self.scope, version, kwargs.get("meter_provider"))
            # With the global provider, records take the facades' fast path when hms_otel set up the SDK.
            fast_scope = (self.scope, version) if kwargs.get("meter_provider") is None else None
            unreadable: list[Problem] = []
            if kwargs.get("hooks") is not None:
                hooks = tuple(kwargs["hooks"])
            else:
                hooks, unreadable = self._readable_hooks()
            for path, problems_of_file in _by_file(unreadable).items():
                warn(f"{name}: hook file {path} skipped:\n" + "\n".join(map(str, problems_of_file)))
            self._installation, problems = engine.install_available(
                hooks, meter, where=self._where(), fast_scope=fast_scope
            )
        except HookConfigError as error:  # pragma: no cover - files are read leniently above
            warn(f"{name}: hooks not installed:\n{error}")
            self._installation = None
            return
        except (Exception, SystemExit) as error:  # a bug must not stop the application either
            warn(f"{name}: hooks not installed: internal error {type(error).__name__}: {error}")
            self._installation = None
            return
        for problem in problems:
            warn(f"{name}: hook skipped: {problem}")

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._installation is not None:
            self._installation.remove()
            self._installation = None

    @property
    def instrumented_targets(self) -> list[str]:
        return self._installation.targets if self._installation else []

    def _where(self) -> str:
        return f"{type(self).__name__} defaults"


class HooksInstrumentor(HookInstrumentor):
    """Instruments the callables named in ``HMS_OTEL_HOOKS`` (file path(s) or inline YAML)."""

    config_env = "HMS_OTEL_HOOKS"
    scope = "hms_otel.hooks"
