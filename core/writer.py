"""Stream tiles into the output GeoTIFF without holding the whole result in memory.

Tiles are accumulated (weighted) into an uncompressed scratch raster beside the output; at the
end the scratch is converted block by block into the final tiled, compressed GeoTIFF, written
under a temporary name and renamed into place. A failed or cancelled run removes both temp
files and leaves any existing output untouched.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from .bands import OUTPUT_RESOLUTION
from .errors import OutputError

gdal.UseExceptions()
BLOCK = 512
CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class OutputGrid:
    """The 2.5 m output grid: upper-left corner (metres), size in pixels, CRS."""

    xmin: float
    ymax: float
    cols: int
    rows: int
    crs_wkt: str

    @property
    def geotransform(self) -> tuple[float, ...]:
        return (self.xmin, OUTPUT_RESOLUTION, 0.0, self.ymax, 0.0, -OUTPUT_RESOLUTION)


def check_output_path(path: Path, overwrite: bool) -> None:
    """Refuse an output we cannot or must not write, before any work is done."""
    if path.exists() and not overwrite:
        raise OutputError(f"'{path}' already exists. Choose another name, or allow overwriting "
                          "(--overwrite on the command line).")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Folder '{folder}' does not exist. Create it or choose another output path.")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"Folder '{folder}' is not writable. Choose an output folder you can write to.")
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise OutputError(f"'{path}' must end in .tif: the output is a GeoTIFF.")


class OutputWriter:
    """Accumulates weighted tiles, then writes the final GeoTIFF atomically."""

    def __init__(self, path: Path, grid: OutputGrid, bands: tuple[str, ...], dtype: str = "float32",
                 overwrite: bool = False):
        check_output_path(path, overwrite)
        if dtype not in ("float32", "uint16"):
            raise OutputError(f"Output type '{dtype}' is not supported: use float32 (reflectance) or uint16 (DN).")
        self.path, self.grid, self.bands, self.dtype = path, grid, bands, dtype
        self.finished = False
        token = uuid.uuid4().hex[:8]
        self._scratch_path = path.with_name(f".{path.stem}.{token}.scratch.tif")
        self._temp_path = path.with_name(f".{path.stem}.{token}.tmp.tif")
        if gdal.GetCacheMax() > CACHE_BYTES:
            gdal.SetCacheMax(CACHE_BYTES)
        self._scratch = _create(self._scratch_path, grid, len(bands), gdal.GDT_Float32,
                                ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "SPARSE_OK=TRUE",
                                 "BIGTIFF=IF_SAFER"])

    def add(self, row: int, col: int, data: np.ndarray) -> None:
        """Add ``data`` (bands, h, w), already weighted, at output pixel (row, col)."""
        h, w = data.shape[1:]
        try:
            for i in range(len(self.bands)):
                rb = self._scratch.GetRasterBand(i + 1)
                current = rb.ReadAsArray(col, row, w, h)
                rb.WriteArray(current + data[i], col, row)
        except RuntimeError as exc:
            raise _write_error(self.path, exc) from exc

    def finish(self, tags: dict[str, str], progress=None) -> Path:
        """Convert the scratch into the final GeoTIFF and rename it into place."""
        try:
            self._write_final(tags, progress)
        except RuntimeError as exc:
            raise _write_error(self.path, exc) from exc
        self._close_scratch()
        os.replace(self._temp_path, self.path)
        self.finished = True
        return self.path

    def _write_final(self, tags: dict[str, str], progress) -> None:
        self._scratch.FlushCache()
        nodata = float("nan") if self.dtype == "float32" else 0
        options = ["TILED=YES", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}", "COMPRESS=DEFLATE", "ZLEVEL=1",
                   "PREDICTOR=3" if self.dtype == "float32" else "PREDICTOR=2", "BIGTIFF=IF_SAFER",
                   "INTERLEAVE=BAND"]
        gtype = gdal.GDT_Float32 if self.dtype == "float32" else gdal.GDT_UInt16
        out = _create(self._temp_path, self.grid, len(self.bands), gtype, options)
        out.SetMetadata({k: str(v) for k, v in tags.items()})
        for i, band in enumerate(self.bands):
            rb = out.GetRasterBand(i + 1)
            rb.SetDescription(band)
            rb.SetNoDataValue(nodata)
            if self.dtype == "uint16":
                rb.SetScale(1e-4)
                rb.SetOffset(0.0)
        windows = [(r, c) for r in range(0, self.grid.rows, BLOCK) for c in range(0, self.grid.cols, BLOCK)]
        for k, (r, c) in enumerate(windows):
            h, w = min(BLOCK, self.grid.rows - r), min(BLOCK, self.grid.cols - c)
            for i in range(len(self.bands)):
                block = self._scratch.GetRasterBand(i + 1).ReadAsArray(c, r, w, h)
                out.GetRasterBand(i + 1).WriteArray(_encode(block, self.dtype), c, r)
            if progress:
                progress((k + 1) / len(windows))
        out.FlushCache()
        out = None

    def abort(self) -> None:
        """Remove every temporary file; the final path is never touched."""
        self._close_scratch()
        for p in (self._temp_path, self._scratch_path):
            for candidate in (p, Path(str(p) + ".aux.xml"), Path(str(p) + ".ovr")):
                candidate.unlink(missing_ok=True)

    def _close_scratch(self) -> None:
        self._scratch = None
        self._scratch_path.unlink(missing_ok=True)


def _write_error(path: Path, exc: Exception) -> OutputError:
    return OutputError(f"Writing '{path}' failed ({exc}). Check that the disk has free space (the run needs "
                       "about twice the output size while it works) and try again; nothing was written.")


def _create(path: Path, grid: OutputGrid, count: int, gtype: int, options: list[str]) -> gdal.Dataset:
    try:
        ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.cols, grid.rows, count, gtype, options)
    except RuntimeError as exc:
        raise OutputError(f"Cannot create '{path}': {exc}. Check free disk space and permissions.") from exc
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    return ds


def _encode(block: np.ndarray, dtype: str) -> np.ndarray:
    """Reflectance -> stored values: float32 reflectance (NaN = nodata) or uint16 DN = 10000 x reflectance
    (0 = nodata)."""
    if dtype == "float32":
        return block.astype(np.float32)
    dn = np.where(np.isfinite(block), np.clip(np.round(block * 10000.0), 1, 65535), 0)
    return dn.astype(np.uint16)
