"""Loading hook specs: YAML, inline env values, and messages that point at the line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hms_otel.hooks import Hook, HookConfigError, Record, from_env, load, load_file

GOOD = """\
hooks:
  - target: tests.hooks.hook_targets:price
    record:
      - metric: price_latency_ms
        kind: timer
        attributes: {item: arg.item, outcome: outcome}
      - metric: price_total
        kind: counter
        on: return
"""


def test_load_builds_hooks_with_origins() -> None:
    (hook,) = load(GOOD, "hooks.yaml")
    assert hook == Hook(
        "tests.hooks.hook_targets:price",
        (
            Record("price_latency_ms", "timer", {"item": "arg.item", "outcome": "outcome"}),
            Record("price_total", "counter", on="return"),
        ),
    )
    assert hook.origin == "hooks.yaml:2"
    assert [r.origin for r in hook.record] == ["hooks.yaml:4", "hooks.yaml:7"]


def test_a_bare_list_is_accepted() -> None:
    hooks = load("- {target: 'a.b:c', record: [{metric: m, kind: counter}]}", "inline")
    assert hooks[0].target == "a.b:c"


def test_empty_text_means_no_hooks() -> None:
    assert load("", "empty.yaml") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("kind: timer", "kind: timr"), "hooks.yaml:5:15: hooks[0].record[0].kind: 'timr' is not one of"),
        (GOOD.replace("on: return", "on: later"), "hooks.yaml:9:13: hooks[0].record[1].on: 'later' is not one of"),
        (GOOD.replace("price\n", "price()\n"), "hooks.yaml:2:13: hooks[0].target: 'tests.hooks.hook_targets:price()"),
        (GOOD.replace("target: tests.hooks.hook_targets:price", "target: price"), "hooks.yaml:2:13: hooks[0].target"),
        (GOOD.replace("        on: return", "        colour: red"), "hooks.yaml:9:9: hooks[0].record[1]: Additional"),
        (
            GOOD.replace("      - metric: price_total\n        kind", "      - kind"),
            "hooks.yaml:7:9: hooks[0].record[1]: 'metric' is a required property",
        ),
        ("hooks:\n  - target: [unclosed\n", "hooks.yaml:3:1: invalid YAML"),
        ("hooks: 3\n", "hooks.yaml:1:8: hooks: 3 is not of type 'array'"),
    ],
)
def test_bad_files_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(HookConfigError) as caught:
        load(text, "hooks.yaml")
    assert expected in str(caught.value)


def test_every_problem_is_reported() -> None:
    text = GOOD.replace("kind: timer", "kind: timr").replace("on: return", "on: later")
    with pytest.raises(HookConfigError) as caught:
        load(text, "hooks.yaml")
    assert len(str(caught.value).splitlines()) == 2


def test_env_inline_and_path(tmp_path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(GOOD)
    assert from_env("HOOKS", {}) is None
    assert from_env("HOOKS", {"HOOKS": str(path)}) == load_file(path)
    inline = "[{target: 'a.b:c', record: [{metric: m, kind: counter}]}]"
    assert from_env("HOOKS", {"HOOKS": inline})[0].record[0].origin == "$HOOKS:1"


@pytest.mark.parametrize(
    "inline",
    [
        "hooks: [{target: 'a.b:c', record: [{metric: m, kind: counter}]}]",
        "  hooks : [{target: 'a.b:c', record: [{metric: m, kind: counter}]}]",
        "- {target: 'a.b:c', record: [{metric: m, kind: counter}]}",
    ],
)
def test_env_one_line_yaml_is_inline_not_paths(inline) -> None:
    # Not split at its colons into the "files" `hooks` and ` [{target...`.
    hooks = from_env("HOOKS", {"HOOKS": inline})
    assert [(hook.target, hook.record[0].origin) for hook in hooks] == [("a.b:c", "$HOOKS:1")]


def test_env_one_line_yaml_problems_point_into_the_variable() -> None:
    with pytest.raises(HookConfigError, match=r"^\$HOOKS:1:8: hooks: 5 is not of type 'array'$"):
        from_env("HOOKS", {"HOOKS": "hooks: 5"})


def test_env_errors_name_the_variable(tmp_path) -> None:
    with pytest.raises(HookConfigError, match=r"nope.yaml:1:1: cannot read hook file: .*\(named by \$HOOKS\)"):
        from_env("HOOKS", {"HOOKS": str(tmp_path / "nope.yaml")})
    with pytest.raises(HookConfigError, match=r"^\$HOOKS:1:2: hooks\[0\]: 'record' is a required property"):
        from_env("HOOKS", {"HOOKS": "[{target: 'a.b:c'}]"})


HOSTILE = [
    "hooks: 3",
    "[{target: 'a.b:c', record: []}]",
    "[{target: 'a.b:c()', record: [{metric: '', kind: timr, on: later, colour: red, size: 1}]}]",
    "[{record: [{kind: counter, attributes: {a: [1], b: {c: d}, e: true}, value: 3}]}]",
    "{hooks: [{target: 'a:b', record: [{metric: m, kind: counter}]}], extra: 1}",
    "[3, 'x', null]",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_structure_check_words_problems_as_jsonschema_does(text: str) -> None:
    import jsonschema
    import yaml

    from hms_otel.hooks import spec, structure

    data = yaml.safe_load(text)
    data = {"hooks": data} if isinstance(data, list) else data
    ours = sorted((v.path, v.message) for v in structure.violations(data, spec._SCHEMA))
    theirs = sorted(
        (tuple(e.absolute_path), e.message) for e in jsonschema.Draft202012Validator(spec._SCHEMA).iter_errors(data)
    )
    assert ours == theirs


def test_hook_files_load_without_jsonschema(tmp_path) -> None:
    # A service installs the library only: no jsonschema.
    path = tmp_path / "hooks.yaml"
    path.write_text(GOOD.replace("kind: timer", "kind: timr"))
    code = (
        "import sys\n"
        "sys.modules['jsonschema'] = None  # importing it now fails\n"
        "from hms_otel.hooks import HookConfigError, load_file\n"
        "try:\n"
        f"    load_file({str(path)!r})\n"
        "except HookConfigError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{path}:5:15: hooks[0].record[0].kind: 'timr' is not one of" in done.stdout
