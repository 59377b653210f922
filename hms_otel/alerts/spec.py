"""Alert files -> model, with every problem located at ``file:line:col``.

YAML is composed into nodes (which carry marks) instead of loaded into plain
Python, so each check can point at the key or value it is about. Problems are
collected, not raised: a user sees all of them at once. Nothing in here may
raise for any input; the property tests throw random bytes at it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import yaml

from hms_otel.alerts import promql
from hms_otel.alerts.model import Action, Alert, AlertFile, Condition, Duration, Location, Problem, Slo
from hms_otel.alerts.syntax import (
    SyntaxProblem,
    parse_action,
    parse_duration,
    parse_number,
    parse_when,
)
from hms_otel.registry import (
    REGISTRY,
    Kind,
    MetricDefinition,
    MetricNameError,
    MetricRegistry,
    check_name,
    prometheus_label,
)

ALERT_FIELDS = (
    "name", "metric", "type", "layer", "when", "absent_for", "for", "severity",
    "labels", "message", "summary", "runbook", "group", "action",
)
SLO_FIELDS = (
    "slo", "objective", "period", "latency", "errors", "labels", "message", "summary",
    "runbook", "group", "action", "ticket_action", "layer",
)
SEVERITIES = ("critical", "warning", "info")
TYPES = {"counter": Kind.COUNTER, "gauge": Kind.GAUGE, "histogram": Kind.HISTOGRAM,
         "updowncounter": Kind.UPDOWN_COUNTER}
#: Actions that page a person; an alert using one defaults to severity critical.
PAGING_SCHEMES = ("sms", "pagerduty")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_GROUP = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_TEXT = 2000
#: Bytes an alert file may have; beyond that it is not an alert file.
MAX_FILE_BYTES = 1_000_000
#: Users think in services; the collector turns service.name into ``job``.
_LABEL_ALIASES = {"service": "job", "service.name": "job"}


T = TypeVar("T")


class _Invalid(Exception):
    """Internal: the current field is wrong and has been reported."""


def load_path(path: str | Path, registry: MetricRegistry = REGISTRY, *, name: str | None = None
              ) -> tuple[AlertFile | None, list[Problem]]:
    """Read and parse one alert file. ``name`` is how the file is shown in messages."""
    shown = name or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, [Problem(Location(shown), f"cannot read file: {error.strerror or error}")]
    return load_bytes(data, shown, registry)


def load_bytes(data: bytes | str, path: str, registry: MetricRegistry = REGISTRY
               ) -> tuple[AlertFile | None, list[Problem]]:
    """Parse alert-file content; returns the model (``None`` when unusable) and the problems."""
    reader = _Reader(path, registry)
    try:
        result = reader.read(data)
    except RecursionError:
        return None, [Problem(Location(path), "the YAML is nested too deeply to be an alert file")]
    if reader.problems:
        return None, reader.problems
    return result, []


def _stem(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem) or "alerts"


class _Reader:
    def __init__(self, path: str, registry: MetricRegistry) -> None:
        self.path = path
        self.registry = registry
        self.problems: list[Problem] = []
        self._loader: yaml.SafeLoader | None = None

    # ---- reporting -------------------------------------------------------------------------------------
    def at(self, node: yaml.Node, offset: int = 0) -> Location:
        mark = node.start_mark
        column = mark.column + 1
        if offset and isinstance(node, yaml.ScalarNode) and node.start_mark.line == node.end_mark.line:
            column += offset + (1 if node.style in ('"', "'") else 0)
        return Location(self.path, mark.line + 1, column)

    def fail(self, node: yaml.Node, message: str, offset: int = 0) -> _Invalid:
        self.problems.append(Problem(self.at(node, offset), message))
        return _Invalid()

    # ---- document ------------------------------------------------------------------------------------
    def read(self, data: bytes | str) -> AlertFile | None:
        text = self._decode(data)
        if text is None:
            return None
        root = self._compose(text)
        if root is None:
            return None
        items = self._items(root)
        group = _stem(self.path)
        alerts: list[Alert] = []
        slos: list[Slo] = []
        groups: dict[str, yaml.Node] = {}
        for index, (node, fields) in enumerate(items):
            default_id = group if len(items) == 1 else f"{group}_{index + 1}"
            try:
                if "slo" in fields:
                    item: Alert | Slo = self._slo(node, fields)
                else:
                    item = self._alert(node, fields, default_id)
            except _Invalid:
                continue
            if "group" in fields:
                groups.setdefault(item.group, fields["group"][1])
            (slos if isinstance(item, Slo) else alerts).append(item)
        names = {item.group for item in (*alerts, *slos)}
        if len(names) > 1:
            later = sorted(groups.items(), key=lambda pair: (pair[1].start_mark.line, pair[1].start_mark.column))
            self.fail(later[-1][1], f"all alerts of one file form one rule group; this file uses "
                                    f"{', '.join(sorted(names))} (split it into files instead)")
        if self.problems:
            return None
        file_group = next(iter(names)) if names else group
        return AlertFile(self.path, file_group, tuple(alerts), tuple(slos))

    def _decode(self, data: bytes | str) -> str | None:
        if isinstance(data, str):
            text = data
        else:
            if len(data) > MAX_FILE_BYTES:
                self.problems.append(Problem(Location(self.path), f"file is larger than {MAX_FILE_BYTES} bytes; "
                                                                  "this is not an alert file"))
                return None
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                line = data.count(b"\n", 0, error.start) + 1
                column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
                self.problems.append(Problem(Location(self.path, line, column),
                                             f"not UTF-8 text (byte 0x{data[error.start]:02x}); "
                                             "alert files are YAML text"))
                return None
        if not text.strip():
            self.problems.append(Problem(Location(self.path), "file is empty; expected an alert "
                                                              "(metric, when, action) or a list of them"))
            return None
        return text

    def _compose(self, text: str) -> yaml.Node | None:
        try:
            self._loader = yaml.SafeLoader(text)
            root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            message = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
            if mark and "{{" in text.splitlines()[mark.line if mark.line < len(text.splitlines()) else -1]:
                message += ' (a value containing {{ must be quoted: message: "Latency {{value}} ms")'
            location = Location(self.path, mark.line + 1, mark.column + 1) if mark else Location(self.path)
            self.problems.append(Problem(location, f"invalid YAML: {message}"))
            return None
        except yaml.reader.ReaderError as error:
            line = text.count("\n", 0, error.position) + 1
            column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
            self.problems.append(Problem(Location(self.path, line, column),
                                         f"invalid YAML: character U+{_code(error.character):04X} is not allowed "
                                         "(binary data in a text file?)"))
            return None
        except yaml.YAMLError as error:
            self.problems.append(Problem(Location(self.path), f"invalid YAML: {error}"))
            return None
        if root is None:
            self.problems.append(Problem(Location(self.path), "file has no alerts (only comments?); expected "
                                                              "an alert (metric, when, action) or a list"))
        return root

    def _items(self, root: yaml.Node) -> list[tuple[yaml.Node, dict[str, tuple[yaml.Node, yaml.Node]]]]:
        nodes: list[yaml.Node]
        if isinstance(root, yaml.SequenceNode):
            if not root.value:
                self.fail(root, "the list of alerts is empty")
                return []
            nodes = list(root.value)
        elif isinstance(root, yaml.MappingNode):
            nodes = [root]
        else:
            self.fail(root, "expected an alert (a mapping with metric, when, action) or a list of them, "
                            f"not {_describe(root)}")
            return []
        items = []
        for node in nodes:
            try:
                items.append((node, self.mapping(node, "an alert")))
            except _Invalid:
                continue
        return items

    # ---- generic values --------------------------------------------------------------------------------
    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key -> (key node, value node); duplicate and non-text keys are errors."""
        self.check_tag(node)
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"expected {what} (a mapping of field: value), not {_describe(node)}")
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                raise self.fail(key, f"field names must be plain text, not {_describe(key)}")
            if key.value in fields:
                first = fields[key.value][0].start_mark.line + 1
                raise self.fail(key, f"duplicate field {key.value!r} (first set on line {first})")
            fields[key.value] = (key, value)
        return fields

    def check_fields(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], allowed: tuple[str, ...],
                     what: str) -> bool:
        """Report every unknown field; ``True`` when there were any (then a "missing field"
        error would only repeat the typo, so callers skip those)."""
        unknown = False
        for name, (key, _value) in fields.items():
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
                self.fail(key, f"unknown field {name!r} in {what}{hint}")
                unknown = True
        return unknown

    def attempt(self, read: Callable[[], T], default: T) -> T:
        """Run one independent field check; on error (already reported) go on with ``default``."""
        try:
            return read()
        except _Invalid:
            return default

    def check_tag(self, node: yaml.Node) -> None:
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(node, f"YAML tag {node.tag!r} is not allowed in alert files; write plain values")

    def scalar(self, node: yaml.Node, what: str) -> object:
        self.check_tag(node)
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, not {_describe(node)}")
        assert self._loader is not None
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as error:
            raise self.fail(node, f"{what}: {error.problem or 'cannot read this value'}") from None
        except (ValueError, TypeError, OverflowError) as error:
            raise self.fail(node, f"{what}: cannot read this value ({error})") from None

    def text(self, node: yaml.Node, what: str, *, max_length: int = _MAX_TEXT) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str):
            raise self.fail(node, f"{what} must be text, not {_python_type(value)}")
        if not value.strip():
            raise self.fail(node, f"{what} is empty")
        if len(value) > max_length:
            raise self.fail(node, f"{what} is {len(value)} characters long; at most {max_length} are allowed")
        if any(ord(char) < 32 and char not in "\n\t" for char in value):
            raise self.fail(node, f"{what} contains control characters")
        return value

    def duration(self, node: yaml.Node, what: str, *, allow_zero: bool = False) -> Duration:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(node, f"{what} must be a duration like 30s or 5m, not {_python_type(value)}")
        if isinstance(value, int):
            raise self.fail(node, f"{what}: {value} has no unit; write e.g. {value}s or {value}m")
        try:
            return parse_duration(value.strip(), allow_zero=allow_zero)
        except SyntaxProblem as problem:
            raise self.fail(node, f"{what}: {problem.message}") from None

    def identifier(self, node: yaml.Node, what: str, pattern: re.Pattern[str] = _IDENTIFIER) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(node, f"{what} {value!r} must be letters, digits and '_' (starting with a letter), "
                                  "e.g. payment_latency_high")
        return value

    def actions(self, node: yaml.Node, what: str) -> tuple[Action, ...]:
        self.check_tag(node)
        entries = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not entries:
            raise self.fail(node, f"{what} is an empty list; name at least one, e.g. sms:+15551234")
        actions: list[Action] = []
        for entry in entries:
            text = self.text(entry, what, max_length=500)
            try:
                action = parse_action(text)
            except SyntaxProblem as problem:
                raise self.fail(entry, problem.message, problem.offset) from None
            if action not in actions:
                actions.append(Action(action.scheme, action.target, self.at(entry)))
        return tuple(actions)

    def selector(self, node: yaml.Node) -> tuple[tuple[str, str], ...]:
        fields = self.mapping(node, "labels")
        matchers: dict[str, str] = {}
        for name, (key, value_node) in fields.items():
            label = _LABEL_ALIASES.get(name, prometheus_label(name))
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise self.fail(key, f"label {name!r} is not a valid Prometheus label name "
                                     "(letters, digits and '_', not starting with '__')")
            if label in matchers:
                raise self.fail(key, f"label {name!r} is the same Prometheus label as another one here ({label})")
            value = self.scalar(value_node, f"label {name!r}")
            if isinstance(value, bool):
                value = str(value).lower()
            if not isinstance(value, (str, int, float)):
                raise self.fail(value_node, f"label {name!r} must be text, not {_python_type(value)}")
            matchers[label] = str(value)
        return tuple(sorted(matchers.items()))

    def metric(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], where: yaml.Node, *,
               missing_ok: bool = False) -> MetricDefinition:
        """The ``metric`` (+ optional ``type``/``layer``) fields as a registry definition."""
        if "metric" not in fields:
            if missing_ok:
                raise _Invalid()
            raise self.fail(where, "missing field 'metric' (a name from the HMS metric registry, "
                                   "e.g. payment_latency_ms)")
        node = fields["metric"][1]
        name = self.scalar(node, "metric")
        try:
            check_name(name)
        except MetricNameError as error:
            raise self.fail(node, str(error)) from None
        assert isinstance(name, str)
        known = self.registry.get(name)
        kind: Kind | None = None
        if "type" in fields:
            type_node = fields["type"][1]
            type_name = self.scalar(type_node, "type")
            if not isinstance(type_name, str) or type_name not in TYPES:
                raise self.fail(type_node, f"type {type_name!r} is not one of {', '.join(TYPES)}")
            kind = TYPES[type_name]
            if known is not None and known.kind is not kind:
                raise self.fail(type_node, f"{name} is a {known.kind.value} in the HMS metric registry, "
                                           f"not a {type_name}; drop the type field")
        layer = None
        if "layer" in fields:
            layer = self.text(fields["layer"][1], "layer", max_length=64)
            if known is not None and known.layer and layer != known.layer:
                raise self.fail(fields["layer"][1], f"{name} belongs to layer {known.layer!r} in the HMS "
                                                    "metric registry; drop the layer field")
        if known is not None:
            return known
        if kind is None:
            close = difflib.get_close_matches(name, [d.name for d in self.registry], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise self.fail(node, f"unknown metric {name!r}: it is not in the HMS metric registry; add "
                                  f"'type: counter|gauge|histogram|updowncounter' for a metric outside it.{hint}")
        return MetricDefinition(name, kind, layer=layer or "custom")

    def optional_text(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], name: str) -> str | None:
        return self.text(fields[name][1], name) if name in fields else None

    # ---- alerts ----------------------------------------------------------------------------------------
    def _alert(self, node: yaml.Node, fields: dict[str, tuple[yaml.Node, yaml.Node]], default_id: str) -> Alert:
        before = len(self.problems)
        typo = self.check_fields(fields, ALERT_FIELDS, "an alert")
        alert_id = self.attempt(lambda: self.identifier(fields["name"][1], "name"), default_id) \
            if "name" in fields else default_id
        metric = self.attempt(lambda: self.metric(fields, node, missing_ok=typo), None)
        condition: Condition | None = None
        absent_for: Duration | None = None
        if "when" in fields and "absent_for" in fields:
            self.fail(fields["absent_for"][0], "use either 'when' or 'absent_for', not both")
        elif "when" in fields:
            if metric is not None:
                condition = self.attempt(lambda: self._when(fields["when"][1], metric), None)
        elif "absent_for" in fields:
            absent_for = self.attempt(lambda: self.duration(fields["absent_for"][1], "absent_for"), None)
        elif not typo:
            self.fail(node, "missing field 'when' (e.g. when: avg_over_30s > 2000) or 'absent_for' "
                            "(e.g. absent_for: 5m)")
        for_ = self.attempt(lambda: self.duration(fields["for"][1], "for", allow_zero=True), None) \
            if "for" in fields else None
        actions: tuple[Action, ...] = ()
        if "action" in fields:
            actions = self.attempt(lambda: self.actions(fields["action"][1], "action"), ())
        elif not typo:
            self.fail(node, "missing field 'action' (e.g. action: sms:+15551234)")
        severity = self.attempt(lambda: self._severity(fields, actions), "warning")
        selector = self.attempt(lambda: self.selector(fields["labels"][1]), ()) if "labels" in fields else ()
        message = self.attempt(lambda: self.optional_text(fields, "message"), None)
        summary = self.attempt(lambda: self.optional_text(fields, "summary"), None)
        runbook = self.attempt(lambda: self.optional_text(fields, "runbook"), None)
        group = self.attempt(lambda: self.identifier(fields["group"][1], "group", _GROUP), "") \
            if "group" in fields else _stem(self.path)
        if len(self.problems) != before or metric is None:
            raise _Invalid()
        return Alert(
            id=alert_id,
            source=self.at(node),
            metric=metric,
            condition=condition,
            absent_for=absent_for,
            for_=for_,
            severity=severity,
            layer=metric.layer or "custom",
            selector=selector,
            message=message or _default_message(alert_id, metric, condition, absent_for),
            summary=summary,
            runbook=runbook,
            group=group,
            actions=actions,
        )

    def _when(self, node: yaml.Node, metric: MetricDefinition) -> Condition:
        value = self.scalar(node, "when")
        if not isinstance(value, str):
            raise self.fail(node, f"when must be text like 'avg_over_30s > 2000', not {_python_type(value)}")
        try:
            condition = parse_when(value)
        except SyntaxProblem as problem:
            raise self.fail(node, problem.message, problem.offset) from None
        problem_text = promql.aggregation_problem(metric.kind, condition.aggregation, metric.name)
        if problem_text:
            raise self.fail(node, problem_text, value.find(condition.aggregation))
        return condition

    def _severity(self, fields: dict[str, tuple[yaml.Node, yaml.Node]], actions: tuple[Action, ...]) -> str:
        if "severity" not in fields:
            return "critical" if any(a.scheme in PAGING_SCHEMES for a in actions) else "warning"
        node = fields["severity"][1]
        value = self.scalar(node, "severity")
        if value not in SEVERITIES:
            raise self.fail(node, f"severity {value!r} is not one of {', '.join(SEVERITIES)}")
        assert isinstance(value, str)
        return value

    # ---- SLOs ------------------------------------------------------------------------------------------
    def _slo(self, node: yaml.Node, fields: dict[str, tuple[yaml.Node, yaml.Node]]) -> Slo:
        before = len(self.problems)
        if self.check_fields(fields, SLO_FIELDS, "an SLO"):
            raise _Invalid()
        slo_id = self.identifier(fields["slo"][1], "slo")
        if "objective" not in fields:
            raise self.fail(node, "missing field 'objective' (e.g. objective: 99%)")
        objective = self._objective(fields["objective"][1])
        period = Duration("30d", 30 * 86_400_000)
        if "period" in fields:
            period = self.duration(fields["period"][1], "period")
        if period.ms < 3_600_000:
            raise self.fail(fields["period"][1], f"period {period.text} is too short for burn-rate alerts; use 1h "
                                                 "or more (30d is usual)")
        if ("latency" in fields) == ("errors" in fields):
            raise self.fail(node, "an SLO needs exactly one of 'latency' (metric + below) or 'errors' "
                                  "(metric + total)")
        latency_below: float | None = None
        errors: MetricDefinition | None = None
        if "latency" in fields:
            sub_node = fields["latency"][1]
            sub = self.mapping(sub_node, "latency")
            if self.check_fields(sub, ("metric", "type", "below"), "latency"):
                raise _Invalid()
            metric = self.metric(sub, sub_node)
            if metric.kind is not Kind.HISTOGRAM:
                raise self.fail(sub["metric"][1], f"a latency SLO needs a histogram; {metric.name} is a "
                                                  f"{metric.kind.value}")
            if "below" not in sub:
                raise self.fail(sub_node, "latency needs 'below' (the threshold in the metric's unit, e.g. 2000)")
            latency_below = self._bucket(sub["below"][1], metric)
        else:
            sub_node = fields["errors"][1]
            sub = self.mapping(sub_node, "errors")
            if self.check_fields(sub, ("metric", "type", "total"), "errors"):
                raise _Invalid()
            errors = self.metric(sub, sub_node)
            if errors.kind is not Kind.COUNTER:
                raise self.fail(sub["metric"][1], f"errors must be a counter; {errors.name} is a {errors.kind.value}")
            if "total" not in sub:
                raise self.fail(sub_node, "errors needs 'total': the counter or histogram of all events")
            total_node = sub["total"][1]
            metric = self.metric({"metric": sub["total"]}, total_node)
            if metric.kind not in (Kind.COUNTER, Kind.HISTOGRAM):
                raise self.fail(total_node, f"total must be a counter or histogram; {metric.name} is a "
                                            f"{metric.kind.value}")
        if "action" not in fields:
            raise self.fail(node, "missing field 'action' (who is paged when the error budget burns fast)")
        actions = self.actions(fields["action"][1], "action")
        ticket = self.actions(fields["ticket_action"][1], "ticket_action") if "ticket_action" in fields else actions
        selector = self.selector(fields["labels"][1]) if "labels" in fields else ()
        group = self.identifier(fields["group"][1], "group", _GROUP) if "group" in fields else _stem(self.path)
        if len(self.problems) != before:
            raise _Invalid()
        return Slo(
            id=slo_id,
            source=self.at(node),
            objective=objective,
            period=period,
            metric=metric,
            latency_below=latency_below,
            errors=errors,
            layer=(errors or metric).layer or "custom",
            selector=selector,
            message=self.optional_text(fields, "message"),
            summary=self.optional_text(fields, "summary"),
            runbook=self.optional_text(fields, "runbook"),
            group=group,
            actions=actions,
            ticket_actions=ticket,
        )

    def _objective(self, node: yaml.Node) -> float:
        value = self.scalar(node, "objective")
        text = str(value).strip()
        try:
            number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise self.fail(node, f"objective {text!r} must be a percentage like 99% or a fraction like 0.99") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < number <= 100:
            number /= 100  # 99 means 99 %
        number = round(number, 10)  # 99.9 / 100 is 0.9990000000000001
        if not (math.isfinite(number) and 0 < number < 1):
            raise self.fail(node, f"objective {text!r} must be between 0% and 100% (exclusive), e.g. 99.9%")
        return number

    def _bucket(self, node: yaml.Node, metric: MetricDefinition) -> float:
        value = self.scalar(node, "below")
        try:
            if isinstance(value, bool):
                raise SyntaxProblem("a boolean")
            number = parse_number(str(value))
        except SyntaxProblem:
            raise self.fail(node, f"below {value!r} must be a number in {metric.name}'s unit") from None
        buckets = _buckets(metric)
        if buckets is not None and number not in buckets:
            near = sorted(buckets, key=lambda bound: abs(bound - number))[:2]
            raise self.fail(node, f"{number:g} is not a bucket boundary of {metric.name}, so Prometheus cannot "
                                  f"count requests below it; use {' or '.join(f'{b:g}' for b in sorted(near))}")
        return number


