"""Stand-in for the HMS ACH (payments clearing) layer library."""

from hms_ach.clearing import Batch, ClearingError, Clearinghouse, ClearingResult, Payment

__all__ = ["Batch", "ClearingError", "ClearingResult", "Clearinghouse", "Payment"]
