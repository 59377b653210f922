"""The served page's files: uPlot checked against its pinned integrity, the page small."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from hms_otel.dashboards import uplot
from hms_otel.dashboards.build import load
from hms_otel.dashboards.site import PAGE_FILES, write_site
from hms_otel.stack.builds import BuildError, MissingBinary

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


def _cache_holding_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A scratch HMS_OPS_CACHE holding a copy of the real cache's uPlot; (the real folder, the copy's)."""
    real = uplot.install_uplot(progress=lambda _text: None)  # from the cache, or npm pack on a fresh machine
    monkeypatch.setenv("HMS_OPS_CACHE", str(tmp_path / "cache"))
    copy = uplot.uplot_dir()
    copy.mkdir(parents=True)
    for name in uplot.FILES.values():
        (copy / name).write_bytes((real / name).read_bytes())
    return real, copy


def test_a_cached_file_changed_after_the_fetch_is_refused_and_fetched_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, copy = _cache_holding_a_copy(tmp_path, monkeypatch)
    script = copy / "uPlot.iife.min.js"
    content = bytearray(script.read_bytes())
    content[100] ^= 1  # same size: only the content says it is not the release
    script.write_bytes(bytes(content))
    with pytest.raises(MissingBinary) as raised:
        uplot.find_uplot()
    assert f"{script} differs from the pinned release" in str(raised.value)
    assert "run `hms-ops install uplot`" in str(raised.value)
    fetched = _fetch_without_the_network(real, monkeypatch)
    assert uplot.install_uplot(progress=lambda _text: None) == copy
    assert fetched == [copy]
    assert uplot.find_uplot() == copy
    assert not [path.name for path in copy.parent.iterdir() if path.name.startswith("scratch-")]


def test_two_installs_at_once_fetch_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    real, copy = _cache_holding_a_copy(tmp_path, monkeypatch)
    (copy / "LICENSE").unlink()
    fetched = _fetch_without_the_network(real, monkeypatch, pause=0.5)
    said: list[str] = []
    installs = [threading.Thread(target=uplot.install_uplot, kwargs={"progress": said.append}) for _ in range(2)]
    for install in installs:
        install.start()
        time.sleep(0.1)  # the second finds the first one's lock
    for install in installs:
        install.join(timeout=30)
    assert fetched == [copy]
    assert any(text.startswith("waiting for another hms-ops install") for text in said), said
    assert uplot.find_uplot() == copy


def test_a_release_whose_files_differ_from_their_pins_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, copy = _cache_holding_a_copy(tmp_path, monkeypatch)
    monkeypatch.setitem(uplot.SHA256, "LICENSE", "0" * 64)  # a new VERSION whose SHA256 was not updated
    with pytest.raises(BuildError, match="package/LICENSE does not match its pinned SHA-256"):
        uplot.extract(_tarball_of(real, monkeypatch), copy)
    assert sorted(path.name for path in copy.iterdir()) == sorted(uplot.FILES.values())  # left as it was


def _tarball_of(folder: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A tarball of uPlot's files in ``folder``, laid out as npm's, with :data:`uplot.INTEGRITY` pinned to it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, name in uplot.FILES.items():
            data = (folder / name).read_bytes()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(uplot, "INTEGRITY", uplot.integrity_of(buffer.getvalue()))
    return buffer.getvalue()


def _fetch_without_the_network(real: Path, monkeypatch: pytest.MonkeyPatch, pause: float = 0.0) -> list[Path]:
    """Stand in for `npm pack`: extract a tarball of the real cache's files. Returns the targets fetched into."""
    import time

    tarball = _tarball_of(real, monkeypatch)
    fetched: list[Path] = []

    def fetch(_npm: str, target: Path, _progress: object) -> None:
        fetched.append(target)
        time.sleep(pause)
        uplot.extract(tarball, target)

    monkeypatch.setattr(uplot, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(uplot, "_fetch", fetch)
    return fetched


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
