"""Check every ``OTEL_*``/``HMS_*`` variable the distro reads; replace invalid values.

The SDK reacts to a bad value in many ways: an exception in the configurator
(``OTEL_EXPORTER_OTLP_PROTOCOL=foo``), a zero interval, a NaN timeout that
ends every flush at once. Each of them used to leave the application running
with no telemetry and no word. :func:`repair_environment` checks the values
before the SDK reads them; for each invalid one it writes one warning on
stderr naming the variable, the bad value and what is used instead, and puts
that value in the environment, so telemetry stays on.

Empty values count as unset (the OpenTelemetry rule) and get the default.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import NamedTuple
from urllib.parse import urlsplit

from hms_otel import terminal

#: Value meaning "remove the variable" (signal-specific settings fall back to the general one).
UNSET = ""


class Invalid(NamedTuple):
    """Why a value is invalid (``is not ...``) and, when not the default, what is used instead (a bound)."""

    problem: str
    instead: str | None = None


Check = Callable[[str], Invalid | None]


def _as_given(value: str) -> str:
    return value


def _lowered(value: str) -> str:
    return value.strip().lower()


@dataclass(frozen=True)
class Rule:
    """``check(value)`` returns None when valid, else why not; ``check_in(value, env)`` then checks it
    against other variables (their rules run first: RULES is in that order)."""

    check: Check | None
    #: Used instead of an invalid value when the distro has no default for it; UNSET removes the variable.
    fallback: str = UNSET
    check_in: Callable[[str, Mapping[str, str]], Invalid | None] | None = None
    #: The spelling the value is checked in and written back in: upstream compares some values exactly
    #: (``GRPC`` is an unsupported protocol to it) and strips others not at all (``" true "`` is not true).
    canonical: Callable[[str], str] = _as_given
    #: What upstream uses when the variable is unset, for a rule whose ``check_in`` must see it then too.
    if_unset: str | None = None

    def problem(self, value: str, env: Mapping[str, str]) -> Invalid | None:
        alone = self.check(value) if self.check is not None else None
        if alone is not None or self.check_in is None:
            return alone
        return self.check_in(value, env)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# Upper bounds. Threading waits overflow past about 9.2e9 s and gRPC deadlines past about 1e10 s (both
# int64 nanoseconds), so a huge interval killed the export thread and a huge timeout failed every export.
# Nobody means more than a day: a larger value is clamped to it.
DAY_SECONDS = 86_400
_DAY_MILLIS = DAY_SECONDS * 1000
#: Largest count or size: far beyond any useful setting, and within every C and protobuf int32.
_MAX_COUNT = 2**31 - 1


# Lower bounds. The metric reader's last collect has the export interval as its timeout, and each interval
# or schedule delay is one collect and export (or a worker wake-up): OTEL_METRIC_EXPORT_INTERVAL=0.001
# printed "Metric collection timed out" with a traceback and took a quarter of the app's time. A smaller
# value is clamped to a tenth of a second, which still exports long before any alert could fire.
_MIN_PERIOD_MILLIS = 100


def _at_least(minimum: int, unit: str, check: Check) -> Check:
    """``check``, and a valid value under ``minimum`` clamped to it (an invalid one keeps its own reason)."""

    def clamped(value: str) -> Invalid | None:
        invalid = check(value)
        if invalid is None and float(value) < minimum:
            return Invalid(f"is less than the minimum, {minimum} {unit}", str(minimum))
        return invalid

    return clamped


def _at_most(number: float, maximum: int, unit: str) -> Invalid | None:
    return Invalid(f"is more than the maximum, {maximum} {unit}", str(maximum)) if number > maximum else None


def _positive_number(unit: str, maximum: int) -> Check:
    def check(value: str) -> Invalid | None:
        number = _number(value)
        if number is None or number <= 0:
            return Invalid(f"is not a positive number of {unit}")
        return _at_most(number, maximum, unit)

    return check


def _non_negative_seconds(value: str) -> Invalid | None:
    number = _number(value)
    if number is None or number < 0:
        return Invalid("is not a number of seconds (0 or more)")
    return _at_most(number, DAY_SECONDS, "seconds")


def _integer(unit: str, maximum: int = _MAX_COUNT, minimum: int = 1) -> Check:
    """Whole numbers from ``minimum`` (1: positive) to ``maximum`` (larger ones are clamped)."""
    what = "a positive integer" if minimum == 1 else f"an integer ({minimum} or more)"

    def check(value: str) -> Invalid | None:
        try:
            number = int(value)
        except ValueError:
            return Invalid(f"is not {what}")
        return Invalid(f"is not {what}") if number < minimum else _at_most(number, maximum, unit)

    return check


def _one_of(*allowed: str) -> Check:
    def check(value: str) -> Invalid | None:
        return None if value in allowed else Invalid(f"is not one of {', '.join(allowed)}")

    return check


def _choice(allowed: tuple[str, ...], fallback: str = UNSET) -> Rule:
    """A rule for a value upstream compares exactly: checked and written back in lower case, stripped."""
    return Rule(_one_of(*allowed), fallback, canonical=_lowered)


_BOOLEAN = ("true", "false")


_HOST = re.compile(r"[A-Za-z0-9._\-]+|[0-9A-Fa-f:.]+")  # a DNS name, IPv4, or IPv6 (brackets removed)


def _endpoint(value: str) -> Invalid | None:
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port
    except ValueError:
        return Invalid("has an invalid port")
    if parts.scheme == "unix":
        return None
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(parts.hostname or ""):
        return Invalid("is not an http(s)://host:port address")
    if port is not None and not 0 < port < 65536:
        return Invalid("has an invalid port")
    return None


def _port(value: str) -> Invalid | None:
    try:
        port = int(value)
    except ValueError:
        port = -1
    return None if 0 <= port <= 65535 else Invalid("is not a port number (1-65535, or 0 for any free port)")


def _exporters(group: str) -> Check:
    def check(value: str) -> Invalid | None:
        names = [name.strip() for name in value.split(",")]
        others = [name for name in names if name.lower() != "none"]
        if not others:
            return None
        if len(others) < len(names):  # upstream treats only a lone "none" as none, and fails on "otlp,none"
            return Invalid("names none with other exporters", ",".join(others))
        known = {entry.name for entry in entry_points(group=group)} | {"otlp"}
        unknown = [name for name in names if name not in known]
        return Invalid(f"names no installed exporter ({', '.join(sorted(known))})") if unknown else None

    return check


def _spelled(name: str) -> str:
    """An instrumentation name as it is often misspelled: the package's name, dashes, capitals."""
    text = name.lower().replace("-", "_")
    return "hms_" + text.removeprefix("hms_instrumentation_") if text.startswith("hms_instrumentation_") else text


