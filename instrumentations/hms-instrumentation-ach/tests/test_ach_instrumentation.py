"""AchInstrumentor on the hms_ach stand-in: every contract metric, and the call left as it was."""

from __future__ import annotations

import inspect
import os
from types import SimpleNamespace
from unittest import mock

import hms_ach
from hms_ach.clearing import Clearinghouse
from hms_instrumentation_ach import AchInstrumentor

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINALS = {name: Clearinghouse.__dict__[name] for name in ("submit_batch", "flag", "_review_reason")}


class TestAchInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        AchInstrumentor().instrument()

    def tearDown(self) -> None:
        AchInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metrics(self) -> None:
        house = Clearinghouse(limit_cents=10_000)
        batch = hms_ach.Batch(
            "dmv", [hms_ach.Payment("p1", 500), hms_ach.Payment("p2", 50_000), hms_ach.Payment("p1", 5)]
        )
        self.assertEqual(house.submit_batch(batch), hms_ach.ClearingResult(accepted=1, flagged=2))
        with self.assertRaisesRegex(hms_ach.ClearingError, "empty batch from irs"):
            house.submit_batch(hms_ach.Batch("irs", []))

        for name in ("ach_latency_ms", "ach_batch_size", "ach_flagged_total"):
            self.assert_contract(name)
        self.assertEqual(self.value("ach_latency_ms", agency="dmv", outcome="ok")[0], 1)
        self.assertEqual(self.value("ach_latency_ms", agency="irs", outcome="error")[0], 1)
        self.assertEqual(self.value("ach_batch_size", agency="dmv"), (1, 3))
        self.assertEqual(self.value("ach_batch_size", agency="irs"), (1, 0))
        self.assertEqual(self.value("ach_flagged_total", agency="dmv", reason="over_limit"), 1)
        self.assertEqual(self.value("ach_flagged_total", agency="dmv", reason="duplicate"), 1)
        self.assertEqual(len(self.points("ach_flagged_total")), 3)
        # Exported at 0 from instrument(): the counter's series without attributes.
        self.assertEqual(self.value("ach_flagged_total"), 0)

    def test_callable_is_unchanged(self) -> None:
        wrapped = Clearinghouse.submit_batch
        original = ORIGINALS["submit_batch"]
        self.assertIs(Clearinghouse.__dict__["submit_batch"].__wrapped__, original)
        self.assertEqual(inspect.signature(wrapped), inspect.signature(original))
        self.assertEqual(
            (wrapped.__name__, wrapped.__doc__, wrapped.__qualname__),
            (original.__name__, original.__doc__, original.__qualname__),
        )

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        # A batch-like object without an agency: the attribute is dropped, logged once.
        batch = SimpleNamespace(entries=[hms_ach.Payment("p9", 1)])
        with self.assertLogs("hms_otel.hooks", "WARNING") as logs:
            result = Clearinghouse().submit_batch(batch)
            Clearinghouse().submit_batch(batch)
        self.assertEqual(result, hms_ach.ClearingResult(accepted=1, flagged=0))
        self.assertEqual(len(logs.records), 2)  # one per record (timer, histogram), not per call
        self.assertEqual(self.value("ach_latency_ms", outcome="ok")[0], 2)

    def test_uninstrument_restores_the_originals(self) -> None:
        AchInstrumentor().uninstrument()
        for name, original in ORIGINALS.items():
            self.assertIs(Clearinghouse.__dict__[name], original)
        Clearinghouse().submit_batch(hms_ach.Batch("dmv", [hms_ach.Payment("p", 1)]))
        # Nothing recorded: only the counter started at 0 by instrument() is there.
        self.assertEqual([p.value for m in self.get_sorted_metrics() for p in m.data.data_points], [0])
        AchInstrumentor().instrument()

    def test_team_config_points_the_metrics_elsewhere(self) -> None:
        AchInstrumentor().uninstrument()
        team = """
        - target: hms_ach.clearing:Clearinghouse._review_reason
          record:
            - {metric: ach_flagged_total, kind: counter, on: return, when: return, attributes: {reason: return}}
        """
        with mock.patch.dict(os.environ, {"HMS_ACH_HOOKS": "\n" + team}):
            AchInstrumentor().instrument()
        self.assertEqual(AchInstrumentor().instrumented_targets, ["hms_ach.clearing:Clearinghouse._review_reason"])
        Clearinghouse(limit_cents=10).submit_batch(
            hms_ach.Batch("dmv", [hms_ach.Payment("a", 50), hms_ach.Payment("b", 1)])
        )
        self.assertEqual(self.value("ach_flagged_total", reason="over_limit"), 1)
        self.assertIs(Clearinghouse.__dict__["submit_batch"], ORIGINALS["submit_batch"])

    def test_bad_team_config_is_reported_and_wraps_nothing(self) -> None:
        AchInstrumentor().uninstrument()
        with mock.patch.dict(
            os.environ, {"HMS_ACH_HOOKS": "[{target: 'hms_ach.clearing:Clearinghouse.submit', record: []}]"}
        ):
            # One visible warning (stderr and the hooks logger); the application keeps starting.
            with self.assertLogs("hms_otel.hooks", "WARNING") as logs:
                AchInstrumentor().instrument()
        self.assertIn("$HMS_ACH_HOOKS:1:60: hooks[0].record: [] should be non-empty", "\n".join(logs.output))
        self.assertIs(Clearinghouse.__dict__["submit_batch"], ORIGINALS["submit_batch"])


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_ach.clearing:Clearinghouse.submit_batch", "hms_svc.jobs:Worker.run_job"]
    assert wrapped_under_auto_instrumentation(targets) == dict.fromkeys(targets, True)
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_ach")
    assert disabled == {targets[0]: False, targets[1]: True}
