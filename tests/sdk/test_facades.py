import enum
import functools
import io
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from hms_otel import _fastpath, metric
from hms_otel.attributes import value_length_limit
from hms_otel.hooks.sources import attribute_value
from hms_otel.registry import REGISTRY, Kind, MetricNameError

from .otlp_receiver import attributes_of
from .test_timer import only_point, points


def test_increment_counts(reader):
    metric.increment("refund_pdf_total")
    metric.increment("refund_pdf_total", 2)
    metric.increment("f_jobs_total", queue="renewals")
    assert only_point(reader, "refund_pdf_total").value == 3
    assert only_point(reader, "f_jobs_total", queue="renewals").value == 1


def test_gauge_keeps_last_value(reader):
    metric.gauge("citizen_satisfaction_score", 0.5, page="renew")
    metric.gauge("citizen_satisfaction_score", 0.9, page="renew")
    assert only_point(reader, "citizen_satisfaction_score", page="renew").value == 0.9


def test_observe_records_histogram(reader):
    metric.observe("page_load_ms", 120, page="home")
    metric.observe("page_load_ms", 80, page="home")
    point = only_point(reader, "page_load_ms", page="home")
    assert point.count == 2 and point.sum == 200


def test_push_follows_the_registry_kind(reader):
    metric.push("refund_pdf_total", 1)
    metric.push("citizen_satisfaction_score", 0.7)
    metric.push("f_new_push_metric", 12.5)
    assert only_point(reader, "refund_pdf_total").value == 1
    assert only_point(reader, "citizen_satisfaction_score").value == 0.7
    assert only_point(reader, "f_new_push_metric").count == 1


def test_call_time_mistakes_never_raise_and_are_counted_once_logged(reader, caplog):
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        for _ in range(3):
            metric.increment("payment latency")  # invalid name
            metric.increment("payment_latency_ms")  # histogram used as counter
            metric.gauge("job_queue_depth", 3)  # observable gauge is callback-only
    counts = metric.errors()
    assert counts[("increment", "payment latency")] >= 3
    assert counts[("increment", "payment_latency_ms")] >= 3
    warnings = [r.getMessage() for r in caplog.records if "payment_latency_ms" in r.getMessage()]
    assert len(warnings) == 1 and "histogram" in warnings[0]
    assert points(reader, "payment latency") == []
    errors_counted = only_point(reader, "hms_otel_facade_errors_total", facade="increment", metric="payment_latency_ms")
    assert errors_counted.value >= 3


def test_a_histogram_attribute_named_le_is_refused_naming_it(reader, caplog):
    """`le` is the label of each bucket's bound: Prometheus refused the collector's whole remote write with
    it (the other metrics of the batch too), and /metrics wrote two `le` per bucket."""
    with pytest.raises(ValueError, match=r"^attribute 'le' of histogram 'f_le_ms' is the label Prometheus gives "
                                         r"each bucket's bound; rename the attribute$"):
        metric.timer("f_le_ms", le="fast")
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        for _ in range(2):
            metric.observe("f_le_observed", 5, le="fast")
    metric.observe("f_le_observed", 5, level="fast")  # the same histogram, the attribute renamed
    assert metric.errors()[("observe", "f_le_observed")] == 2
    assert [r.getMessage() for r in caplog.records if "f_le_observed" in r.getMessage()] == [
        "hms_otel: metric.observe('f_le_observed') failed and was skipped: attribute 'le' of histogram "
        "'f_le_observed' is the label Prometheus gives each bucket's bound; rename the attribute"
    ]
    (point,) = points(reader, "f_le_observed")
    assert dict(point.attributes) == {"level": "fast"}


class _HashRaises(str):
    def __hash__(self):
        raise RuntimeError("no hash")


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no str")

    __repr__ = __str__


