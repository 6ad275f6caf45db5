"""Runs INSIDE a real QGIS started by tests/test_zip_in_qgis.py (not a test module: no pytest here).

Imported twice, as one module: from the profile's ``startup.py`` (QGIS runs it before it loads any plugin),
which installs the error hooks, and from the ``--code`` script, which queues ``run()`` on QGIS's event loop.
``run()`` checks what a user would see with the plugin installed from the zip, writes the JSON report to
$S2_ZIP_REPORT after every step (a crash or a hang still leaves what was found so far), and ends QGIS.

Every Python exception QGIS would show (a plugin that fails to load, an exception in a slot: QGIS's
``sys.excepthook`` calls ``qgis.utils.showException``), every critical message-log entry and every dialog
left open is recorded in ``report["errors"]``; QGIS itself carries on after those, the test does not.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

PLUGIN = "s2_superres"
ALGORITHM = "s2superres:superresolve"
MENU = "&Sentinel-2 super-resolution"
ACTION = "Super-resolve extent"
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
# a small extent of the sample (EPSG:32618): 720 m square -> 288 x 288 output pixels at 2.5 m
EXTENT = (441000.0, 4166000.0, 441720.0, 4166720.0)
CRS = "EPSG:32618"

#: critical log entries of QGIS itself, not of the plugin (kept in report["qgis_critical"], not errors)
QGIS_OWN_CRITICAL = ("Problem with SAGA installation",      # QGIS 3.22's Processing: no saga_cmd installed
                     "Problem with GRASS installation")     # QGIS 3.40's: no grass installed

report: dict = {"errors": [], "python_warnings": [], "qgis_critical": [], "steps": []}
_hooked = False


def _write() -> None:
    path = Path(os.environ["S2_ZIP_REPORT"])
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(path)


def _error(source: str, text: str) -> None:
    report["errors"].append({"source": source, "step": report.get("step", "start-up"), "text": text[-4000:]})


# -- hooks (installed from startup.py, before the plugins load) ---------------------------------------------
def install_hooks() -> None:
    """Record what QGIS would show as a Python error (instead of showing it: a stack-trace dialog could
    block the event loop) and every critical message-log entry."""
    global _hooked
    import qgis.utils
    from qgis.core import Qgis, QgsApplication

    def show_exception(type_, value, tb, msg=None, *_args, **_kwargs):
        _error("qgis.utils.showException", (msg or "") + "\n" + "".join(traceback.format_exception(type_, value, tb)))

    def on_message(message, tag, level):
        if tag == "Python warning":
            report["python_warnings"].append(message[-2000:])
        elif level == Qgis.Critical and message.startswith(QGIS_OWN_CRITICAL):
            report["qgis_critical"].append(f"[{tag}] {message}")
        elif level == Qgis.Critical or tag == "Python error":
            _error(f"message log [{tag}] critical" if level == Qgis.Critical else f"message log [{tag}]", message)

    qgis.utils.showException = show_exception      # qgis_excepthook and startPlugin look it up at call time
    set_excepthook()
    if not _hooked:
        QgsApplication.messageLog().messageReceived.connect(on_message)
        _hooked = True
    report["hooks_before_plugins"] = PLUGIN not in qgis.utils.plugins


def set_excepthook() -> None:
    """Exceptions escaping a slot reach sys.excepthook (QGIS's own hook would show them in the message bar)."""
    def excepthook(type_, value, tb):
        _error("sys.excepthook", "".join(traceback.format_exception(type_, value, tb)))

    sys.excepthook = excepthook


# -- waiting on QGIS's event loop ---------------------------------------------------------------------------
def wait_until(condition, timeout: float) -> bool:
    """Run a nested event loop until ``condition()`` holds or ``timeout`` seconds passed; returns it."""
    from qgis.PyQt.QtCore import QEventLoop, QTimer
    if condition():
        return True
    loop, timer, end = QEventLoop(), QTimer(), time.monotonic() + timeout
    timer.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > end else None)
    timer.start(50)
    loop.exec()
    timer.stop()
    return bool(condition())


