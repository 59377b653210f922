"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-svc >= 1.0",)