def _buckets(metric: MetricDefinition) -> tuple[float, ...] | None:
    """Bucket boundaries the facades use for ``metric`` (``None`` when unknown)."""
    if metric.buckets is not None:
        return metric.buckets
    if metric.layer == "custom":
        return None
    if metric.unit == "ms":
        from hms_otel.contract import LATENCY_MS_BUCKETS

        return LATENCY_MS_BUCKETS
    return None


def _default_message(alert_id: str, metric: MetricDefinition, condition: Condition | None,
                     absent_for: Duration | None) -> str:
    if condition is None:
        return f"{metric.name}: no data for {absent_for.text if absent_for else '?'}"
    unit = f" {metric.unit}" if metric.unit and not metric.unit.startswith("{") else ""
    return (f"{metric.name} {condition.aggregation} over {condition.window.text} is {{{{value}}}}{unit} "
            f"({condition.op} {promql.format_number(condition.threshold)})")


def _code(character: object) -> int:
    return character if isinstance(character, int) else ord(str(character)[:1] or "\0")


_STANDARD_TAGS = {f"tag:yaml.org,2002:{name}" for name in
                  ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")}


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"the value {node.value!r}" if len(str(node.value)) < 60 else "a long value"


def _python_type(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", bytes: "binary data",
             type(None): "nothing (null)", list: "a list", dict: "a mapping"}
    for kind, name in names.items():
        if type(value) is kind:
            return name if kind is not str else f"text {value!r}"
    return type(value).__name__


def iter_alert_files(directory: str | Path) -> Iterator[Path]:
    """``*.yml``/``*.yaml`` files in ``directory`` (recursively), sorted so output is deterministic."""
    root = Path(directory)
    files = [p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return iter(sorted(files))
