"""Legal and compliance checks: each rule either holds for a case or is a conflict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    case_id: str
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conflict:
    case_id: str
    rule: str


@dataclass(frozen=True)
class CheckResult:
    check: str
    conflicts: tuple[Conflict, ...]

    @property
    def clear(self) -> bool:
        return not self.conflicts


class ComplianceChecker:
    def __init__(self, rules: Mapping[str, Callable[[Case], bool]]) -> None:
        self.rules = dict(rules)

    def check(self, case: Case, check: str = "eligibility") -> CheckResult:
        """Run every rule on ``case``; a rule that does not hold is a conflict."""
        conflicts = tuple(
            self.record_conflict(case, name) for name, holds in self.rules.items() if not holds(case)
        )
        return CheckResult(check, conflicts)

    def record_conflict(self, case: Case, rule: str) -> Conflict:
        """Register that ``rule`` does not hold for ``case``."""
        return Conflict(case.case_id, rule)
