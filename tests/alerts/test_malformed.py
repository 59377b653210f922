"""The malformed corpus: each file gives exactly one located error, and the CLI
prints it as file:line:col with exit 1 and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.alerts import spec
from hms_otel.alerts.cli import alerts

CORPUS = Path(__file__).parent / "malformed"

#: file -> (line:col, fragment of the message)
EXPECTED: dict[str, tuple[str, str]] = {
    "bad_indentation.yml": ("2:7", "mapping values are not allowed"),
    "bad_metric_name.yml": ("1:9", "must start with an ASCII letter"),
    "bad_operator.yml": ("2:20", "unknown comparison '=>'"),
    "bad_phone_number.yml": ("3:13", "E.164"),
    "bad_threshold.yml": ("2:23", "threshold 'fast' is not a plain decimal number"),
    "bad_window.yml": ("2:16", "bad duration '30x'"),
    "binary_garbage.yml": ("1:1", "not UTF-8 text"),
    "boolean_metric.yml": ("1:9", "unknown metric 'yes'"),
    "counter_average.yml": ("2:7", "is a counter; use increase, rate or last"),
    "duplicate_field.yml": ("3:1", "duplicate key 'when' (first set on line 2)"),
    "empty.yml": ("1:1", "file is empty"),
    "empty_action_list.yml": ("3:9", "action is an empty list"),
    "empty_list.yml": ("1:1", "the list of alerts is empty"),
    "for_without_unit.yml": ("3:6", "300 has no unit"),
    "gauge_rate.yml": ("2:7", "rate needs a counter"),
    "histogram_max.yml": ("2:7", "keeps no max"),
    "labels_not_mapping.yml": ("3:9", "expected labels (a mapping"),
    "latin1_text.yml": ("4:19", "not UTF-8 text (byte 0xfc)"),
    "list_of_text.yml": ("1:3", "expected an alert"),
    "message_not_text.yml": ("5:3", "message must be text, not a list"),
    "missing_action.yml": ("1:1", "missing field 'action'"),
    "missing_metric.yml": ("1:1", "missing field 'metric'"),
    "missing_when.yml": ("1:1", "missing field 'when'"),
    "multiple_documents.yml": ("4:1", "a second YAML document"),
    "non_text_key.yml": ("4:3", "a key must be plain text"),
    "nul_byte.yml": ("2:26", "character U+0000 is not allowed"),
    "only_comments.yml": ("1:1", "file has no alerts"),
    "python_tag.yml": ("1:9", "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    "reserved_label.yml": ("4:3", "label '__name__' is not a valid Prometheus label name"),
    "scalar_root.yml": ("1:1", "expected an alert"),
    "slo_errors_not_counter.yml": ("4:11", "errors must be a counter"),
    "slo_objective_over_100.yml": ("2:12", "must be between 0% and 100%"),
    "slo_threshold_not_bucket.yml": ("5:10", "2100 is not a bucket boundary of payment_latency_ms"),
    "slo_without_indicator.yml": ("1:1", "exactly one of 'latency'"),
    "tab_indentation.yml": ("3:1", "a tab: YAML indents with spaces only"),
    "teams_secret_url.yml": ("5:11", "Teams webhook URL is a secret"),
    "template_in_name.yml": ("1:7", "must be letters, digits and '_'"),
    "template_in_severity.yml": ("4:11", "severity '{{ .Labels.severity }}' is not one of"),
    "template_in_webhook.yml": ("3:18", "must not contain template text"),
    "two_groups.yml": ("8:10", "all alerts of one file form one rule group"),
    "type_conflict.yml": ("2:7", "is a histogram in the HMS metric registry, not a counter"),
    "unclosed_quote.yml": ("5:1", "while scanning a quoted scalar"),
    "unknown_action_scheme.yml": ("3:9", "unknown action scheme 'pager'"),
    "unknown_aggregation.yml": ("2:7", "unknown aggregation 'median'"),
    "unknown_field.yml": ("2:1", "unknown field 'wehn' in an alert; did you mean 'when'?"),
    "unknown_metric.yml": ("1:9", "Did you mean 'payment_latency_ms'?"),
    "unknown_type.yml": ("2:7", "type 'summary' is not one of"),
    "unquoted_template.yml": ("4:20", "must be quoted"),
    "unreadable_when.yml": ("2:7", "cannot read when 'payments are slow'"),
    "webhook_credentials.yml": ("3:17", "carries credentials"),
    "utf16_powershell.yml": ("1:1", "UTF-16 text; alert files are YAML text in UTF-8: save it as UTF-8"),
    "when_and_absent_for.yml": ("3:1", "use either 'when' or 'absent_for'"),
}


def test_corpus_is_large_and_fully_described() -> None:
    files = sorted(path.name for path in CORPUS.iterdir())
    assert len(files) >= 30
    assert files == sorted(EXPECTED), "every corpus file needs an expectation and vice versa"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_located_error(name: str) -> None:
    parsed, problems = spec.load_path(CORPUS / name, name=name)
    assert parsed is None
    assert len(problems) == 1, [str(p) for p in problems]
    where, fragment = EXPECTED[name]
    assert str(problems[0]).startswith(f"{name}:{where}: "), str(problems[0])
    assert fragment in problems[0].message


@pytest.mark.parametrize("name", ["empty.yml", "binary_garbage.yml", "unknown_metric.yml", "python_tag.yml"])
def test_cli_check_reports_file_line_col_and_exits_1(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    result = CliRunner().invoke(alerts, ["check", "--no-tools", str(tmp_path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    where, fragment = EXPECTED[name]
    assert f"{name}:{where}: " in result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_cli_check_lists_all_errors_at_once(tmp_path: Path) -> None:
    for name in ("unknown_field.yml", "bad_window.yml", "teams_secret_url.yml"):
        (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    result = CliRunner().invoke(alerts, ["check", "--no-tools", str(tmp_path)])
    assert result.exit_code == 1
    for name in ("unknown_field.yml", "bad_window.yml", "teams_secret_url.yml"):
        assert f"{name}:{EXPECTED[name][0]}: " in result.output
    assert "3 errors" in result.output