def _disabled_instrumentations(value: str) -> Invalid | None:
    """Names of ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` that no entry point has: upstream compares them
    exactly, so ``hms-ach`` or ``hms_instrumentation_ach`` left the layer on without a word. A name one
    spelling away from an installed one is corrected; an unknown ``hms`` name is dropped. Other unknown
    names stay, silently: one setting may serve services with other instrumentations installed."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    known = {entry.name for entry in entry_points(group="opentelemetry_instrumentor")}
    by_spelling = {_spelled(name): name for name in known}
    fixed, problems = [], []
    for name in names:
        if name in known or name == "*":
            fixed.append(name)
        elif (meant := by_spelling.get(_spelled(name))) is not None:
            fixed.append(meant)
            problems.append(f"{name!r} (the entry point is {meant!r})")
        elif _spelled(name).startswith("hms"):
            layers = ", ".join(sorted(n for n in known if n.startswith("hms_"))) or "none installed"
            problems.append(f"{name!r} (HMS instrumentations: {layers})")
        else:
            fixed.append(name)
    if not problems:
        return None
    return Invalid(f"names no installed instrumentation: {'; '.join(problems)}", ",".join(fixed))


def _at_most_the_queue(queue: str, sdk_queue: int) -> Callable[[str, Mapping[str, str]], Invalid | None]:
    """A batch size no larger than the queue: the SDK's batch processors refuse that pair with a ValueError
    in the configurator, which left the process with no logs and no HMS safeguards."""

    def check(value: str, env: Mapping[str, str]) -> Invalid | None:
        limit = int(env.get(queue) or sdk_queue)  # valid: its rule ran first
        if int(value) <= limit:
            return None
        return Invalid(f"is more than {queue}={limit}, which the SDK refuses", str(limit))

    return check


_MILLIS = _positive_number("milliseconds", _DAY_MILLIS)
_SECONDS = _positive_number("seconds", DAY_SECONDS)
_INTEGER_MILLIS = _integer("milliseconds", _DAY_MILLIS)
_PERIOD_MILLIS = _at_least(_MIN_PERIOD_MILLIS, "milliseconds", _MILLIS)
_INTEGER_PERIOD_MILLIS = _at_least(_MIN_PERIOD_MILLIS, "milliseconds", _INTEGER_MILLIS)
_PROTOCOLS = ("grpc", "http/protobuf")
_HTTP_COMPRESSION = _one_of("gzip", "deflate", "none")
_GRPC_COMPRESSION = _one_of("gzip")  # the gRPC exporter knows gzip only and raises on anything else


def _compression(signal: str) -> Rule:
    def check(value: str, env: Mapping[str, str]) -> Invalid | None:
        protocol = env.get(f"OTEL_EXPORTER_OTLP_{signal}PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
        return (_HTTP_COMPRESSION if protocol.strip() == "http/protobuf" else _GRPC_COMPRESSION)(value)

    return Rule(None, check_in=check, canonical=_lowered)


def _batch_processor(prefix: str, defaults: tuple[str, str, str, str]) -> dict[str, Rule]:
    """Rules of one batch processor's variables (``OTEL_BLRP_*`` for logs, ``OTEL_BSP_*`` for spans)."""
    delay, timeout, queue, batch = defaults
    return {
        f"{prefix}_SCHEDULE_DELAY": Rule(_INTEGER_PERIOD_MILLIS, delay),
        f"{prefix}_EXPORT_TIMEOUT": Rule(_INTEGER_MILLIS, timeout),
        f"{prefix}_MAX_QUEUE_SIZE": Rule(_integer("records"), queue),
        f"{prefix}_MAX_EXPORT_BATCH_SIZE": Rule(
            _integer("records"), batch, check_in=_at_most_the_queue(f"{prefix}_MAX_QUEUE_SIZE", int(queue)),
            if_unset=batch,
        ),
    }


