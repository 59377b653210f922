"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-ach >= 1.0",)