def settle(seconds: float = 0.3) -> None:
    wait_until(lambda: False, seconds)


def raster_info(layer) -> dict:
    return {"name": layer.name(), "bands": layer.bandCount(), "crs": layer.crs().authid(),
            "pixel": [round(layer.rasterUnitsPerPixelX(), 6), round(layer.rasterUnitsPerPixelY(), 6)],
            "size": [layer.width(), layer.height()], "source": layer.source()}


def step(name: str):
    """Decorator: run a check, record its duration or its traceback, write the report."""
    def wrap(func):
        def run_step(*args):
            start = time.monotonic()
            report["step"] = name
            try:
                return func(*args)
            except Exception:
                report.setdefault("failed_steps", {})[name] = traceback.format_exc()[-4000:]
                return None
            finally:
                report["steps"].append([name, round(time.monotonic() - start, 2)])
                report["step"] = f"after {name}"
                _write()
        return run_step
    return wrap


# -- the checks ---------------------------------------------------------------------------------------------
@step("environment")
def check_environment() -> None:
    import qgis.utils
    from qgis.core import Qgis, QgsApplication
    report["qgis_version"] = Qgis.QGIS_VERSION
    report["python"] = sys.version.split()[0]
    report["settings_dir"] = QgsApplication.qgisSettingsDirPath()
    report["active_plugins"] = sorted(qgis.utils.active_plugins)
    module = sys.modules.get(PLUGIN)
    report["plugin_file"] = getattr(module, "__file__", None)
    try:
        import onnxruntime
        report["onnxruntime"] = {"version": onnxruntime.__version__, "file": onnxruntime.__file__}
    except ImportError as exc:
        report["onnxruntime"] = {"missing": str(exc)}


@step("processing")
def check_processing(folder: Path, out: Path) -> None:
    import processing
    from qgis.core import QgsApplication, QgsRasterLayer
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM)
    report["algorithm"] = algorithm.displayName() if algorithm else None
    if algorithm is None:
        return
    presets = algorithm.parameterDefinition("PRESET").options()
    xmin, ymin, xmax, ymax = EXTENT
    start = time.monotonic()
    result = processing.run(ALGORITHM, {"INPUT": [str(folder / f"s2_{b}.tif") for b in BANDS if b != "B10"],
                                        "EXTENT": f"{xmin},{xmax},{ymin},{ymax} [{CRS}]",
                                        "PRESET": presets.index("bicubic"), "OUTPUT": str(out)})
    layer = QgsRasterLayer(result["OUTPUT"], "processing")
    report["processing"] = {"valid": layer.isValid(), "seconds": round(time.monotonic() - start, 2),
                            **raster_info(layer)}


@step("open dock")
def open_dock(folder: Path):
    """Add the band layers as a user would, then open the dock from the plugin's menu entry."""
    import qgis.utils
    from qgis.utils import iface
    for band in BANDS:
        iface.addRasterLayer(str(folder / f"s2_{band}.tif"), f"s2_{band}")
    entries = {a.text(): a for a in iface.pluginMenu().actions()}
    submenu = entries[MENU].menu()
    action = next(a for a in submenu.actions() if a.text() == ACTION)
    report["menu"] = [a.text() for a in submenu.actions() if a.text()]
    report["in_plugin_toolbar"] = action in iface.pluginToolBar().actions()
    action.trigger()
    settle()
    dock = qgis.utils.plugins[PLUGIN].dock
    report["dock"] = {"visible": dock.isVisible(), "input_layers": len(dock.input_layers()),
                      "mapping": dock.mapping_label.text()}
    return dock


