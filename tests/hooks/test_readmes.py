"""Each layer package's README shows its default hooks as YAML; that YAML must be the declaration."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from hms_otel.hooks import load

ROOT = Path(__file__).parents[2] / "instrumentations"
CODES = ("ach", "svc", "a2a", "act", "esq", "gov")


@pytest.mark.parametrize("code", CODES)
def test_readme_yaml_is_the_declaration(code: str) -> None:
    readme = (ROOT / f"hms-instrumentation-{code}" / "README.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    declared = importlib.import_module(f"hms_instrumentation_{code}").HOOKS
    assert load(block, "README") == declared
