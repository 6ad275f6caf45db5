"""Split an extent into tiles and blend their overlaps with smooth weights.

Units: tile positions and sizes are 10 m pixels of the extent grid (multiples of 6, so every
tile edge lies on the 60 m lattice); blend regions and weights are on the 2.5 m output grid.
Tiles partition the extent ("cores"); each core's output is extended by half the overlap on
interior sides and weighted by linear ramps that sum to exactly one across neighbours.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bands import SCALE

STEP = 6  # 60 m lattice in 10 m pixels
ALIGN = 12  # tile starts differ by multiples of this: the 60 m lattice and the x4 downsampling of the networks


def round_up(value: int, step: int = STEP) -> int:
    return int(math.ceil(value / step)) * step


@dataclass(frozen=True)
class TileSpec:
    """One tile's core: rows [row, row + rows) and columns [col, col + cols) of the 10 m extent grid."""

    row: int
    col: int
    rows: int
    cols: int


def _split(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``length`` (a multiple of 6) into near-equal parts of about ``tile``.

    Every part but the last is a multiple of ALIGN, so every part starts on the same phase of the
    networks' x4 downsampling as an untiled run does: a network's result then does not depend on the
    tiling (measured: a crop 2 pixels off that phase changes the output by up to 0.005 reflectance).
    """
    per = max(ALIGN, tile // ALIGN * ALIGN)
    n = math.ceil(length / per)
    units, rest = divmod(length, ALIGN)
    sizes = [(units // n + (1 if i < units % n else 0)) * ALIGN for i in range(n)]
    sizes[-1] += rest
    sizes = [z for z in sizes if z]
    starts = np.cumsum([0] + sizes[:-1])
    return [(int(s), int(z)) for s, z in zip(starts, sizes)]


def plan_tiles(rows: int, cols: int, tile: int) -> list[TileSpec]:
    """Tiles covering a ``rows`` x ``cols`` 10 m grid (both multiples of 6), row by row."""
    return [TileSpec(r, c, nr, nc) for r, nr in _split(rows, tile) for c, nc in _split(cols, tile)]


def _ramp(start: int, stop: int, total: int, half: int) -> tuple[int, int, np.ndarray]:
    """1-D blend weights on the output grid for a core spanning output pixels [start, stop)."""
    lo = start - half if start > 0 else start
    hi = stop + half if stop < total else stop
    x = np.arange(lo, hi) + 0.5
    w = np.ones(hi - lo, dtype=np.float64)
    if start > 0 and half:
        w = np.minimum(w, (x - (start - half)) / (2 * half))
    if stop < total and half:
        w = np.minimum(w, ((stop + half) - x) / (2 * half))
    return lo, hi, np.clip(w, 0.0, 1.0)


def blend_window(spec: TileSpec, rows: int, cols: int, overlap: int) -> tuple[int, int, np.ndarray]:
    """Where a tile's output goes and with what weight.

    Returns (out_row, out_col, weights) with ``weights`` of shape (h, w) on the 2.5 m grid; ``overlap``
    (10 m pixels) is the width of the blend zone centred on each interior core edge.
    """
    half = overlap * SCALE // 2
    r0, r1, wr = _ramp(spec.row * SCALE, (spec.row + spec.rows) * SCALE, rows * SCALE, half)
    c0, c1, wc = _ramp(spec.col * SCALE, (spec.col + spec.cols) * SCALE, cols * SCALE, half)
    return r0, c0, np.outer(wr, wc).astype(np.float32)


def context_margin(method_margin: int, overlap: int) -> int:
    """10 m pixels of real context to read around a core: the blend zone plus the method's own need, rounded
    to ALIGN so that every run, whatever its overlap, reads tiles on the same downsampling phase."""
    return round_up(method_margin + math.ceil(overlap / 2), ALIGN)
