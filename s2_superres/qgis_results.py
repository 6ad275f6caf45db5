"""Result layers made the same way by the dock and the Processing algorithm (outside ``ui``, so that
Processing needs no user interface code): their name, their stretch, and no GDAL side file.

A result is named after its source product, preset and pixel size, and drawn in true colour with the
stretch of the source layers converted to reflectance, so it looks like its source on the map.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from osgeo import gdal
from qgis.core import QgsDataProvider, QgsRasterLayer

from .core.bands import OUTPUT_RESOLUTION, pixel_label
from .core.errors import UserError
from .core.pipeline import output_name, product_container  # noqa: F401 - output_name: core's, one for all
from .qgis_layers import band_descriptions, layer_path
from .qgis_render import TRUE_COLOUR, apply_rgb, cumulative_range, rgb_indices, source_reflectance_range

#: the end of a common file-name prefix that is (part of) a band id: "s2_B", "T18SVG_20160112_B0", "_B8A"
_BAND_TAIL = re.compile(r"[ _.\-]*(B(AND)?[ _\-]?(0?[1-9]?|1[0-2]?|8A?)?)?$", re.IGNORECASE)
#: {band: (source layer, 1-based band index)}: where the main map shows each source band
Sources = dict[str, tuple[QgsRasterLayer, int]]


def product_label(paths: Iterable[str]) -> str:
    """A short name of the source product from its file names: their common stem without the band id.

    ``T18SVG_20160112_B02.jp2`` … ``_B12.jp2`` -> ``T18SVG_20160112``; one multi-band ``scene.tif`` -> ``scene``;
    files or subdatasets inside a .SAFE folder or zip -> its name. Falls back to the folder name.
    """
    files = sorted({str(p) for p in paths})
    if not files:
        return "sentinel2"
    container = product_container(files[0])
    if container:
        return re.sub(r"[^\w.\-]+", "_", container)
    stems = [Path(p).stem for p in files]
    label = _BAND_TAIL.sub("", os.path.commonprefix(stems)).strip(" _.-")
    if len(label) < 2:
        label = Path(files[0]).parent.name.strip(" _.-")
    return re.sub(r"[^\w.\-]+", "_", label) or "sentinel2"


def layer_name(product: str, preset: str, pixel_size: float = OUTPUT_RESOLUTION) -> str:
    """The layer name of a result, the same on every path (dock, Processing): ``<product> <preset> <p> m``."""
    return f"{product} {preset} {pixel_label(pixel_size)} m"


@contextmanager
def no_side_files():
    """Open rasters without GDAL's PAM side file (``.aux.xml``) in this thread: QGIS's default stretch
    computes histograms on open, which GDAL would otherwise cache beside the result (megabytes per file)."""
    old = gdal.GetThreadLocalConfigOption("GDAL_PAM_ENABLED", None)
    gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO")
    try:
        yield
    finally:
        gdal.SetThreadLocalConfigOption("GDAL_PAM_ENABLED", old)


def open_result_layer(path: Path, name: str) -> QgsRasterLayer:
    """A layer of the raster at ``path`` (no .aux.xml side file); raises UserError when QGIS cannot open it."""
    with no_side_files():
        layer = QgsRasterLayer(str(path), name, "gdal")
    if not layer.isValid():
        raise UserError(f"QGIS cannot open the result '{path}'.")
    return layer


def reopen_without_side_file(layer: QgsRasterLayer) -> None:
    """Reopen a result layer that someone else opened (Processing) without GDAL's PAM, and remove the
    histogram cache the first opening wrote beside the file when it closed."""
    aux = Path(layer.source() + ".aux.xml")
    with no_side_files():
        layer.setDataSource(layer.source(), layer.name(), "gdal", QgsDataProvider.ProviderOptions())
    aux.unlink(missing_ok=True)


def true_colour_ranges(sources: Sources, offset: float,
                       fallback: QgsRasterLayer | None = None) -> list[tuple[float, float]] | None:
    """Per channel of true colour: the source layer's renderer range in reflectance (the stretch the main map
    shows the source with), or the 2-98 % cut of ``fallback`` where a source layer is missing."""
    ranges = []
    for k, band in enumerate(TRUE_COLOUR):
        layer, index = sources.get(band, (None, 0))
        if isinstance(layer, QgsRasterLayer) and layer.isValid():
            ranges.append(source_reflectance_range(layer, index, offset))
            continue
        rgb = rgb_indices(band_descriptions(fallback.source()), TRUE_COLOUR) if fallback is not None else None
        if rgb is None:
            return None
        ranges.append(cumulative_range(fallback, rgb[k]))
    return ranges


def style_like_sources(layer: QgsRasterLayer, sources: Sources, offset: float,
                       ranges: list[tuple[float, float]] | None = None) -> None:
    """True colour (B04, B03, B02) with ``ranges`` (reflectance) when given, else the stretch of the source
    layers, in reflectance."""
    rgb = rgb_indices(band_descriptions(layer.source()), TRUE_COLOUR)
    if rgb is not None and ranges is None:
        ranges = true_colour_ranges(sources, offset, fallback=layer)
    if rgb is not None and ranges is not None:
        apply_rgb(layer, rgb, ranges)


def sources_of(product, layers: list[QgsRasterLayer]) -> Sources:
    """Which of ``layers`` holds each band of ``product`` (core.sources.Product), matched by file."""
    by_path = {layer_path(lyr): lyr for lyr in layers}
    return {band: (by_path[src.path], src.index) for band, src in product.bands.items() if src.path in by_path}
