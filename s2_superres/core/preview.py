"""Side-by-side comparison picture: the original 10 m true colour left, the 2.5 m result right.

Both halves use the same stretch (2nd-98th percentile of the original, per channel), and the
original is enlarged with nearest neighbour so its real pixels stay visible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal

from .extent import Extent
from .gdal_env import open_raster, read_array
from .sources import Product

RGB = ("B04", "B03", "B02")
GAP = 8


def _read_rgb(paths_and_indices: list[tuple[str, int]], box: Extent, size: tuple[int, int]) -> np.ndarray:
    out = []
    for path, index in paths_and_indices:
        ds = open_raster(path)
        x0, dx, _, y0, _, dy = ds.GetGeoTransform()
        xoff, yoff = round((box.xmin - x0) / dx), round((box.ymax - y0) / dy)
        w, h = round(box.width / dx), round(box.height / -dy)
        out.append(read_array(path, ds.GetRasterBand(index), xoff, yoff, w, h, buf_xsize=size[1], buf_ysize=size[0],
                              resample_alg=gdal.GRIORA_NearestNeighbour).astype(np.float32))
    return np.stack(out)


def comparison_png(product: Product, result_path: Path, png_path: Path, box: Extent | None = None,
                   max_size: int = 800) -> Path:
    """Write ``png_path``: original RGB (left) and result RGB (right) over ``box`` (default: the result's
    centre, at most ``max_size`` output pixels square) with the same stretch."""
    res = gdal.Open(str(result_path))
    x0, dx, _, y0, _, _ = res.GetGeoTransform()
    names = [res.GetRasterBand(i + 1).GetDescription() for i in range(res.RasterCount)]
    if box is None:
        w, h = min(res.RasterXSize, max_size), min(res.RasterYSize, max_size)
        cx, cy = (res.RasterXSize - w) // 2 // 24 * 24, (res.RasterYSize - h) // 2 // 24 * 24
        box = Extent(x0 + cx * dx, y0 - (cy + h) * dx, x0 + (cx + w) * dx, y0 - cy * dx)
    size = (round(box.height / dx), round(box.width / dx))
    after = _read_rgb([(str(result_path), names.index(b) + 1) for b in RGB], box, size)
    before = _read_rgb([(product.bands[b].path, product.bands[b].index) for b in RGB], box, size)
    before = np.stack([product.reflectance(b, dn) for b, dn in zip(RGB, before)])
    lo = np.nanpercentile(before, 2, axis=(1, 2))[:, None, None]
    hi = np.nanpercentile(before, 98, axis=(1, 2))[:, None, None]
    to8 = lambda a: (np.clip((np.nan_to_num(a) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)  # noqa: E731
    canvas = np.full((3, size[0], 2 * size[1] + GAP), 255, np.uint8)
    canvas[:, :, : size[1]] = to8(before)
    canvas[:, :, size[1] + GAP:] = to8(after)
    return write_png(canvas, Path(png_path))


def write_png(canvas: np.ndarray, path: Path) -> Path:
    """Write a (3, H, W) uint8 array as an RGB PNG (no .aux.xml beside it)."""
    mem = gdal.GetDriverByName("MEM").Create("", canvas.shape[2], canvas.shape[1], 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(canvas[i])
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    Path(str(path) + ".aux.xml").unlink(missing_ok=True)
    return path
