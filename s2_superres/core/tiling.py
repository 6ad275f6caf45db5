"""Split an extent into tiles whose cores are aligned to the output's blocks, and place their read windows.

Units: tile positions and sizes are 10 m pixels of the extent grid. The output pixel is 60 m / n (n = 6..30,
core.bands.PIXEL_SIZES), so there are ``scale`` = n/6 = a/b output pixels per 10 m pixel (a fraction in
lowest terms; 2.5 m: 4/1, 3 m: 10/3, 5 m: 2/1). The output is stored in square blocks of
:func:`block_side` output pixels (BLOCK = 512 at 2.5 m).

Layout at any pixel size. The extent is on the 60 m lattice, so it holds whole output pixels. Inside it, a
tile-core edge gives whole output pixels when it lies on a multiple of b 10 m pixels (= a output pixels):
the *unit* (1 at 2.5, 5 and 10 m; 3 at 3 m; 6 at 60/7 m). The block side is the multiple of lcm(16, a)
output pixels nearest 512 (TIFF blocks are multiples of 16 pixels; ties go to the smaller): 512 at 10, 7.5, 5,
3.75 and 2.5 m; 480 at 6, 4, 3 and 2 m; 528 at 10/3 m; 368 at 60/23 m; 608 at 60/19 m. A block is then
:func:`block_10m` = block_side / scale 10 m pixels, a whole number of units, and every block edge falls
on the unit lattice (on the 60 m lattice where b = 6, e.g. n = 7, 11, 13). Tile cores
partition the extent and never straddle a block edge: a tile of at least one block is a rectangle of whole
blocks, a smaller tile is a whole number of units that divides the block, and tiles come block by block,
so the writer completes every block once (core.writer). At 2.5 m this is exactly the layout of the
fixed-size runs (512 px blocks, 128 10 m px).

Tiles are not blended. Each tile is computed on a read window that adds the method's context to the
core and is snapped outward to an absolute lattice of ALIGN 10 m pixels in the product CRS (through the
product's 60 m lattice origin), so a pixel's value depends on the ground, not on where the extent or the
tile starts. ALIGN 10 m pixels are 120 m = 2n output pixels, so at every pixel size each read window starts on
an output pixel edge and the output grid has the same phase in every window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .bands import SCALE

STEP = 6  # 60 m lattice in 10 m pixels
ALIGN = 12  # read windows start on this absolute lattice: the 60 m lattice and the x4 downsampling of the networks
BLOCK = 512  # output block side (2.5 m pixels)
BLOCK_10M = BLOCK // SCALE  # the same in 10 m pixels
TIFF_BLOCK_MULTIPLE = 16  # a TIFF block side is a multiple of 16 pixels


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


def unit(scale: Fraction = Fraction(SCALE)) -> int:
    """The smallest number of 10 m pixels that holds whole output pixels at ``scale`` (output pixels per 10 m
    pixel): the scale's denominator in lowest terms (1 at 2.5 m, 3 at 3 m, 6 at 60/7 m)."""
    return Fraction(scale).denominator


def block_side(scale: Fraction = Fraction(SCALE)) -> int:
    """Side of the output's square blocks (output pixels) at ``scale``: the multiple of lcm(16, numerator) nearest
    BLOCK (512 at 2.5 m)."""
    step = math.lcm(TIFF_BLOCK_MULTIPLE, Fraction(scale).numerator)
    return max(1, math.ceil(BLOCK / step - 0.5)) * step


def block_10m(scale: Fraction = Fraction(SCALE)) -> int:
    """The block side in 10 m pixels (a whole number of units; 128 at 2.5 m)."""
    return int(block_side(scale) / Fraction(scale))


def tile_side(tile: int, scale: Fraction = Fraction(SCALE)) -> int:
    """The tile side actually used for a requested ``tile`` (10 m pixels) at ``scale``: a multiple of the block,
    or for smaller requests the largest divisor of the block that is a whole number of units and not above
    max(8, tile) (at 2.5 m: the largest power of two, at least 8)."""
    block, step = block_10m(scale), unit(scale)
    if tile >= block:
        return max(1, round(tile / block)) * block
    limit = max(8, tile)
    return max(d for d in range(step, block + 1, step) if block % d == 0 and d <= limit)


def plan_tiles(rows: int, cols: int, tile: int, scale: Fraction = Fraction(SCALE)) -> list[TileSpec]:
    """Tiles covering a ``rows`` x ``cols`` 10 m grid, block by block (``tile`` as in :func:`tile_side`)."""
    side = tile_side(tile, scale)
    group = max(side, block_10m(scale))   # the unit visited in order: a tile of whole blocks, or one block
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
