"""Hostile alert and SLO files: YAML traps, injection, YAML 1.1 coercions, other scripts' digits,
super-linear shapes, and the meaning of what is accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hms_otel.alerts import spec
from hms_otel.alerts.compiler import compile_files, dump_yaml
from hms_otel.alerts.settings import Settings

from .runner import CHECKERS, Case, Error, Means, Outcome, case

ALERT = "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\n"
HISTOGRAM = "metric: payment_latency_ms\nwhen: avg_over_30s > 2000\naction: slack:#ops\n"
SLO = ("slo: payments\nobjective: 99%\nlatency:\n  metric: payment_latency_ms\n  below: 2000\n"
       "action: sms:+15551234\n")
ERROR_SLO = ("slo: jobs\nobjective: 99.5%\nerrors:\n  metric: job_fail_total\n  total: job_fail_total\n"
             "action: slack:#ops\n")


def check_alert_file(content: bytes, name: str) -> Outcome:
    parsed, problems = spec.load_bytes(content, name)
    if problems or parsed is None:
        return Outcome(problems)
    result = compile_files([parsed], Settings(scrape_interval_ms=1000, export_interval_ms=1000))
    return Outcome([], (parsed, dump_yaml(result.rules)))


CHECKERS["alert"] = check_alert_file


def _alert(check: Callable[[Any, str], bool]) -> Callable[[Any], bool]:
    return lambda value: check(value[0].alerts[0], value[1])


def _slo(check: Callable[[Any, str], bool]) -> Callable[[Any], bool]:
    return lambda value: check(value[0].slos[0], value[1])


def a(name: str, content: str | bytes, expect: Error | Means) -> Case:
    return case("alert", name, content, expect)


CASES = [
    # ---- YAML structure ----------------------------------------------------------------------------
    a("anchor_alias", "metric: &m job_fail_total\nwhen: increase_over_5m > 3\naction: slack:#ops\nname: *m\n",
      Error(1, "YAML anchor &m is not allowed")),
    a("alias_bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
      Error(1, "YAML anchor &a is not allowed")),
    a("merge_key", "base: &b {action: 'slack:#ops'}\n<<: *b\nmetric: job_fail_total\nwhen: increase_over_5m > 3\n",
      Error(1, "anchor &b is not allowed")),
    a("str_tag", ALERT + "name: !!str payments\n", Error(4, "YAML tag 'tag:yaml.org,2002:str' is not allowed", 7)),
    a("local_tag", ALERT + "message: !env HOME\n", Error(4, "YAML tag '!env' is not allowed")),
    a("python_name_tag", "metric: !!python/name:os.system job_fail_total\nwhen: increase_over_5m > 3\n"
      "action: slack:#ops\n", Error(1, "is not allowed")),
    a("binary_tag", ALERT + "message: !!binary aGVsbG8=\n", Error(4, "YAML tag")),
    a("yaml_directive", "%YAML 1.1\n---\n" + ALERT, Error(1, "directives")),
    a("tag_directive", "%TAG !e! tag:example.com,2000:\n---\n" + ALERT, Error(1, "directives")),
    a("second_document", ALERT + "---\n" + ALERT, Error(4, "a second YAML document")),
    a("document_end_then_more", ALERT + "...\n" + ALERT, Error(5, "invalid YAML")),
    a("duplicate_key_later", ALERT + "severity: info\nseverity: critical\n", Error(5, "duplicate key 'severity'")),
    a("duplicate_key_in_labels", ALERT + "labels:\n  env: prod\n  env: test\n", Error(6, "duplicate key 'env'")),
    a("duplicate_quoted_key", ALERT + "'metric': job_fail_total\n", Error(4, "duplicate key 'metric'")),
    a("mapping_as_key", ALERT + "? {a: b}\n: c\n", Error(4, "a key must be plain text, not a mapping")),
    a("list_as_key", ALERT + "[a, b]: c\n", Error(4, "a key must be plain text, not a list")),
    a("null_key", ALERT + "~: x\n", Error(4, "unknown field '~'")),
    a("empty_key", ALERT + '"": x\n', Error(4, "unknown field ''")),
    a("deep_nesting_flow", "labels: " + "[" * 100 + "]" * 100 + "\n" + ALERT, Error(1, "nested more than 64")),
    a("deep_nesting_block", "".join("  " * depth + f"k{depth}:\n" for depth in range(80)) + "  " * 80 + "x: 1\n",
      Error(65, "nested more than 64")),
    a("many_values", "labels: [" + "x, " * 60_000 + "]\n", Error(1, "more than 20000 values")),
    a("too_large", "message: '" + "x" * 1_000_001 + "'\n", Error(1, "larger than 1000000 bytes")),
    a("utf16_bom", "\ufeff".encode("utf-16-le") + ALERT.encode("utf-16-le"), Error(1, "UTF-16 text; alert files are")),
    a("utf8_bom_ok", "\ufeff" + ALERT, Means("a UTF-8 BOM is ignored", _alert(lambda x, _r: x.metric.name ==
                                                                               "job_fail_total"))),
    a("latin1_message", ALERT.encode() + "message: Gebühr\n".encode("latin-1"), Error(4, "not UTF-8 text (byte 0xfc)")),
    a("overlong_utf8", ALERT.encode() + b"message: \xc0\xaf\n", Error(4, "not UTF-8 text (byte 0xc0)")),
    a("nul_in_value", ALERT + "message: a\x00b\n", Error(4, "U+0000 is not allowed")),
    a("escape_char_raw", ALERT + "message: a\x1b[31mred\n", Error(4, "U+001B is not allowed")),
    a("escaped_escape_char", ALERT + 'message: "a\\x1b[31mred"\n', Error(4, "control character or lone surrogate")),
    a("escaped_nul", ALERT + 'message: "a\\0b"\n', Error(4, "control character or lone surrogate")),
    a("lone_surrogate", ALERT + 'message: "\\ud800"\n', Error(4, "\\ud800 is half of a UTF-16 surrogate pair")),
    a("c1_control_escaped", ALERT + 'message: "a\\x9bb"\n', Error(4, "control character or lone surrogate")),
    a("tab_indent", "metric: job_fail_total\nlabels:\n\tenv: prod\n", Error(3, "a tab")),
    a("unclosed_flow", "labels: [a, b\n" + ALERT, Error(2, "invalid YAML")),
    a("unclosed_double_quote", 'message: "abc\n' + ALERT, Error(5, "quoted scalar")),
    a("only_document_marker", "---\n", Error(2, "not nothing (null)")),
    a("whitespace_only", "   \n\n  \n", Error(1, "file is empty")),
    a("list_of_lists", "- [a]\n- [b]\n", Error(1, "expected an alert")),
    a("list_of_nulls", "-\n-\n", Error(1, "expected an alert")),
    a("number_root", "42\n", Error(1, "expected an alert")),
    # Compiled outputs or other tools' files in the alert folder are named for what they are.
    a("prometheus_rules_file", "# Generated by `hms-ops alerts compile`\ngroups:\n- name: a\n  rules: []\n",
      Error(2, "looks like a Prometheus rules file (top-level 'groups'), not an alert file")),
    a("alertmanager_config", "global:\n  resolve_timeout: 5m\nroute:\n  receiver: x\nreceivers:\n- name: x\n",
      Error(3, "looks like an Alertmanager config (top-level 'route')")),
    a("prometheus_rule_resource", "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec: {}\n",
      Error(1, "looks like a Kubernetes resource")),
    a("groups_typo_in_an_alert", ALERT + "groups: payments\n", Error(4, "did you mean 'group'?")),

    # ---- injection: nothing a user writes is executed ---------------------------------------------
    a("template_in_layer", "metric: my_custom_total\ntype: counter\nlayer: '{{ with query \"up\" }}x{{ end }}'\n"
      "when: increase_over_5m > 3\naction: slack:#ops\n", Error(3, "layer")),
    a("template_in_layer_known_metric", ALERT + "layer: '{{ $value }}'\n", Error(4, "layer")),
    a("promql_in_layer", "metric: my_custom_total\ntype: counter\nlayer: 'x\"} or vector(1) #'\n"
      "when: increase_over_5m > 3\naction: slack:#ops\n", Error(3, "must be a name")),
    a("layer_with_space_is_a_name", "metric: my_custom_total\ntype: counter\nlayer: back office\n"
      "when: increase_over_5m > 3\naction: slack:#ops\n",
      Means("a layer name with a space is kept, as a literal label", _alert(
          lambda x, rules: x.layer == "back office" and "layer: back office" in rules))),
    a("template_in_message_is_literal", ALERT + "message: '{{ with query \"up\" }}{{ . }}{{ end }}'\n",
      Means("{{ in a message is printed, not run", _alert(
          lambda _x, rules: '{{ "{{" }} with query' in rules and "{{ with query" not in rules))),
    a("template_in_summary_is_literal", ALERT + "summary: '{{ .Labels }}'\n",
      Means("{{ in a summary is printed", _alert(lambda _x, rules: '{{ "{{" }} .Labels {{ "}}" }}' in rules))),
    a("template_in_runbook_is_literal", ALERT + "runbook: 'https://x.gov/{{ .Value }}'\n",
      Means("{{ in a runbook is printed", _alert(lambda _x, rules: 'https://x.gov/{{ "{{" }} .Value' in rules))),
    a("value_placeholder", ALERT + "message: 'failed {{value}} times'\n",
      Means("{{value}} is the one placeholder", _alert(lambda _x, rules: "{{ end }} times" in rules))),
    a("promql_in_label_value", ALERT + "labels:\n  job: 'x\"} or vector(1) or up{a=\"'\n",
      Means("a label value is a quoted string in PromQL", _alert(
          lambda x, rules: x.selector == (("job", 'x"} or vector(1) or up{a="'),) and
          'job_fail_total{job="x\\"} or vector(1) or up{a=\\""}' in rules.replace("\\\\", "\\")))),
    a("promql_in_label_key", ALERT + "labels:\n  'job=\"x\"} or vector(1) #': y\n",
      Error(5, "is not a valid Prometheus label name")),
    a("template_in_label_value", ALERT + "labels:\n  job: '{{ $labels }}'\n",
      Means("a label value is matched, never expanded", _alert(lambda x, _r: x.selector == (("job",
                                                                                          "{{ $labels }}"),)))),
    a("template_in_name", ALERT + "name: '{{x}}'\n", Error(4, "must be letters, digits and '_'")),
    a("template_in_group", ALERT + "group: '{{x}}'\n", Error(4, "group")),
    a("template_in_slack", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'slack:#{{ .x }}'\n",
      Error(3, "slack needs a channel")),
    a("template_in_email", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'email:{{x}}@a.gov'\n",
      Error(3, "email needs an address")),
    a("template_in_teams", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'teams:{{x}}'\n",
      Error(3, "teams needs a name")),
    a("space_in_webhook", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'webhook:http://a b/'\n",
      Error(3, "spaces or control characters")),
    a("bad_percent_webhook", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'webhook:http://x/%zz'\n",
      Error(3, "'%' not followed by two hex digits")),
    a("bad_port_webhook", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 'webhook:http://a:99999/'\n",
      Error(3, "bad port")),
    a("template_in_metric", "metric: '{{x}}'\nwhen: increase_over_5m > 3\naction: slack:#ops\n", Error(1, "metric")),
    a("promql_in_metric", "metric: 'up or vector(1)'\ntype: gauge\nwhen: avg_over_5m > 3\naction: slack:#ops\n",
      Error(1, "metric")),
    a("promql_in_when", "metric: job_fail_total\nwhen: increase_over_5m > 3 or vector(1)\naction: slack:#ops\n",
      Error(2, "not a plain decimal number")),
    a("promql_in_window", "metric: job_fail_total\nwhen: 'increase_over_5m]) or vector(1) #[5m > 3'\n"
      "action: slack:#ops\n", Error(2, "window")),

    # ---- label keys: never rewritten silently ----------------------------------------------------
    a("label_key_dash", ALERT + "labels:\n  http-route: /x\n", Error(5, "is not a valid Prometheus label name")),
    a("label_key_unicode", ALERT + "labels:\n  größe: x\n", Error(5, "is not a valid Prometheus label name")),
    a("label_key_space", ALERT + "labels:\n  'a b': x\n", Error(5, "is not a valid Prometheus label name")),
    a("label_key_colon", ALERT + "labels:\n  'a:b': x\n", Error(5, "is not a valid Prometheus label name")),
    a("label_key_trailing_dot", ALERT + "labels:\n  'http.': x\n", Error(5, "is not a valid Prometheus label name")),
    a("label_key_reserved", ALERT + "labels:\n  __name__: x\n", Error(5, "reserved")),
    a("label_key_dotted_reserved", ALERT + "labels:\n  _._x: x\n", Error(5, "reserved")),
    a("label_key_dotted_underscores", ALERT + "labels:\n  http._route: x\n",
      Error(5, "would be 'http_route' in Prometheus")),
    a("label_key_dotted_leading_underscore", ALERT + "labels:\n  _http.route: x\n",
      Error(5, "write key_http_route")),
    a("label_key_otel_attribute", ALERT + "labels:\n  http.route: /pay\n",
      Means("an OTel attribute name becomes the collector's label (dots to _)", _alert(
          lambda x, _r: x.selector == (("http_route", "/pay"),)))),
    a("label_key_service_alias", ALERT + "labels:\n  service.name: payments\n",
      Means("service.name is the job label", _alert(lambda x, _r: x.selector == (("job", "payments"),)))),
    a("label_keys_collide", ALERT + "labels:\n  http.route: a\n  http_route: b\n", Error(6, "same Prometheus label")),
    a("label_le_on_histogram", HISTOGRAM + "labels:\n  le: '2000'\n", Error(5, "label 'le'")),
    a("label_value_list", ALERT + "labels:\n  env: [a, b]\n", Error(5, "must be text, not a list")),
    a("label_value_null", ALERT + "labels:\n  env:\n", Error(5, "has no value")),
    a("label_value_empty_quoted", ALERT + "labels:\n  env: ''\n",
      Means("'' selects series without the label", _alert(lambda x, _r: x.selector == (("env", ""),)))),

    # ---- YAML 1.1 coercions: values mean what was written -----------------------------------------
    a("label_value_octal_looking", ALERT + "labels:\n  code: 010\n",
      Means("010 stays the text 010", _alert(lambda x, _r: x.selector == (("code", "010"),)))),
    a("label_value_sexagesimal", ALERT + "labels:\n  window: 1:30\n",
      Means("1:30 stays the text 1:30", _alert(lambda x, _r: x.selector == (("window", "1:30"),)))),
    a("label_value_hex", ALERT + "labels:\n  flags: 0x1F\n",
      Means("0x1F stays the text 0x1F", _alert(lambda x, _r: x.selector == (("flags", "0x1F"),)))),
    a("label_value_yes", ALERT + "labels:\n  enabled: yes\n",
      Means("yes stays the text yes", _alert(lambda x, _r: x.selector == (("enabled", "yes"),)))),
    a("label_value_on_off", ALERT + "labels:\n  a: on\n  b: Off\n",
      Means("on/Off stay text", _alert(lambda x, _r: x.selector == (("a", "on"), ("b", "Off"))))),
    a("label_value_version", ALERT + "labels:\n  version: 1.10\n",
      Means("1.10 stays the text 1.10", _alert(lambda x, _r: x.selector == (("version", "1.10"),)))),
    a("label_value_true_case", ALERT + "labels:\n  flag: True\n",
      Means("True stays True", _alert(lambda x, _r: x.selector == (("flag", "True"),)))),
    a("label_value_date", ALERT + "labels:\n  day: 2024-01-01\n",
      Means("a date stays text", _alert(lambda x, _r: x.selector == (("day", "2024-01-01"),)))),
    a("label_value_float_exp", ALERT + "labels:\n  v: 1e3\n",
      Means("1e3 stays text", _alert(lambda x, _r: x.selector == (("v", "1e3"),)))),
    a("label_value_null_word", ALERT + "labels:\n  v: null\n", Error(5, "has no value")),
    a("label_value_tilde_quoted", ALERT + "labels:\n  v: '~'\n",
      Means("a quoted ~ is the text ~", _alert(lambda x, _r: x.selector == (("v", "~"),)))),
    a("threshold_octal", "metric: job_fail_total\nwhen: increase_over_5m > 010\naction: slack:#ops\n",
      Error(2, "leading 0")),
    a("threshold_hex", "metric: job_fail_total\nwhen: increase_over_5m > 0x1F\naction: slack:#ops\n",
      Error(2, "write it in decimal")),
    a("threshold_sexagesimal", "metric: job_fail_total\nwhen: increase_over_5m > 1:30\naction: slack:#ops\n",
      Error(2, "base-60")),
    a("threshold_underscores_mean_digits", "metric: job_fail_total\nwhen: increase_over_5m > 1_000\n"
      "action: slack:#ops\n", Means("1_000 is 1000", _alert(lambda x, _r: x.condition.threshold == 1000))),
    a("threshold_bad_underscores", "metric: job_fail_total\nwhen: increase_over_5m > 1__0\naction: slack:#ops\n",
      Error(2, "without '_'")),
    a("threshold_version_like", "metric: job_fail_total\nwhen: increase_over_5m > 1.10\naction: slack:#ops\n",
      Means("1.10 is the number 1.1 in a threshold", _alert(lambda x, _r: x.condition.threshold == 1.1))),
    a("threshold_arabic_digits", "metric: job_fail_total\nwhen: increase_over_5m > \u0663\naction: slack:#ops\n",
      Error(2, "only the digits 0-9")),
    a("threshold_devanagari_digits",
      "metric: job_fail_total\nwhen: increase_over_5m > \u0967\u0966\naction: slack:#ops\n",
      Error(2, "only the digits 0-9")),
    a("threshold_fullwidth_digits", "metric: job_fail_total\nwhen: increase_over_5m > \uff13\naction: slack:#ops\n",
      Error(2, "only the digits 0-9")),
    a("threshold_inf", "metric: job_fail_total\nwhen: increase_over_5m > .inf\naction: slack:#ops\n",
      Error(2, "finite")),
    a("threshold_nan", "metric: job_fail_total\nwhen: increase_over_5m > nan\naction: slack:#ops\n",
      Error(2, "finite")),
    a("threshold_huge", "metric: job_fail_total\nwhen: increase_over_5m > 1e999\naction: slack:#ops\n",
      Error(2, "too large")),
    a("threshold_underflow", "metric: job_fail_total\nwhen: last_over_5m > 1e-400\naction: slack:#ops\n",
      Error(2, "too small")),
    a("threshold_zero_exponent", "metric: job_fail_total\nwhen: last_over_5m > 0e-400\naction: slack:#ops\n",
      Means("0e-400 is zero as written", _alert(lambda x, _r: x.condition.threshold == 0))),
    a("threshold_negative", "metric: room_temperature\ntype: gauge\nwhen: last_over_5m < -2.5\naction: slack:#ops\n",
      Means("-2.5 is -2.5", _alert(lambda x, rules: x.condition.threshold == -2.5 and "< -2.5" in rules))),
    # ---- conditions no data can meet: the alert would never fire, yet its test passes silently ----------
    a("counter_below_zero", "metric: job_fail_total\nwhen: last_over_5m < -2.5\naction: slack:#ops\n",
      Error(2, "can never fire: last of job_fail_total is never below 0", 20)),
    a("increase_below_zero", "metric: job_fail_total\nwhen: increase_over_5m < 0\naction: slack:#ops\n",
      Error(2, "never below 0, so '< 0' never holds")),
    a("increase_at_most_zero", "metric: job_fail_total\nwhen: increase_over_5m <= 0\naction: slack:#ops\n",
      Means("no increase at all can happen", _alert(lambda x, rules: "<= 0" in rules))),
    a("quantile_below_zero", "metric: payment_latency_ms\nwhen: p99_over_5m < 0\naction: slack:#ops\n",
      Error(2, "p99 of payment_latency_ms is never below 0")),
    a("histogram_avg_equals_negative", "metric: payment_latency_ms\nwhen: avg_over_5m == -1\naction: slack:#ops\n",
      Error(2, "never holds")),
    a("gauge_count_below_one", "metric: queue_depth\ntype: gauge\nwhen: count_over_5m < 1\naction: slack:#ops\n",
      Error(3, "count of queue_depth is never below 1", 21)),
    a("gauge_count_one", "metric: queue_depth\ntype: gauge\nwhen: count_over_5m <= 1\naction: slack:#ops\n",
      Means("one sample in the window can happen", _alert(lambda x, _r: x.condition.threshold == 1))),
    a("window_arabic_digits", "metric: job_fail_total\nwhen: increase_over_\u0665m > 3\naction: slack:#ops\n",
      Error(2, "bad duration")),
    a("for_sexagesimal", ALERT + "for: 1:30\n", Error(4, "1:30 is not a duration")),
    a("for_number", ALERT + "for: 90\n", Error(4, "has no unit")),
    a("for_yes", ALERT + "for: yes\n", Error(4, "bad duration")),
    a("for_fullwidth", ALERT + "for: \uff15m\n", Error(4, "bad duration")),
    a("severity_yes", ALERT + "severity: yes\n", Error(4, "severity 'yes' is not one of")),
    a("name_number", ALERT + "name: 010\n", Error(4, "must be letters")),
    a("metric_bool_word", "metric: off\nwhen: increase_over_5m > 3\naction: slack:#ops\n",
      Error(1, "unknown metric 'off'")),
    a("action_number", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: 15551234\n",
      Error(3, "needs a scheme")),
    a("sms_arabic_digits", "metric: job_fail_total\nwhen: increase_over_5m > 3\naction: "
      "'sms:+\u0661\u0665\u0665\u0665\u0661\u0662\u0663\u0664'\n",
      Error(3, "E.164")),

    # ---- when: shapes that made the old parser backtrack ------------------------------------------
    a("when_long_window", "metric: job_fail_total\nwhen: 'increase_over_" + "1" * 200_000 + "m > 3'\n"
      "action: slack:#ops\n", Error(2, "bad duration")),
    a("when_long_spaces", "metric: job_fail_total\nwhen: 'increase_over_5m" + " " * 200_000 + "x'\n"
      "action: slack:#ops\n", Error(2, "cannot read when")),
    a("when_many_operators", "metric: job_fail_total\nwhen: 'increase_over_5m > " + "> " * 100_000 + "'\n"
      "action: slack:#ops\n", Error(2, "threshold")),
    a("when_operator_run", "metric: job_fail_total\nwhen: 'avg_over_" + ">" * 200_000 + " x'\n"
      "action: slack:#ops\n", Error(2, "bad duration")),  # the old regex: 122 s at 40k characters
    a("when_many_over", "metric: job_fail_total\nwhen: '" + "a_over_" * 50_000 + "'\naction: slack:#ops\n",
      Error(2, "cannot read when")),
    a("when_long_aggregation", "metric: job_fail_total\nwhen: '" + "a" * 300_000 + "_over_5m > 1'\n"
      "action: slack:#ops\n", Error(2, "unknown aggregation")),
    a("when_equals", "metric: job_fail_total\nwhen: increase_over_5m = 3\naction: slack:#ops\n",
      Error(2, "write ==")),
    a("when_list", "metric: job_fail_total\nwhen: [a, b]\naction: slack:#ops\n", Error(2, "when must be text")),
    a("when_spaces_around", "metric: job_fail_total\nwhen: '  increase_over_5m   >=   3  '\naction: slack:#ops\n",
      Means("spaces around the parts are fine", _alert(lambda x, _r: (x.condition.op, x.condition.threshold)
                                                       == (">=", 3)))),
    a("when_space_in_window", "metric: job_fail_total\nwhen: increase_over_5 m > 3\naction: slack:#ops\n",
      Error(2, "must be one duration")),
    a("long_message", ALERT + "message: '" + "x" * 3000 + "'\n", Error(4, "at most 2000")),
    a("long_key", ALERT + "k" * 200_000 + ": 1\n", Error(4, "could not find expected ':'")),

    # ---- every problem of a file, in line order ---------------------------------------------------
    a("three_mistakes_in_order", "metric: job_fail_total\nwhen: increase_over_5q > 3\nseverity: loud\n"
      "action: pager:x\n", Error(2, "bad duration")),

    # ---- SLOs ---------------------------------------------------------------------------------------
    a("slo_ok", SLO, Means("a latency SLO below 2000 ms", _slo(lambda x, rules: x.latency_below == 2000 and
                                                                'le="2000"' in rules))),
    a("slo_layer_honoured", "slo: custom\nobjective: 99%\nlayer: billing\nlatency:\n  metric: my_latency_ms\n"
      "  type: histogram\n  below: 100\naction: slack:#ops\n",
      Means("an SLO's layer is its alerts' layer label", _slo(lambda x, rules: x.layer == "billing" and
                                                             "layer: billing" in rules))),
    a("slo_duplicate_type_key", "slo: custom\nobjective: 99%\nerrors:\n  metric: my_errors_total\n"
      "  type: counter\n  total: my_requests_total\n  type: counter\naction: slack:#ops\n",
      Error(7, "duplicate key 'type'")),
    a("slo_layer_wrong", SLO + "layer: ops\n", Error(7, "belongs to layer")),
    a("slo_layer_template", SLO + "layer: '{{x}}'\n", Error(7, "layer")),
    a("slo_le_label", SLO + "labels:\n  le: '2000'\n", Error(8, "label 'le'")),
    a("slo_le_label_on_error_slo", ERROR_SLO + "labels:\n  le: '+Inf'\n", Error(8, "label 'le'")),
    a("slo_below_not_bucket", SLO.replace("below: 2000", "below: 2001"), Error(5, "not a bucket boundary")),
    a("slo_below_octal", SLO.replace("below: 2000", "below: 02000"), Error(5, "leading 0")),
    a("slo_below_arabic", SLO.replace("below: 2000", "below: \u0662\u0660\u0660\u0660"),
      Error(5, "only the digits 0-9")),
    a("slo_objective_yes", SLO.replace("99%", "yes"), Error(2, "objective")),
    a("slo_objective_fullwidth", SLO.replace("99%", "\uff19\uff19%"), Error(2, "only the digits 0-9")),
    a("slo_objective_fraction", SLO.replace("99%", "0.999"),
      Means("0.999 is 99.9 %", _slo(lambda x, _r: x.objective == 0.999))),
    a("slo_objective_percent_number", SLO.replace("99%", "99.9"),
      Means("99.9 is 99.9 %", _slo(lambda x, _r: x.objective == 0.999))),
    a("slo_objective_100", SLO.replace("99%", "100%"), Error(2, "between 0% and 100%")),
    a("slo_period_sexagesimal", SLO + "period: 1:30\n", Error(7, "1:30 is not a duration")),
    a("slo_period_short", SLO + "period: 30m\n", Error(7, "too short")),
    a("slo_all_problems", "slo: '{{x}}'\nobjective: 200%\nperiod: 5x\nlatency:\n  metric: payment_latency_ms\n"
      "  below: 7\naction: 'pager:x'\n", Error(1, "slo")),
    a("slo_missing_action", SLO.replace("action: sms:+15551234\n", ""), Error(1, "missing field 'action'")),
    a("slo_unknown_field", SLO + "burn: fast\n", Error(7, "unknown field 'burn'")),
    a("slo_errors_total_unknown", ERROR_SLO.replace("total: job_fail_total", "total: my_requests_total"),
      Error(5, "unknown metric 'my_requests_total'")),
    a("slo_template_message", SLO + "message: '{{ with query \"up\" }}x{{ end }}'\n",
      Means("an SLO message is printed, not run", _slo(lambda _x, rules: '{{ "{{" }} with query' in rules))),
    a("slo_two_indicators", SLO + "errors:\n  metric: job_fail_total\n  total: job_fail_total\n",
      Error(1, "exactly one of")),
]

# Every problem is reported: the SLO with four mistakes gives four located problems in line order.
MULTI_PROBLEM = {
    "slo_all_problems": [1, 2, 3, 6, 7],
    "three_mistakes_in_order": [2, 3, 4],
}
