"""What the dock opens on, and the standard band order of stacks whose bands carry no names."""
from __future__ import annotations

import re

from qgis.core import QgsRasterLayer, QgsRectangle

from ..core.bands import OUTPUT_BANDS
from .input_section import MODE_LAYER, MODE_LIST
from .layers import BandRef, auto_map, layer_band_ids, layer_path
from .result_layer import output_bands_only

#: ESA band order of a full stack without band names (13 bands, L1C) and of a 12-band L2A stack
STANDARD_ORDER = {13: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"),
                  12: OUTPUT_BANDS}
#: side (metres) of the default extent when the map view does not overlap the data
DEFAULT_WINDOW = 2400.0
#: the source QGIS 3.22 gives the subdatasets of a zipped product added with *Add Raster Layer* (invalid layers):
#: ``/vsizip/SENTINEL2_L1C:/vsizip//data/S2B_….zip/S2B_….SAFE/MTD_MSIL1C.xml:10m:EPSG_32618``
_MANGLED_ZIP = re.compile(r"^/vsizip/SENTINEL2_\w+:/vsizip/(.+?\.zip)(?=[/:]|$)", re.IGNORECASE)


def best_input(layers: list[QgsRasterLayer]) -> tuple[int, list[QgsRasterLayer]]:
    """The input the dock opens with, whichever covers most output bands: the multi-band layer naming most
    bands, the 10m/20m/60m SENTINEL2 subdataset layers of one product together, or the single-band layers of
    one product (one per band)."""
    stacks = [lyr for lyr in layers if lyr.bandCount() > 1]
    candidates = [(MODE_LAYER, [lyr]) for lyr in stacks] + [(MODE_LIST, group) for group in _subdataset_groups(stacks)]
    candidates.append((MODE_LIST, [lyr for lyr in layers if lyr.bandCount() == 1]))
    mode, chosen = max(candidates, key=lambda c: len(output_bands_only(auto_map(c[1]))))
    used = {ref.layer_id for ref in output_bands_only(auto_map(chosen)).values()}
    chosen = [lyr for lyr in chosen if lyr.id() in used]
    return (mode, chosen) if chosen else (MODE_LAYER, stacks[:1] or layers[:1])


def _subdataset_groups(layers: list[QgsRasterLayer]) -> list[list[QgsRasterLayer]]:
    """The SENTINEL2 subdataset layers (``SENTINEL2_L1C:<metadata file>:10m:EPSG_32618``) grouped by product."""
    groups: dict[str, list[QgsRasterLayer]] = {}
    for layer in layers:
        path = layer_path(layer) or ""
        if path.upper().startswith("SENTINEL2_"):
            groups.setdefault(path.rsplit(":", 2)[0], []).append(layer)
    return list(groups.values())


def zipped_product(layers) -> str | None:
    """The zip of a product among ``layers`` that QGIS 3.22 could not open (see _MANGLED_ZIP), or None."""
    for layer in layers:
        match = _MANGLED_ZIP.match(layer.source()) if not layer.isValid() else None
        if match:
            return match.group(1)
    return None


def has_unnamed_bands(layer: QgsRasterLayer) -> bool:
    """A stack of a standard size whose bands name no Sentinel-2 band."""
    return layer.bandCount() in STANDARD_ORDER and not any(layer_band_ids(layer))


def standard_mapping(layer: QgsRasterLayer) -> dict[str, BandRef]:
    """The output bands of ``layer`` read in the standard Sentinel-2 order ({} for other band counts)."""
    order = STANDARD_ORDER.get(layer.bandCount(), ())
    return {b: BandRef(layer.id(), i) for i, b in enumerate(order, start=1) if b in OUTPUT_BANDS}


def safe_extent(data: QgsRectangle, view: QgsRectangle | None) -> QgsRectangle:
    """The default extent: the map view clipped to ``data``, else a DEFAULT_WINDOW square at its centre
    (never the whole product by surprise)."""
    if view is not None and view.intersects(data):
        clipped = view.intersect(data)
        if clipped.width() > 0 and clipped.height() > 0:
            return clipped
    c, half = data.center(), DEFAULT_WINDOW / 2
    return QgsRectangle(c.x() - half, c.y() - half, c.x() + half, c.y() + half).intersect(data)
