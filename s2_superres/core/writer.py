"""Stream tile cores into the output without holding the whole result in memory, then make it a COG.

Each tile's core goes straight into a tiled, compressed GeoTIFF under a hidden temporary name beside the
output (named after this process, core.claim). Tile cores are aligned to its square blocks
(``OutputGrid.block`` pixels a side: BLOCK = 512 at 2.5 m, core.tiling.block_side at other pixel sizes), so
every block is written once; a tile smaller than a block is held until the block is complete. At the end
GDAL's COG driver copies it into a Cloud-Optimised GeoTIFF with overviews (a second hidden file), the first
copy is removed and the COG is renamed into place. A failed, cancelled or interrupted run removes every
temporary file and leaves any existing output untouched. The output is claimed for the run
(``<output>.lock``, core.claim): a second run to the same path is refused, and temporary files of killed runs
in the folder are removed. An input of the run is never an output, not even with ``overwrite``. Peak disk
use: the tiled copy plus the COG with its overviews, while the COG is written.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal

from .bands import OUTPUT_RESOLUTION
from .claim import PathLock, remove_abandoned, temp_path
from .errors import OutputError, cancel_requested, check_cancelled
from .tiling import BLOCK

CACHE_BYTES = 64 * 2**20   # GDAL block cache during a run (core.pipeline enters gdal_scope with it)
OVERVIEW_RESAMPLING = "AVERAGE"
TMP_OVERVIEW_LEVEL = "ZSTD_LEVEL_OVERVIEW"   # GDAL config option: ZSTD level of the COG driver's temporary overviews
#: signals that stop a run (the CLI makes them raise core.errors.Interrupted; SIGHUP does not exist on Windows)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@dataclass(frozen=True)
class OutputGrid:
    """The output grid: upper-left corner (metres, on the 60 m lattice), size in pixels, CRS, pixel size
    (metres; 2.5 by default) and the side of its square blocks (pixels, a multiple of 16)."""

    xmin: float
    ymax: float
    cols: int
    rows: int
    crs_wkt: str
    pixel_size: float = OUTPUT_RESOLUTION
    block: int = BLOCK

    @property
    def geotransform(self) -> tuple[float, ...]:
        return (self.xmin, self.pixel_size, 0.0, self.ymax, 0.0, -self.pixel_size)


def check_output_path(path: Path, overwrite: bool, reads: tuple[Path, ...] = ()) -> None:
    """Refuse an output we cannot or must not write, before any work is done: ``reads`` are the files the run
    reads (bands, metadata), which are never replaced, whatever ``overwrite`` says."""
    if any(_same_file(path, r) for r in reads):
        raise OutputError(f"'{path}' is an input of this run: writing there would destroy it. Choose another "
                          "output name.")
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
    """Writes tile cores (reflectance) block by block, then the final COG atomically."""

    def __init__(self, path: Path, grid: OutputGrid, bands: tuple[str, ...], dtype: str = "float32",
                 overwrite: bool = False, reads: tuple[Path, ...] = ()):
        """Claims ``path`` (OutputError when another run holds it) until :meth:`finish` or :meth:`abort`;
        ``reads`` as for :func:`check_output_path`."""
        check_output_path(path, overwrite, reads)
        if dtype not in ("float32", "uint16"):
            raise OutputError(f"Output type '{dtype}' is not supported: use float32 (reflectance) or uint16 (DN).")
        self.path, self.grid, self.bands, self.dtype = path, grid, bands, dtype
        self.finished = False
        self._lock = PathLock(path).acquire()
        try:
            check_output_path(path, overwrite, reads)   # again: another run may have finished it meanwhile
            remove_abandoned(path.parent if str(path.parent) else Path("."))
        except BaseException:
            self._lock.release()
            raise
        self._tiled_path = temp_path(path, "tiled")
        self._temp_path = temp_path(path, "tmp")
        # incomplete blocks: (values, which pixels were written)
        self._pending: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        options = ["TILED=YES", f"BLOCKXSIZE={grid.block}", f"BLOCKYSIZE={grid.block}", *_tiled_compression(dtype),
                   "BIGTIFF=IF_SAFER", "INTERLEAVE=BAND"]
        try:
            self._tiled = _create(self._tiled_path, grid, len(bands), gdal_type(dtype), options)
            describe_bands(self._tiled, bands, dtype)
        except BaseException:
            self.abort()
            raise

    def add(self, row: int, col: int, data: np.ndarray) -> None:
        """Write ``data`` (bands, h, w; reflectance, NaN = nodata) at output pixel (row, col). A piece that
        does not fill its block is held until the rest of the block arrives."""
        h, w = data.shape[1:]
        side = self.grid.block
        try:
            for br in range(row // side, (row + h - 1) // side + 1):
                for bc in range(col // side, (col + w - 1) // side + 1):
                    self._add_to_block(br, bc, row, col, data)
        except RuntimeError as exc:
            raise _write_error(self.path, exc) from exc

    def _add_to_block(self, br: int, bc: int, row: int, col: int, data: np.ndarray) -> None:
        h, w = data.shape[1:]
        side = self.grid.block
        b0, b1 = br * side, min((br + 1) * side, self.grid.rows)
        c0, c1 = bc * side, min((bc + 1) * side, self.grid.cols)
        r_lo, r_hi, c_lo, c_hi = max(b0, row), min(b1, row + h), max(c0, col), min(c1, col + w)
        piece = data[:, r_lo - row:r_hi - row, c_lo - col:c_hi - col]
        if (r_lo, r_hi, c_lo, c_hi) == (b0, b1, c0, c1):
            self._write(b0, c0, piece)
            return
        if (br, bc) not in self._pending:
            shape = (b1 - b0, c1 - c0)
            self._pending[(br, bc)] = (np.full((len(self.bands),) + shape, np.nan, np.float32), np.zeros(shape, bool))
        block, filled = self._pending[(br, bc)]
        block[:, r_lo - b0:r_hi - b0, c_lo - c0:c_hi - c0] = piece
        filled[r_lo - b0:r_hi - b0, c_lo - c0:c_hi - c0] = True
        if filled.all():
            self._write(b0, c0, block)
            del self._pending[(br, bc)]

    def _write(self, row: int, col: int, data: np.ndarray) -> None:
        for i in range(len(self.bands)):
            self._tiled.GetRasterBand(i + 1).WriteArray(encode_stored(data[i], self.dtype), col, row)

    def finish(self, tags: dict[str, str], progress=None) -> Path:
        """Copy the tiled GeoTIFF into a COG with overviews and rename it into place."""
        if self._pending:
            raise RuntimeError(f"{len(self._pending)} output block(s) were not completely written.")
        try:
            self._tiled.SetMetadata({k: str(v) for k, v in tags.items()})
            self._tiled.FlushCache()
            self._tiled = None
            write_cog(self._tiled_path, self._temp_path, self.dtype, progress, self.grid.block)
        except RuntimeError as exc:
            check_cancelled()      # GDAL stopped because the run was cancelled (write_cog's callback)
            raise _write_error(self.path, exc) from exc
        self._remove(self._tiled_path)
        problems = validate_cog(self._temp_path, self.grid.block)
        if problems:
            raise OutputError(f"The COG written for '{self.path}' does not validate ({'; '.join(problems)}); "
                              "nothing was written. Please report this with the command you ran.")
        os.replace(self._temp_path, self.path)
        self.finished = True
        self._lock.release()
        return self.path

    def abort(self) -> None:
        """Remove every temporary file and release the claim; the final path is never touched."""
        self._tiled = None
        self._pending.clear()
        for p in (self._tiled_path, self._temp_path):
            self._remove(p)
        self._lock.release()

    @staticmethod
    def _remove(path: Path) -> None:
        for candidate in (path, Path(str(path) + ".aux.xml"), Path(str(path) + ".ovr"),
                          Path(str(path) + ".ovr.tmp")):
            candidate.unlink(missing_ok=True)


def write_cog(source: Path, target: Path, dtype: str, progress=None, block: int = BLOCK) -> None:
    """Copy the tiled GeoTIFF ``source`` into a Cloud-Optimised GeoTIFF ``target`` with internal overviews
    (averages; nodata excluded), DEFLATE with the floating-point (or integer) predictor, compressed on all
    cores, ``block`` x ``block`` blocks (pixels). GDAL writes the overviews to a temporary file beside
    ``target`` first; the whole copy passes through its block cache, so memory does not grow with the raster."""
    options = ["COMPRESS=DEFLATE", "LEVEL=1", "PREDICTOR=YES", f"BLOCKSIZE={block}", "BIGTIFF=IF_SAFER",
               f"OVERVIEW_RESAMPLING={OVERVIEW_RESAMPLING}", "NUM_THREADS=ALL_CPUS"]
    received: list[int] = []   # stop signals that came during the copy
    failed: list[BaseException] = []

    def callback(fraction: float, *_) -> int:
        """GDAL's progress callback: 0 stops the copy (a signal came, or ``progress`` raised)."""
        if received or failed or cancel_requested():   # a cancelled run (core.errors.cancellable) too
            return 0
        try:
            if progress:
                progress(fraction)
        except BaseException as exc:   # GDAL would print it and report only 'User terminated'
            failed.append(exc)
            return 0
        return 1
    # the COG driver computes the overviews into a temporary ZSTD file (default level 9) and copies them from
    # there; level 1 saves about 0.8 s of the 4.8 s CPU of 12 bands of 2016 x 2016 px, same COG byte for byte
    previous = gdal.GetThreadLocalConfigOption(TMP_OVERVIEW_LEVEL, None)
    gdal.SetThreadLocalConfigOption(TMP_OVERVIEW_LEVEL, "1")
    try:
        with signals_deferred(received):
            try:
                ds = gdal.Translate(str(target), str(source), format="COG", creationOptions=options,
                                    callback=callback, stats=False)
                del ds  # GDAL finishes the file when the dataset is released
            except RuntimeError:
                if not (received or failed):
                    raise
        if failed:
            raise failed[0]
    finally:
        gdal.SetThreadLocalConfigOption(TMP_OVERVIEW_LEVEL, previous)


