"""Vet an action against a named policy before it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    action: str
    policy: str
    allowed: bool


class Vetter:
    def __init__(self, policies: Mapping[str, Callable[[str], bool]]) -> None:
        self.policies = dict(policies)

    def vet(self, action: str, policy: str) -> Decision:
        """Allow or deny ``action`` under ``policy``; an unknown policy denies."""
        rule = self.policies.get(policy)
        return Decision(action, policy, bool(rule and rule(action)))
