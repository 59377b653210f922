"""The words on the phone, the same for every channel.

::

    [HMS-OPS] ALERT – payment_latency_ms 2.9 s (>2 s)
    Payment latency 2.9 s (>2 s)
    Probable source: Database connection pool exhausted (waited 9.8 s for a connection)

A text has at most 160 characters whenever the parts allow: the alert's own
message is shortened (then dropped) first, because the headline already
carries the metric, the value and the threshold; then the probable source;
the headline is cut last.

That is not one SMS segment. The headline's en dash "–" (the specified
wording) and the ellipsis "…" are not in the GSM 03.38 7-bit alphabet, so
every text goes out as UCS-2: 70 characters fit one segment, a longer text
is split into segments of 67, and a full 160-character text is billed as 3
segments (the tutorial's 130-character text as 2).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.units import format_beside, format_value

PREFIX = "[HMS-OPS]"
#: The most characters a text may have (the name is historical: see the module docstring for segments).
SEGMENT = 160
_ELLIPSIS = "…"
#: A part shorter than this after trimming says nothing; drop it instead.
_MIN_PART = 16
_PLACEHOLDER = re.compile(r"\{\{\s*value\s*\}\}")
#: Controls, and the bidi embeddings, overrides and isolates: a log line's U+202E showed "DEVLOSER" as
#: "RESOLVED" on the phone. Marks (U+200E/U+200F) and right-to-left text itself stay.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: A resolved alert that lasted longer than this (ten years) has a start time that is wrong, not old.
_LONGEST = 10 * 365 * 24 * 3600.0


@dataclass(frozen=True)
class Message:
    headline: str
    body: str
    source: str | None

    @property
    def lines(self) -> list[str]:
        lines = [self.headline]
        if self.body:
            lines.append(self.body)
        if self.source:
            lines.append(f"Probable source: {self.source}")
        return lines

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def plain(text: str) -> str:
    """``text`` as one line a reader sees as written: controls and bidi overrides dropped, each run of
    whitespace (newlines too) one space. Every part of a message, and whatever a provider shows beside it,
    goes through here."""
    return " ".join(_UNSHOWN.sub(" ", text).split())


def threshold_text(event: AlertEvent) -> str:
    """``>2 s``: the comparison as written, the threshold in people's units."""
    if event.threshold is None or not event.op:
        return ""
    return f"{event.op}{format_value(event.threshold, event.unit)}"


def render_template(template: str, event: AlertEvent) -> str:
    """The alert's ``message`` with ``{{value}}`` in people's units.

    A unit written right after the placeholder (``{{value}} ms``) is the
    metric's raw unit; the formatted value brings its own, so it is dropped.
    Counted things (``{payment}``) are named by the writer ("{{value}} payouts
    flagged"), so there the number stands alone.
    """
    if event.value is None:
        return _PLACEHOLDER.sub("?", template)
    counted = event.unit.startswith("{") or event.unit in ("", "1")
    shown_unit = ("/s" if event.unit.endswith("/s") else "") if counted else event.unit
    value = _value_text(event.value, event, shown_unit)
    unit = re.escape(event.unit) if event.unit else None
    pattern = _PLACEHOLDER if unit is None else re.compile(rf"\{{\{{\s*value\s*\}}\}}(?:\s*{unit}\b)?")
    return pattern.sub(lambda _m: value, template)


def headline(event: AlertEvent) -> str:
    subject = event.metric or event.name
    if not event.firing:
        bound = threshold_text(event)
        lasted = _lasted(event)
        condition = f" no longer {bound}" if bound else " is back to normal"
        return f"{PREFIX} RESOLVED – {subject}{condition}{lasted}"
    if event.value is None or not event.metric:
        return f"{PREFIX} ALERT – {event.name}"
    bound = threshold_text(event)
    shown = _value_text(event.value, event, event.unit)
    return f"{PREFIX} ALERT – {subject} {shown}" + (f" ({bound})" if bound else "")


def _lasted(event: AlertEvent) -> str:
    """``, after 12 min``; nothing when the start is unknown, in the future ("after -69890698 h")
    or absurdly long ago: a wrong clock or a wrong ``startsAt`` is not worth a line on the phone."""
    started = event.started()
    if started is None:
        return ""
    seconds = time.time() - started
    return f", after {format_value(seconds, 's')}" if 0 <= seconds <= _LONGEST else ""


def _value_text(value: float, event: AlertEvent, unit: str) -> str:
    """The value in people's units, never rounded onto the threshold it is shown beside ("2.04 s (>2 s)")."""
    if event.threshold is None:
        return format_value(value, unit)
    return format_beside(value, event.threshold, unit)


def compose(event: AlertEvent, source: str | None, limit: int = SEGMENT, more: int = 0) -> Message:
    """The message for ``event`` with the probable ``source`` (``None``: none found), within ``limit``;
    ``more``: how many other alerts that arrived with it the message stands for (", +999 more")."""
    head = plain(headline(event)) + (f", +{more} more" if more > 0 else "")
    body = plain(render_template(event.message_template, event)) if event.firing else ""
    if event.firing and body == head.split(" – ", 1)[-1]:
        body = ""  # the default message repeats the headline
    source = plain(source) or None if source and event.firing else None
    message = Message(head, body, source)
    if len(message.text) <= limit:
        return message
    # Least important first: the alert's own message, then the probable source, then the headline.
    message = Message(head, shorten(body, len(body) - (len(message.text) - limit)), source)
    if len(message.text) <= limit:
        return message
    label = len("Probable source: ")
    if source:
        room = len(source) - (len(message.text) - limit)
        shortened = shorten(source, room) if room >= _MIN_PART - label else ""
        message = Message(head, message.body, shortened or None)
    if len(message.text) <= limit:
        return message
    return Message(shorten(head, limit, minimum=1), "", None)


def shorten(text: str, room: int, minimum: int = _MIN_PART) -> str:
    """``text`` cut at a word boundary to at most ``room`` characters (with an ellipsis); "" if too short."""
    if len(text) <= room:
        return text
    if room < minimum:
        return ""
    cut = text[: room - 1]
    if " " in cut[minimum // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-(") + _ELLIPSIS