@contextmanager
def signals_deferred(received: list[int]):
    """While GDAL's C code runs: a stop signal (STOP_SIGNALS) with a Python handler is only recorded in
    ``received`` (a Python exception raised inside GDAL's callback is printed and lost); afterwards the
    handlers are restored and the first signal is handed to its handler, which raises as it would have.
    Outside the main thread (no signal handlers there) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS if callable(signal.getsignal(s))}
    for s in previous:
        signal.signal(s, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    handler = previous.get(received[0]) if received else None
    if callable(handler):
        handler(received[0], None)


def validate_cog(path: Path, block: int = BLOCK) -> list[str]:
    """Reasons why ``path`` is not a valid Cloud-Optimised GeoTIFF with overviews (empty list = valid): GDAL's
    validate_cloud_optimized_geotiff when Debian's GDAL ships it, else the layout GDAL reports. A raster
    that fits in one ``block``-pixel block needs no overview."""
    ds = gdal.Open(str(path))
    small = max(ds.RasterXSize, ds.RasterYSize) <= block
    errors = [] if small or ds.GetRasterBand(1).GetOverviewCount() else ["no overviews"]
    try:
        from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
    except ImportError:
        if ds.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") != "COG":
            errors.append("the file does not have GDAL's COG layout")
        return errors
    found = validate(ds, full_check=True)
    # GDAL >= 3.1 returns (warnings, errors, details), older versions (errors, details)
    return errors + (list(found[0]) + list(found[1]) if len(found) == 3 else list(found[0]))


def describe_bands(ds: gdal.Dataset, bands: tuple[str, ...], dtype: str) -> None:
    """Band descriptions, nodata (NaN for float32, 0 for uint16) and, for uint16, the scale 1e-4."""
    for i, band in enumerate(bands):
        rb = ds.GetRasterBand(i + 1)
        rb.SetDescription(band)
        rb.SetNoDataValue(float("nan") if dtype == "float32" else 0)
        if dtype == "uint16":
            rb.SetScale(1e-4)
            rb.SetOffset(0.0)


def dress(ds: gdal.Dataset, grid: OutputGrid, bands: tuple[str, ...], dtype: str, tags: dict[str, str]) -> None:
    """Everything of an output but its pixels: georeferencing, band descriptions, nodata, metadata tags."""
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    describe_bands(ds, bands, dtype)
    ds.SetMetadata({k: str(v) for k, v in tags.items()})


def _write_error(path: Path, exc: Exception) -> OutputError:
    return OutputError(f"Writing '{path}' failed ({exc}). Check that the disk has free space (the run needs "
                       "about three times the output size while it works) and try again; nothing was written.")


def _same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` name the same file (resolved paths, or one inode through links)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except OSError:   # one of them does not exist
        return False


def gdal_type(dtype: str) -> int:
    return gdal.GDT_Float32 if dtype == "float32" else gdal.GDT_UInt16


def _tiled_compression(dtype: str) -> list[str]:
    """Creation options of the hidden tiled copy, which is written once and read once by the COG step: ZSTD
    level 1 without a predictor when this GDAL has ZSTD (about a quarter of the CPU of DEFLATE with the
    predictor, for both writing and reading, and 25 % larger), else DEFLATE level 1 with the predictor."""
    if "ZSTD" in (gdal.GetDriverByName("GTiff").GetMetadataItem("DMD_CREATIONOPTIONLIST") or ""):
        return ["COMPRESS=ZSTD", "ZSTD_LEVEL=1"]
    return ["COMPRESS=DEFLATE", "ZLEVEL=1", f"PREDICTOR={3 if dtype == 'float32' else 2}"]


def _create(path: Path, grid: OutputGrid, count: int, gtype: int, options: list[str]) -> gdal.Dataset:
    try:
        ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.cols, grid.rows, count, gtype, options)
    except RuntimeError as exc:
        raise OutputError(f"Cannot create '{path}': {exc}. Check free disk space and permissions.") from exc
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    return ds


def encode_stored(block: np.ndarray, dtype: str) -> np.ndarray:
    """Reflectance -> stored values: float32 reflectance (NaN = nodata) or uint16 DN = 10000 x reflectance
    (0 = nodata)."""
    if dtype == "float32":
        return block.astype(np.float32)
    dn = np.where(np.isfinite(block), np.clip(np.round(block * 10000.0), 1, 65535), 0)
    return dn.astype(np.uint16)
