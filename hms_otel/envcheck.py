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
from urllib.parse import urlsplit

from hms_otel import terminal

#: Value meaning "remove the variable" (signal-specific settings fall back to the general one).
UNSET = ""


@dataclass(frozen=True)
class Rule:
    """``check(value)`` returns None when valid, else why not (``is not ...``); ``check_in(value, env)``
    instead when validity depends on another variable."""

    check: Callable[[str], str | None] | None
    #: Used instead of an invalid value when the distro has no default for it; UNSET removes the variable.
    fallback: str = UNSET
    check_in: Callable[[str, Mapping[str, str]], str | None] | None = None

    def problem(self, value: str, env: Mapping[str, str]) -> str | None:
        if self.check_in is not None:
            return self.check_in(value, env)
        assert self.check is not None
        return self.check(value)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _positive_number(what: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        number = _number(value)
        return None if number is not None and number > 0 else f"is not a positive number of {what}"

    return check


def _non_negative_seconds(value: str) -> str | None:
    number = _number(value)
    return None if number is not None and number >= 0 else "is not a number of seconds (0 or more)"


def _positive_integer(value: str) -> str | None:
    try:
        return None if int(value) > 0 else "is not a positive integer"
    except ValueError:
        return "is not a positive integer"


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value.strip().lower() in allowed else f"is not one of {', '.join(allowed)}"

    return check


_boolean = _one_of("true", "false")


_HOST = re.compile(r"[A-Za-z0-9._\-]+|[0-9A-Fa-f:.]+")  # a DNS name, IPv4, or IPv6 (brackets removed)


def _endpoint(value: str) -> str | None:
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port"
    if parts.scheme == "unix":
        return None
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(parts.hostname or ""):
        return "is not an http(s)://host:port address"
    if port is not None and not 0 < port < 65536:
        return "has an invalid port"
    return None


def _exporters(group: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        names = [name.strip() for name in value.split(",")]
        if any(name.lower() == "none" for name in names):
            return None
        known = {entry.name for entry in entry_points(group=group)} | {"otlp"}
        unknown = [name for name in names if name not in known]
        return f"names no installed exporter ({', '.join(sorted(known))})" if unknown else None

    return check


_MILLIS = _positive_number("milliseconds")
_SECONDS = _positive_number("seconds")
_PROTOCOL = _one_of("grpc", "http/protobuf")
_HTTP_COMPRESSION = _one_of("gzip", "deflate", "none")
_GRPC_COMPRESSION = _one_of("gzip")  # the gRPC exporter knows gzip only and raises on anything else


def _compression(signal: str) -> Callable[[str, Mapping[str, str]], str | None]:
    def check(value: str, env: Mapping[str, str]) -> str | None:
        protocol = env.get(f"OTEL_EXPORTER_OTLP_{signal}PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
        return (_HTTP_COMPRESSION if protocol.strip() == "http/protobuf" else _GRPC_COMPRESSION)(value)

    return check


RULES: dict[str, Rule] = {
    "OTEL_METRIC_EXPORT_INTERVAL": Rule(_MILLIS, "60000"),
    "OTEL_METRIC_EXPORT_TIMEOUT": Rule(_MILLIS, "30000"),
    "OTEL_EXPORTER_OTLP_TIMEOUT": Rule(_SECONDS, "10"),
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": Rule(_SECONDS),
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": Rule(_SECONDS),
    "OTEL_EXPORTER_OTLP_PROTOCOL": Rule(_PROTOCOL, "grpc"),
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": Rule(_PROTOCOL),
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": Rule(_PROTOCOL),
    "OTEL_EXPORTER_OTLP_ENDPOINT": Rule(_endpoint, "http://localhost:4317"),
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": Rule(_endpoint),
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": Rule(_endpoint),
    "OTEL_EXPORTER_OTLP_INSECURE": Rule(_boolean, "false"),
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE": Rule(_boolean),
    "OTEL_EXPORTER_OTLP_LOGS_INSECURE": Rule(_boolean),
    "OTEL_EXPORTER_OTLP_COMPRESSION": Rule(None, check_in=_compression("")),
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION": Rule(None, check_in=_compression("METRICS_")),
    "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": Rule(None, check_in=_compression("LOGS_")),
    "OTEL_METRICS_EXPORTER": Rule(_exporters("opentelemetry_metrics_exporter"), "otlp"),
    "OTEL_LOGS_EXPORTER": Rule(_exporters("opentelemetry_logs_exporter"), "otlp"),
    "OTEL_TRACES_EXPORTER": Rule(_exporters("opentelemetry_traces_exporter"), "none"),
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": Rule(
        _one_of("cumulative", "delta", "lowmemory"), "cumulative"
    ),
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": Rule(
        _one_of("explicit_bucket_histogram", "base2_exponential_bucket_histogram"), "explicit_bucket_histogram"
    ),
    "OTEL_METRICS_EXEMPLAR_FILTER": Rule(_one_of("always_on", "always_off", "trace_based"), "trace_based"),
    "OTEL_SDK_DISABLED": Rule(_boolean, "false"),
    "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": Rule(_boolean, "true"),
    "OTEL_BLRP_SCHEDULE_DELAY": Rule(_positive_integer, "1000"),
    "OTEL_BLRP_EXPORT_TIMEOUT": Rule(_positive_integer, "30000"),
    "OTEL_BLRP_MAX_QUEUE_SIZE": Rule(_positive_integer, "2048"),
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": Rule(_positive_integer, "512"),
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": Rule(_positive_integer, "4096"),
    "OTEL_ATTRIBUTE_COUNT_LIMIT": Rule(_positive_integer, "128"),
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": Rule(_positive_integer),
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": Rule(_positive_integer),
    "HMS_OTEL_SHUTDOWN_TIMEOUT": Rule(_non_negative_seconds, "2"),
    "HMS_OTEL_LOG_BODY_LENGTH_LIMIT": Rule(_positive_integer, "65536"),
    "HMS_OTEL_MAX_REQUEST_BYTES": Rule(_positive_integer, "3145728"),
    "HMS_OTEL_MAX_METRIC_NAMES": Rule(_positive_integer, "1000"),
    "HMS_OTEL_MAX_REMEMBERED_FAILURES": Rule(_positive_integer, "1000"),
}

_warned: set[tuple[str, str]] = set()


def repair_environment(defaults: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Replace every invalid value in ``environ`` (default ``os.environ``); return the variables fixed.

    ``defaults`` are the distro's defaults (used instead of a bad value when
    they name it; else the rule's fallback). One stderr warning per variable
    and value, however often this runs.
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    fixed: list[str] = []
    for name, rule in RULES.items():
        value = env.get(name)
        if value is None:
            continue
        if not value.strip():
            _replace(env, name, defaults.get(name, rule.fallback))
            continue
        problem = rule.problem(value, env)
        if problem is None:
            continue
        replacement = defaults.get(name, rule.fallback)
        _replace(env, name, replacement)
        fixed.append(name)
        if (name, value) not in _warned:
            _warned.add((name, value))
            instead = f"using {replacement!r} instead" if replacement else "ignoring it"
            terminal.warn(f"hms_otel: warning: {name}={_shown(value)} {problem}; {instead}")
    return fixed


def _replace(env: MutableMapping[str, str], name: str, value: str) -> None:
    if value == UNSET:
        env.pop(name, None)
    else:
        env[name] = value


def _shown(value: str) -> str:
    """The bad value as a short, printable literal (it may hold escape sequences)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
