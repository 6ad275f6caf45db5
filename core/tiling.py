"""Split an extent into tiles whose cores are aligned to the output's blocks, and place their read windows.

Units: tile positions and sizes are 10 m pixels of the extent grid; the output grid is 2.5 m (SCALE = 4
output pixels per 10 m pixel) and is stored in blocks of BLOCK x BLOCK output pixels (BLOCK_10M 10 m
pixels). Tile cores partition the extent and never straddle a block edge: a tile of at least one block
is a rectangle of whole blocks, a smaller tile is a part of one block, and tiles come block by block, so
the writer completes every block once (core.writer).

Tiles are not blended. Each tile is computed on a read window that adds the method's context to the
core and is snapped outward to an absolute lattice of ALIGN 10 m pixels in the product CRS (through the
product's 60 m lattice origin), so a pixel's value depends on the ground, not on where the extent or the
tile starts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .bands import SCALE

STEP = 6  # 60 m lattice in 10 m pixels
ALIGN = 12  # read windows start on this absolute lattice: the 60 m lattice and the x4 downsampling of the networks
BLOCK = 512  # output block side (2.5 m pixels)
BLOCK_10M = BLOCK // SCALE  # the same in 10 m pixels


def round_up(value: int, step: int = STEP) -> int:
    return int(math.ceil(value / step)) * step


def round_down(value: int, step: int = STEP) -> int:
    return int(math.floor(value / step)) * step


@dataclass(frozen=True)
class TileSpec:
    """One tile's core: rows [row, row + rows) and columns [col, col + cols) of the 10 m extent grid."""

    row: int
    col: int
    rows: int
    cols: int


def tile_side(tile: int) -> int:
    """The tile side actually used for a requested ``tile`` (10 m pixels): a multiple of BLOCK_10M, or for
    smaller requests the largest power-of-two divisor of BLOCK_10M not above it (at least 8)."""
    if tile >= BLOCK_10M:
        return max(1, round(tile / BLOCK_10M)) * BLOCK_10M
    side = BLOCK_10M
    while side > max(8, tile):
        side //= 2
    return side


def plan_tiles(rows: int, cols: int, tile: int) -> list[TileSpec]:
    """Tiles covering a ``rows`` x ``cols`` 10 m grid, block by block (``tile`` as in :func:`tile_side`)."""
    side = tile_side(tile)
    group = max(side, BLOCK_10M)   # the unit visited in order: a tile of whole blocks, or one block
    out = []
    for r0 in range(0, rows, group):
        for c0 in range(0, cols, group):
            for r in range(r0, min(r0 + group, rows), side):
                for c in range(c0, min(c0 + group, cols), side):
                    out.append(TileSpec(r, c, min(side, rows - r), min(side, cols - c)))
    return out


def read_window(spec: TileSpec, margin: int, phase: tuple[int, int]) -> TileSpec:
    """The 10 m window (extent grid) to read for ``spec``: ``margin`` pixels of context on every side, grown
    to the absolute ALIGN lattice. ``phase`` = (row, col) of the extent's first pixel counted from the
    product's lattice origin, modulo ALIGN."""
    pr, pc = phase
    r0 = round_down(spec.row - margin + pr, ALIGN) - pr
    c0 = round_down(spec.col - margin + pc, ALIGN) - pc
    r1 = round_up(spec.row + spec.rows + margin + pr, ALIGN) - pr
    c1 = round_up(spec.col + spec.cols + margin + pc, ALIGN) - pc
    return TileSpec(r0, c0, r1 - r0, c1 - c0)


def context_margin(method_margin: int, overlap: int) -> int:
    """10 m pixels of real context to read around a core: the method's own need plus half of ``overlap``
    (extra context on request; tiles are never blended)."""
    return method_margin + math.ceil(max(0, overlap) / 2)
