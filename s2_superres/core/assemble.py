"""A batch product's Cloud-Optimised GeoTIFF, assembled by Dask tasks on the workers (core.cog writes it).

The tasks, all idempotent (a retried or re-run task finds its result and returns):

1. ``encode_group``: the finished tile cores of one *group* (a tile of whole output blocks, or the tiles
   of one block) become the level-0 chunks of their blocks (512 x 512 at 2.5 m); the core files are then removed.
2. ``build_overview``: chunk (r, c) of overview level k from the four level k - 1 chunks below it.
3. ``write_head``: once every chunk exists, the COG's layout (``layout.json``), and the file
   ``cog.tif`` in the work folder at its final size (sparse), header and IFDs written.
4. ``copy_row``: the chunks of one tile row of one level copied to their offsets, removed once synced.
5. ``finish``: GDAL's COG validation, then the rename into place and the removal of the work folder.

The client only submits the tasks and waits: its memory is the task graph (a few small tasks per tile).
Each task holds at most one tile core or a 2 x 2 square of the COG's tiles. Disk beyond the output: the
cores of the groups not yet encoded (an encoding task also holds its new chunks until it removes them),
and per copy task at most ``cog.SYNC_BYTES`` plus one chunk.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fractions import Fraction

import numpy as np
from osgeo import gdal

from . import cog
from .bands import SCALE
from .errors import OutputError
from .gdal_env import gdal_scope
from .tiling import BLOCK, TileSpec, block_side
from .writer import OutputGrid, dress, encode_stored, gdal_type, validate_cog

LAYOUT = "layout.json"   # in the work folder once the COG's header is written: every chunk exists


@dataclass(frozen=True)
class Assembly:
    """What the assembly tasks of one product need (small: sent with every task)."""

    work_dir: str
    grid: OutputGrid          # the output grid (its block side is the COG's tile side)
    bands: tuple[str, ...]
    dtype: str                # float32 | uint16
    scale: Fraction = Fraction(SCALE)   # output pixels per 10 m pixel

    @property
    def folder(self) -> Path:
        return Path(self.work_dir)

    @property
    def block(self) -> int:
        return self.grid.block

    @property
    def levels(self) -> list[tuple[int, int]]:
        return cog.pyramid(self.grid.cols, self.grid.rows, self.block)

    def blocks(self, spec: TileSpec) -> list[tuple[int, int]]:
        return blocks_of(spec, self.scale, self.block)

    @property
    def target(self) -> Path:
        """The COG while it is written (renamed to the output when complete)."""
        return self.folder / "cog.tif"

    @property
    def layout_path(self) -> Path:
        return self.folder / LAYOUT


def core_path(work_dir: str | Path, spec: TileSpec) -> Path:
    """The file of a finished tile core (float32 reflectance, DEFLATE GeoTIFF)."""
    return Path(work_dir) / f"r{spec.row:06d}_c{spec.col:06d}.tif"


def out_pixels(pixels_10m: int, scale: Fraction) -> int:
    """Output pixels on ``pixels_10m`` 10 m pixels (whole on the tile lattice, as Plan.out_pixels)."""
    return int(pixels_10m * scale)


def blocks_of(spec: TileSpec, scale: Fraction = Fraction(SCALE), block: int = BLOCK) -> list[tuple[int, int]]:
    """The output blocks (row, col) that tile core ``spec`` (10 m pixels) covers, row-major."""
    rows = range(out_pixels(spec.row, scale) // block, (out_pixels(spec.row + spec.rows, scale) - 1) // block + 1)
    cols = range(out_pixels(spec.col, scale) // block, (out_pixels(spec.col + spec.cols, scale) - 1) // block + 1)
    return [(r, c) for r in rows for c in cols]


def groups(tiles: list[TileSpec], scale: Fraction = Fraction(SCALE)) -> list[list[TileSpec]]:
    """The tiles in groups that cover whole blocks: a tile of whole blocks alone, the tiles of one block
    together (tile cores never straddle a block edge). Plan order is kept."""
    found: dict[tuple[int, int], list[TileSpec]] = {}
    for spec in tiles:
        found.setdefault(blocks_of(spec, scale, block_side(scale))[0], []).append(spec)
    return list(found.values())


def tile_encoded(work_dir: str | Path, spec: TileSpec, scale: Fraction = Fraction(SCALE)) -> bool:
    """Whether the level-0 chunks of the blocks of tile ``spec`` exist (or the COG's layout does: every
    chunk was made): its block file was consumed, the tile is done."""
    if (Path(work_dir) / LAYOUT).exists():
        return True
    blocks = blocks_of(spec, scale, block_side(scale))
    return all(cog.chunk_path(Path(work_dir), 0, r, c).exists() for r, c in blocks)


def group_encoded(asm: Assembly, specs: list[TileSpec]) -> bool:
    """Whether the level-0 chunks of a group exist (see :func:`tile_encoded`)."""
    return all(tile_encoded(asm.folder, s, asm.scale) for s in specs)


@gdal_scope()
def encode_group(asm: Assembly, specs: list[TileSpec], *_after: Any) -> None:
    """Encode the blocks of one group from its tile cores into level-0 chunks, then remove the cores."""
    if not group_encoded(asm, specs):
        cores = {s: _load_core(core_path(asm.folder, s)) for s in specs}
        for r, c in sorted({b for s in specs for b in asm.blocks(s)}):
            block = _block_from_cores(asm, r, c, cores)
            cog.write_chunk(cog.chunk_path(asm.folder, 0, r, c), cog.encode_tile(block, asm.dtype, asm.block))
    for s in specs:
        core_path(asm.folder, s).unlink(missing_ok=True)


def _block_from_cores(asm: Assembly, r: int, c: int, cores: dict[TileSpec, np.ndarray]) -> np.ndarray:
    """Block (r, c) in stored values (bands, h, w), cut from the cores that cover it."""
    side = asm.block
    r0, c0 = r * side, c * side
    h, w = min(side, asm.grid.rows - r0), min(side, asm.grid.cols - c0)
    block = np.full((len(asm.bands), h, w), np.nan, np.float32)
    for spec, data in cores.items():
        y0, x0 = out_pixels(spec.row, asm.scale), out_pixels(spec.col, asm.scale)
        y_lo, y_hi = max(r0, y0), min(r0 + h, y0 + data.shape[1])
        x_lo, x_hi = max(c0, x0), min(c0 + w, x0 + data.shape[2])
        if y_lo < y_hi and x_lo < x_hi:
            block[:, y_lo - r0:y_hi - r0, x_lo - c0:x_hi - c0] = data[:, y_lo - y0:y_hi - y0, x_lo - x0:x_hi - x0]
    return np.stack([encode_stored(band, asm.dtype) for band in block])


def _load_core(path: Path) -> np.ndarray:
    data = gdal.Open(str(path)).ReadAsArray()
    return data[None] if data.ndim == 2 else data


def build_overview(asm: Assembly, level: int, row: int, col: int, *_after: Any) -> None:
    """Overview chunk (row, col) of ``level`` (>= 1), unless it exists."""
    if not (asm.layout_path.exists() or cog.chunk_path(asm.folder, level, row, col).exists()):
        cog.build_overview_tile(asm.folder, level, row, col, len(asm.bands), asm.dtype, asm.block)


@gdal_scope()
def write_head(asm: Assembly, tags: dict[str, str], *_after: Any) -> list[tuple[str, int]]:
    """Lay out the COG and write its header and IFDs (once: a re-run reads ``layout.json``); returns each
    chunk's file name and offset."""
    if asm.layout_path.exists() and asm.target.exists():
        return [(str(name), int(at)) for name, at in json.loads(asm.layout_path.read_text())]
    grid = asm.grid
    template = cog.template_tags(grid.cols, grid.rows, len(asm.bands), gdal_type(asm.dtype),
                                 lambda ds: dress(ds, grid, asm.bands, asm.dtype, tags), asm.block)
    layout = cog.plan_layout(asm.folder, asm.levels, template, block=asm.block)
    cog.write_head(asm.target, layout)
    temp = asm.layout_path.with_suffix(".tmp")
    temp.write_text(json.dumps(layout.places))
    os.replace(temp, asm.layout_path)
    return layout.places


