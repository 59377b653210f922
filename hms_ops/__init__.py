"""Alias of :mod:`hms_otel` under the tutorial's name: ``from hms_ops import metric, OPSAgent``."""

import sys

import hms_otel
from hms_otel import *  # noqa: F403
from hms_otel import __all__, __version__  # noqa: F401

# `import hms_ops.metric` and `from hms_ops.metric import timer` resolve to the same modules.
for _name, _module in list(sys.modules.items()):
    if _name.startswith("hms_otel."):
        sys.modules.setdefault("hms_ops" + _name[len("hms_otel"):], _module)
del _name, _module
sys.modules["hms_ops"] = hms_otel
