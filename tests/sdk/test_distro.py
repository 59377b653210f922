"""`opentelemetry-instrument python app.py` with the HMS distro, in subprocesses."""

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from fractions import Fraction

import pytest

from hms_otel.stack.processes import free_port

from ..support import APPS, OPENTELEMETRY_INSTRUMENT, eventually, instrumented_argv
from .conftest import app_env, run_instrumented
from .otlp_receiver import attributes_of


def sum_value(receiver, name, **attributes):
    metric = receiver.latest(name)
    if metric is None:
        return None
    data = getattr(metric, metric.WhichOneof("data"))
    return sum(
        getattr(p, "as_int", 0) or getattr(p, "as_double", 0) or getattr(p, "count", 0)
        for p in data.data_points
        if attributes_of(p) == attributes
    )


def test_entry_points_export_metrics_and_logs_over_otlp_grpc(otlp_receiver):
    result = run_instrumented("quickstart.py", app_env(otlp_receiver.endpoint), "7")
    assert result.returncode == 0, result.stderr
    assert "sent 7" in result.stdout

    histogram = eventually(lambda: otlp_receiver.latest("payment_latency_ms"), 20, "payment_latency_ms")
    point = histogram.histogram.data_points[0]
    assert histogram.unit == "ms" and point.count == 7
    assert list(point.explicit_bounds)[:3] == [5.0, 10.0, 25.0]
    # cumulative, as both Prometheus paths need
    assert histogram.histogram.aggregation_temporality == 2
    assert sum_value(otlp_receiver, "refund_pdf_total") == 7

    records = eventually(otlp_receiver.log_records, 20, "log records")
    bodies = {record.body.string_value: (resource, record) for resource, record in records}
    resource, record = bodies["Payment #123 timed out"]
    assert record.severity_text == "WARN" and record.time_unix_nano > 0
    assert attributes_of(record)["order_ref"] == "123"
    assert resource["service.name"] == "quickstart"
    assert resource["deployment.environment"] == "local"
    assert "stdlib logging reaches OTel too" in bodies  # Python logging is bridged


def test_otel_variables_win_over_hms_defaults(otlp_receiver):
    env = app_env(
        otlp_receiver.endpoint,
        OTEL_SERVICE_NAME="renewals",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=prod,team=licensing",
        OTEL_LOGS_EXPORTER="none",
        HMS_LAYER="ACH",
    )
    result = run_instrumented("quickstart.py", env, "2")
    assert result.returncode == 0, result.stderr
    eventually(lambda: otlp_receiver.latest("refund_pdf_total"), 20, "refund_pdf_total")
    resource = otlp_receiver.metrics()[-1][0]
    assert resource["service.name"] == "renewals"
    assert resource["deployment.environment"] == "prod"
    assert resource["team"] == "licensing"
    assert resource["hms.layer"] == "ACH"
    assert otlp_receiver.log_records() == []  # OTEL_LOGS_EXPORTER=none was honoured


