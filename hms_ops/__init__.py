"""Alias of :mod:`hms_otel` under the tutorial's name: ``from hms_ops import metric, OPSAgent``.

``hms_ops`` IS ``hms_otel``, and ``hms_ops.X`` IS ``hms_otel.X`` for every
submodule, also those imported later (``import hms_ops.alerts``): a meta-path
finder hands the import system the module object already loaded (or loads it
once, under its real name), so nothing is loaded twice and ``except
hms_ops.alerts.AlertsInvalid`` catches what ``hms_otel`` raises.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

import hms_otel

_ALIAS, _REAL = "hms_ops", "hms_otel"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real_name: str) -> None:
        self._real_name = real_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._real_name)
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the alias spec on the real module; put the
        # real one back so reloads, pickling and tracebacks use hms_otel.X.
        module.__spec__ = self._real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_ALIAS + "."):
            return None
        real_name = _REAL + fullname[len(_ALIAS) :]
        if real_name not in sys.modules and importlib.util.find_spec(real_name) is None:
            return None  # the usual "No module named 'hms_ops.x'"
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real_name))


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    # First, so the path finder never loads hms_otel's files a second time as hms_ops.X.
    sys.meta_path.insert(0, _AliasFinder())
sys.modules[_ALIAS] = hms_otel
