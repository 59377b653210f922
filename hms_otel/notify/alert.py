"""One alert as Alertmanager's webhook delivers it, read into what the notifier needs.

The alert compiler (:mod:`hms_otel.alerts.rules`) puts the facts as plain data
into annotations named here; only ``hms_value`` is a template, Prometheus'
own ``{{ $value }}``. Nothing a user wrote is ever evaluated as a template.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Annotation names the compiler writes and the notifier reads.
METRIC = "hms_metric"
OP = "hms_op"
THRESHOLD = "hms_threshold"
UNIT = "hms_unit"
VALUE = "hms_value"
MESSAGE = "hms_message"
WINDOW = "hms_window_seconds"
#: The one template we write: the value the rule measured, unformatted.
VALUE_TEMPLATE = "{{ $value }}"


class BadPayload(ValueError):
    """The request body is not an Alertmanager webhook message."""


@dataclass(frozen=True)
class AlertEvent:
    status: str  # "firing" or "resolved"
    name: str
    fingerprint: str
    starts_at: str
    ends_at: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def metric(self) -> str:
        return self.annotations.get(METRIC, "")

    @property
    def op(self) -> str:
        return self.annotations.get(OP, "")

    @property
    def unit(self) -> str:
        return self.annotations.get(UNIT, "")

    @property
    def threshold(self) -> float | None:
        return _float(self.annotations.get(THRESHOLD))

    @property
    def value(self) -> float | None:
        return _float(self.annotations.get(VALUE))

    @property
    def message_template(self) -> str:
        """The alert file's ``message`` with its ``{{value}}`` placeholder (falls back to ``message``)."""
        return self.annotations.get(MESSAGE) or self.annotations.get("message", "")

    @property
    def window_seconds(self) -> float:
        return _float(self.annotations.get(WINDOW)) or 300.0

    @property
    def service(self) -> str:
        """The service the alert is about: ``job`` is what the collector makes of ``service.name``."""
        return self.labels.get("job") or self.labels.get("service_name") or self.labels.get("service", "")

    @property
    def layer(self) -> str:
        layer = self.labels.get("layer", "")
        return "" if layer in ("custom", "quick start") else layer

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def started(self) -> float | None:
        return _time(self.starts_at)

    def ended(self) -> float | None:
        return _time(self.ends_at) if not self.firing else None


def _float(text: str | None) -> float | None:
    if text is None or not str(text).strip():
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if not math.isnan(value) else None


def _time(text: str) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        # Alertmanager prints nanoseconds; Python reads at most microseconds.
        head, dot, rest = text.partition(".")
        if not dot:
            return None
        digits = "".join(ch for ch in rest if ch.isascii() and ch.isdigit())[:6]
        zone = rest[len("".join(ch for ch in rest if ch.isascii() and ch.isdigit())):]
        try:
            return datetime.fromisoformat(f"{head}.{digits}{zone}".replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> str:
    """``value`` as text that can be written: JSON may carry lone surrogates (``"\\ud800"``), which
    UTF-8 cannot encode; they become U+FFFD here rather than fail the journal after part of a group
    was accepted."""
    return _SURROGATE.sub("\ufffd", str(value))


def _text_map(value: Any, what: str) -> dict[str, str]:
    """Labels or annotations as text. A ``null`` value is left out, as Prometheus leaves out an empty label
    (as text it would reach the phone as "None"); other JSON values are kept as JSON text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be an object")
    return {_text(key): _text(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False))
            for key, item in value.items() if item is not None}


def parse_webhook(payload: Any) -> list[AlertEvent]:
    """The alerts of one Alertmanager webhook message (``version: "4"``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise BadPayload("expected an Alertmanager webhook message: an object with an 'alerts' list")
    events = []
    for raw in payload["alerts"]:
        if not isinstance(raw, dict):
            raise BadPayload("every entry of 'alerts' must be an object")
        labels = _text_map(raw.get("labels"), "labels")
        status = _status(raw, payload)
        events.append(AlertEvent(
            status=status,
            name=labels.get("alertname", "alert"),
            fingerprint=_text(raw.get("fingerprint") or ""),
            starts_at=_text(raw.get("startsAt") or ""),
            ends_at=_text(raw.get("endsAt") or ""),
            labels=labels,
            annotations=_text_map(raw.get("annotations"), "annotations"),
        ))
    return events


def _status(raw: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """The alert's ``status``, else the message's, else firing. Only a missing (or null) one falls back:
    ``false``, ``0`` or ``""`` read as missing made a wrong value a firing alert."""
    status = raw.get("status")
    if status is None:
        status = payload.get("status")
    if status is None:
        return "firing"
    if status not in ("firing", "resolved"):
        raise BadPayload(f"an alert's 'status' must be \"firing\" or \"resolved\", not "
                         f"{json.dumps(status, ensure_ascii=False)[:80]}")
    return str(status)


def event_to_json(event: AlertEvent) -> dict[str, Any]:
    return {"status": event.status, "name": event.name, "fingerprint": event.fingerprint,
            "starts_at": event.starts_at, "ends_at": event.ends_at, "labels": dict(event.labels),
            "annotations": dict(event.annotations)}


def event_from_json(data: Mapping[str, Any]) -> AlertEvent:
    return AlertEvent(status=data["status"], name=data["name"], fingerprint=data["fingerprint"],
                      starts_at=data["starts_at"], ends_at=data["ends_at"], labels=dict(data["labels"]),
                      annotations=dict(data["annotations"]))
