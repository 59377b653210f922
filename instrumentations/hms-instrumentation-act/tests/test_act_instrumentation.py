"""ActInstrumentor on the hms_act stand-in: activities in flight and activities that failed."""

from __future__ import annotations

import inspect
import threading

from hms_act import Orchestrator
from hms_instrumentation_act import ActInstrumentor

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINAL = Orchestrator.__dict__["run_activity"]


class ActivityFailed(Exception):
    pass


def fail() -> None:
    raise ActivityFailed("no signature")


class TestActInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        ActInstrumentor().instrument()

    def tearDown(self) -> None:
        ActInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metrics(self) -> None:
        orchestrator = Orchestrator()
        started, release = threading.Event(), threading.Event()

        def blocking() -> str:
            started.set()
            release.wait(10)
            return "done"

        worker = threading.Thread(target=orchestrator.run_activity, args=("renewal", blocking))
        worker.start()
        self.assertTrue(started.wait(10))
        self.assertEqual(orchestrator.run_activity("renewal", lambda a, b: a + b, 40, 2), 42)
        with self.assertRaisesRegex(ActivityFailed, "no signature"):
            orchestrator.run_activity("refund", fail)

        for name in ("activities_pending", "activities_error_total"):
            self.assert_contract(name)
        self.assertEqual(self.value("activities_pending", workflow="renewal"), 1)
        self.assertEqual(self.value("activities_pending", workflow="refund"), 0)
        release.set()
        worker.join(10)
        self.assertEqual(self.value("activities_pending", workflow="renewal"), 0)
        self.assertEqual(self.value("activities_error_total", workflow="refund", **{"error.type": "ActivityFailed"}), 1)
        self.assertEqual(len(self.points("activities_error_total")), 2)  # and the series started at 0

    def test_callable_is_unchanged(self) -> None:
        self.assertIs(Orchestrator.__dict__["run_activity"].__wrapped__, ORIGINAL)
        self.assertEqual(inspect.signature(Orchestrator.run_activity), inspect.signature(ORIGINAL))
        self.assertEqual(Orchestrator.run_activity.__doc__, ORIGINAL.__doc__)

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        class Unprintable:
            def __str__(self) -> str:
                raise RuntimeError("cannot print")

        with self.assertLogs("hms_otel.hooks", "WARNING") as logs:
            for _ in range(2):
                self.assertEqual(Orchestrator().run_activity(Unprintable(), lambda: "ran"), "ran")
        self.assertEqual(len(logs.records), 1)
        self.assertEqual(self.value("activities_pending"), 0)  # +1 and -1 both without the broken attribute

    def test_uninstrument_restores_the_original(self) -> None:
        ActInstrumentor().uninstrument()
        self.assertIs(Orchestrator.__dict__["run_activity"], ORIGINAL)
        ActInstrumentor().instrument()


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_act.orchestrator:Orchestrator.run_activity", "hms_esq.checks:ComplianceChecker.check"]
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_act")
    assert disabled == {targets[0]: False, targets[1]: True}