def test_push_and_with_timer_skip_and_count_what_they_cannot_record(reader, caplog):
    """push() raised TypeError for a list as the name; `with metric.timer(...)` raised what an
    attribute's __hash__, __str__ or __repr__ raised."""
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        for _ in range(2):
            metric.push(["f_listed_total"], 1)
            metric.push({"name": "f_mapped_total"}, 1)
            metric.push(_HashRaises("f_hostile_total"), 1)
            with metric.timer("f_hostile_ms", tenant=_HashRaises("a")):
                pass
            with metric.timer("f_hostile_ms", tenant=[_Unprintable()]):
                pass
            with pytest.raises(KeyError), metric.timer("f_hostile_ms", tenant=[_Unprintable()]):
                raise KeyError("the application's own")  # still propagates
    counts = metric.errors()
    assert counts[("push", "['f_listed_total']")] == 2
    assert counts[("push", "{'name': 'f_mapped_total'}")] == 2
    assert counts[("push", "f_hostile_total")] == 2
    assert counts[("timer", "f_hostile_ms")] == 6
    warnings = [r.getMessage() for r in caplog.records if "f_hostile_ms" in r.getMessage()]
    assert len(warnings) == 1 and "skipped" in warnings[0]
    assert points(reader, "f_hostile_ms") == []


class _EqRaises(str):
    __hash__ = str.__hash__

    def __eq__(self, other):
        raise RuntimeError("no eq")


class _StrRaises(str):
    def __str__(self):
        raise RuntimeError("no str")


class _HashRaisesInsideHmsOtel(str):
    """Hashes for the caller (its dict literal, the ``**`` of the call) and raises wherever hms_otel hashes it."""

    def __hash__(self):
        if sys._getframe(1).f_globals.get("__name__", "").startswith("hms_otel"):
            raise RuntimeError("no hash here")
        return str.__hash__(self)


@pytest.mark.parametrize(
    "bad", [_HashRaises("f_bad_ms"), _EqRaises("f_bad_ms"), _StrRaises("f_bad_ms"), _Unprintable()],
    ids=["hash", "eq", "str", "not-a-str"],
)
def test_a_name_whose_own_methods_raise_is_refused_like_any_invalid_name(reader, monkeypatch, bad):
    """@metric.timer(name) raised the name's own RuntimeError (a __hash__ that raises) or accepted it (an
    __eq__ that raises, breaking every later lookup); declare() raised it too."""
    monkeypatch.setattr(metric, "_error_counts", type(metric._error_counts)())  # the counts of this test only
    with pytest.raises(MetricNameError, match="metric name"):
        metric.timer(bad)
    with pytest.raises(MetricNameError, match="metric name"):
        metric.timer(bad, channel="web")(lambda: None)
    with pytest.raises(MetricNameError, match="metric name"):
        metric.declare(bad)
    for facade in (metric.increment, metric.gauge, metric.observe, metric.push):
        facade(bad, 1)  # at call time: skipped and counted, never raised
    assert sum(metric.errors().values()) == 4
    assert points(reader, "f_bad_ms") == []


def test_a_str_subclass_name_that_behaves_is_recorded_as_its_text(reader):
    class Names(str, enum.Enum):
        REFUNDS = "f_named_total"

    for _ in range(2):
        metric.increment(Names.REFUNDS)
        metric.increment("f_named_total")
    assert only_point(reader, "f_named_total").value == 4
    assert type(REGISTRY["f_named_total"].name) is str
    with pytest.raises(TypeError, match="needs a function with a name"):
        metric.timer(functools.partial(print))  # bare, and nothing to name it after (was an AttributeError)


def test_attribute_keys_whose_own_methods_raise_never_escape_a_facade(reader, logs):
    """metric.log raised the RuntimeError of a key that hashes for the caller and raises inside hms_otel;
    increment, gauge, observe and push skipped the call. Keys are recorded as the text they hold."""
    key = _HashRaisesInsideHmsOtel("tenant")
    for _ in range(2):
        metric.increment("f_keyed_total", **{key: "a"})
        metric.gauge("f_keyed_gauge", 3, **{key: "a"})
        metric.observe("f_keyed_observed", 5, **{key: "a"})
        metric.push("f_keyed_pushed", 5, **{key: "a"})
        with metric.timer("f_keyed_ms", **{key: "a"}):
            pass
        metric.log("keyed", **{key: "a"}, nested={key: 1})
        metric.increment("f_keyed_total", nested={key: 1})
    assert only_point(reader, "f_keyed_total", tenant="a").value == 2
    assert only_point(reader, "f_keyed_total", nested={"tenant": 1}).value == 2
    assert only_point(reader, "f_keyed_gauge", tenant="a").value == 3
    assert only_point(reader, "f_keyed_observed", tenant="a").count == 2
    assert only_point(reader, "f_keyed_pushed", tenant="a").count == 2
    assert only_point(reader, "f_keyed_ms", tenant="a").count == 2
    records = [data.log_record for data in logs.get_finished_logs() if data.log_record.body == "keyed"]
    assert [dict(r.attributes) for r in records] == [{"tenant": "a", "nested": {"tenant": 1}}] * 2
    assert not [found for found in metric.errors() if found[1].startswith("f_keyed") or found == ("log", "log")]
    # A key whose text cannot be made: that call is skipped and counted, nothing raised.
    before = metric.errors().get(("log", "log"), 0)
    metric.log("unkeyed", nested={_Unprintable(): 1})
    metric.increment("f_unkeyed_total", nested={_Unprintable(): 1})
    with metric.timer("f_unkeyed_ms", nested={_Unprintable(): 1}):
        pass
    assert metric.errors()[("log", "log")] == before + 1
    assert metric.errors()[("increment", "f_unkeyed_total")] == metric.errors()[("timer", "f_unkeyed_ms")] == 1


