"""GDAL's process-wide settings, changed only inside a scope and restored after it.

Inside QGIS every plugin shares one GDAL: a plugin that calls ``gdal.UseExceptions()`` at import or
lowers ``gdal.SetCacheMax`` for good changes what all the others see. core's public entry points
(``open_product``, ``superresolve``, the CLI, the Processing algorithm) run inside :func:`gdal_scope`
instead: exceptions on (core relies on them) and, optionally, a smaller block cache; both are put back
when the outermost scope ends, also when several runs overlap in different threads.

The settings are process-wide (GDAL keeps one exceptions flag and one cache size): while a run is in
progress in a background task, other code in the same QGIS sees them too; between runs nothing is changed.

Network reads (``/vsicurl/``) inside the scope run with :data:`NETWORK_OPTIONS` (timeouts, few retries),
set as thread-local GDAL options of the thread that entered the scope, so other threads of QGIS keep theirs.
Remote rasters are opened with :func:`open_raster`, which also stops GDAL from listing the remote folder and
probing side-car files (``.aux.xml``, ``.hdr``, ``.ovr``...) and tries only the raster drivers of Sentinel-2.

GDAL's own ``gdal.ExceptionMgr`` (GDAL >= 3.7) is not used because it restores on every exit, so two
overlapping runs in two threads would switch exceptions off under each other; this scope counts the
runs that are inside it and restores when the last one leaves.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Mapping

from osgeo import gdal, osr

from . import remote
from .errors import InputError, printable

_lock = threading.Lock()
_depth = 0
_saved: dict[str, object] = {}

#: GDAL settings of every network read inside gdal_scope: a server that does not answer, or answers slower than
#: 1 byte/s for 10 s, ends the read with an error within GDAL_HTTP_TIMEOUT (s) instead of hanging
NETWORK_OPTIONS = {
    "GDAL_HTTP_CONNECTTIMEOUT": "10",      # s to connect
    "GDAL_HTTP_TIMEOUT": "30",             # s for one whole request
    "GDAL_HTTP_LOW_SPEED_TIME": "10",      # s below GDAL_HTTP_LOW_SPEED_LIMIT bytes/s end a request
    "GDAL_HTTP_LOW_SPEED_LIMIT": "1",
    "GDAL_HTTP_MAX_RETRY": "1",
    "GDAL_HTTP_RETRY_DELAY": "1",          # s
    "VSI_CACHE": "FALSE",                  # no extra per-file cache on top of /vsicurl/'s own bounded one
}
#: how a remote file is opened: no listing of its folder, no side-car probes (.aux.xml, .hdr, .ovr, ...)
REMOTE_OPEN_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "CPL_VSIL_CURL_USE_HEAD": "YES",
}
#: a remote raster: only the URLs of band files (GeoTIFF, JPEG 2000) are requested at all
REMOTE_RASTER_OPTIONS = {**REMOTE_OPEN_OPTIONS, "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.jp2"}
#: the drivers that read Sentinel-2 band files (GeoTIFF/COG, JPEG 2000)
REMOTE_DRIVERS = ["GTiff", "COG", "JP2OpenJPEG", "JP2KAK", "JP2ECW", "JPEG2000", "JP2MrSID"]
#: the largest remote band file accepted, bytes (a full 10 m band of a tile is about 240 MB uncompressed)
MAX_REMOTE_BYTES = 2 * 2**30


def is_remote(path: str) -> bool:
    """True for a GDAL path read over the network (``/vsicurl/``)."""
    return path.startswith("/vsicurl/")


@contextmanager
def thread_options(options: Mapping[str, str | None]) -> Iterator[None]:
    """Run the body with GDAL config ``options`` set for this thread only (None: the process-wide value);
    the thread's previous values are put back after it."""
    saved = {k: gdal.GetThreadLocalConfigOption(k, None) for k in options}
    for key, value in options.items():
        gdal.SetThreadLocalConfigOption(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            gdal.SetThreadLocalConfigOption(key, value)


def read_array(path: str, band: gdal.Band, *args, **kwargs):
    """``band.ReadAsArray(*args, **kwargs)`` of a band of the raster ``path``; InputError naming the file when
    the data cannot be read or decoded (a truncated or damaged file, a server that stopped answering)."""
    try:
        data = band.ReadAsArray(*args, **kwargs)
    except RuntimeError as exc:
        # one line: GDAL 3.10 chains its messages ("...\nMay be caused by: ...")
        data, reason = None, printable(" ".join(str(exc).split())).rstrip(". ")
    else:
        reason = ""
    if data is None:
        raise InputError(f"Reading '{printable(path)}' failed: {reason or 'GDAL gave no reason'}. The file is "
                         "damaged or incomplete (download it again) or, for a URL, the server stopped answering; "
                         "nothing was written.")
    return data


def open_raster(path: str) -> gdal.Dataset:
    """Open the raster ``path`` read-only; a remote one (:func:`is_remote`) only on a host core.remote allows,
    without folder listing or side-car probes, by a Sentinel-2 band driver only, and no larger than
    MAX_REMOTE_BYTES. InputError naming the file when it cannot be opened."""
    try:
        if not is_remote(path):
            return gdal.Open(path)
        remote.check_url(path[len("/vsicurl/"):])
        with thread_options(REMOTE_RASTER_OPTIONS):
            stat = gdal.VSIStatL(path, gdal.VSI_STAT_SIZE_FLAG)
            if stat is not None and stat.size > MAX_REMOTE_BYTES:
                raise InputError(f"'{printable(path)}' is {stat.size / 2**30:.1f} GiB, larger than any Sentinel-2 "
                                 f"band file ({MAX_REMOTE_BYTES // 2**30} GiB at most): it was not read. Check the "
                                 "item or the server.")
            return gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY, allowed_drivers=REMOTE_DRIVERS)
    except RuntimeError as exc:
        reason = printable(exc).rstrip(". ") or "no reason given"
        raise InputError(f"GDAL cannot read '{printable(path)}': {reason}. Check that it is a complete raster file "
                         "(download it again) and, for a URL, that the server answers.") from exc


@contextmanager
def gdal_scope(cache_max: int | None = None) -> Iterator[None]:
    """Run the body with GDAL and OSR exceptions enabled and, if ``cache_max`` (bytes) is given, the GDAL
    block cache at most that large; restore the previous settings when the outermost scope ends.

    Also usable as a decorator: ``@gdal_scope()``."""
    global _depth
    with _lock:
        if _depth == 0:
            _saved.update(gdal=gdal.GetUseExceptions(), osr=osr.GetUseExceptions(), cache=gdal.GetCacheMax())
            gdal.UseExceptions()
            osr.UseExceptions()
        _depth += 1
        if cache_max is not None and gdal.GetCacheMax() > cache_max:
            gdal.SetCacheMax(cache_max)
    try:
        with thread_options(NETWORK_OPTIONS):
            yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gdal.SetCacheMax(_saved["cache"])
                if not _saved["osr"]:      # the reverse order of enabling: GDAL keeps a stack of handlers
                    osr.DontUseExceptions()
                if not _saved["gdal"]:
                    gdal.DontUseExceptions()
