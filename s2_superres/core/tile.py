"""What a method is given: one ``Tile`` of reflectance on the three native grids, and the ``RunOptions``.

The I/O layer (core.reader) builds tiles and the methods (core.methods) consume them, so these
types live below both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: 10 m pixels around Tile.keep on which the super-resolved 10 m bands must be exact, because the fusion stage
#: reads its guide there (LearnedFusionStage.stage_b_context plus the guide shift's cubic support)
GUIDE_CONTEXT = 20

#: (row, col, rows, cols) of the part of a tile that is kept, in 10 m pixels of the tile; None = all of it
Keep = tuple[int, int, int, int] | None


@dataclass
class DateStack:
    """Acquisitions of the run's ground on the tile's 10 m grid (the target date included when observed).

    ``b10`` (D, 4, h, w) float32 reflectance [B02, B03, B04, B08] of each date, registered onto the
    reference grid (sub-pixel shift measured once per run, core.registration), nodata filled;
    ``clear`` (D, h, w) bool, True where the date sees the ground (no cloud, cloud shadow or nodata,
    core.clouds); ``days`` (D,) float32, days from the target date (negative = before; 0 for an
    observed target). Dates are in time order; h, w are those of ``Tile.b10``.
    """

    b10: np.ndarray
    clear: np.ndarray
    days: np.ndarray


@dataclass
class Tile:
    """Inputs of one tile: reflectance on the three native grids, cut from the same ground.

    ``b10`` is (4, h, w) [B02, B03, B04, B08] at 10 m, ``b20`` (6, h/2, w/2)
    [B05, B06, B07, B8A, B11, B12] at 20 m, ``b60`` (2, h/6, w/6) [B01, B09] at 60 m;
    h and w are multiples of 6. ``out_row``/``out_col`` are the absolute indices of the
    tile's first 2.5 m output pixel on the CRS-anchored 2.5 m lattice (row = -y/2.5,
    col = x/2.5), whatever the run's pixel size, so position-keyed noise is the same whatever the
    tiling. ``guide_shift`` (rows, columns, in 10 m pixels) is the measured offset of the 20 m bands from the 10 m bands
    (core.coregister), the same for every tile of a run; methods move the guide by it.
    ``guide_shift_60`` is the same for the 60 m bands (zero unless the offset is significant).
    ``keep`` (row, col, rows, cols, in 10 m pixels of the tile) is the part of the result the caller keeps
    (the pipeline: the tile's core); a method then only has to be exact there and may leave the rest of
    the window less refined (None: the whole tile is kept).
    ``dates`` holds the other acquisitions of the same ground when the run has several (else None).
    """

    b10: np.ndarray
    b20: np.ndarray
    b60: np.ndarray
    out_row: int = 0
    out_col: int = 0
    guide_shift: tuple[float, float] = (0.0, 0.0)
    guide_shift_60: tuple[float, float] = (0.0, 0.0)
    keep: Keep = None
    dates: DateStack | None = None   #: other acquisitions of the tile's ground (core.timestack), None for one date


@dataclass
class RunOptions:
    """User options that methods may read: sampling steps, seed, samples for uncertainty, reflectance
    consistency, onnxruntime execution providers (in order of preference), the output pixel size in
    metres (one of core.bands.PIXEL_SIZES; a method returns core.bands.output_scale(pixel_size) output
    pixels per 10 m pixel), and whether other dates may fill the target's cloudy pixels (``fill_clouds``;
    only methods that use dates read it)."""

    steps: int = 8
    seed: int = 0
    samples: int = 1
    consistency: bool = True
    providers: list[str] = field(default_factory=lambda: ["CPUExecutionProvider"])
    fill_clouds: bool = False
    pixel_size: float = 2.5
