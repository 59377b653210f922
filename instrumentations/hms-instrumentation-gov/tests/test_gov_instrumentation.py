"""GovInstrumentor on the hms_gov stand-in: vet_denied_total counts denied decisions only."""

from __future__ import annotations

import inspect

from hms_gov import Decision, Vetter
from hms_instrumentation_gov import GovInstrumentor

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINAL = Vetter.__dict__["vet"]


class TestGovInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        GovInstrumentor().instrument()

    def tearDown(self) -> None:
        GovInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metric(self) -> None:
        vetter = Vetter({"spending": lambda action: action != "wire_transfer", "broken": lambda action: 1 / 0})
        self.assertEqual(vetter.vet("wire_transfer", "spending"), Decision("wire_transfer", "spending", False))
        self.assertTrue(vetter.vet("ach_payment", "spending").allowed)
        self.assertFalse(vetter.vet("anything", "unknown_policy").allowed)
        with self.assertRaises(ZeroDivisionError):
            vetter.vet("x", "broken")

        self.assert_contract("vet_denied_total")
        self.assertEqual(self.value("vet_denied_total", policy="spending"), 1)
        self.assertEqual(self.value("vet_denied_total", policy="unknown_policy"), 1)
        self.assertEqual(len(self.points("vet_denied_total")), 3)  # and the series started at 0

    def test_callable_is_unchanged(self) -> None:
        self.assertIs(Vetter.__dict__["vet"].__wrapped__, ORIGINAL)
        self.assertEqual(inspect.signature(Vetter.vet), inspect.signature(ORIGINAL))

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        class Unprintable:
            def __str__(self) -> str:
                raise ValueError("no text")

        policy = Unprintable()
        with self.assertLogs("hms_otel.hooks", "WARNING") as logs:
            decision = Vetter({}).vet("a", policy)
        self.assertEqual(decision, Decision("a", policy, False))
        self.assertEqual(len(logs.records), 1)
        self.assertEqual(self.value("vet_denied_total"), 1)  # counted, without the broken attribute

    def test_uninstrument_restores_the_original(self) -> None:
        GovInstrumentor().uninstrument()
        self.assertIs(Vetter.__dict__["vet"], ORIGINAL)
        GovInstrumentor().instrument()


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_gov.vetting:Vetter.vet", "hms_ach.clearing:Clearinghouse.submit_batch"]
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_gov")
    assert disabled == {targets[0]: False, targets[1]: True}
