"""EsqInstrumentor on the hms_esq stand-in: check latency and conflicts per rule."""

from __future__ import annotations

import inspect

from hms_esq import Case, ComplianceChecker
from hms_instrumentation_esq import EsqInstrumentor

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINALS = {name: ComplianceChecker.__dict__[name] for name in ("check", "record_conflict")}
RULES = {"adult": lambda case: case.facts["age"] >= 18, "resident": lambda case: case.facts.get("resident", False)}


class TestEsqInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        EsqInstrumentor().instrument()

    def tearDown(self) -> None:
        EsqInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metrics(self) -> None:
        checker = ComplianceChecker(RULES)
        self.assertTrue(checker.check(Case("c1", {"age": 40, "resident": True})).clear)
        result = checker.check(Case("c2", {"age": 12}), check="benefits")
        self.assertEqual([c.rule for c in result.conflicts], ["adult", "resident"])
        self.assertEqual(len(checker.check(Case("c3", {"age": 30})).conflicts), 1)
        with self.assertRaises(KeyError):
            checker.check(Case("c4", {}))

        for name in ("esq_latency_ms", "esq_conflicts_total"):
            self.assert_contract(name)
        self.assertEqual(self.value("esq_latency_ms", check="eligibility", outcome="ok")[0], 2)
        self.assertEqual(self.value("esq_latency_ms", check="benefits", outcome="ok")[0], 1)
        self.assertEqual(self.value("esq_latency_ms", check="eligibility", outcome="error")[0], 1)
        self.assertEqual(self.value("esq_conflicts_total", rule="adult"), 1)
        self.assertEqual(self.value("esq_conflicts_total", rule="resident"), 2)

    def test_callable_is_unchanged(self) -> None:
        for name, original in ORIGINALS.items():
            self.assertIs(ComplianceChecker.__dict__[name].__wrapped__, original)
            self.assertEqual(inspect.signature(getattr(ComplianceChecker, name)), inspect.signature(original))

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        class Weird:
            def __str__(self) -> str:
                raise ValueError("no text")

        checker = ComplianceChecker({})
        with self.assertLogs("hms_otel.hooks", "WARNING"):
            self.assertTrue(checker.check(Case("c"), check=Weird()).clear)
        self.assertEqual(self.value("esq_latency_ms", outcome="ok")[0], 1)

    def test_uninstrument_restores_the_originals(self) -> None:
        EsqInstrumentor().uninstrument()
        for name, original in ORIGINALS.items():
            self.assertIs(ComplianceChecker.__dict__[name], original)
        EsqInstrumentor().instrument()


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_esq.checks:ComplianceChecker.check", "hms_gov.vetting:Vetter.vet"]
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_esq")
    assert disabled == {targets[0]: False, targets[1]: True}
