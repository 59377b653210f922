"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-gov >= 1.0",)
