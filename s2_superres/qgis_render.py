"""Rendering helpers shared by the dock's task (result layer), the comparison view and the Processing
algorithm (outside ``ui`` so that Processing needs no user interface code).

Both sides of a comparison use one stretch, expressed in reflectance, so equal colours mean
equal reflectance. A source layer in DN is converted with reflectance = (DN + offset) / 10000.
"""
from __future__ import annotations

from qgis.core import (QgsContrastEnhancement, QgsMultiBandColorRenderer, QgsRasterLayer, QgsRectangle,
                       QgsSingleBandGrayRenderer)

from .qgis_compat import STATS_MIN_MAX, gray_band

#: band combinations offered in the comparison view (red, green, blue)
COMBINATIONS: dict[str, tuple[str, str, str]] = {
    "True colour (4-3-2)": ("B04", "B03", "B02"),
    "False colour NIR (8-4-3)": ("B08", "B04", "B03"),
    "SWIR (12-8A-4)": ("B12", "B8A", "B04"),
}
TRUE_COLOUR = COMBINATIONS["True colour (4-3-2)"]
QUANTIFICATION = 10000.0


def renderer_range(layer: QgsRasterLayer, index: int) -> tuple[float, float] | None:
    """The min/max the layer's renderer uses for band ``index``, if it renders that band with a stretch."""
    r = layer.renderer()
    pairs = []
    if isinstance(r, QgsMultiBandColorRenderer):
        pairs = [(r.redBand(), r.redContrastEnhancement()), (r.greenBand(), r.greenContrastEnhancement()),
                 (r.blueBand(), r.blueContrastEnhancement())]
    elif isinstance(r, QgsSingleBandGrayRenderer):
        pairs = [(gray_band(r), r.contrastEnhancement())]
    for band, ce in pairs:
        if band == index and ce is not None and ce.maximumValue() > ce.minimumValue():
            return ce.minimumValue(), ce.maximumValue()
    return None


def cumulative_range(layer: QgsRasterLayer, index: int, extent: QgsRectangle | None = None) -> tuple[float, float]:
    """2-98 % cumulative cut of band ``index`` (the QGIS default stretch), estimated from a sample."""
    lo, hi = layer.dataProvider().cumulativeCut(index, 0.02, 0.98, extent or QgsRectangle(), 250000)
    if not hi > lo:
        stats = layer.dataProvider().bandStatistics(index, STATS_MIN_MAX)
        lo, hi = stats.minimumValue, stats.maximumValue
    return float(lo), float(hi)


def source_reflectance_range(layer: QgsRasterLayer, index: int, offset: float) -> tuple[float, float]:
    """The stretch of a source (DN) layer band, in reflectance."""
    lo, hi = renderer_range(layer, index) or cumulative_range(layer, index)
    return (lo + offset) / QUANTIFICATION, (hi + offset) / QUANTIFICATION


def apply_rgb(layer: QgsRasterLayer, rgb: tuple[int, int, int], ranges: list[tuple[float, float]]) -> None:
    """Render bands ``rgb`` (1-based) of ``layer`` with a linear min/max stretch per channel."""
    provider = layer.dataProvider()
    renderer = QgsMultiBandColorRenderer(provider, *rgb)
    setters = (renderer.setRedContrastEnhancement, renderer.setGreenContrastEnhancement,
               renderer.setBlueContrastEnhancement)
    for setter, band, (lo, hi) in zip(setters, rgb, ranges):
        ce = QgsContrastEnhancement(provider.dataType(band))
        ce.setContrastEnhancementAlgorithm(
            QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum, False)
        ce.setMinimumValue(lo)
        ce.setMaximumValue(hi)
        setter(ce)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def band_index(band_ids: list[str] | tuple[str, ...], band: str) -> int | None:
    """1-based position of ``band`` in a file's band list, or None."""
    return band_ids.index(band) + 1 if band in band_ids else None


def rgb_indices(band_ids: list[str] | tuple[str, ...], combo: tuple[str, str, str]) -> tuple[int, int, int] | None:
    """1-based indices of a combination in a file with bands ``band_ids``, or None if one is missing."""
    idx = [band_index(band_ids, b) for b in combo]
    return None if None in idx else (idx[0], idx[1], idx[2])