def test_a_name_whose_str_raises_is_counted_under_a_placeholder(reader, caplog):
    """Neither counted nor warned about: making the failure's key text raised, and that was swallowed."""
    placeholder = "(unprintable name)"  # metric.UNPRINTABLE_NAME
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        for _ in range(2):
            metric.increment(_Unprintable())
            metric.gauge(_Unprintable(), 1)
    counts = metric.errors()
    assert counts[("increment", placeholder)] == 2
    assert counts[("gauge", placeholder)] == 2
    warnings = [r.getMessage() for r in caplog.records if placeholder in r.getMessage()]
    refused = "metric name must be a string, got _Unprintable: (its __repr__ raised RuntimeError)"
    assert warnings == [
        f"hms_otel: metric.increment('(unprintable name)') failed and was skipped: {refused}",
        f"hms_otel: metric.gauge('(unprintable name)') failed and was skipped: {refused}",
    ]
    counted = only_point(reader, "hms_otel_facade_errors_total", facade="increment", metric=placeholder)
    assert counted.value == 2


def test_a_huge_metric_name_is_neither_kept_nor_logged_whole(reader, caplog):
    huge = "f_huge" + "a" * 1_000_000 + "_total"
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        metric.increment(huge)
        metric.increment(huge)
    [(facade, kept)] = [key for key in metric.errors() if key[1].startswith("f_huge")]
    assert facade == "increment" and len(kept) == 255 and kept.endswith("...")
    assert metric.errors()[(facade, kept)] == 2
    [warning] = [r.getMessage() for r in caplog.records if "f_huge" in r.getMessage()]
    assert len(warning) < 1000


