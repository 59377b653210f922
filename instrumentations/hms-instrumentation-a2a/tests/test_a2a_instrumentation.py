"""A2aInstrumentor on the hms_a2a stand-in: an async transfer timed and its failures counted."""

from __future__ import annotations

import asyncio
import inspect

from hms_a2a import Envelope, Receipt, TransferError, Transport
from hms_instrumentation_a2a import A2aInstrumentor

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINAL = Transport.__dict__["send"]


class TestA2aInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        A2aInstrumentor().instrument()

    def tearDown(self) -> None:
        A2aInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metrics(self) -> None:
        transport = Transport(["irs", "ssa"])

        async def transfers() -> list[object]:
            envelopes = [Envelope("e1", "dmv", "irs"), Envelope("e2", "dmv", "irs"), Envelope("e3", "dmv", "va")]
            return await asyncio.gather(*(transport.send(e) for e in envelopes), return_exceptions=True)

        first, second, third = asyncio.run(transfers())
        self.assertEqual((first, second), (Receipt("e1", "irs"), Receipt("e2", "irs")))
        self.assertIsInstance(third, TransferError)
        self.assertEqual(str(third), "va unreachable")

        for name in ("a2a_transfer_ms", "a2a_failed_total"):
            self.assert_contract(name)
        self.assertEqual(self.value("a2a_transfer_ms", agency="irs", outcome="ok")[0], 2)
        self.assertEqual(self.value("a2a_transfer_ms", agency="va", outcome="error")[0], 1)
        self.assertEqual(self.value("a2a_failed_total", agency="va", **{"error.type": "TransferError"}), 1)
        self.assertEqual(len(self.points("a2a_failed_total")), 2)  # and the series started at 0

    def test_timer_measures_the_awaited_time(self) -> None:
        asyncio.run(Transport(["irs"], delay_s=0.05).send(Envelope("e", "dmv", "irs")))
        count, total_ms = self.value("a2a_transfer_ms", agency="irs", outcome="ok")
        self.assertEqual(count, 1)
        self.assertGreaterEqual(total_ms, 50.0)  # the coroutine's run, not the creation of the coroutine object

    def test_callable_is_unchanged(self) -> None:
        self.assertTrue(inspect.iscoroutinefunction(Transport.send))
        self.assertTrue(inspect.iscoroutinefunction(Transport(["x"]).send))
        self.assertIs(Transport.__dict__["send"].__wrapped__, ORIGINAL)
        self.assertEqual(inspect.signature(Transport.send), inspect.signature(ORIGINAL))
        self.assertEqual(Transport.send.__doc__, ORIGINAL.__doc__)

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        class Letter:  # no recipient_agency
            envelope_id = "l1"

        with self.assertLogs("hms_otel.hooks", "WARNING"), self.assertRaises(AttributeError):
            asyncio.run(Transport(["irs"]).send(Letter()))  # the library's own AttributeError, unchanged
        self.assertEqual(self.value("a2a_failed_total", **{"error.type": "AttributeError"}), 1)

    def test_uninstrument_restores_the_original(self) -> None:
        A2aInstrumentor().uninstrument()
        self.assertIs(Transport.__dict__["send"], ORIGINAL)
        A2aInstrumentor().instrument()


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_a2a.transport:Transport.send", "hms_act.orchestrator:Orchestrator.run_activity"]
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_a2a")
    assert disabled == {targets[0]: False, targets[1]: True}
