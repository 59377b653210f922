"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-act >= 1.0",)
