"""Stand-in for the HMS ACT (activity orchestrator) layer library."""

from hms_act.orchestrator import Orchestrator

__all__ = ["Orchestrator"]
