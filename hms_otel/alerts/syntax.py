"""The small grammars inside alert-file values: durations, ``when``,
``action`` and ``message``.

Each parser returns a value or raises :class:`SyntaxProblem` with the offset
inside the text, so the spec step can point at the exact column.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from hms_otel.alerts.model import Action, Condition, Duration
from hms_otel.errors import HmsError
from hms_otel.errors import shown as shown  # moved to errors.py (no imports); the alert specs import it from here
from hms_otel.yamlfile import parse_decimal


class SyntaxProblem(HmsError, ValueError):
    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# ASCII digits only: other scripts' digits are not numbers in Prometheus.
_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_UNIT_NAMES = ("y", "w", "d", "h", "m", "s", "ms")
#: Longer windows only make Prometheus slow (and overflow its duration type far beyond).
MAX_DURATION_MS = 366 * 86_400_000


def parse_duration(text: str, *, allow_zero: bool = False) -> Duration:
    """A Prometheus duration such as ``30s``, ``1h30m`` or ``500ms``."""
    match = _DURATION.fullmatch(text) if len(text) <= 64 else None
    if not text or match is None:
        hint = " (a number needs a unit, e.g. 30s)" if text.isascii() and text.isdigit() else ""
        if ":" in text:
            hint = " (1:30 is not a duration; write 1m30s)"
        raise SyntaxProblem(
            f"bad duration {shown(text)}{hint}: use Prometheus syntax like 30s, 5m, 1h30m, 1d (units y w d h m s ms)"
        )
    ms = sum(int(value) * unit for value, unit in zip(match.groups(), _UNIT_MS, strict=True) if value)
    if ms == 0 and not allow_zero:
        raise SyntaxProblem(f"duration {shown(text)} is zero; it must be longer than 0")
    if ms > MAX_DURATION_MS:
        raise SyntaxProblem(f"duration {shown(text)} is longer than 1 year; no alert window needs that")
    return Duration(text, ms)


def format_duration(ms: int) -> str:
    """The shortest Prometheus spelling of ``ms`` milliseconds (``0s`` for 0)."""
    if ms <= 0:
        return "0s"
    parts = []
    for unit, name in zip(_UNIT_MS[2:], _UNIT_NAMES[2:], strict=True):  # no y/w: they are ambiguous to readers
        count, ms = divmod(ms, unit)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts)


AGGREGATIONS = ("avg", "min", "max", "sum", "count", "rate", "increase", "last", "p50", "p90", "p95", "p99")
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
_AGGREGATION = re.compile(r"[A-Za-z0-9]+_over_", re.ASCII)
_OPERATOR_CHARS = re.compile(r"[<>=!]")
_SPACE = re.compile(r"\s")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DIGIT_GROUPS = re.compile(r"(?<=[0-9])_(?=[0-9])")
_DECIMAL_ONLY = re.compile(r"[-+]?[1-9][0-9]*(?:\.[0-9]+)?", re.ASCII)
#: What users type for the operators PromQL spells differently.
_OPERATOR_FIXES = {"=": "==", "=>": ">=", "=<": "<="}


def parse_when(text: str) -> Condition:
    """``avg_over_30s > 2000`` -> :class:`Condition`.

    A tokenizer, not a backtracking regular expression: one pass over the text,
    so a 1 MB value is read (and refused) as fast as a short one.
    """
    start = len(text) - len(text.lstrip())
    body = text.strip()
    head = _AGGREGATION.match(body)
    operator = _OPERATOR_CHARS.search(body)
    if head is None or operator is None or operator.start() < head.end():
        raise SyntaxProblem(
            f"cannot read when {shown(text)}: write <aggregation>_over_<duration> <op> <number>, "
            "e.g. avg_over_30s > 2000"
        )
    aggregation = head.group()[: -len("_over_")]
    if aggregation not in AGGREGATIONS:
        raise SyntaxProblem(f"unknown aggregation {shown(aggregation)}; use one of {', '.join(AGGREGATIONS)}",
                            start)
    window_text = body[head.end() : operator.start()].rstrip()
    window_at = start + head.end()
    if _SPACE.search(window_text):
        raise SyntaxProblem(f"the window {shown(window_text)} must be one duration like 30s", window_at)
    try:
        window = parse_duration(window_text)
    except SyntaxProblem as problem:
        raise SyntaxProblem(problem.message, window_at) from None
    op_end = operator.start() + 1
    if op_end < len(body) and body[op_end] in "<>=!":
        op_end += 1
    op = body[operator.start() : op_end]
    op_at = start + operator.start()
    if op not in OPERATORS:
        fix = f" (write {_OPERATOR_FIXES[op]})" if op in _OPERATOR_FIXES else ""
        raise SyntaxProblem(f"unknown comparison {shown(op)}{fix}; use one of {' '.join(OPERATORS)}", op_at)
    number_text = body[op_end:]
    number_at = start + op_end + len(number_text) - len(number_text.lstrip())
    threshold = parse_number(number_text.strip(), number_at)
    return Condition(aggregation, window, op, threshold)


def parse_number(text: str, offset: int = 0) -> float:
    """A threshold: a plain decimal number (``2000``, ``0.5``, ``1e3``); ASCII digits only."""

    def problem(message: str) -> SyntaxProblem:
        return SyntaxProblem(f"threshold {message}", offset)

    if len(text) > 64:
        raise problem(f"{shown(text)} is not a number")
    # 1_000 reads the same to everyone; only between ASCII digits, as in Python and Go.
    digits = _DIGIT_GROUPS.sub("", text)
    return parse_decimal(digits, problem) if digits != text and _DECIMAL_ONLY.fullmatch(digits) else parse_decimal(
        text, problem)


ACTION_SCHEMES = ("sms", "slack", "teams", "email", "webhook", "pagerduty")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_SLACK_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}", re.ASCII)
_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}", re.ASCII)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`|~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63}){1,8}", re.ASCII)


def parse_action(text: str) -> Action:
    """``sms:+15551234`` -> :class:`Action`; secrets never come from here."""
    scheme, colon, target = text.partition(":")
    scheme = scheme.strip()
    if not colon:
        raise SyntaxProblem(f"action {shown(text)} needs a scheme: one of {', '.join(s + ':' for s in ACTION_SCHEMES)}")
    if scheme not in ACTION_SCHEMES:
        raise SyntaxProblem(f"unknown action scheme {shown(scheme)}; use one of {', '.join(ACTION_SCHEMES)}")
    target = target.strip()
    offset = len(text) - len(text.partition(":")[2].lstrip())
    check = _TARGET_CHECKS[scheme]
    error = check(target)
    if error:
        raise SyntaxProblem(error, offset)
    return Action(scheme, target)


def _check_sms(target: str) -> str | None:
    if _E164.fullmatch(target):
        return None
    return f"sms needs a phone number in E.164 form like +15551234, not {shown(target)}"


def _check_slack(target: str) -> str | None:
    if _SLACK_CHANNEL.fullmatch(target):
        return None
    return f"slack needs a channel like #payments (lower case, no spaces), not {shown(target)}"


def _check_teams(target: str) -> str | None:
    if "://" in target:
        return (
            "a Teams webhook URL is a secret and does not belong in an alert file; write teams:<name> "
            "and set HMS_TEAMS_<NAME>_URL in the environment"
        )
    if _KEY_NAME.fullmatch(target):
        return None
    return f"teams needs a name like teams:ops (letters, digits, '-', '_'), not {shown(target)}"


def _check_email(target: str) -> str | None:
    if _EMAIL.fullmatch(target):
        return None
    return f"email needs an address like oncall@example.gov, not {shown(target)}"


def _check_webhook(target: str) -> str | None:
    if "{{" in target or "}}" in target:
        return "webhook URL must not contain template text ('{{' or '}}')"
    if _SPACE.search(target) or not target.isprintable():
        return f"webhook URL {shown(target)} contains spaces or control characters; percent-encode them"
    bad_escape = _BAD_PERCENT.search(target)
    if bad_escape:
        return f"webhook URL {shown(target)} has a '%' not followed by two hex digits (write %25 for '%')"
    try:
        parts = urlsplit(target)
    except ValueError as error:
        return f"webhook URL {shown(target)} is not valid: {error}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"webhook needs an http:// or https:// URL with a host, not {shown(target)}"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError as error:
        return f"webhook URL {shown(target)} has a bad port: {error}"
    if parts.username or parts.password:
        return "webhook URL carries credentials; secrets never go in alert files (use a pagerduty/slack name)"
    if "{{" in target or "}}" in target:
        return "webhook URL must not contain template text ('{{' or '}}')"
    return None


def _check_pagerduty(target: str) -> str | None:
    if _KEY_NAME.fullmatch(target):
        return None
    return (
        f"pagerduty needs the name of a routing key (its secret lives in the secrets dir), "
        f"like pagerduty:payments-oncall, not {shown(target)}"
    )


_TARGET_CHECKS = {
    "sms": _check_sms,
    "slack": _check_slack,
    "teams": _check_teams,
    "email": _check_email,
    "webhook": _check_webhook,
    "pagerduty": _check_pagerduty,
}

#: ``{{value}}`` (spaces allowed) is the one placeholder users may write.
_VALUE_PLACEHOLDER = re.compile(r"\{\{\s*value\s*\}\}")
#: What literal text must not carry into a template as written: the delimiters, and a lone ``{`` right
#: before an action this module emits (one of the delimiters' or the value's, which may follow the text):
#: ``{`` + ``{{`` reads as ``{{{``, which Go cannot parse. A ``}`` after an action's ``}}`` is plain text to Go.
_DELIMITERS = re.compile(r"\{\{|\}\}|\{(?=\}\}|\Z)")
#: The value in a message Prometheus renders (e-mail, PagerDuty, the UIs): 6 significant digits below a
#: million, humanize's k/M/G above. humanize alone made 0.55 "550m" ("satisfaction 550m (below 0.6)") and
#: 2000.4 ms "2k ms (>2 s)".
VALUE_TEMPLATE = ('{{ if or (ge $value 1e6) (le $value -1e6) }}{{ humanize $value }}'
                  '{{ else }}{{ printf "%.6g" $value }}{{ end }}')
#: From here on the value is humanized (1.235M), below it printed in full.
_HUMANIZED_FROM = 1e6
#: Template text other than the placeholder, or a lone delimiter. No nesting: linear on any text.
_STRAY_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}|\{\{|\}\}")


def literal_template(text: str) -> str:
    """Go-template text that renders exactly ``text``.

    Prometheus executes annotations as Go templates; every ``{{``/``}}`` a user
    wrote becomes a string literal action so it is printed, never executed, and
    so does a ``{`` that would join the next action's ``{{``.
    """
    return _DELIMITERS.sub(lambda match: '{{ "' + match.group() + '" }}', text)


def message_template(text: str) -> str:
    """The annotation template for a user message: ``{{value}}`` becomes the
    humanized value, everything else is literal."""
    pieces = _VALUE_PLACEHOLDER.split(text)
    return VALUE_TEMPLATE.join(literal_template(piece) for piece in pieces)


def stray_templates(text: str) -> list[str]:
    """Template text in a message other than ``{{value}}`` (``{{ $value }}``, ``{{ $labels.job }}``,
    a lone ``{{``): it is sent as written, never filled in."""
    return [match.group() for piece in _VALUE_PLACEHOLDER.split(text) for match in _STRAY_TEMPLATE.finditer(piece)]


def render_message(text: str, value: float) -> str:
    """What Prometheus will print for ``text`` when the value is ``value``."""
    return message_value(value).join(_VALUE_PLACEHOLDER.split(text))


def message_value(value: float) -> str:
    """What :data:`VALUE_TEMPLATE` prints for ``value``."""
    if abs(value) >= _HUMANIZED_FROM:  # false for NaN, as Go's ge and le are
        return humanize(value)
    return _go_g(value, 6)


_BIG = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL = ("m", "u", "n", "p", "f", "a", "z", "y")


def humanize(value: float) -> str:
    """Python twin of Prometheus' ``humanize`` template function."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g(value)
    prefix = ""
    if abs(value) >= 1:
        for candidate in _BIG:
            if abs(value) < 1000:
                break
            prefix = candidate
            value /= 1000
    else:
        for candidate in _SMALL:
            if abs(value) >= 1:
                break
            prefix = candidate
            value *= 1000
    return _go_g(value) + prefix


def _go_g(value: float, digits: int = 4) -> str:
    """Go's ``%.4g`` (``%.<digits>g``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{digits}g}"
