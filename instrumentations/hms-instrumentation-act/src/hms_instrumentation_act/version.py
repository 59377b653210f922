"""This package's version: its pyproject reads it, and its meter reports it as the instrumentation scope version."""

__version__ = "0.1.0"
