"""What the dock opens on, and the standard band order of stacks whose bands carry no names."""
from __future__ import annotations

from qgis.core import QgsRasterLayer, QgsRectangle

from ..core.bands import OUTPUT_BANDS
from .input_section import MODE_LAYER, MODE_LIST
from .layers import BandRef, auto_map, layer_band_ids
from .result_layer import output_bands_only

#: ESA band order of a full stack without band names (13 bands, L1C) and of a 12-band L2A stack
STANDARD_ORDER = {13: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"),
                  12: OUTPUT_BANDS}
#: side (metres) of the default extent when the map view does not overlap the data
DEFAULT_WINDOW = 2400.0


def best_input(layers: list[QgsRasterLayer]) -> tuple[int, list[QgsRasterLayer]]:
    """The input the dock opens with: the single-band layers of one product (one per band) when they cover
    more bands than any multi-band layer, else the multi-band layer naming most bands."""
    singles = [lyr for lyr in layers if lyr.bandCount() == 1]
    single_map = output_bands_only(auto_map(singles))
    stacks = [(len(output_bands_only(auto_map([lyr]))), lyr) for lyr in layers if lyr.bandCount() > 1]
    best_stack = max(stacks, key=lambda s: s[0], default=(0, None))
    if len(single_map) > best_stack[0]:
        by_id = {lyr.id(): lyr for lyr in singles}
        return MODE_LIST, [by_id[ref.layer_id] for ref in single_map.values()]
    if best_stack[1] is not None:
        return MODE_LAYER, [best_stack[1]]
    return MODE_LAYER, layers[:1]


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
