"""Hostile hook files: YAML traps, coercions, targets that cannot be wrapped, sources that nest or run long."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.metrics import NoOpMeter

from hms_otel.hooks import engine
from hms_otel.hooks.spec import HookFileInvalid, load
from hms_otel.yamlfile import NodeError

from .runner import CHECKERS, Case, Error, Means, Outcome, case


def check_hook_file(content: bytes, name: str) -> Outcome:
    """What ``hms-ops hooks check`` does: read, then install on a no-op meter and take it off again."""
    try:
        hooks = load(content, name)
    except HookFileInvalid as error:
        return Outcome(error.problems)
    except NodeError as error:  # pragma: no cover - load turns these into HookFileInvalid
        return Outcome([error.problem()])
    installation, problems = engine.install_available(hooks, NoOpMeter("hostile"), where=name)
    installation.remove()
    if problems:
        # Engine problems are "file:line: ..." text; the line is what the corpus checks.
        from hms_otel.errors import Location, Problem

        located = []
        for text in problems:
            head, _, message = text.partition(": ")
            path, _, line = head.rpartition(":")
            located.append(Problem(Location(path, int(line) if line.isdigit() else 1), message))
        return Outcome(located)
    return Outcome([], hooks)


CHECKERS["hook"] = check_hook_file

T = "tests.hooks.hook_targets"


def h(name: str, content: str | bytes, expect: Error | Means) -> Case:
    return case("hook", name, content, expect)


def one(record: str, target: str = f"{T}:price") -> str:
    return f"hooks:\n  - target: {target}\n    record:\n      - {record}\n"


def _record(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda hooks: check(hooks[0].record[0])


CASES = [
    h("ok_counter", one("{metric: hostile_ok_total, kind: counter}"),
      Means("one counter hook", _record(lambda r: (r.metric, r.kind) == ("hostile_ok_total", "counter")))),
    h("bare_list", f"- target: {T}:price\n  record: [{{metric: hostile_list_total, kind: counter}}]\n",
      Means("a bare list is the hooks", _record(lambda r: r.metric == "hostile_list_total"))),
    h("empty_file", "", Means("no hooks", lambda hooks: hooks == ())),
    h("comments_only", "# nothing\n", Means("no hooks", lambda hooks: hooks == ())),
    h("undecodable", b"hooks:\n  - target: \xff\n", Error(2, "not UTF-8 text (byte 0xff)")),
    h("utf16", "hooks: []\n".encode("utf-16"), Error(1, "UTF-16 text; hook files are")),
    h("nul_byte", "hooks:\x00 []\n", Error(1, "U+0000")),
    h("too_large", "hooks: []\n#" + "x" * 1_000_001, Error(1, "larger than 1000000 bytes")),
    h("anchor", f"hooks:\n  - &h {{target: '{T}:price', record: [{{metric: a_total, kind: counter}}]}}\n  - *h\n",
      Error(2, "anchor &h")),
    h("alias_bomb", "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nhooks: [*b, *b]\n",
      Error(1, "anchor &a")),
    h("python_tag", "hooks: !!python/object/apply:os.system ['true']\n", Error(1, "YAML tag")),
    h("str_tag", one("{metric: !!str x_total, kind: counter}"), Error(4, "YAML tag")),
    h("duplicate_key", one("{metric: a_total, kind: counter, kind: timer}"), Error(4, "duplicate key 'kind'")),
    h("duplicate_hooks_key", "hooks: []\nhooks: []\n", Error(2, "duplicate key 'hooks'")),
    h("second_document", "hooks: []\n---\nhooks: []\n", Error(2, "a second YAML document")),
    h("deep_flow", "hooks: " + "[" * 300 + "]" * 300 + "\n", Error(1, "nested more than 64")),
    h("many_values", "hooks: [" + "1, " * 60_000 + "]\n", Error(1, "more than 20000 values")),
    h("tab", "hooks:\n\t- target: x\n", Error(2, "a tab")),
    h("unknown_field", one("{metric: a_total, kind: counter, colour: red}"), Error(4, "Additional properties")),
    h("unknown_top_field", "hooks: []\nextra: 1\n", Error(2, "Additional properties")),
    h("kind_wrong", one("{metric: a_total, kind: stopwatch}"), Error(4, "'stopwatch' is not one of")),
    h("on_yes_is_text", one("{metric: hostile_on_total, kind: counter, on: yes}"), Error(4, "'yes' is not one of")),
    h("on_key_is_text", one("{metric: hostile_onkey_total, kind: counter, on: return}"),
      Means("the key on: is the word on", _record(lambda r: r.on == "return"))),
    h("attribute_octal", one("{metric: hostile_oct_total, kind: counter, attributes: {code: 010}}"),
      Error(4, "'010' is ambiguous")),
    h("attribute_version", one("{metric: hostile_ver_total, kind: counter, attributes: {v: 1.10}}"),
      Error(4, "'1.10' is ambiguous")),
    h("attribute_hex", one("{metric: hostile_hex_total, kind: counter, attributes: {v: 0x1F}}"),
      Error(4, "'0x1F' is ambiguous")),
    h("attribute_sexagesimal_is_text", one("{metric: hostile_sex_total, kind: counter, attributes: {v: 'const:1:30'}}"),
      Means("const:1:30 is the text 1:30", _record(lambda r: r.attributes == {"v": "const:1:30"}))),
    h("attribute_yes_is_text", one("{metric: hostile_yes_total, kind: counter, attributes: {v: yes}}"),
      Error(4, "unknown source 'yes'")),
    h("attribute_plain_int", one("{metric: hostile_int_total, kind: counter, attributes: {v: 10}}"),
      Means("10 is the number 10", _record(lambda r: r.attributes == {"v": 10}))),
    h("attribute_quoted_octal", one("{metric: hostile_qoct_total, kind: counter, attributes: {v: 'const:010'}}"),
      Means("const:010 stays text", _record(lambda r: r.attributes == {"v": "const:010"}))),
    h("attribute_inf", one("{metric: hostile_inf_total, kind: counter, attributes: {v: .inf}}"),
      Error(4, "not a finite number")),
    h("attribute_true", one("{metric: hostile_true_total, kind: counter, attributes: {v: true}}"),
      Means("true is a boolean", _record(lambda r: r.attributes == {"v": True}))),
    h("metric_number", one("{metric: 10, kind: counter}"), Error(4, "is not of type 'string'")),
    h("target_not_text", "hooks:\n  - target: [a]\n    record: [{metric: a_total, kind: counter}]\n",
      Error(2, "is not of type 'string'")),
    h("target_pattern", "hooks:\n  - target: 'os.system(1)'\n    record: [{metric: a_total, kind: counter}]\n",
      Error(2, "does not match")),
    h("target_missing_module", one("{metric: hostile_mm_total, kind: counter}", "no_such_module_x:f"),
      Error(2, "cannot import module 'no_such_module_x'")),
    h("target_exits", one("{metric: hostile_exit_total, kind: counter}", "tests.hooks.exits_at_import:f"),
      Error(2, "SystemExit")),
    h("target_slotted_instance", one("{metric: hostile_slot_total, kind: counter}", f"{T}:SLOTTED.greet"),
      Error(2, "hook the method on its class")),
    h("target_builtin_method", one("{metric: hostile_bi_total, kind: counter}", "builtins:str.upper"),
      Error(2, "built-in type")),
    h("target_builtin_function", one("{metric: hostile_len_total, kind: counter}", "builtins:len"),
      Means("a builtin function in a module can be wrapped", lambda hooks: len(hooks) == 1)),
    h("target_class", one("{metric: hostile_cls_total, kind: counter}", f"{T}:Desk"), Error(2, "is a class")),
    h("target_not_callable", one("{metric: hostile_nc_total, kind: counter}", f"{T}:SLOTTED"),
      Error(2, "not a callable")),
    h("target_missing_attribute", one("{metric: hostile_ma_total, kind: counter}", f"{T}:nope"),
      Error(2, "has no attribute 'nope'")),
    h("source_deep_len", one("{metric: hostile_len, kind: histogram, value: '" + "len(" * 20 + "arg.item"
                             + ")" * 20 + "'}"), Error(4, "nests len(...)/not more than")),
    h("source_deep_not", one("{metric: hostile_not_total, kind: counter, when: '" + "not " * 50 + "arg.item'}"),
      Error(4, "nests len(...)/not more than")),
    h("source_long", one("{metric: hostile_long_total, kind: counter, attributes: {a: 'arg.item" + ".x" * 600
                         + "'}}"), Error(4, "at most 1000 characters")),
    h("source_bad_path", one("{metric: hostile_bp_total, kind: counter, attributes: {a: 'arg.item..x'}}"),
      Error(4, "bad path")),
    h("source_unknown_param", one("{metric: hostile_up_total, kind: counter, attributes: {a: arg.nope}}"),
      Error(4, "has no parameter 'nope'")),
    h("source_unknown", one("{metric: hostile_us_total, kind: counter, attributes: {a: 'eval(1)'}}"),
      Error(4, "unknown source")),
    h("histogram_without_value", one("{metric: hostile_hv, kind: histogram}"), Error(4, "needs 'value'")),
    h("timer_with_value", one("{metric: hostile_tv_ms, kind: timer, value: arg.item}"), Error(4, "takes no 'value'")),
]
