"""Stand-in for the HMS ESQ (legal/compliance checks) layer library."""

from hms_esq.checks import Case, CheckResult, ComplianceChecker, Conflict

__all__ = ["Case", "CheckResult", "ComplianceChecker", "Conflict"]