RULES: dict[str, Rule] = {
    "OTEL_METRIC_EXPORT_INTERVAL": Rule(_PERIOD_MILLIS, "60000"),
    "OTEL_METRIC_EXPORT_TIMEOUT": Rule(_MILLIS, "30000"),
    "OTEL_EXPORTER_OTLP_TIMEOUT": Rule(_SECONDS, "10"),
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": Rule(_SECONDS),
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": Rule(_SECONDS),
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": Rule(_SECONDS),
    "OTEL_EXPORTER_OTLP_PROTOCOL": _choice(_PROTOCOLS, "grpc"),
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": _choice(_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": _choice(_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": _choice(_PROTOCOLS),
    "OTEL_EXPORTER_OTLP_ENDPOINT": Rule(_endpoint, "http://localhost:4317"),
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": Rule(_endpoint),
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": Rule(_endpoint),
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": Rule(_endpoint),
    "OTEL_EXPORTER_OTLP_INSECURE": _choice(_BOOLEAN, "false"),
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE": _choice(_BOOLEAN),
    "OTEL_EXPORTER_OTLP_LOGS_INSECURE": _choice(_BOOLEAN),
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE": _choice(_BOOLEAN),
    "OTEL_EXPORTER_OTLP_COMPRESSION": _compression(""),
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": _compression("METRICS_"),
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": _compression("LOGS_"),
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": _compression("TRACES_"),
    "OTEL_METRICS_EXPORTER": Rule(_exporters("opentelemetry_metrics_exporter"), "otlp"),
    "OTEL_LOGS_EXPORTER": Rule(_exporters("opentelemetry_logs_exporter"), "otlp"),
    "OTEL_TRACES_EXPORTER": Rule(_exporters("opentelemetry_traces_exporter"), "none"),
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": _choice(("cumulative", "delta", "lowmemory"), "cumulative"),
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": _choice(
        ("explicit_bucket_histogram", "base2_exponential_bucket_histogram"), "explicit_bucket_histogram"
    ),
    "OTEL_METRICS_EXEMPLAR_FILTER": _choice(("always_on", "always_off", "trace_based"), "trace_based"),
    "OTEL_SDK_DISABLED": _choice(_BOOLEAN, "false"),
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": Rule(_disabled_instrumentations),
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": _choice(_BOOLEAN, "true"),
    # The SDK's defaults, used when unset.
    **_batch_processor("OTEL_BLRP", ("1000", "30000", "2048", "512")),
    **_batch_processor("OTEL_BSP", ("5000", "30000", "2048", "512")),
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": Rule(_integer("characters"), "4096"),
    "OTEL_ATTRIBUTE_COUNT_LIMIT": Rule(_integer("attributes"), "128"),
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": Rule(_integer("characters")),
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": Rule(_integer("attributes")),
    "HMS_OTEL_SHUTDOWN_TIMEOUT": Rule(_non_negative_seconds, "2"),
    "HMS_OTEL_LOG_BODY_LENGTH_LIMIT": Rule(_integer("characters"), "65536"),
    "HMS_OTEL_MAX_REQUEST_BYTES": Rule(_integer("bytes"), "3145728"),
    "HMS_OTEL_MAX_METRIC_NAMES": Rule(_integer("names"), "1000"),
    "HMS_OTEL_MAX_REMEMBERED_FAILURES": Rule(_integer("failures"), "1000"),
    "HMS_OTEL_LOG_BUFFER_SIZE": Rule(_integer("records", minimum=0), "20000"),  # 0: no buffer
    # Any other value keeps masking on (the safe side), with the warning saying so.
    "HMS_OTEL_REDACT_PII": _choice(("true", "false", "1", "0", "yes", "no", "on", "off"), "true"),
    # Unset when invalid: OPSAgent then serves on its port= argument.
    "HMS_OPSAGENT_PORT": Rule(_port),
}

