"""Numbers for people: ``2.9 s`` not ``2.9k ms``, ``850 ms``, ``12 payouts``.

The unit comes from the metric registry (UCUM-style: ``ms``, ``s``, ``By``,
``{payment}``, ``1``), carried on the alert by the compiler.
"""

from __future__ import annotations

import math

_SECOND_UNITS = {"ms": 1e-3, "s": 1.0, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}
_BYTE_STEPS = (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
#: From here on a number is shown with an exponent (2.8e+301): written in full, ``1e308`` is 309 digits
#: that push everything else off the phone, and beyond 2**53 the digits are not the value's anyway.
_HUGE = 1e15


def _number(value: float, digits: int = 2) -> str:
    """``digits`` significant digits, but whole numbers in full (2.9, 0.85, 12, 1250), no trailing zeros,
    no exponent for everyday sizes."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else _infinite(value)
    magnitude = abs(value)
    if magnitude >= _HUGE:
        return f"{value:.{digits}g}"
    if magnitude >= 1:
        text = f"{value:.{max(0, digits - len(str(int(magnitude))))}f}"
    else:
        text = f"{value:.{digits}g}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def _big(value: float, digits: int = 2) -> str:
    """12, 1.2k, 3.4M: counts stay readable on a phone."""
    if abs(value) >= _HUGE:
        return _number(value, digits)  # 1e+308, not 1e+299G
    for suffix, step in (("G", 1e9), ("M", 1e6), ("k", 1e4)):
        if abs(value) >= step:
            scale = 1e3 if suffix == "k" else step
            return _number(value / scale, digits) + suffix
    if float(value).is_integer():
        return str(int(value))
    return _number(value, digits)


def _infinite(value: float) -> str:
    return "infinite" if value > 0 else "minus infinite"


def _duration(seconds: float, digits: int = 2) -> str:
    magnitude = abs(seconds)
    if magnitude < 1:
        return f"{_number(seconds * 1000, digits)} ms"
    if magnitude < 120:
        return f"{_number(seconds, digits)} s"
    if magnitude < 7200:
        return f"{_number(seconds / 60, digits)} min"
    return f"{_number(seconds / 3600, digits)} h"


def _plural(word: str, value: float) -> str:
    if value == 1 or word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("x", "ch", "sh")):
        return word + "es"
    return word + "s"


def format_value(value: float, unit: str, digits: int = 2) -> str:
    """``value`` in ``unit`` as a person reads it: ``format_value(2900, "ms") == "2.9 s"``.

    ``unit`` may end in ``/s`` (a rate). Unknown units are printed after the number.
    ``digits``: significant digits of a fraction (whole numbers are never cut).
    """
    if math.isnan(value):
        return "no value"
    if math.isinf(value):
        return _infinite(value)  # no unit: "inf h", "infG xes" read as garbage
    rate = unit.endswith("/s")
    base = unit[:-2] if rate else unit
    suffix = "/s" if rate else ""
    if base in _SECOND_UNITS and not rate:
        return _duration(value * _SECOND_UNITS[base], digits)
    if base == "By":
        for name, step in _BYTE_STEPS:
            if abs(value) >= step:
                return f"{_number(value / step, digits)} {name}{suffix}"
        return f"{_big(value, digits)} bytes{suffix}"
    if base in ("", "1"):
        return _big(value, digits) + (" /s" if rate else "")
    if base == "x":  # how many times faster than allowed (SLO burn rates)
        return f"{_number(value, digits)}x"
    if base == "%":
        return f"{_number(value, digits)}%{suffix}"
    if base.startswith("{") and base.endswith("}"):
        word = base[1:-1]
        return f"{_big(value, digits)} {_plural(word, value)}{suffix}"
    return f"{_big(value, digits)} {base}{suffix}"


def format_beside(value: float, bound: float, unit: str) -> str:
    """:func:`format_value`, with the digits it takes not to read as ``bound`` when it is not:
    ``2.04 s (>2 s)``, not ``2 s (>2 s)``."""
    text, shown_bound = format_value(value, unit), format_value(bound, unit)
    digits = 2
    while text == shown_bound and value != bound and digits < 9:
        digits += 1
        text = format_value(value, unit, digits)
    return text
