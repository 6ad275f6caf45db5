"""The live lens' computation (no Qt): super-resolve a small window around a point with core's API.

One window = the 10 m bands (B02, B03, B04, B08) of a square of ``side`` 10 m pixels centred on the
point (snapped to the 60 m lattice by core.pipeline.plan_run), read with the method's context margin by
core.reader.TileReader and run through the method once: no output file, no blending, one tile.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..core.bands import GROUP_10, SCALE
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.pipeline import plan_run
from ..core.reader import TileReader
from ..core.sources import Product
from ..core.tiling import BLOCK_10M
from .tile_pictures import core_window, to_rgb8

#: side of the lens window in 10 m pixels (a multiple of 6): 480 m of ground, 192 x 192 output pixels
LENS_SIDE = 48
#: context (10 m pixels) read around the window: less than the networks' full margin, so the lens answers
#: in about a second; the difference to a full run is measured by bench/lens.py (README, "Live lens")
LENS_CONTEXT = 24
RGB = tuple(GROUP_10.index(b) for b in ("B04", "B03", "B02"))


@dataclass(frozen=True)
class LensPicture:
    """The original (10 m, enlarged by nearest neighbour) and the super-resolved window, both (h, w, 3)
    uint8 in one stretch, over ``extent`` (metres, raster CRS); ``seconds`` = read + run."""

    original: np.ndarray
    result: np.ndarray
    extent: Extent
    seconds: float


def lens_window(product: Product, x: float, y: float, side: int = LENS_SIDE) -> Extent:
    """The square of ``side`` 10 m pixels centred on (x, y) (metres, raster CRS)."""
    half = side * 10 / 2
    return Extent(x - half, y - half, x + half, y + half)


def compute_lens(product: Product, method, x: float, y: float, ranges: list[tuple[float, float]],
                 side: int = LENS_SIDE, options: RunOptions | None = None,
                 context: int | None = LENS_CONTEXT) -> LensPicture:
    """Super-resolve the lens window at (x, y) with ``method`` (built for GROUP_10), reading ``context``
    10 m pixels around it (None: the method's full margin, as a run does); raises ExtentError when the
    window misses the data."""
    start = time.perf_counter()
    margin = method.margin if context is None else min(context, method.margin)
    plan = plan_run(product, lens_window(product, x, y, side), GROUP_10, margin, tile=BLOCK_10M, overlap=0)
    spec = plan.tiles[0]                       # one tile: the window is smaller than a block
    box = plan.read_box(spec)
    reader = TileReader(product, plan.data, (10,))
    try:
        tile, _ = reader.read(box)
    finally:
        reader.close()
    result = np.asarray(method.superresolve_tile(tile, options or RunOptions()))
    r0, c0, ground = core_window(plan, spec, box)
    sr = result[list(RGB), r0:r0 + spec.rows * SCALE, c0:c0 + spec.cols * SCALE]
    r10, c10 = r0 // SCALE, c0 // SCALE
    low = tile.b10[list(RGB), r10:r10 + spec.rows, c10:c10 + spec.cols]
    low = np.repeat(np.repeat(low, SCALE, axis=1), SCALE, axis=2)
    return LensPicture(to_rgb8(low, ranges), to_rgb8(sr, ranges), ground, time.perf_counter() - start)
