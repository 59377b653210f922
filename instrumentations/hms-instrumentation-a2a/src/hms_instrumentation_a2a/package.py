"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-a2a >= 1.0",)
