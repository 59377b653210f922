"""The PII rule (hms_otel/pii.py) itself, and the collector configs carrying exactly what it generates."""

from __future__ import annotations

import pytest

from hms_otel import pii
from hms_otel.stack import collector_config_path

PROBES = {
    "ssn": ["123-45-6789", "078-05-1120", "219099999", "123 45 6789", "١٢٣-٤٥-٦٧٨٩"],
    "card": [
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "4012.8888.8888.1881",
        "6011111111111117",
        "3782 822463 10005",
        "४१११११११११११११११",
        "5555 5555 5555 4444",
    ],
    "email": ["jane.doe@example.gov", "j.smith+tax@agency.state.us", "josé@correo.ejemplo.mx", "ops@dmv.ca.gov"],
    "phone": [
        "+15551234567",
        "(555) 123-4567",
        "555-123-4567",
        "+44 20 7946 0958",
        "+1 555 123 4567",
        "555.123.4567",
    ],
}
ORDINARY = [
    "ORD-2026-000123",
    "A-1001",
    "12345",
    "order 1234 5678 9012 3456",  # card-shaped, fails the Luhn check
    "2026-11-26T19:30:00Z",
    "10.0.0.1",
    "v1.45.2",
    "latency 800 ms, 11 s on Election Day",
    "3.14159",
    "id 123456789012",  # 12 digits: holds no SSN
]


@pytest.mark.parametrize("probe", [p for values in PROBES.values() for p in values])
def test_every_probe_is_masked(probe: str) -> None:
    masked = pii.redact_text(f"before {probe} after")
    assert masked == "before **** after", masked


def test_adjacent_probes_are_all_masked() -> None:
    assert pii.redact_text("123-45-6789 987-65-4321,555-123-4567") == "**** ****,****"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_values_survive(text: str) -> None:
    assert pii.redact_text(text) == text


def test_bytes_lists_maps_and_big_ints() -> None:
    assert pii.redact_value(b"ssn 123-45-6789") == "ssn ****"
    assert pii.redact_value(b"\x00\x01plain") == b"\x00\x01plain"
    assert pii.redact_value(["jane.doe@example.gov", 7]) == ["****", 7]
    assert pii.redact_value({"a": {"b": "555-123-4567"}}) == {"a": {"b": "****"}}
    assert pii.redact_value(4111111111111111) == "****"
    assert pii.redact_value(123456789012) == 123456789012


def test_metric_masks_keep_distinct_values_distinct() -> None:
    one = pii.redact_text("jane.doe@example.gov", for_metrics=True)
    two = pii.redact_text("john.roe@example.gov", for_metrics=True)
    assert one.startswith("****") and two.startswith("****") and one != two and len(one) == 10


def test_a_long_token_next_to_pii_is_masked_in_one_pass() -> None:
    """Python's engine tried the e-mail pattern at every position of a long run of name characters, to the
    run's end: with a 40 KB token and an SSN in the message, metric.log held the app for 18 s (1 MB: hours,
    so without the fix this test ends at the test timeout)."""
    text = "ssn 123-45-6789 blob " + "y" * 1_000_000 + " mail jane.doe@example.gov"
    assert pii.redact_text(text) == "ssn **** blob " + "y" * 1_000_000 + " mail ****"


def _head_cases() -> dict[str, str]:
    limit = 1000
    return {
        "one SSN straddling where the head ends": "x " * 480 + "123-45-6789 " + "y" * 1_000_000,
        "masks that shorten the head past the margin": "123-45-6789 " * 2000 + "555-123-4567 " * 10,
        "e-mail right after the head": "z" * (limit - 30) + " jane.doe@example.gov " + "w " * 10_000,
        "nothing to mask": "plain text " * 100_000,
    }


@pytest.mark.parametrize("case", _head_cases())
def test_a_long_body_is_cut_to_its_masked_head(case: str) -> None:
    """The head is what masking the whole text, then cutting, gives, without masking the whole text."""
    text, limit = _head_cases()[case], 1000
    head = pii.redacted_head(text, limit)
    marker = f"...[cut {len(text)} chars]"
    assert len(head) <= limit and head.endswith(marker)
    assert head == pii.redact_text(text)[: limit - len(marker)] + marker


def test_the_log_processor_cuts_a_long_body_before_masking_it() -> None:
    """A 1 MB body was masked whole in the thread that logs (about 25 ms per MB), then cut at export."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(pii.RedactingLogProcessor(body_limit=65536))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    provider.get_logger("test").emit(body="ssn 123-45-6789 " + "x" * 1_000_000)
    provider.get_logger("test").emit(body="short 123-45-6789")
    long, short = (record.log_record.body for record in memory.get_finished_logs())
    assert len(long) <= 65536 and long.startswith("ssn **** xxx") and long.endswith("...[cut 1000016 chars]")
    assert short == "short ****"


def test_luhn() -> None:
    assert pii.redact_text("4111 1111 1111 1112") == "4111 1111 1111 1112"  # fails Luhn: an order id


@pytest.mark.parametrize("name", ["local", "gateway"])
def test_collector_configs_carry_the_generated_statements(name: str) -> None:
    text = collector_config_path(name).read_text()
    start, end = text.index(pii.BEGIN) + len(pii.BEGIN) + 1, text.index(pii.END)
    assert text[start:end].rstrip(" ") == pii.generated_block("  "), (
        f"collector-config/{name}.yaml is out of date: run `hms-ops collector pii --write collector-config/{name}.yaml`"
    )


@pytest.mark.parametrize(("value", "masking"), [("off", False), ("OFF", False), ("no", False), ("on", True),
                                                ("disable", True), ("n", True)])
def test_the_masking_switch_understands_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, masking: bool
) -> None:
    """``off`` kept masking on with no word; a value that is no known spelling keeps it on, with a warning."""
    monkeypatch.setenv("HMS_OTEL_REDACT_PII", value)
    assert pii.enabled() is masking
    err = capsys.readouterr().err
    understood = value.lower() in ("off", "no", "on")
    assert (f"HMS_OTEL_REDACT_PII={value!r} is not one of" in err) is not understood
