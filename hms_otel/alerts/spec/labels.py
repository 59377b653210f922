"""The ``labels`` section: which series an alert or SLO looks at.

A key is used exactly as written when it is a Prometheus label name. An
OpenTelemetry attribute name (``http.route``) is translated the one way the
HMS collector translates it (dots to ``_``), and ``service``/``service.name``
mean ``job``: both are documented. Anything else is a located error, never a
silent rewrite.
"""

from __future__ import annotations

import re

from hms_otel.alerts.spec.fields import FieldReader, Invalid
from hms_otel.alerts.syntax import shown
from hms_otel.registry import prometheus_label
from hms_otel.yamlfile import Node, NodeError, Scalar

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+", re.ASCII)
#: Users think in services; the collector turns service.name into ``job``.
LABEL_ALIASES = {"service": "job", "service.name": "job"}
_MAX_LABEL = 1000


def read_selector(reader: FieldReader, node: Node, *, histogram: bool, slo: bool = False
                  ) -> tuple[tuple[str, str], ...]:
    """Label matchers (Prometheus label name, value), sorted; every wrong entry reported."""
    fields = reader.mapping(node, "labels")
    matchers: dict[str, str] = {}
    before = len(reader.problems)
    for name, (key, value_node) in fields.items():
        try:
            _matcher(reader, name, key, value_node, matchers, histogram=histogram, slo=slo)
        except Invalid:
            continue  # reported; check the other labels too
    if len(reader.problems) != before:
        raise Invalid()
    return tuple(sorted(matchers.items()))


def _matcher(reader: FieldReader, name: str, key: Scalar, value_node: Node, matchers: dict[str, str], *,
             histogram: bool, slo: bool) -> None:
    label = label_name(reader, name, key)
    if label == "le" and (histogram or slo):
        raise reader.fail(key, "label 'le' is the bucket boundary Prometheus adds to histogram series; it "
                               "cannot be selected here (an SLO sets it from latency.below)")
    if label in matchers:
        raise reader.fail(key, f"label {shown(name)} is the same Prometheus label as another one here ({label})")
    value = reader.value_of(lambda: _label_value(value_node, name))
    if len(value) > _MAX_LABEL:
        raise reader.fail(value_node, f"label {shown(name)} value is {len(value)} characters; at most "
                                      f"{_MAX_LABEL}")
    matchers[label] = value


def label_name(reader: FieldReader, name: str, key: Scalar) -> str:
    if name in LABEL_ALIASES:
        return LABEL_ALIASES[name]
    if _LABEL_NAME.fullmatch(name):
        label = name
    elif _ATTRIBUTE_NAME.fullmatch(name):
        label = prometheus_label(name)
        if label != name.replace(".", "_"):  # never rewritten beyond the dots, silently
            raise reader.fail(key, f"label {shown(name)} would be {label!r} in Prometheus, not "
                                   f"{name.replace('.', '_')!r}: the collector merges runs of '_' and puts 'key' "
                                   "before a name starting with '_' (names starting with '__' are reserved); "
                                   f"write {label}")
    else:
        raise reader.fail(key, f"label {shown(name)} is not a valid Prometheus label name (letters, digits "
                               "and '_', or an OpenTelemetry attribute name with '.', which becomes '_')")
    if label.startswith("__"):
        raise reader.fail(key, f"label {shown(name)} is not a valid Prometheus label name (names starting "
                               "with '__' are reserved)")
    return label


def _label_value(node: Node, name: str) -> str:
    """The value exactly as written: ``010`` is ``"010"``, ``yes`` is ``"yes"``, ``1.10`` is ``"1.10"``."""
    if not isinstance(node, Scalar):
        raise NodeError(node, f"label {shown(name)} must be text, not {node.describe()}")
    if node.is_null:
        raise NodeError(node, f"label {shown(name)} has no value; write \"\" to select series without it")
    return node.text