def run_in_dock(dock, preset: str, out: Path) -> None:
    from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRectangle
    entry: dict = {}
    report.setdefault("dock_runs", {})[preset] = entry
    combo = dock.preset_combo
    index = combo.findData(preset)
    item = combo.model().item(index)
    entry["preset_enabled"] = item.isEnabled()
    if not item.isEnabled():
        entry["tooltip"] = item.toolTip()
        return
    combo.setCurrentIndex(index)
    dock.extent_box.setOutputExtentFromUser(QgsRectangle(*EXTENT), QgsCoordinateReferenceSystem(CRS))
    dock.output_widget.setFilePath(str(out))
    settle(0.2)
    entry["reason"] = dock.reason
    entry["button"] = [dock.run_button.text(), dock.run_button.isEnabled()]
    project = QgsProject.instance()
    before, previous, errors = set(project.mapLayers()), dock.last_run, len(report["errors"])
    start = time.monotonic()
    dock.run_button.click()                              # what a user does: the slots run as for a real click
    tasks = list(dock.tasks)
    manager = QgsApplication.taskManager()
    # done: a result, or an error with no task running (e.g. the click's slot raised before queuing it)
    finished = wait_until(lambda: dock.last_run is not previous or (len(report["errors"]) > errors
                                                                    and manager.countActiveTasks() == 0), 90)
    settle(0.3)
    entry["seconds"] = round(time.monotonic() - start, 2)
    entry["finished"] = finished and dock.last_run is not previous
    entry["message"] = tasks[-1].message if tasks else None
    added = [project.mapLayer(i) for i in set(project.mapLayers()) - before]
    entry["new_layers"] = [raster_info(layer) for layer in added if hasattr(layer, "bandCount")]
    if dock.last_run is not previous:
        layer = project.mapLayer(dock.last_run.layer_id)
        entry["result"] = raster_info(layer) if layer is not None else None


@step("unload")
def unload() -> None:
    import qgis.utils
    from qgis.core import QgsApplication
    report["unloaded"] = bool(qgis.utils.unloadPlugin(PLUGIN))
    report["provider_after_unload"] = QgsApplication.processingRegistry().providerById("s2superres") is not None


def open_dialogs() -> list[str]:
    """Modal dialogs or message boxes still open: something asked the user a question or showed an error."""
    from qgis.PyQt.QtWidgets import QApplication, QDialog
    return [f"{w.__class__.__name__}: {w.windowTitle()}" for w in QApplication.topLevelWidgets()
            if isinstance(w, QDialog) and w.isVisible()]


def run() -> None:
    folder, out = Path(os.environ["S2_ZIP_DATA"]), Path(os.environ["S2_ZIP_OUT"])
    try:
        set_excepthook()        # QGIS installed its own after startup.py ran
        check_environment()
        check_processing(folder, out / "processing.tif")
        dock = open_dock(folder)
        if dock is not None:
            for preset in os.environ.get("S2_ZIP_PRESETS", "bicubic").split(","):
                step(f"dock {preset}")(run_in_dock)(dock, preset, out / f"dock_{preset}.tif")
        for dialog in open_dialogs():
            _error("open dialog", dialog)
        unload()
    except Exception:
        report.setdefault("failed_steps", {})["probe"] = traceback.format_exc()
    finally:
        report["done"] = True
        _write()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def watchdog(seconds: float) -> None:
    """End QGIS with what was found if the checks hang (e.g. a modal dialog waits for a click)."""
    from qgis.PyQt.QtCore import QTimer

    def give_up():
        report.setdefault("failed_steps", {})["watchdog"] = f"the checks did not finish in {seconds:.0f} s; " \
                                                            f"open dialogs: {open_dialogs()}"
        _write()
        os._exit(3)
    QTimer.singleShot(int(seconds * 1000), give_up)


def start() -> None:
    """Called by the --code script: queue the checks on QGIS's own event loop, as a user's clicks would be."""
    from qgis.PyQt.QtCore import QTimer
    if not _hooked:           # startup.py did not run (older QGIS): hook now, plugin load errors show elsewhere
        install_hooks()
    watchdog(float(os.environ.get("S2_ZIP_WATCHDOG", "240")))
    QTimer.singleShot(200, run)