def test_facades_without_an_sdk_are_silent_no_ops():
    # A fresh interpreter: this process may have an SDK installed by another test.
    code = (
        "from opentelemetry import metrics\n"
        "from hms_otel import metric, sdk\n"
        "@metric.timer('payment_latency_ms')\n"
        "def pay(): return 'paid'\n"
        "assert pay() == 'paid'\n"
        "metric.increment('refund_pdf_total'); metric.gauge('citizen_satisfaction_score', 1)\n"
        "metric.observe('page_load_ms', 5); metric.push('refund_pdf_total', 1); metric.log('nobody listens')\n"
        "assert not sdk.sdk_already_configured(), metrics.get_meter_provider()\n"
        "assert metric.errors() == {}, metric.errors()\n"
        "print('silent')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "silent\n" and result.stderr == ""


@pytest.fixture
def logs():
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    with metric.use(logger_provider=provider):
        yield exporter
    provider.shutdown()


def test_log_emits_an_otel_record(logs):
    metric.log("Payment #123 timed out", level="warning", order_ref="123")
    metric.log("fine")
    metric.log("odd level", level="loud")
    records = [data.log_record for data in logs.get_finished_logs()]
    assert [r.body for r in records] == ["Payment #123 timed out", "fine", "odd level"]
    assert records[0].severity_number is SeverityNumber.WARN
    assert records[0].severity_text == "WARN"
    assert dict(records[0].attributes) == {"order_ref": "123"}
    assert records[1].severity_number is SeverityNumber.INFO
    assert records[0].timestamp is not None


def test_hms_ops_alias_runs_the_tutorial_import():
    import hms_ops
    import hms_otel
    from hms_ops import OPSAgent
    from hms_ops import metric as tutorial_metric

    assert tutorial_metric is metric and OPSAgent is hms_otel.OPSAgent
    assert hms_ops.__version__ == hms_otel.__version__
    from hms_ops.registry import REGISTRY

    assert "payment_latency_ms" in REGISTRY


def test_attribute_names_that_are_parameter_names(reader, logs):
    metric.increment("f_collide_total", 1, value="v", name="n")
    metric.gauge("f_collide_gauge", 2, value="v")
    metric.observe("f_collide_hist", 3, value="v", name="n")
    metric.push("f_collide_total", 1, value="w")
    with metric.timer("f_collide_ms", name="n", value="v"):
        pass
    metric.log("hello", message="m", name="n", value="v")
    assert only_point(reader, "f_collide_total", value="v", name="n").value == 1
    assert only_point(reader, "f_collide_total", value="w").value == 1
    assert only_point(reader, "f_collide_gauge", value="v").value == 2
    assert only_point(reader, "f_collide_hist", value="v", name="n").sum == 3
    assert only_point(reader, "f_collide_ms", value="v", name="n").count == 1
    (record,) = [data.log_record for data in logs.get_finished_logs()]
    assert (record.body, dict(record.attributes)) == ("hello", {"message": "m", "name": "n", "value": "v"})
    assert not [key for key in metric.errors() if key[1].startswith("f_collide")]


def test_declared_counter_is_exported_at_zero_before_any_increment(reader):
    metric.declare("f_declared_total", {"channel": "web"}, {"channel": "app"})
    metric.declare("f_declared_bare_total")
    assert only_point(reader, "f_declared_total", channel="web").value == 0
    assert only_point(reader, "f_declared_total", channel="app").value == 0
    assert only_point(reader, "f_declared_bare_total").value == 0
    metric.increment("f_declared_total", channel="web")
    assert only_point(reader, "f_declared_total", channel="web").value == 1


def test_declared_counters_start_again_in_a_new_provider(reader):
    metric.declare("f_redeclared_total", {"channel": "web"})
    fresh = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[fresh], shutdown_on_exit=False)
    with metric.use(meter_provider=provider):
        pass
    provider.shutdown()
    assert only_point(fresh, "f_redeclared_total", channel="web").value == 0


def test_declaring_what_cannot_start_at_zero_is_a_clear_error():
    with pytest.raises(ValueError, match="only counters and up-down counters start at 0"):
        metric.declare("payment_latency_ms")
    with pytest.raises(ValueError, match="must start with an ASCII letter"):
        metric.declare("9_total")


