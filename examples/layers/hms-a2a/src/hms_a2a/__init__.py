"""Stand-in for the HMS A2A (inter-agency envelope transfer) layer library."""

from hms_a2a.transport import Envelope, Receipt, TransferError, Transport

__all__ = ["Envelope", "Receipt", "TransferError", "Transport"]
