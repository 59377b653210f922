"""Checks a hook file's structure against its schema, without jsonschema.

Hook files are read inside services (``HMS_ACH_HOOKS`` and friends), which
install only the library, not the operator tooling. The schema in
:mod:`hms_otel.hooks.spec` uses a small subset of JSON Schema, checked here
with the same wording jsonschema uses: ``type``, ``enum``, ``pattern``,
``minLength``, ``minItems``, ``required``, ``properties``,
``additionalProperties`` and ``items``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class Violation:
    #: Keys and indexes from the document's top to the offending value.
    path: tuple[str | int, ...]
    message: str
    #: For unexpected keys: the first one, so a message can point at its line.
    unexpected_key: str | None = None


def violations(instance: Any, schema: Mapping[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[Violation]:
    """Every way ``instance`` breaks ``schema``, outermost first."""
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is(instance, name) for name in names):
            shown = ", ".join(repr(name) for name in names)
            yield Violation(path, f"{instance!r} is not of type {shown}")
            return
    if "enum" in schema and instance not in schema["enum"]:
        yield Violation(path, f"{instance!r} is not one of {schema['enum']!r}")
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            yield Violation(path, f"{instance!r} does not match {schema['pattern']!r}")
        if len(instance) < schema.get("minLength", 0):
            yield Violation(path, f"{instance!r} should be non-empty")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            yield Violation(path, f"{instance!r} should be non-empty")
        if "items" in schema:
            for index, item in enumerate(instance):
                yield from violations(item, schema["items"], (*path, index))
    if isinstance(instance, dict):
        yield from _object_violations(instance, schema, path)


def _object_violations(
    instance: dict[Any, Any], schema: Mapping[str, Any], path: tuple[str | int, ...]
) -> Iterator[Violation]:
    for key in schema.get("required", ()):
        if key not in instance:
            yield Violation(path, f"{key!r} is a required property")
    properties: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    unexpected = [key for key in instance if key not in properties]
    if extra is False and unexpected:
        listed = ", ".join(repr(key) for key in unexpected)
        verb = "was" if len(unexpected) == 1 else "were"
        yield Violation(
            path, f"Additional properties are not allowed ({listed} {verb} unexpected)", str(unexpected[0])
        )
    for key, value in instance.items():
        if key in properties:
            yield from violations(value, properties[key], (*path, key))
        elif isinstance(extra, Mapping):
            yield from violations(value, extra, (*path, key))


def _is(instance: Any, type_name: str) -> bool:
    if isinstance(instance, bool) and type_name in ("number", "integer"):
        return False  # JSON Schema: true is not a number
    return isinstance(instance, _TYPES[type_name])