def test_http_protocol_is_honoured(tmp_path):
    # Nothing listens on this port: the app must still run and exit quickly.
    env = app_env("http://127.0.0.1:9", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    result = run_instrumented("quickstart.py", env, "1", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "port=9" in result.stderr and "/v1/metrics" in result.stderr  # the HTTP exporter was chosen


@pytest.mark.parametrize("target", ["refused", "blackhole"])
def test_unreachable_collector_never_blocks_the_app(target):
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)  # accepts nothing: the kernel queues one connection, then silence
        port = blackhole.getsockname()[1] if target == "blackhole" else 1
        # Each export attempt may wait 60 s, so a shutdown that waited for the
        # exporter would outlast the 30 s limit below; HMS_OTEL_SHUTDOWN_TIMEOUT
        # must cut it to about 1 s.
        env = app_env(
            f"http://127.0.0.1:{port}", OTEL_METRIC_EXPORT_INTERVAL="200", OTEL_EXPORTER_OTLP_TIMEOUT="60",
            HMS_OTEL_SHUTDOWN_TIMEOUT="1",
        )
        started = time.monotonic()
        result = run_instrumented("quickstart.py", env, "200", timeout=30)
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "sent 200" in result.stdout
    print(f"{target}: run + exit took {elapsed:.2f} s")


def test_export_never_runs_on_the_callers_thread():
    code = """
import threading
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
threads = set()
original = OTLPMetricExporter.export
def spy(self, *args, **kwargs):
    threads.add(threading.current_thread().name)
    return original(self, *args, **kwargs)
OTLPMetricExporter.export = spy
from hms_otel import OPSAgent, metric
agent = OPSAgent(port=None, service_name="thread-check").start()
@metric.timer("payment_latency_ms")
def pay():
    pass
for _ in range(50):
    pay()
agent.flush()
agent.stop()
assert threads, "nothing was exported"
assert "MainThread" not in threads, threads
print("export threads:", sorted(threads))
"""
    env = app_env("http://127.0.0.1:1", OTEL_METRIC_EXPORT_INTERVAL="100", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "MainThread" not in result.stdout.split("export threads:")[1]


def test_fork_child_exports_its_own_data_once(otlp_receiver):
    result = run_instrumented("fork_app.py", app_env(otlp_receiver.endpoint))
    assert result.returncode == 0, result.stderr
    assert "exited 0" in result.stdout

    def by_instance():
        seen = {}
        for resource, metric in otlp_receiver.metrics():
            if metric.name == "refund_pdf_total":
                seen[resource["service.instance.id"]] = metric.sum.data_points[0].as_int
        return seen if len(seen) == 2 else None

    values = eventually(by_instance, 20, "data from parent and child")
    # The parent's 5 and the child's own 3; the child did not re-send the parent's 5.
    assert sorted(values.values()) == [3, 5]
    child_logs = [r for _, r in otlp_receiver.log_records() if r.body.string_value == "from the child"]
    assert len(child_logs) == 1


@pytest.mark.parametrize("start_method, pool", [
    ("fork", False), ("forkserver", False),
    # An open bug, not a slow test: when Pool.__exit__ terminates the workers (SIGTERM), a worker's data is
    # sometimes lost (2 of 12 runs in round 14). Kept running so a fix shows as XPASS; see the round 14 note.
    pytest.param("fork", True, marks=pytest.mark.xfail(strict=False, reason="Pool.terminate() race loses a "
                                                        "worker's data in about 1 run in 6")),
])
def test_multiprocessing_child_flushes_when_it_ends(otlp_receiver, start_method, pool):
    # No export interval passes in the child: its data arrive only through the flush at its end.
    env = app_env(otlp_receiver.endpoint, OTEL_METRIC_EXPORT_INTERVAL="600000", OTEL_BLRP_SCHEDULE_DELAY="600000")
    result = run_instrumented("multiprocessing_app.py", env, start_method, *(["pool"] if pool else []))
    assert result.returncode == 0, result.stderr
    assert ("pool done" if pool else "child exited 0") in result.stdout
    tasks = 2 if pool else 1

    def by_instance():
        seen = {}
        for resource, metric in otlp_receiver.metrics():
            if metric.name == "refund_pdf_total":
                seen[resource["service.instance.id"]] = metric.sum.data_points[0].as_int
        return seen if sum(seen.values()) >= 5 + 3 * tasks else None

    values = eventually(by_instance, 20, "data from parent and children")
    # The parent's 5 and the children's own 3 per task; no child re-sent the parent's 5.
    assert 5 in values.values() and sum(values.values()) == 5 + 3 * tasks
    child_logs = [r for _, r in otlp_receiver.log_records() if r.body.string_value == "from the multiprocessing child"]
    assert len(child_logs) == tasks


def test_child_stopped_while_reset_after_fork_does_not_send_the_parents_data(otlp_receiver):
    result = run_instrumented("fork_sigterm_app.py", app_env(otlp_receiver.endpoint))
    assert result.returncode == 0, result.stderr
    assert f"child exited {-signal.SIGTERM}" in result.stdout

    def by_instance():
        seen = {}
        for resource, metric in otlp_receiver.metrics():
            if metric.name == "refund_pdf_total":
                seen[resource["service.instance.id"]] = metric.sum.data_points[0].as_int
        return seen or None

    eventually(by_instance, 20, "the parent's data")
    # The parent's exit flush ends the run, so everything the child could have sent is here by now.
    assert list(by_instance().values()) == [5], "the child sent the parent's points as its own"


def test_sigterm_during_the_exit_flush_waits_for_it(otlp_receiver):
    # Pool.terminate() signals workers that are already ending: the SIGTERM flush found the exit flush
    # under way, returned at once, and the default disposition killed the process in the middle of it.
    env = app_env(
        otlp_receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BLRP_SCHEDULE_DELAY="600000",
        HMS_OTEL_SHUTDOWN_TIMEOUT="20",
    )
    otlp_receiver.hold_logs = threading.Event()  # the exit flush sends logs first, then metrics
    with subprocess.Popen(instrumented_argv("exit_flush_app.py", ["4"]), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as app:
        try:
            assert otlp_receiver.held.wait(30), "the exit flush never sent its logs"
            app.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the handler's turn; without the fix the process is dead by now
            otlp_receiver.hold_logs.set()
            out, err = app.communicate(timeout=30)
        finally:
            otlp_receiver.hold_logs.set()
            app.kill()
    assert "ready" in out, err
    assert app.returncode == -signal.SIGTERM, err  # still dies the way SIGTERM's default would
    assert eventually(lambda: sum_value(otlp_receiver, "refund_pdf_total"), 20, "refund_pdf_total") == 4


def test_ops_agent_serves_prometheus_text_with_contract_names():
    port = free_port()
    env = app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    with subprocess.Popen(
        [sys.executable, str(APPS / "agent_app.py"), str(port)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as app:
        try:
            url = app.stdout.readline().strip()
            assert url == f"http://127.0.0.1:{port}/metrics"
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            app.stdin.write("\n")
            app.stdin.flush()
            out, err = app.communicate(timeout=20)
        finally:
            app.kill()
    assert 'payment_latency_ms_bucket{le="2000.0"} 4.0' in text
    assert "payment_latency_ms_count 4.0" in text
    assert "refund_pdf_total 2.0" in text
    assert "_milliseconds" not in text and "_total_total" not in text
    assert "stopped" in out, err


def test_ops_agent_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = f"from hms_otel import OPSAgent\nOPSAgent(port={port}).start()"
        result = subprocess.run(
            [sys.executable, "-c", code], env=app_env("http://127.0.0.1:1"), capture_output=True, text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in result.stderr
    assert "OPSAgent(port=...)" in result.stderr


def test_agent_under_opentelemetry_instrument_does_not_configure_twice(otlp_receiver, tmp_path):
    app = tmp_path / "twice.py"
    app.write_text(
        "from hms_otel import OPSAgent, metric, sdk\n"
        "agent = OPSAgent(port=None).start()\n"
        "assert agent._providers is None, 'configured a second pipeline'\n"
        "metric.increment('refund_pdf_total', 4)\n"
        "agent.stop()\n"
    )
    result = subprocess.run(
        instrumented_argv(app),
        env=app_env(otlp_receiver.endpoint), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    eventually(lambda: otlp_receiver.latest("refund_pdf_total"), 20, "refund_pdf_total")
    values = [m.sum.data_points[0].as_int for _, m in otlp_receiver.metrics() if m.name == "refund_pdf_total"]
    assert set(values) == {4}


def test_exporter_failures_are_not_fed_back_into_the_log_pipeline():
    code = (
        "import logging, time\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "from hms_otel import metric\n"
        "metric.increment('refund_pdf_total')\n"
        "logging.getLogger('app').warning('the app speaks')\n"
        "time.sleep(1.5)\n"
    )
    env = app_env(
        "http://127.0.0.1:1", OTEL_LOGS_EXPORTER="console", OTEL_METRIC_EXPORT_INTERVAL="200",
        HMS_OTEL_SHUTDOWN_TIMEOUT="1",
    )
    result = subprocess.run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable, "-c", code],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Transient error" in result.stderr or "Failed to export" in result.stderr  # the failures happened
    exported = result.stdout
    assert '"body": "the app speaks"' in exported
    assert "Failed to export" not in exported and "Transient error" not in exported


@pytest.mark.parametrize(
    ("port", "env", "named"),
    [
        (-1, "", "OPSAgent(port=-1)"),
        (70000, "", "OPSAgent(port=70000)"),
        ("8009", "", "OPSAgent(port='8009')"),
        (8009.0, "", "OPSAgent(port=8009.0)"),
    ],
)
def test_ops_agent_port_out_of_range_is_a_clear_error_before_set_up(monkeypatch, port, env, named):
    from hms_otel import OPSAgent, sdk

    monkeypatch.setenv("HMS_OPSAGENT_PORT", env)
    before = sdk.installed()
    with pytest.raises(ValueError, match="is not a port number") as raised:
        OPSAgent(port=port).start()
    assert str(raised.value).startswith(named), raised.value
    assert sdk.installed() is before  # nothing was set up


@pytest.mark.parametrize("timeout", ["abc", "2", b"2", True, [2], object()])
def test_an_ops_agent_shutdown_timeout_that_is_no_number_is_a_clear_error_at_construction(timeout):
    """`shutdown_timeout="abc"` raised a TypeError from inside sdk._seconds at flush() or stop(), naming nothing."""
    from hms_otel import OPSAgent

    with pytest.raises(TypeError, match=r"^OPSAgent\(shutdown_timeout=.*\) is not a number of seconds"):
        OPSAgent(port=None, shutdown_timeout=timeout)


@pytest.mark.parametrize(("timeout", "kept"), [(None, None), (0, 0.0), (2, 2.0), (0.5, 0.5), (Fraction(1, 4), 0.25)])
def test_an_ops_agent_shutdown_timeout_that_is_a_number_is_kept_as_seconds(timeout, kept):
    from hms_otel import OPSAgent

    assert OPSAgent(port=None, shutdown_timeout=timeout).shutdown_timeout == kept


@pytest.mark.parametrize("env", ["abc", "-1", "0x10", "99999", "22011.0"])
def test_an_invalid_ops_agent_port_variable_is_ignored_with_one_warning(monkeypatch, capsys, env):
    """It raised out of start(), killing the tutorial's app; now the port= argument is used (here an invalid
    one, so that start() stops before setting anything up, naming the argument)."""
    from hms_otel import OPSAgent

    monkeypatch.setenv("HMS_OPSAGENT_PORT", env)
    with pytest.raises(ValueError, match=r"^OPSAgent\(port=-1\) is not a port number"):
        OPSAgent(port=-1).start()
    assert capsys.readouterr().err.startswith(f"hms_otel: warning: HMS_OPSAGENT_PORT={env!r} is not a port number")


def test_an_agent_with_an_invalid_port_variable_serves_on_its_argument():
    code = (
        "from hms_otel import OPSAgent\n"
        "agent = OPSAgent(port=0, service_name='bad-port').start()\n"
        "print(agent.metrics_url is not None)\n"
        "agent.stop()\n"
    )
    env = {**app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1"), "HMS_OPSAGENT_PORT": "abc"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert "HMS_OPSAGENT_PORT='abc' is not a port number" in result.stderr


_START_TWICE = """
import sys, urllib.request
from hms_otel import OPSAgent
def serving(url):
    try:
        return urllib.request.urlopen(url, timeout=5).status == 200
    except OSError:
        return False
port = int(sys.argv[1])
keeper = OPSAgent(port=None).start()                         # keeps the pipeline up, so a restart can work
agent = OPSAgent(port=port, service_name="twice")
assert agent.start() is agent
url = agent.metrics_url
assert agent.start() is agent and agent.metrics_url == url   # the same server, not a second one
assert serving(url)
agent.stop()
assert not serving(url), "a /metrics server outlived stop()"
agent.start()                                                # stop() then start() serves again
assert serving(agent.metrics_url)
agent.stop()
keeper.stop()
print("ok")
"""


_STOP_ONE_OF_TWO = """
from hms_otel import OPSAgent, metric
first = OPSAgent(port=None).start()
second = OPSAgent(port=None).start()
metric.increment("agents_before_total")
first.stop()                                   # second is still started: the pipeline goes on for it
metric.increment("agents_after_total")
metric.log("after the first stop")
first.start()                                  # and a stopped agent may start again
metric.increment("agents_restarted_total")
print("flush", second.flush())
first.stop()
second.stop()                                  # the last one: the pipeline is shut down for good
try:
    first.start()
except RuntimeError as error:
    print("refused:", error)
"""


def test_stopping_one_agent_leaves_the_others_pipeline_and_a_restart_after_the_last_is_refused(otlp_receiver):
    """stop() shut the providers down for every agent of the process, and a start() after it exported nothing
    ("A shutdown MeterProvider can not provide a Meter", flush() False, logs dropped as after_shutdown)."""
    env = app_env(otlp_receiver.endpoint, OTEL_METRIC_EXPORT_INTERVAL="60000", HMS_OTEL_SHUTDOWN_TIMEOUT="5")
    result = subprocess.run([sys.executable, "-c", _STOP_ONE_OF_TWO], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "flush True" in result.stdout, result.stdout + result.stderr
    assert "refused: OPSAgent cannot start: this process's telemetry pipeline was shut down" in result.stdout
    assert "shutdown" not in result.stderr.lower(), result.stderr
    for name in ("agents_before_total", "agents_after_total", "agents_restarted_total"):
        assert otlp_receiver.latest(name) is not None, name
    assert [r for _, r in otlp_receiver.log_records() if r.body.string_value == "after the first stop"]


@pytest.mark.parametrize("fixed", [False, True])
def test_a_second_start_of_a_started_agent_does_nothing(fixed):
    """A second start() left a /metrics server no stop() could reach (port 0), or failed with "Address already
    in use" on its own port."""
    port = free_port() if fixed else 0
    env = app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    env.pop("HMS_OPSAGENT_PORT", None)
    result = subprocess.run([sys.executable, "-c", _START_TWICE, str(port)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


_FAILED_STARTS = """
import socket, urllib.request
from opentelemetry import metrics
from hms_otel import OPSAgent, _sdk_internals
keeper = OPSAgent(port=None).start()
provider = metrics.get_meter_provider()
before = len(_sdk_internals.metric_readers(provider))
with socket.socket() as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    for _ in range(3):                               # an app trying its port again, or port after port
        try:
            OPSAgent(port=taken.getsockname()[1]).start()
        except OSError:
            pass
print("readers added", len(_sdk_internals.metric_readers(provider)) - before)
for host in ("10.255.255.1", "nonexistent.invalid"):
    try:
        OPSAgent(port=0, host=host).start()
    except OSError as error:
        print(error)
six = OPSAgent(port=0, host="::1").start()
print(six.metrics_url.startswith("http://[::1]:"), urllib.request.urlopen(six.metrics_url, timeout=10).status)
six.stop()
keeper.stop()
"""


def test_a_start_that_cannot_serve_leaves_nothing_behind_and_names_what_to_fix():
    """Each failed start() left its /metrics reader on the meter provider: a copy of every series kept and
    every measurement slower, once more per attempt. An IPv6 host failed ("Address family for hostname not
    supported"), and a host of another machine was told to "pass another port"."""
    env = app_env("http://127.0.0.1:1", HMS_OTEL_SHUTDOWN_TIMEOUT="1")
    env.pop("HMS_OPSAGENT_PORT", None)
    result = subprocess.run([sys.executable, "-c", _FAILED_STARTS], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "readers added 0", result.stdout
    for line, host in zip(lines[1:3], ("10.255.255.1", "nonexistent.invalid"), strict=True):
        assert line.startswith(f"OPSAgent cannot serve /metrics on {host}:0: "), line
        assert f"host={host!r} must be a name or address of this machine" in line, line
    assert lines[3] == "True 200", result.stdout + result.stderr
