"""Attribute values shared by the facades and the hook engine."""

from __future__ import annotations

import itertools
import os
from typing import Any


def error_type(error: BaseException) -> str:
    """The ``error.type`` attribute of a failed call: the exception's class name.

    The short name (``TimeoutError``, ``TransferError``) keeps the Prometheus
    label readable in alert messages and dashboards; one class name per
    failure mode keeps cardinality low.
    """
    return type(error).__qualname__


#: Default of ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` set by the distro.
DEFAULT_VALUE_LENGTH_LIMIT = 4096


def bounded_text(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else its head plus a hash of the whole.

    The hash keeps values that differ only after the cut apart (two series stay
    two series instead of colliding into one with duplicate samples).
    """
    if len(text) <= limit:
        return text
    import hashlib  # here, not at import: OpenSSL's start-up is paid only by a process that cuts a value

    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    marker = f"...[cut {len(text)} chars #{digest}]"
    return text[: max(0, limit - len(marker))] + marker


_value_limit: int | None = None


def value_length_limit() -> int:
    """``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` (read once; the distro sets it before the app records)."""
    global _value_limit
    if _value_limit is None:
        try:
            _value_limit = int(os.environ.get("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", ""))
        except ValueError:
            _value_limit = DEFAULT_VALUE_LENGTH_LIMIT
        if _value_limit <= 0:
            _value_limit = DEFAULT_VALUE_LENGTH_LIMIT
    return _value_limit


def bounded_bytes(data: bytes, limit: int) -> bytes:
    """``data`` if it fits ``limit`` bytes, else its head plus a hash of the whole (as :func:`bounded_text`)."""
    if len(data) <= limit:
        return data
    import hashlib  # as in bounded_text: paid only by a process that cuts a value

    marker = f"...[cut {len(data)} bytes #{hashlib.blake2b(data, digest_size=6).hexdigest()}]".encode()
    return data[: max(0, limit - len(marker))] + marker


INT64_LIMIT = 2**63

#: Items kept of a list, tuple or dict attribute value (the first ones; the rest are dropped and counted).
#: Each kept item is bounded too, so a value holds at most this many times the value length limit.
MAX_SEQUENCE_ITEMS = 128


def _first_items(value: Any) -> Any:
    """``value`` (a list, tuple or dict) itself, or its first :data:`MAX_SEQUENCE_ITEMS` items with the
    rest counted as dropped (one warning in all). No marker item: OpenTelemetry wants a sequence of one type."""
    if len(value) <= MAX_SEQUENCE_ITEMS:
        return value
    from hms_otel.selfmetrics import count_dropped  # here, not at import: selfmetrics loads the registry

    count_dropped(
        "attribute_items", "item_limit", len(value) - MAX_SEQUENCE_ITEMS,
        f"list, tuple and dict attribute values keep their first {MAX_SEQUENCE_ITEMS} items",
    )
    if isinstance(value, dict):
        return dict(itertools.islice(value.items(), MAX_SEQUENCE_ITEMS))
    return tuple(value[:MAX_SEQUENCE_ITEMS])


def _count_cut(what: str, limit: int) -> None:
    """One value or key cut to ``limit`` (its marker says so in the data; the count says how often)."""
    from hms_otel.selfmetrics import count_dropped  # as in _first_items

    count_dropped(
        "attribute_text", "length_limit", 1,
        f"a string or bytes attribute {what} keeps its first {limit} characters or bytes, then a marker and hash",
    )


def _cut_text(text: str, limit: int, what: str = "value") -> str:
    cut = bounded_text(text, limit)
    if cut is not text:
        _count_cut(what, limit)
    return cut


def _cut_bytes(data: bytes, limit: int) -> bytes:
    cut = bounded_bytes(data, limit)
    if cut is not data:
        _count_cut("value", limit)
    return cut


# What a class has that gives its objects no text of their own (the SDK drops such a key).
_NO_TEXT_OF_ITS_OWN: tuple[Any, Any] = (object.__str__, object.__repr__)


def bounded_key(key: Any, limit: int) -> Any:
    """An attribute key (of the attributes, or of a dict value) as a plain ``str`` cut to ``limit``.

    A ``str`` subclass becomes the plain string it holds, so its own ``__hash__``, ``__eq__`` or ``__str__``
    (raising, or changing between calls) never runs in the SDK's or the facades' dicts. Another key becomes
    its text, as the SDK would make it (``1`` -> ``"1"``), and is cut alike; a key with no text of its own
    (an ``object()``) is left for the SDK to drop. Raises what the key's ``__str__`` raises.
    """
    if type(key) is not str:
        if isinstance(key, str):
            key = str.__str__(key)
        elif isinstance(key, int):
            key = int_text(key)
        elif (type(key).__str__, type(key).__repr__) == _NO_TEXT_OF_ITS_OWN:
            return key
        else:
            key = str.__str__(str(key))
    return key if len(key) <= limit else _cut_text(key, limit, "key")


def int_text(value: int) -> str:
    """A huge int as text; past Python's limit on decimal digits, in hex (not limited)."""
    try:
        return str(value)
    except ValueError:
        return hex(value)


def bounded_value(value: Any, limit: int) -> Any:
    """``value`` as the facades record it: strings and bytes over ``limit`` cut
    (each cut counted in ``hms_otel_dropped_total{signal="attribute_text"}``),
    lists, tuples and dicts cut to :data:`MAX_SEQUENCE_ITEMS` items and their
    items bounded alike, a dict's keys as :func:`bounded_key`, a bytearray or
    memoryview as bytes, and an int outside int64 as text. Returns ``value``
    itself when nothing changes.

    Why: the SDK keeps an attribute value whole in its cumulative state for the
    life of the series (a 1 MB bytes value, or a million-item tuple, per series
    is kept whole), it turns a bytearray into a tuple of ints (one item per
    byte), and the OTLP encoder drops an int past int64 with a traceback,
    exporting the point without it (a duplicate of the series without the attribute).
    """
    if isinstance(value, str):
        return _cut_text(value, limit)
    if isinstance(value, bytes):
        return _cut_bytes(value, limit)
    if isinstance(value, (bytearray, memoryview)):
        return _cut_bytes(bytes(value), limit)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -INT64_LIMIT <= value < INT64_LIMIT else _cut_text(int_text(value), limit)
    if isinstance(value, (list, tuple)):
        kept = _first_items(value)
        items = tuple(bounded_value(item, limit) for item in kept)
        return value if kept is value and all(new is old for new, old in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        kept = _first_items(value)
        pairs = [(key, bounded_key(key, limit), item, bounded_value(item, limit)) for key, item in kept.items()]
        unchanged = kept is value and all(new_key is key and new is item for key, new_key, item, new in pairs)
        return value if unchanged else {new_key: new for _, new_key, _, new in pairs}
    return value


def bounded_values(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` with every key and value bounded (:func:`bounded_key`, :func:`bounded_value`):
    the one rule of every facade, metric or log.

    Cutting where the value is recorded, not only at export, keeps a huge value
    out of the SDK's cumulative state (and out of a log batch). Returns the same
    dict when nothing changes, so the usual call costs a type and length check
    per key and string value. Raises what a hostile key or value raises (the
    facades count that call as failed).
    """
    limit = _value_limit or value_length_limit()
    cut: dict[str, Any] | None = None
    for index, (key, value) in enumerate(attributes.items()):
        if type(key) is str and len(key) <= limit and type(value) is str and len(value) <= limit:
            if cut is not None:
                cut[key] = value
            continue
        new_key = bounded_key(key, limit)
        bounded = bounded_value(value, limit)  # once per value: a cut sequence counts its dropped items
        if cut is None and (new_key is not key or bounded is not value):
            cut = dict(itertools.islice(attributes.items(), index))  # the ones before, unchanged
        if cut is not None:
            cut[new_key] = bounded
    return attributes if cut is None else cut
