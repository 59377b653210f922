"""Attribute values shared by the facades and the hook engine."""

from __future__ import annotations


def error_type(error: BaseException) -> str:
    """The ``error.type`` attribute of a failed call: the exception's class name.

    The short name (``TimeoutError``, ``TransferError``) keeps the Prometheus
    label readable in alert messages and dashboards; one class name per
    failure mode keeps cardinality low.
    """
    return type(error).__qualname__
