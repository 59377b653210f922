"""The HMS metric contract (DESIGN.md section 3).

These names are what users type in alert files and dashboards; they reach
Prometheus unchanged (histograms add ``_bucket``/``_sum``/``_count``).
Attributes listed here are the low-cardinality ones each metric is expected to
carry; never add user, payment or envelope ids.
"""

from __future__ import annotations

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from hms_otel.definitions import LATENCY_MS_BUCKETS, Kind, MetricDefinition

__all__ = ["BATCH_SIZE_BUCKETS", "CONTRACT", "DROPPED", "FACADE_ERRORS", "LATENCY_MS_BUCKETS", "LOG_RECORDS_DROPPED"]
#: Sizes of ACH batches (entries per batch).
BATCH_SIZE_BUCKETS: tuple[float, ...] = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

_H, _C, _G, _OG, _UD = Kind.HISTOGRAM, Kind.COUNTER, Kind.GAUGE, Kind.OBSERVABLE_GAUGE, Kind.UPDOWN_COUNTER

#: Failures of the facades themselves (``metric.errors()``), so a broken
#: measurement is visible in Prometheus rather than silently missing.
FACADE_ERRORS = MetricDefinition(
    "hms_otel_facade_errors_total", _C, "{error}", "Facade calls that failed and were skipped", ("facade", "metric")
)

#: Log records an app dropped before export (``hms_otel.logbuffer``); alerted on by
#: alert_rules/log_records_dropped.yml, so it must be known without the SDK loaded.
LOG_RECORDS_DROPPED = MetricDefinition(
    "hms_otel_log_records_dropped_total", _C, "{record}",
    "Log records the app dropped before export (reason: queue_full, buffer_full, shutdown, unexportable)", ("reason",)
)

#: What the hms_otel distro dropped on purpose (``hms_otel.selfmetrics``); alerted on by
#: collector-config/collector-alerts.rules.yml, so it must be known without the facades loaded.
DROPPED = MetricDefinition(
    "hms_otel_dropped_total", _C, "{item}",
    "Telemetry the hms_otel distro dropped on purpose so the rest keeps flowing "
    "(signal: metrics, logs, metric_names; reason: too_large, name_limit, ...)", ("signal", "reason")
)

CONTRACT: tuple[MetricDefinition, ...] = (
    MetricDefinition("ach_batch_size", _H, "{entry}", "Entries per ACH batch submitted for clearing",
                     ("agency",), "ACH", BATCH_SIZE_BUCKETS),
    MetricDefinition("ach_latency_ms", _H, "ms", "Time to clear one ACH batch", ("agency", "outcome"), "ACH"),
    MetricDefinition("ach_flagged_total", _C, "{payment}", "ACH payments flagged for review",
                     ("agency", "reason"), "ACH"),
    MetricDefinition("job_queue_depth", _OG, "{job}", "Jobs waiting in a worker queue", ("queue",), "SVC"),
    MetricDefinition("job_fail_total", _C, "{job}", "Worker jobs that raised", ("queue", ERROR_TYPE), "SVC"),
    MetricDefinition("license_printer_health", _G, "1", "Licence printer health: 1 printing, 0 down",
                     ("printer",), "SVC"),
    MetricDefinition("a2a_transfer_ms", _H, "ms", "Time to transfer one inter-agency envelope",
                     ("agency", "outcome"), "A2A"),
    MetricDefinition("a2a_failed_total", _C, "{envelope}", "Inter-agency envelope transfers that failed",
                     ("agency", ERROR_TYPE), "A2A"),
    MetricDefinition("activities_pending", _UD, "{activity}", "Activities started and not yet finished",
                     ("workflow",), "ACT"),
    MetricDefinition("activities_error_total", _C, "{activity}", "Activities that ended in an error",
                     ("workflow", ERROR_TYPE), "ACT"),
    MetricDefinition("esq_conflicts_total", _C, "{conflict}", "Legal/compliance conflicts found",
                     ("rule",), "ESQ"),
    MetricDefinition("esq_latency_ms", _H, "ms", "Time to run one legal/compliance check",
                     ("check", "outcome"), "ESQ"),
    MetricDefinition("vet_denied_total", _C, "{action}", "Actions denied by governance vetting",
                     ("policy",), "Governance"),
    MetricDefinition("page_load_ms", _H, "ms", "Citizen page load time measured in the browser",
                     ("page",), "Citizen UI"),
    MetricDefinition("citizen_satisfaction_score", _G, "1", "Citizen satisfaction rating (0 to 1)",
                     ("page",), "Citizen UI"),
    MetricDefinition("payment_latency_ms", _H, "ms", "Time of the payment step of a licence renewal",
                     (), "quick start"),
    MetricDefinition("refund_pdf_total", _C, "{pdf}", "Refund PDFs generated", (), "quick start"),
    FACADE_ERRORS,
    LOG_RECORDS_DROPPED,
    DROPPED,
)
