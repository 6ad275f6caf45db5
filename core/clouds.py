"""Where an acquisition sees the ground: clouds, cloud shadows and nodata masked out, per date.

Two sources, the first available wins:
  1. the L2A scene classification (SCL, 20 m, read onto the 10 m grid by nearest neighbour): classes
     ``NOT_CLEAR_CLASSES`` are not clear: 0 nodata, 1 saturated or defective, 3 cloud shadow,
     8 cloud medium probability, 9 cloud high probability, 10 thin cirrus;
  2. without SCL (L1C products, exports without it), a reflectance test on the four 10 m bands:
     the haze optimised transform HOT = B02 - 0.5 B04 - 0.08 (Zhang, Guindon & Cihlar 2002) is
     positive over clouds and haze (blue about as bright as red, and bright), negative over clear land
     and water (on the eo-learn Slovenia series: 100 % and 86 % of the two cloudy dates, 0 % of the
     three clear ones); the cloud mask is grown by ``CLOUD_GROW`` pixels to cover its thin edges. This
     test does not find cloud shadows (that needs SCL), and it flags snow and very bright white
     surfaces as cloud.
Nodata (NaN in the reflectance, or the reader's nodata mask) is never clear.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from .extent import Extent
from .sources import Product

NOT_CLEAR_CLASSES = (0, 1, 3, 8, 9, 10)
HOT_SLOPE = 0.5       # HOT = B02 - HOT_SLOPE * B04 - HOT_INTERCEPT (reflectance)
HOT_INTERCEPT = 0.08
CLOUD_GROW = 2        # 10 m pixels added around clouds found by the reflectance test


def clear_mask(product: Product, box: Extent, b10: np.ndarray, nodata: np.ndarray | None = None) -> np.ndarray:
    """(h, w) bool, True where ``product`` sees the ground over ``box`` (metres, its 10 m grid): from its SCL
    when it has one, else :func:`reflectance_clear` of ``b10`` (4, h, w) reflectance [B02, B03, B04, B08]
    of the same box; ``nodata`` (h, w) or (4, h, w) True where there is no data."""
    valid = np.all(np.isfinite(b10), axis=0)
    if nodata is not None:
        valid &= ~(np.asarray(nodata, bool).any(axis=0) if np.ndim(nodata) == 3 else np.asarray(nodata, bool))
    if product.scl:
        return valid & scl_clear(read_scl(product.scl, box))
    return valid & reflectance_clear(b10)


def scl_clear(scl: np.ndarray) -> np.ndarray:
    """True where the SCL class is none of NOT_CLEAR_CLASSES."""
    return ~np.isin(scl, NOT_CLEAR_CLASSES)


def reflectance_clear(b10: np.ndarray) -> np.ndarray:
    """True where the HOT test finds no cloud or haze (grown by CLOUD_GROW); ``b10`` (4, h, w) reflectance."""
    with np.errstate(invalid="ignore"):
        cloud = (b10[0] - HOT_SLOPE * b10[2] - HOT_INTERCEPT) > 0
    return ~grow(cloud, CLOUD_GROW)


def read_scl(path: str, box: Extent) -> np.ndarray:
    """SCL classes (uint8) over ``box`` on a 10 m grid (nearest neighbour); 0 (nodata) outside the raster."""
    ds = gdal.Open(path)
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    cols, rows = box.pixels(10)
    out = np.zeros((rows, cols), np.uint8)
    c0, r0 = round((box.xmin - x0) / dx), round((box.ymax - y0) / dy)
    c1, r1 = round((box.xmax - x0) / dx), round((box.ymin - y0) / dy)
    cc0, rr0 = max(c0, 0), max(r0, 0)
    cc1, rr1 = min(c1, ds.RasterXSize), min(r1, ds.RasterYSize)
    if cc1 <= cc0 or rr1 <= rr0:
        return out
    step = dx / 10
    w, h = round((cc1 - cc0) * step), round((rr1 - rr0) * step)
    data = ds.GetRasterBand(1).ReadAsArray(cc0, rr0, cc1 - cc0, rr1 - rr0, buf_xsize=w, buf_ysize=h,
                                           resample_alg=gdal.GRIORA_NearestNeighbour)
    top, left = round((rr0 - r0) * step), round((cc0 - c0) * step)
    out[top:top + h, left:left + w] = data
    return out


def grow(mask: np.ndarray, reach: int) -> np.ndarray:
    """``mask`` dilated by ``reach`` pixels (square neighbourhood, no wrap-around)."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        for k in range(1, reach + 1):
            grown |= _roll0(out, k, axis) | _roll0(out, -k, axis)
        out = grown
    return out


def _roll0(mask: np.ndarray, k: int, axis: int) -> np.ndarray:
    """``mask`` moved by ``k`` along ``axis``, False shifted in."""
    out = np.zeros_like(mask)
    src = [slice(None)] * 2
    dst = [slice(None)] * 2
    src[axis], dst[axis] = (slice(0, -k), slice(k, None)) if k > 0 else (slice(-k, None), slice(0, k))
    out[tuple(dst)] = mask[tuple(src)]
    return out
