"""The reference method: every band bicubic-upsampled from its native grid to 2.5 m."""
from __future__ import annotations

import numpy as np

from ..bands import GROUPS, OUTPUT_BANDS
from ..resample import upsample_bicubic
from .base import RunOptions, Tile


class Bicubic:
    """Keys bicubic (a = -0.5), per band; needs 2 pixels of context on the 60 m grid."""

    name = "bicubic"
    margin = 12

    def __init__(self, bands: tuple[str, ...] = OUTPUT_BANDS):
        self.bands = bands

    def run(self, tile: Tile, options: RunOptions) -> np.ndarray:
        grids = {10: tile.b10, 20: tile.b20, 60: tile.b60}
        out = []
        for band in self.bands:
            res = next(r for r, names in GROUPS.items() if band in names)
            out.append(upsample_bicubic(grids[res][GROUPS[res].index(band)], res * 4 // 10))
        return np.stack(out)

    def describe(self) -> dict[str, str]:
        return {"method": self.name, "models": "none"}
