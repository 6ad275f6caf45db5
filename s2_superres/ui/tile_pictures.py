"""Tile pictures (no Qt): each tile a run computes, as a small 8-bit true-colour picture of its core.

``PreviewingMethod`` wraps the run's method (same protocol, every attribute delegated): after each tile
it hands the picture and its ground box to a callback (worker thread); ui.live_preview draws them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.bands import OUTPUT_RESOLUTION
from ..core.extent import Extent

#: longest side of a tile's preview picture (pixels), and the side of all pictures of a run together:
#: a run of n tiles gets pictures of PREVIEW_TOTAL / sqrt(n) pixels a side, so their memory stays under
#: 3 * PREVIEW_TOTAL**2 bytes (12 MB) whatever the extent
PREVIEW_SIDE = 256
PREVIEW_TOTAL = 2048


def preview_side(tiles: int) -> int:
    """Side (pixels) of each tile's picture in a run of ``tiles`` tiles."""
    return max(16, min(PREVIEW_SIDE, int(PREVIEW_TOTAL / max(1, tiles) ** 0.5)))


@dataclass(frozen=True)
class TilePicture:
    """An RGB picture (rows, cols, 3) uint8 of the ground box ``extent`` (metres, raster CRS)."""

    rgb: np.ndarray
    extent: Extent


def to_rgb8(rgb: np.ndarray, ranges: list[tuple[float, float]]) -> np.ndarray:
    """(3, h, w) reflectance -> (h, w, 3) uint8 with a linear stretch per channel; NaN -> black."""
    out = np.empty(rgb.shape[1:] + (3,), np.uint8)
    for k, (lo, hi) in enumerate(ranges):
        scaled = (np.nan_to_num(rgb[k], nan=lo) - lo) / max(hi - lo, 1e-9)
        out[..., k] = (np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    return out


def core_window(plan, spec, box: Extent, pixel: float = OUTPUT_RESOLUTION) -> tuple[int, int, Extent]:
    """Where the core of tile ``spec`` lies in an array read over ``box`` (core.pipeline.Plan.read_box) with
    ``pixel``-metre pixels: (first row, first column), and the core's ground box."""
    e = plan.extent
    core = Extent(e.xmin + spec.col * 10, e.ymax - (spec.row + spec.rows) * 10,
                  e.xmin + (spec.col + spec.cols) * 10, e.ymax - spec.row * 10)
    return round((box.ymax - core.ymax) / pixel), round((core.xmin - box.xmin) / pixel), core


class PreviewingMethod:
    """A method (core.methods.base.Method) that also reports a true-colour picture of every tile it computed."""

    def __init__(self, method, rgb: tuple[int, int, int], ranges: list[tuple[float, float]], plan,
                 on_tile: Callable[[TilePicture], None], side: int = PREVIEW_SIDE):
        self._method, self._rgb, self._ranges, self._side = method, rgb, ranges, side
        self._plan = plan
        #: the tile a read window belongs to, by the window's first pixel on the 2.5 m lattice (Tile.out_row,
        #: out_col: 2.5 m indices at every output pixel size)
        self._specs = {}
        for spec in plan.tiles:
            box = plan.read_box(spec)
            self._specs[(round(-box.ymax / OUTPUT_RESOLUTION), round(box.xmin / OUTPUT_RESOLUTION))] = (spec, box)
        self._on_tile = on_tile

    def __getattr__(self, name: str):
        return getattr(self._method, name)

    def superresolve_tile(self, tile, options):
        result = self._method.superresolve_tile(tile, options)
        try:
            self._on_tile(self.picture(tile, result))
        except Exception:  # a preview must never break the run
            pass
        return result

    def picture(self, tile, result: np.ndarray) -> TilePicture:
        """The tile's core of ``result`` as an 8-bit picture of at most ``side`` pixels a side."""
        spec, box = self._specs[(tile.out_row, tile.out_col)]
        plan = self._plan
        r0, c0, ground = core_window(plan, spec, box, plan.pixel_size)
        rows, cols = plan.out_pixels(spec.rows), plan.out_pixels(spec.cols)
        core = np.asarray(result)[list(self._rgb), r0:r0 + rows, c0:c0 + cols]
        step = max(1, -(-max(core.shape[1:]) // self._side))
        return TilePicture(np.ascontiguousarray(to_rgb8(core[:, ::step, ::step], self._ranges)), ground)
