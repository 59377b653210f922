"""The served page's files: uPlot checked against its pinned integrity, the page small."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from hms_otel.dashboards import uplot
from hms_otel.dashboards.build import load
from hms_otel.dashboards.site import PAGE_FILES, write_site
from hms_otel.stack.builds import BuildError

#: The budget for the page and its scripts (the browser test measures what is actually loaded).
PAGE_BUDGET_BYTES = 200_000


def test_a_tarball_that_does_not_match_the_pinned_integrity_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in uplot.FILES:
            data = b"alert('not uPlot')"
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(BuildError, match="does not match the pinned"):
        uplot.extract(buffer.getvalue(), tmp_path / "uplot")
    assert not (tmp_path / "uplot").exists()


def test_site_is_within_budget_and_holds_everything_the_page_loads(tmp_path: Path) -> None:
    uplot.install_uplot(progress=lambda _text: None)  # from the cache, or npm pack on a fresh machine
    write_site(tmp_path, load(None))
    files = [*PAGE_FILES, *uplot.FILES.values(), "dashboards.json"]
    assert all((tmp_path / name).is_file() for name in files)
    loaded = [name for name in files if name not in ("LICENSE", "dashboards.json")]
    size = sum((tmp_path / name).stat().st_size for name in loaded)
    print(f"page + scripts + styles: {size} bytes")
    assert size < PAGE_BUDGET_BYTES
    index = (tmp_path / "index.html").read_text()
    assert 'src="uPlot.iife.min.js"' in index and "http" not in index  # same origin only
