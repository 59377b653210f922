"""The package version, static so that ``import hms_otel`` needs no
``importlib.metadata`` (about 27 ms); pyproject.toml reads it from here."""

__version__ = "0.1.0"
