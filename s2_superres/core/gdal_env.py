"""GDAL's process-wide settings, changed only inside a scope and restored after it.

Inside QGIS every plugin shares one GDAL: a plugin that calls ``gdal.UseExceptions()`` at import or
lowers ``gdal.SetCacheMax`` for good changes what all the others see. core's public entry points
(``open_product``, ``superresolve``, the CLI, the Processing algorithm) run inside :func:`gdal_scope`
instead: exceptions on (core relies on them) and, optionally, a smaller block cache; both are put back
when the outermost scope ends, also when several runs overlap in different threads.

The settings are process-wide (GDAL keeps one exceptions flag and one cache size): while a run is in
progress in a background task, other code in the same QGIS sees them too; between runs nothing is changed.

GDAL's own ``gdal.ExceptionMgr`` (GDAL >= 3.7) is not used because it restores on every exit, so two
overlapping runs in two threads would switch exceptions off under each other; this scope counts the
runs that are inside it and restores when the last one leaves.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from osgeo import gdal, osr

_lock = threading.Lock()
_depth = 0
_saved: dict[str, object] = {}


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
