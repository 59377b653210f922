"""Stand-in for the HMS governance layer: vetting of actions against policies."""

from hms_gov.vetting import Decision, Vetter

__all__ = ["Decision", "Vetter"]
