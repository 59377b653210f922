"""Clearing of ACH batches: one batch per agency, payments over the limit or
seen twice are flagged for review instead of cleared."""

from __future__ import annotations

from dataclasses import dataclass, field


class ClearingError(Exception):
    """The clearinghouse refused the whole batch."""


@dataclass(frozen=True)
class Payment:
    payment_id: str
    amount_cents: int
    payee: str = ""


@dataclass
class Batch:
    agency: str
    entries: list[Payment] = field(default_factory=list)


@dataclass(frozen=True)
class ClearingResult:
    accepted: int
    flagged: int


class Clearinghouse:
    def __init__(self, limit_cents: int = 1_000_000) -> None:
        self.limit_cents = limit_cents
        self._seen: set[str] = set()

    def submit_batch(self, batch: Batch) -> ClearingResult:
        """Clear every payment of ``batch``; raise ClearingError for an empty batch."""
        if not batch.entries:
            raise ClearingError(f"empty batch from {batch.agency}")
        flagged = 0
        for payment in batch.entries:
            reason = self._review_reason(payment)
            if reason:
                self.flag(batch, payment, reason)
                flagged += 1
            self._seen.add(payment.payment_id)
        return ClearingResult(accepted=len(batch.entries) - flagged, flagged=flagged)

    def flag(self, batch: Batch, payment: Payment, reason: str) -> None:
        """Hold one payment of ``batch`` for manual review."""

    def _review_reason(self, payment: Payment) -> str | None:
        if payment.payment_id in self._seen:
            return "duplicate"
        if payment.amount_cents > self.limit_cents:
            return "over_limit"
        return None