_warned: set[tuple[str, str]] = set()


def repair_environment(defaults: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Replace every invalid value in ``environ`` (default ``os.environ``); return the variables fixed.

    ``defaults`` are the distro's defaults (used instead of a bad value when
    they name it; else the rule's fallback). One stderr warning per variable
    and value, however often this runs.
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    return [name for name, rule in RULES.items() if _repair(name, rule, env, defaults)]


def checked(name: str, environ: MutableMapping[str, str] | None = None) -> str | None:
    """``name``'s value once its rule ran (an invalid one: one warning, then the rule's fallback); None when
    unset. For settings read where :func:`repair_environment` may not have run (``OPSAgent`` without
    the SDK set up by it, a log buffer made by hand)."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    _repair(name, RULES[name], env, {})
    return env.get(name)


def _repair(name: str, rule: Rule, env: MutableMapping[str, str], defaults: Mapping[str, str]) -> bool:
    """Check one variable, write back its canonical spelling or a replacement; True when it was invalid."""
    was_set = name in env
    raw = env.get(name, rule.if_unset)
    if raw is None:
        return False
    if not raw.strip():
        _replace(env, name, defaults.get(name, rule.fallback))
        return False
    value = rule.canonical(raw)
    invalid = rule.problem(value, env)
    if invalid is None:
        if was_set and value != raw:
            env[name] = value  # upstream reads what was checked
        return False
    replacement = defaults.get(name, rule.fallback) if invalid.instead is None else invalid.instead
    _replace(env, name, replacement)
    if (name, raw) not in _warned:
        _warned.add((name, raw))
        instead = f"using {replacement!r} instead" if replacement else "ignoring it"
        given = f"={_shown(raw)}" if was_set else f" (unset, so the SDK's {raw})"
        terminal.warn(f"hms_otel: warning: {name}{given} {invalid.problem}; {instead}")
    return True


def _replace(env: MutableMapping[str, str], name: str, value: str) -> None:
    if value == UNSET:
        env.pop(name, None)
    else:
        env[name] = value


def _shown(value: str) -> str:
    """The bad value as a short, printable literal (it may hold escape sequences)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
