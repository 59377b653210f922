"""The library this package instruments; opentelemetry-instrument checks it is installed."""

_instruments = ("hms-esq >= 1.0",)
