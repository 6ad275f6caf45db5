"""The contract between the tiled pipeline and a super-resolution method.

A method sees one tile at a time, as reflectance (float32, DN/10000 after the product
offset) with nodata already filled, and returns the tile at 2.5 m. Tiles arrive with a
margin of real neighbouring pixels (``Method.margin``, in 10 m pixels); the pipeline
crops and blends, so a method never needs to know about its neighbours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np


@dataclass
class Tile:
    """Inputs of one tile: reflectance on the three native grids, cut from the same ground.

    ``b10`` is (4, h, w) [B02, B03, B04, B08] at 10 m, ``b20`` (6, h/2, w/2)
    [B05, B06, B07, B8A, B11, B12] at 20 m, ``b60`` (2, h/6, w/6) [B01, B09] at 60 m;
    h and w are multiples of 6. ``out_row``/``out_col`` are the absolute indices of the
    tile's first 2.5 m output pixel on the CRS-anchored 2.5 m lattice (row = -y/2.5,
    col = x/2.5), so position-keyed noise is the same whatever the tiling. ``guide_shift`` (rows,
    columns, in 10 m pixels) is the measured offset of the 20 m bands from the 10 m bands
    (core.coregister), the same for every tile of a run; methods move the guide by it.
    """

    b10: np.ndarray
    b20: np.ndarray
    b60: np.ndarray
    out_row: int = 0
    out_col: int = 0
    guide_shift: tuple[float, float] = (0.0, 0.0)


@dataclass
class RunOptions:
    """User options that methods may read: sampling steps, seed, samples for uncertainty."""

    steps: int = 8
    seed: int = 0
    samples: int = 1
    consistency: bool = True
    providers: list[str] = field(default_factory=lambda: ["CPUExecutionProvider"])


class Method(Protocol):
    """A super-resolution method: ``run`` maps a Tile to (12, 4h, 4w) reflectance in OUTPUT_BANDS order."""

    name: str
    margin: int  # context needed on each side, in 10 m pixels (a multiple of 6)

    def run(self, tile: Tile, options: RunOptions) -> np.ndarray: ...

    def describe(self) -> dict[str, str]: ...


ProgressFn = Callable[[float], None]
