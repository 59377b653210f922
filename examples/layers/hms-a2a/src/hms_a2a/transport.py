"""Asynchronous transfer of sealed envelopes between agencies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass


class TransferError(Exception):
    """The receiving agency did not accept the envelope."""


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    sender_agency: str
    recipient_agency: str
    payload: bytes = b""


@dataclass(frozen=True)
class Receipt:
    envelope_id: str
    accepted_by: str


class Transport:
    def __init__(self, reachable: Iterable[str], delay_s: float = 0.0) -> None:
        self.reachable = set(reachable)
        self.delay_s = delay_s

    async def send(self, envelope: Envelope) -> Receipt:
        """Deliver ``envelope``; raise TransferError if the recipient is unreachable."""
        await asyncio.sleep(self.delay_s)
        if envelope.recipient_agency not in self.reachable:
            raise TransferError(f"{envelope.recipient_agency} unreachable")
        return Receipt(envelope.envelope_id, envelope.recipient_agency)
