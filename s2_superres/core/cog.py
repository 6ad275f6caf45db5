"""A Cloud-Optimised GeoTIFF written tile by tile, without GDAL's whole-raster copy.

GDAL's COG driver copies a row of blocks at a time (memory grows with the raster's width) and needs the
tiled source and the COG on disk together. Here each square tile (``block`` pixels a side: 512 at 2.5 m,
core.tiling.block_side at other pixel sizes) of every pyramid level is encoded on
its own (pixel-interleaved, horizontal/floating-point predictor, DEFLATE) into a small *chunk* file that
already holds GDAL's block leader (size as uint32) and trailer (last 4 bytes repeated). Overview tile
(r, c) of level k + 1 is the average of level k's tiles (2r..2r+1, 2c..2c+1), nodata excluded, decoded
from their chunks, so every tile is a separate task with a constant memory need (a few tiles).

When every chunk exists, the file is laid out as GDAL's COG driver lays it out: header, GDAL's structural
metadata ("ghost area"), the IFD of the full resolution then those of the overviews (largest first), then
the tile data of the smallest overview first and of the full resolution last, each level row-major. The
IFD tags that describe the georeferencing, band descriptions, nodata and metadata are copied from a
sparse GeoTIFF that GDAL creates with the same settings (no pixels written). The chunks are then copied
to their final offsets (any process, any order, ``os.pwrite``) and removed once the copy is on disk, so
the disk beyond the output stays bounded by what is copied between two syncs.
"""
from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
import uuid

import numpy as np
from osgeo import gdal

from .tiling import BLOCK

GHOST = ("LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
         "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ")
ZLEVEL = 1
SYNC_BYTES = 64 * 2**20     # chunks copied into the COG are removed after each fsync of this many bytes

# TIFF tags written here rather than copied from the template
NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH = 254, 256, 257
TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS = 322, 323, 324, 325
STRIP_TAGS = {273, 278, 279}
GEO_TAGS = {33550, 33922, 34264, 34735, 34736, 34737, 42112}   # georeferencing, GDAL_METADATA: level 0 only
SHORT, LONG, LONG8 = 3, 4, 16
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 16: 8, 17: 8, 18: 8}


@dataclass(frozen=True)
class Tag:
    """One IFD entry: tag id, TIFF type, value count and the value bytes (little-endian)."""

    tag: int
    type: int
    count: int
    data: bytes


# ---------------------------------------------------------------- pyramid and tiles