def copy_row(asm: Assembly, level: int, row: int, places: list[tuple[str, int]], *_after: Any) -> int:
    """Copy the chunks of one tile row of one level into the COG (bytes copied)."""
    prefix = cog.chunk_path(asm.folder, level, row, 0).name.rsplit("_c", 1)[0] + "_c"
    return cog.copy_chunks(asm.target, asm.folder, [p for p in places if p[0].startswith(prefix)])


@gdal_scope()
def finish(asm: Assembly, output: str, *_after: Any) -> None:
    """Validate the COG, rename it to ``output`` and remove the work folder."""
    problems = validate_cog(asm.target, asm.block)
    if problems:
        raise OutputError(f"The COG written for '{output}' does not validate ({'; '.join(problems)}); nothing "
                          "was written. Please report this with the command you ran.")
    os.replace(asm.target, output)
    shutil.rmtree(asm.folder, ignore_errors=True)


def submit(client, asm: Assembly, tiles: list[TileSpec], computing: dict[TileSpec, Any], tags: dict[str, str],
           output: str, key: str, resources: dict[str, int] | None = None):
    """Submit the assembly of one product; ``computing`` holds the futures of the tiles still being
    computed. Returns the future of ``finish``."""
    def task(fn, name, *args, priority=1):
        return client.submit(fn, asm, *args, key=f"{name}-{key}", resources=resources, retries=2, pure=False,
                             priority=priority)

    below: dict[tuple[int, int], Any] = {}
    for specs in groups(tiles, asm.scale):
        deps = [computing[s] for s in specs if s in computing]
        if deps or not group_encoded(asm, specs):
            r, c = asm.blocks(specs[0])[0]
            future = task(encode_group, f"encode-{r}-{c}", specs, *deps)
            below.update({b: future for s in specs for b in asm.blocks(s)})
    chunks = list(below.values())
    for level, size in enumerate(asm.levels[1:], start=1):
        rows, cols = cog.tile_grid(size, asm.block)
        above = {}
        for r in range(rows):
            for c in range(cols):
                quad = [(2 * r + i, 2 * c + j) for i in (0, 1) for j in (0, 1)]
                deps = [below[q] for q in quad if q in below]
                if deps or not cog.chunk_path(asm.folder, level, r, c).exists():
                    above[(r, c)] = task(build_overview, f"overview{level}-{r}-{c}", level, r, c, *deps, priority=2)
        chunks += list(above.values())
        below = above
    head = task(write_head, "head", tags, *set(chunks), priority=3)
    copies = [task(copy_row, f"copy{level}-{r}", level, r, head, priority=3)
              for level, size in enumerate(asm.levels) for r in range(cog.tile_grid(size, asm.block)[0])]
    return task(finish, "finish", output, *copies, priority=3)