def test_hms_ops_alias_is_the_same_modules_also_for_later_submodules(tmp_path):
    # A fresh interpreter, hms_ops first: nothing of hms_otel.alerts is loaded yet.
    (tmp_path / "bad.yml").write_text("metric: payment_latency_ms\nwhen: nonsense\n")
    code = (
        "import sys\n"
        "import hms_ops.alerts.compiler\n"
        "import hms_otel.alerts, hms_otel.alerts.compiler, hms_ops.alerts\n"
        "assert hms_ops.alerts is hms_otel.alerts\n"
        "assert hms_ops.alerts.compiler is hms_otel.alerts.compiler\n"
        "assert hms_otel.alerts.compiler.__spec__.name == 'hms_otel.alerts.compiler'\n"
        "aliases = {n for n in sys.modules if n.startswith('hms_ops.')}\n"
        "assert all(sys.modules[n] is sys.modules['hms_otel' + n[7:]] for n in aliases), aliases\n"
        "try:\n"
        f"    hms_otel.alerts.compile_dir({str(tmp_path)!r})\n"
        "except hms_ops.alerts.AlertsInvalid:\n"
        "    print('caught')\n"
        "try:\n"
        "    import hms_ops.no_such_module\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["caught", "No module named 'hms_ops.no_such_module'"]


# Values of every kind an application may pass: what a facade cannot record is
# skipped, logged once and counted, and nothing can poison later exports.
_ODD_VALUES_APP = """
import sys
from decimal import Decimal
from fractions import Fraction
from hms_otel import OPSAgent, metric
agent = OPSAgent(port=None).start()
metric.gauge("f_flag", True)                      # a bool: the OTLP encoder refuses it as int64
metric.increment("f_huge_total", 2**63)           # past int64
metric.increment("f_money_total", 1)
metric.increment("f_money_total", Decimal("2.5"))  # Decimal + float used to fail the fold
metric.increment("f_money_total", 0.5)
metric.increment("f_money_total", Fraction(1, 2))
metric.observe("f_odd_ms", 10**400)               # finite int, too big for a float
metric.observe("f_odd_ms", 4)
for bad in (float("nan"), float("inf"), -1, "5", None, 1j, object()):
    metric.increment("f_bad_total", bad)
metric.increment("f_bad_total", 3)
class Reading:                                    # a value object whose conversion fails its own way
    def __float__(self):
        raise RuntimeError("sensor offline")
for i in range(300):                              # a fold takes 256 values: the bad ones land in a batch
    metric.increment("f_sensor_total", 1)
    metric.observe("f_sensor_ms", 2)
    if i == 150:
        metric.increment("f_sensor_total", Reading())
        metric.increment("f_sensor_total", None)
        metric.observe("f_sensor_ms", Reading())
agent.flush()
print(sorted(metric.errors().items()))
agent.stop()
"""


def test_odd_values_never_stop_export_and_are_counted(otlp_receiver):
    result = subprocess.run(
        [sys.executable, "-c", _ODD_VALUES_APP], env=_env(otlp_receiver.endpoint),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "EncodingException" not in result.stderr and "Exception while exporting" not in result.stderr
    assert otlp_receiver.latest("f_flag").gauge.data_points[0].as_int == 1
    assert otlp_receiver.latest("f_huge_total").sum.data_points[0].as_double == float(2**63)
    assert otlp_receiver.latest("f_money_total").sum.data_points[0].as_double == 4.5
    odd = otlp_receiver.latest("f_odd_ms").histogram.data_points[0]
    assert (odd.count, odd.sum) == (1, 4)
    assert otlp_receiver.latest("f_bad_total").sum.data_points[0].as_int == 3
    assert "('increment', 'f_bad_total'), 7)" in result.stdout
    assert "('observe', 'f_odd_ms'), 1)" in result.stdout
    # A conversion raising RuntimeError lost the good values folded with it, uncounted.
    assert otlp_receiver.latest("f_sensor_total").sum.data_points[0].as_int == 300
    sensor = otlp_receiver.latest("f_sensor_ms").histogram.data_points[0]
    assert (sensor.count, sensor.sum) == (300, 600)
    assert "('increment', 'f_sensor_total'), 2)" in result.stdout
    assert "('observe', 'f_sensor_ms'), 1)" in result.stdout


@pytest.mark.parametrize("kind", [Kind.COUNTER, Kind.HISTOGRAM])
def test_a_fold_keeps_the_values_popped_before_one_that_raises(monkeypatch, caplog, kind):
    """Defence in depth: whatever one value raises inside a fold, the values
    folded before it are kept, those after it stay pending, and it is said."""
    definition = REGISTRY.resolve(f"f_fold_{kind.name.lower()}", kind)
    stream = _fastpath._Stream(definition, SimpleNamespace(add=None, record=None), ("tests", None))
    series = stream.series_for({})
    series.hot = True
    unreadable = object()
    checked = _fastpath.measurement

    def measurement(value):
        if value is unreadable:
            raise RuntimeError("a bug in measurement()")
        return checked(value)

    monkeypatch.setattr(_fastpath, "measurement", measurement)
    series.pending.extend([1, 2, unreadable, 4])
    with caplog.at_level(logging.WARNING, logger="hms_otel"):
        series.fold()
        series.fold()
    point = series.point(0)
    assert (point.value if kind is Kind.COUNTER else point.sum) == 7
    assert [r.getMessage() for r in caplog.records if "folding failed" in r.getMessage()] == [
        f"hms_otel: metric {definition.name}: folding failed: RuntimeError('a bug in measurement()')"
    ]


def test_odd_values_on_the_sdk_path(reader):
    metric.gauge("f_sdk_flag", True)
    metric.increment("f_sdk_total", 2)
    for bad in (float("nan"), -1, "5", None):
        metric.increment("f_sdk_total", bad)
    assert only_point(reader, "f_sdk_flag").value == 1 and type(only_point(reader, "f_sdk_flag").value) is int
    assert only_point(reader, "f_sdk_total").value == 2  # a NaN would have made the cumulative sum NaN for good
    assert metric.errors()[("increment", "f_sdk_total")] == 4


def _env(endpoint: str) -> dict[str, str]:
    from .conftest import app_env

    return app_env(endpoint)


_CARDINALITY_APP = """
import resource
from hms_otel import OPSAgent, _fastpath, metric
agent = OPSAgent(port=None).start()
for index in range(6000):
    metric.increment("f_ids_total", user=f"user-{index}")
stream = _fastpath._streams[(_fastpath.FACADE_SCOPE, "f_ids_total")]
print("kept", len(stream.series))
agent.flush()
agent.stop()
"""


def test_unique_attribute_values_do_not_grow_the_process(otlp_receiver, reader):
    # The plain SDK's path keeps no more series either.
    for index in range(6000):
        metric.increment("f_sdk_ids_total", user=f"user-{index}")
    stream = _fastpath._streams[(_fastpath.FACADE_SCOPE, "f_sdk_ids_total")]
    assert len(stream.series) <= 2 * _fastpath.CARDINALITY_LIMIT
    assert sum(point.value for point in points(reader, "f_sdk_ids_total")) == 6000

    result = subprocess.run(
        [sys.executable, "-c", _CARDINALITY_APP], env=_env(otlp_receiver.endpoint),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split("kept ")[1].split()[0]) <= 2 * _fastpath.CARDINALITY_LIMIT
    exported = otlp_receiver.latest("f_ids_total").sum.data_points
    overflow = [p for p in exported if attributes_of(p).get("otel.metric.overflow")]
    assert len(exported) == _fastpath.CARDINALITY_LIMIT + 1
    assert overflow and overflow[0].as_int == 6000 - _fastpath.CARDINALITY_LIMIT


def test_list_and_mapping_attribute_values_are_recorded_not_raised(reader):
    # Valid OpenTelemetry attribute values, but unhashable: the facades' caches must not choke on them.
    with metric.timer("f_tags_ms", tags=["a", "b"]):
        pass
    with metric.timer("f_tags_ms", extra={"k": "v"}):
        pass
    metric.timer("f_tags_ms", tags=["c"])(lambda: None)()
    metric.increment("f_tags_total", tags=["a", "b"])
    metric.increment("f_tags_total", tags=["a", "b"])
    metric.gauge("f_tags_gauge", 2, extra={"k": "v"})
    assert only_point(reader, "f_tags_ms", tags=("a", "b")).count == 1
    assert only_point(reader, "f_tags_ms", tags=("c",)).count == 1
    assert only_point(reader, "f_tags_ms", extra={"k": "v"}).count == 1
    assert only_point(reader, "f_tags_total", tags=("a", "b")).value == 2
    assert only_point(reader, "f_tags_gauge", extra={"k": "v"}).value == 2
    assert not [key for key in metric.errors() if key[1].startswith("f_tags")]


def test_long_bytes_and_strings_in_sequences_are_cut_where_recorded(reader):
    """Only str values were cut: a 1 MB bytes or list value was kept whole for each series."""
    limit = value_length_limit()
    blob, text = b"b" * 1_000_000, "s" * 1_000_000
    metric.increment("f_blob_total", note=blob)
    metric.increment("f_blob_total", note=["short", text])
    metric.increment("f_blob_total", note=("short", (text,), {"k": text}))
    with metric.timer("f_blob_ms", note=blob):
        pass
    notes = sorted((dict(p.attributes)["note"] for p in points(reader, "f_blob_total")), key=repr)
    assert [type(note) for note in notes] == [tuple, tuple, bytes]
    cut_bytes, (short, cut_text), (short_too, (nested,), mapping) = notes[2], notes[0], notes[1]
    assert len(cut_bytes) == limit and cut_bytes.startswith(b"bbb") and b"[cut 1000000 bytes #" in cut_bytes
    assert short == short_too == "short"
    assert len(cut_text) == len(nested) == len(mapping["k"]) == limit and "[cut 1000000 chars #" in cut_text
    assert len(dict(only_point(reader, "f_blob_ms", note=cut_bytes).attributes)["note"]) == limit
    assert not [key for key in metric.errors() if key[1].startswith("f_blob")]


def test_a_bytearray_or_memoryview_is_recorded_as_bytes_and_cut_alike(reader):
    """The SDK turned a bytearray into a tuple of ints, one item per byte and not cut, kept in every series."""
    limit = value_length_limit()
    metric.increment("f_raw_total", raw=bytearray(b"abc"))
    metric.increment("f_raw_total", raw=memoryview(b"abc"))
    metric.increment("f_raw_total", raw=bytearray(b"r" * 1_000_000))
    assert only_point(reader, "f_raw_total", raw=b"abc").value == 2
    [cut] = [dict(p.attributes)["raw"] for p in points(reader, "f_raw_total") if dict(p.attributes)["raw"] != b"abc"]
    assert type(cut) is bytes and len(cut) == limit and b"[cut 1000000 bytes #" in cut
    assert not [key for key in metric.errors() if key[1].startswith("f_raw")]


def test_an_int_attribute_past_int64_is_recorded_as_text(reader):
    """The OTLP encoder dropped it with a traceback: two points without attributes, nothing counted."""
    metric.increment("f_shard_total", 1, shard=2**64)
    metric.increment("f_shard_total", 1, shard=-(2**63))  # the least int64: kept as an int
    metric.increment("f_shard_total", 1, shards=[1, 2**70])
    with metric.timer("f_shard_ms", shard=10**5000):  # past Python's 4300 digits for str(): in hex
        pass
    assert only_point(reader, "f_shard_total", shard="18446744073709551616").value == 1
    assert only_point(reader, "f_shard_total", shard=-(2**63)).value == 1
    assert only_point(reader, "f_shard_total", shards=(1, "1180591620717411303424")).value == 1
    [point] = points(reader, "f_shard_ms")
    assert dict(point.attributes)["shard"].startswith("0x") and len(dict(point.attributes)["shard"]) <= 4096
    assert not [key for key in metric.errors() if key[1].startswith("f_shard")]
    assert attribute_value(2**64) == "18446744073709551616"  # the hooks engine records it alike


def test_log_takes_the_stdlib_level_numbers(logs):
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 5, 35, 99):
        metric.log("numbered", level=level)
    severities = [data.log_record.severity_number for data in logs.get_finished_logs()]
    assert severities == [
        SeverityNumber.DEBUG, SeverityNumber.INFO, SeverityNumber.WARN, SeverityNumber.ERROR,
        SeverityNumber.FATAL, SeverityNumber.TRACE, SeverityNumber.WARN, SeverityNumber.FATAL,
    ]


def test_an_unknown_level_is_recorded_as_info_and_said_once(logs, caplog):
    """`level="WARNIGN"` was recorded as INFO without a word."""
    for _ in range(3):
        metric.log("typo", level="WARNIGN")
    records = [data.log_record for data in logs.get_finished_logs()]
    assert [r.severity_number for r in records] == [SeverityNumber.INFO] * 3
    said = [r.getMessage() for r in caplog.records if "WARNIGN" in r.getMessage()]
    assert len(said) == 1
    assert "metric.log(level='WARNIGN') is not a level: recorded as INFO" in said[0]
    assert "warning" in said[0] and "error" in said[0]


@pytest.fixture
def stderr_closed(monkeypatch):
    """sys.stderr closed and no logging handler: logging's last resort writes the warning there, and raises."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    monkeypatch.setattr(logging.getLogger("hms_otel"), "handlers", [])
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's capture handlers: the last resort runs


def test_an_unknown_level_with_stderr_closed_still_emits_the_record(logs, monkeypatch, stderr_closed):
    """With no handler, logging's last resort wrote the one-time warning on the closed stderr and raised: the
    first record was lost (counted as a log failure)."""
    monkeypatch.setattr(metric, "_warned_levels", set())
    before = metric.errors().get(("log", "log"), 0)
    metric.log("typo with stderr closed", level="WARNIGN")
    assert [data.log_record.body for data in logs.get_finished_logs()] == ["typo with stderr closed"]
    assert metric.errors().get(("log", "log"), 0) == before


def test_a_drop_with_stderr_closed_is_still_counted(reader, monkeypatch, stderr_closed):
    """The one-time warning came first; with no handler it raised from logging's last resort, and the drop
    it announced went uncounted."""
    from hms_otel import selfmetrics

    monkeypatch.setattr(selfmetrics, "_warned", set())
    selfmetrics.count_dropped("test_signal", "stderr_closed", 3)
    points = [point for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
              for found in sm.metrics if found.name == selfmetrics.DROPPED.name for point in found.data.data_points
              if point.attributes.get("reason") == "stderr_closed"]
    assert [point.value for point in points] == [3]