def pyramid(cols: int, rows: int, block: int = BLOCK) -> list[tuple[int, int]]:
    """(columns, rows) of the full resolution and of each overview: halved (rounded up) until a level fits in
    one ``block`` x ``block`` tile, as GDAL's COG driver does."""
    levels = [(cols, rows)]
    while max(levels[-1]) > block:
        w, h = levels[-1]
        levels.append(((w + 1) // 2, (h + 1) // 2))
    return levels


def tile_grid(size: tuple[int, int], block: int = BLOCK) -> tuple[int, int]:
    """(tile rows, tile columns) of a level of ``size`` = (columns, rows) in ``block``-pixel tiles."""
    return math.ceil(size[1] / block), math.ceil(size[0] / block)


def chunk_path(folder: Path, level: int, row: int, col: int) -> Path:
    return Path(folder) / f"t{level:02d}_r{row:05d}_c{col:05d}.chunk"


def nodata_value(dtype: str) -> float:
    return float("nan") if dtype == "float32" else 0.0


def encode_tile(data: np.ndarray, dtype: str, block: int = BLOCK) -> bytes:
    """A (bands, h, w) tile of stored values (h, w <= ``block``; padded with nodata) as one chunk: uint32 size,
    DEFLATE of the pixel-interleaved tile after the TIFF predictor (3 for float32, 2 for uint16), and the
    last 4 bytes repeated."""
    bands, h, w = data.shape
    full = np.full((block, block, bands), nodata_value(dtype), dtype=dtype)
    full[:h, :w] = np.moveaxis(data, 0, -1)
    if dtype == "float32":
        planes = full.reshape(block, -1).astype(">f4").view(np.uint8).reshape(block, -1, 4)
        rows = np.ascontiguousarray(planes.transpose(0, 2, 1)).reshape(block, -1)
    else:
        rows = full.reshape(block, -1).astype("<u2")
    diff = rows.copy()
    diff[:, bands:] -= rows[:, :-bands]
    body = zlib.compress(diff.tobytes(), ZLEVEL)
    return struct.pack("<I", len(body)) + body + body[-4:]


def decode_tile(chunk: bytes, bands: int, dtype: str, block: int = BLOCK) -> np.ndarray:
    """The (bands, block, block) stored values of a chunk written by :func:`encode_tile`."""
    body = chunk[4:-4]
    if dtype == "float32":
        diff = np.frombuffer(zlib.decompress(body), np.uint8).reshape(block, -1, bands)
        rows = np.cumsum(diff, axis=1, dtype=np.uint8).reshape(block, 4, -1)
        values = np.ascontiguousarray(rows.transpose(0, 2, 1)).view(">f4").astype(np.float32)
    else:
        diff = np.frombuffer(zlib.decompress(body), "<u2").reshape(block, -1, bands)
        values = np.cumsum(diff, axis=1, dtype=np.uint16)
    return np.moveaxis(values.reshape(block, block, bands), -1, 0)


def average_2x2(data: np.ndarray, dtype: str) -> np.ndarray:
    """Halve (bands, 2h, 2w) stored values: each output pixel is the mean of its 2 x 2 pixels, nodata
    excluded (NaN for float32, 0 for uint16, rounded half up), nodata where all four are nodata. One band at
    a time in float64 (GDAL's AVERAGE gives the same values)."""
    return np.stack([_average_band(band, dtype) for band in data])


def _average_band(band: np.ndarray, dtype: str) -> np.ndarray:
    h2, w2 = band.shape
    quads = band.reshape(h2 // 2, 2, w2 // 2, 2).astype(np.float64)
    valid = np.isfinite(quads) if dtype == "float32" else quads != 0
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, quads, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    if dtype == "float32":
        return mean.astype(np.float32)
    return np.where(count > 0, np.floor(mean + 0.5), 0).astype(np.uint16)


def write_chunk(path: Path, chunk: bytes) -> None:
    """Write a chunk under a temporary name and rename it (a chunk file is always whole)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(chunk)
    os.replace(temp, path)


def build_overview_tile(folder: Path, level: int, row: int, col: int, bands: int, dtype: str,
                        block: int = BLOCK) -> None:
    """Chunk (row, col) of overview ``level`` from the (up to) four chunks of ``level - 1`` it covers."""
    quad = np.full((bands, 2 * block, 2 * block), nodata_value(dtype), dtype=dtype)
    for dr in (0, 1):
        for dc in (0, 1):
            source = chunk_path(folder, level - 1, 2 * row + dr, 2 * col + dc)
            if source.exists():
                quad[:, dr * block:(dr + 1) * block, dc * block:(dc + 1) * block] = decode_tile(
                    source.read_bytes(), bands, dtype, block)
    write_chunk(chunk_path(folder, level, row, col), encode_tile(average_2x2(quad, dtype), dtype, block))


# ---------------------------------------------------------------- TIFF structure

def parse_tags(raw: bytes) -> list[Tag]:
    """The entries of the first IFD of a little-endian classic TIFF held in ``raw``."""
    if raw[:4] != b"II*\x00":
        raise ValueError("not a little-endian classic TIFF")
    (ifd,) = struct.unpack_from("<I", raw, 4)
    (count,) = struct.unpack_from("<H", raw, ifd)
    tags = []
    for i in range(count):
        tag, typ, n, value = struct.unpack_from("<HHII", raw, ifd + 2 + 12 * i)
        size = TYPE_SIZE[typ] * n
        start = ifd + 2 + 12 * i + 8 if size <= 4 else value
        tags.append(Tag(tag, typ, n, raw[start:start + size]))
    return tags


def template_tags(cols: int, rows: int, bands: int, gdal_type: int, dress: Callable[[gdal.Dataset], None],
                  block: int = BLOCK) -> list[Tag]:
    """The IFD tags GDAL writes for a ``cols`` x ``rows`` raster of ``bands`` bands that ``dress`` gives its
    CRS, geotransform, band descriptions, nodata and metadata: a sparse tiled GeoTIFF in memory (no pixel
    is written, so it holds the tags and empty tile arrays only), read back."""
    path = f"/vsimem/cog_template_{uuid.uuid4().hex}.tif"
    predictor = 3 if gdal_type == gdal.GDT_Float32 else 2
    options = ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}", "COMPRESS=DEFLATE", "INTERLEAVE=PIXEL",
               "SPARSE_OK=TRUE", "BIGTIFF=NO", f"PREDICTOR={predictor}"]
    ds = gdal.GetDriverByName("GTiff").Create(path, cols, rows, bands, gdal_type, options)
    dress(ds)
    ds = None
    try:
        f = gdal.VSIFOpenL(path, "rb")
        gdal.VSIFSeekL(f, 0, 2)
        size = gdal.VSIFTellL(f)
        gdal.VSIFSeekL(f, 0, 0)
        raw = gdal.VSIFReadL(1, size, f)
        gdal.VSIFCloseL(f)
    finally:
        gdal.Unlink(path)
    return parse_tags(raw)


def level_tags(template: list[Tag], level: int, size: tuple[int, int], offsets: list[int], counts: list[int],
               bigtiff: bool, block: int = BLOCK) -> list[Tag]:
    """The IFD of one pyramid level: the template's tags (georeferencing and metadata on level 0 only) with
    this level's size and tile arrays; overviews are marked as reduced-resolution images."""
    drop = {NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH, TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS}
    drop |= STRIP_TAGS | (GEO_TAGS if level else set())
    kind, fmt = (LONG8, "<Q") if bigtiff else (LONG, "<I")
    tags = [t for t in template if t.tag not in drop] + [
        Tag(IMAGE_WIDTH, LONG, 1, struct.pack("<I", size[0])), Tag(IMAGE_LENGTH, LONG, 1, struct.pack("<I", size[1])),
        Tag(TILE_WIDTH, SHORT, 1, struct.pack("<H", block)), Tag(TILE_LENGTH, SHORT, 1, struct.pack("<H", block)),
        Tag(TILE_OFFSETS, kind, len(offsets), b"".join(struct.pack(fmt, v) for v in offsets)),
        Tag(TILE_BYTE_COUNTS, kind, len(counts), b"".join(struct.pack(fmt, v) for v in counts))]
    if level:
        tags.append(Tag(NEW_SUBFILE_TYPE, LONG, 1, struct.pack("<I", 1)))
    return sorted(tags, key=lambda t: t.tag)


def ifd_bytes(tags: list[Tag], at: int, next_ifd: int, bigtiff: bool) -> bytes:
    """An IFD placed at file offset ``at`` followed by its out-of-line values (each on an even offset)."""
    entry, inline = (20, 8) if bigtiff else (12, 4)
    head = (8 if bigtiff else 2) + entry * len(tags) + inline
    extra, entries = b"", []
    for t in tags:
        if len(t.data) <= inline:
            value = t.data.ljust(inline, b"\0")
        else:
            value = struct.pack("<Q" if bigtiff else "<I", at + head + len(extra))
            extra += t.data + b"\0" * (len(t.data) % 2)
        entries.append(struct.pack("<HHQ" if bigtiff else "<HHI", t.tag, t.type, t.count) + value)
    count = struct.pack("<Q" if bigtiff else "<H", len(tags))
    return count + b"".join(entries) + struct.pack("<Q" if bigtiff else "<I", next_ifd) + extra


def header_bytes(first_ifd: int, bigtiff: bool) -> bytes:
    """TIFF header and GDAL's structural metadata (the IFD follows on the next even offset)."""
    head = b"II+\x00" + struct.pack("<HHQ", 8, 0, first_ifd) if bigtiff else b"II*\x00" + struct.pack("<I", first_ifd)
    ghost = (f"GDAL_STRUCTURAL_METADATA_SIZE={len(GHOST):06d} bytes\n" + GHOST).encode("ascii")
    raw = head + ghost
    return raw + b"\0" * (len(raw) % 2)


@dataclass(frozen=True)
class Layout:
    """Where everything goes in the COG: the bytes before the tile data, then each chunk's position."""

    head: bytes
    places: list[tuple[str, int]]     # chunk file name, file offset of its leader
    size: int                         # bytes of the whole file


def plan_layout(folder: Path, levels: list[tuple[int, int]], template: list[Tag],
                bigtiff: bool | None = None, block: int = BLOCK) -> Layout:
    """The layout of the COG of the chunks in ``folder`` (all of them must exist): by default classic TIFF
    when the file stays under 4 GiB, else BigTIFF."""
    sizes = {}
    for level, size in enumerate(levels):
        rows, cols = tile_grid(size, block)
        sizes[level] = [[chunk_path(folder, level, r, c).stat().st_size for c in range(cols)] for r in range(rows)]
    if bigtiff is not None:
        return layout_of(folder, levels, template, sizes, bigtiff, block)
    layout = layout_of(folder, levels, template, sizes, False, block)
    return layout if layout.size < 2**32 else layout_of(folder, levels, template, sizes, True, block)


def layout_of(folder: Path, levels: list[tuple[int, int]], template: list[Tag], sizes: dict[int, list[list[int]]],
              bigtiff: bool, block: int = BLOCK) -> Layout:
    """Header, IFDs and chunk offsets for chunks of ``sizes`` (bytes, per level, row, column): the IFDs first
    (their size does not depend on the offsets), then the data, smallest overview first."""
    n = len(levels)
    dummy = [level_tags(template, k, levels[k], [0] * _count(sizes[k]), [0] * _count(sizes[k]), bigtiff, block)
             for k in range(n)]
    start = len(header_bytes(0, bigtiff))
    ifd_at = [start]
    for tags in dummy:
        ifd_at.append(ifd_at[-1] + len(ifd_bytes(tags, 0, 0, bigtiff)))
    position, places = ifd_at[-1], []
    offsets: dict[int, list[int]] = {}
    counts: dict[int, list[int]] = {}
    for k in reversed(range(n)):
        offsets[k], counts[k] = [], []
        for r, row in enumerate(sizes[k]):
            for c, size in enumerate(row):
                places.append((chunk_path(folder, k, r, c).name, position))
                offsets[k].append(position + 4)
                counts[k].append(size - 8)
                position += size
    head = header_bytes(ifd_at[0], bigtiff)
    for k in range(n):
        tags = level_tags(template, k, levels[k], offsets[k], counts[k], bigtiff, block)
        head += ifd_bytes(tags, ifd_at[k], ifd_at[k + 1] if k + 1 < n else 0, bigtiff)
    return Layout(head, places, position)


def _count(grid: list[list[int]]) -> int:
    return sum(len(row) for row in grid)


def write_head(target: Path, layout: Layout) -> None:
    """Create ``target`` at its final size (sparse) with the header and the IFDs in place."""
    with open(target, "wb") as f:
        f.write(layout.head)
        f.truncate(layout.size)
        f.flush()
        os.fsync(f.fileno())


def copy_chunks(target: Path, folder: Path, places: list[tuple[str, int]], sync_bytes: int | None = None) -> int:
    """Copy the chunks named in ``places`` to their offsets in ``target`` and remove them once the copy is
    synced to disk (every ``sync_bytes``, default SYNC_BYTES); a chunk already gone was copied before (a
    re-run copies only the rest). Holds one chunk in memory; returns the bytes copied."""
    sync_bytes = sync_bytes or SYNC_BYTES
    copied, unsynced, done = 0, 0, []
    fd = os.open(target, os.O_WRONLY)
    try:
        for name, position in places:
            source = Path(folder) / name
            if not source.exists():
                continue
            data = source.read_bytes()
            os.pwrite(fd, data, position)
            copied, unsynced = copied + len(data), unsynced + len(data)
            done.append(source)
            if unsynced >= sync_bytes:
                _sync_and_remove(fd, done)
                unsynced = 0
        _sync_and_remove(fd, done)
    finally:
        os.close(fd)
    return copied


def _sync_and_remove(fd: int, done: list[Path]) -> None:
    os.fsync(fd)
    for path in done:
        path.unlink(missing_ok=True)
    done.clear()
