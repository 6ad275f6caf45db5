"""Read one tile of a product as reflectance on the three native grids.

Reflectance = (DN + offset) / quantification (``Product.reflectance``); DN 0, the band's nodata value,
NaN and +-inf are nodata (NaN). Negative reflectance is kept.

A tile is read with a margin of real neighbouring pixels; where the margin leaves the area in
which every band has data, it is filled by mirror reflection, on every grid alike, so tiles at
the border are treated exactly as the whole image would be. Nodata inside the window is filled with
one value per band for the whole product (the mean of a coarse read of the data area), so a pixel's
neighbourhood, and so its result, does not depend on where the tile starts.
"""
from __future__ import annotations

import numpy as np
from osgeo import gdal

from .bands import GROUPS
from .errors import InputError
from .extent import Extent
from .gdal_env import open_raster, read_array
from .sources import Product
from .tile import Tile

FILL_READ_PIXELS = 256  # side of the coarse read from which the nodata fill values are computed

class TileReader:
    """Reads windows of a product; keeps its GDAL datasets open (use from one thread)."""

    def __init__(self, product: Product, data: Extent, groups: tuple[int, ...] = (10, 20, 60)):
        self.product, self.data, self.groups = product, data, groups
        self._datasets: dict[str, gdal.Dataset] = {}
        self._fill_values: dict[int, np.ndarray] = {}

    def close(self) -> None:
        self._datasets.clear()

    def read(self, box: Extent) -> tuple[Tile, dict[int, np.ndarray]]:
        """Reflectance of ``box`` (on the 60 m lattice) for every group, with nodata filled, and the
        nodata masks (True = no data) per group resolution."""
        inner = box.intersect(self.data)
        if inner is None:
            raise InputError("A tile lies outside the area where all bands have data.")
        arrays, masks = {}, {}
        for res in (10, 20, 60):
            if res not in self.groups:
                arrays[res] = np.zeros((len(GROUPS[res]),) + _shape(box, res), np.float32)
                masks[res] = np.zeros_like(arrays[res], dtype=bool)
                continue
            stack = np.stack([self._read_band(b, inner, res) for b in GROUPS[res]])
            stack = _mirror_pad_to_box(stack, inner, box, res)
            masks[res] = ~np.isfinite(stack)
            arrays[res] = _fill(stack, masks[res], self.fill_values(res) if masks[res].any() else None)
        col = round(box.xmin / 2.5)
        row = round(-box.ymax / 2.5)
        return Tile(arrays[10], arrays[20], arrays[60], out_row=row, out_col=col), masks

    def has_data(self, box: Extent) -> bool:
        """True when any 10 m band has a valid pixel in ``box`` (inside the data area): a read averaged to
        about FILL_READ_PIXELS pixels on the short side (nodata excluded), so it is quick at any size."""
        res = max(10.0, min(box.width, box.height) / FILL_READ_PIXELS)
        return any(np.isfinite(self._read_band(b, box, res)).any() for b in GROUPS[10])

    def fill_values(self, res: int) -> np.ndarray:
        """Reflectance that replaces nodata, per band of group ``res``: the mean of the valid pixels of a
        read of the whole data area at about FILL_READ_PIXELS pixels a side (0 for a band without data)."""
        if res not in self._fill_values:
            coarse = max(res, max(self.data.width, self.data.height) / FILL_READ_PIXELS)
            means = []
            for b in GROUPS[res]:
                values = self._read_band(b, self.data, coarse)
                valid = np.isfinite(values)
                means.append(float(values[valid].mean()) if valid.any() else 0.0)
            self._fill_values[res] = np.array(means, np.float32)
        return self._fill_values[res]

    def _dataset(self, path: str) -> gdal.Dataset:
        if path not in self._datasets:
            self._datasets[path] = open_raster(path)
        return self._datasets[path]

    def _read_band(self, band: str, box: Extent, res: float) -> np.ndarray:
        """One band on its native ``res`` grid over ``box``, reflectance, NaN where there is no data."""
        src = self.product.bands[band]
        x0, dx, _, y0, _, dy = src.geotransform
        xoff, yoff = round((box.xmin - x0) / dx), round((box.ymax - y0) / dy)
        xsize, ysize = round(box.width / dx), round(box.height / abs(dy))
        rb = self._dataset(src.path).GetRasterBand(src.index)
        dn = read_array(src.path, rb, xoff, yoff, xsize, ysize, buf_xsize=round(box.width / res),
                        buf_ysize=round(box.height / res), resample_alg=gdal.GRIORA_Average).astype(np.float32)
        invalid = (dn == 0) | ~np.isfinite(dn)
        nodata = rb.GetNoDataValue()
        if nodata is not None:
            invalid |= dn == nodata
        refl = self.product.reflectance(band, dn)
        refl[invalid] = np.nan
        return refl


def _shape(box: Extent, res: int) -> tuple[int, int]:
    return round(box.height / res), round(box.width / res)


def _mirror_pad_to_box(stack: np.ndarray, inner: Extent, box: Extent, res: int) -> np.ndarray:
    """Mirror-pad ``stack`` (covering ``inner``) out to ``box``."""
    top = round((box.ymax - inner.ymax) / res)
    bottom = round((inner.ymin - box.ymin) / res)
    left = round((inner.xmin - box.xmin) / res)
    right = round((box.xmax - inner.xmax) / res)
    if not (top or bottom or left or right):
        return stack
    return np.pad(stack, ((0, 0), (top, bottom), (left, right)), mode="symmetric")


def _fill(stack: np.ndarray, mask: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Replace nodata by ``values`` (one per band)."""
    if not mask.any() or values is None:
        return stack
    out = stack.copy()
    for i in range(out.shape[0]):
        out[i][mask[i]] = values[i]
    return out
