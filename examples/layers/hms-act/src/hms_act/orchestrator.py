"""Runs the activities of a workflow, one call per activity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Orchestrator:
    def run_activity(self, workflow: str, activity: Callable[..., T], *args: Any) -> T:
        """Run one activity of ``workflow``; its exception propagates."""
        return activity(*args)
