"""The few QGIS names that moved between QGIS 3.22 (the oldest the plugin supports) and 3.40 LTR.

QGIS 3.30-3.38 moved these enums into ``Qgis`` and renamed one method; the old names still work on 3.40 but
are deprecated and go with QGIS 4. Each name here is the new one where this QGIS has it, else 3.22's.
"""
from __future__ import annotations

from qgis.core import (Qgis, QgsMapLayerProxyModel, QgsProcessing, QgsProcessingParameterDefinition,
                       QgsProcessingParameterNumber, QgsRaster, QgsRasterBandStats, QgsSingleBandGrayRenderer,
                       QgsWkbTypes)


def _moved(new: str, old_owner: type, old: str):
    """``Qgis.<new>`` where this QGIS has it, else ``<old_owner>.<old>`` (both "Enum.Member")."""
    owner, path = (Qgis, new) if hasattr(Qgis, new.split(".")[0]) else (old_owner, old)
    for name in path.split("."):
        owner = getattr(owner, name)
    return owner


POLYGON_GEOMETRY = _moved("GeometryType.Polygon", QgsWkbTypes, "GeometryType.PolygonGeometry")
RASTER_LAYER_FILTER = _moved("LayerFilter.RasterLayer", QgsMapLayerProxyModel, "Filter.RasterLayer")
RASTER_SOURCE = _moved("ProcessingSourceType.Raster", QgsProcessing, "SourceType.TypeRaster")
NUMBER_INTEGER = _moved("ProcessingNumberParameterType.Integer", QgsProcessingParameterNumber, "Type.Integer")
NUMBER_DOUBLE = _moved("ProcessingNumberParameterType.Double", QgsProcessingParameterNumber, "Type.Double")
ADVANCED_PARAMETER = _moved("ProcessingParameterFlag.Advanced", QgsProcessingParameterDefinition, "Flag.FlagAdvanced")
IDENTIFY_VALUE = _moved("RasterIdentifyFormat.Value", QgsRaster, "IdentifyFormat.IdentifyFormatValue")
STATS_MIN_MAX = (_moved("RasterBandStatistic.Min", QgsRasterBandStats, "Stats.Min")
                 | _moved("RasterBandStatistic.Max", QgsRasterBandStats, "Stats.Max"))


def gray_band(renderer: QgsSingleBandGrayRenderer) -> int:
    """The band a single-band gray renderer draws (``inputBand()`` from QGIS 3.38, ``grayBand()`` before)."""
    return renderer.inputBand() if hasattr(renderer, "inputBand") else renderer.grayBand()
