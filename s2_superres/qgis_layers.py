"""What GDAL opens for a QGIS raster layer: shared by the user interface and the Processing algorithm."""
from __future__ import annotations

from osgeo import gdal
from qgis.core import QgsMapLayer, QgsProviderRegistry, QgsRasterLayer

from .core.gdal_env import gdal_scope


def layer_path(layer: QgsMapLayer | None) -> str | None:
    """What GDAL opens for a GDAL raster layer, or None for other layers (WMS, memory, ...): a file path,
    a ``/vsizip/`` path inside a zip, or a SENTINEL2 subdataset URI (``SENTINEL2_L2A:<MTD file>:10m:EPSG_32633``)."""
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
    path = parts.get("path")
    if not path:
        return None
    return f"{parts.get('vsiPrefix') or ''}{path}{parts.get('vsiSuffix') or ''}"


def band_descriptions(path: str) -> list[str]:
    """GDAL band descriptions of ``path`` (empty strings where unset or unreadable)."""
    with gdal_scope():
        try:
            ds = gdal.Open(path)
        except RuntimeError:
            return []
        return [ds.GetRasterBand(i).GetDescription() or "" for i in range(1, ds.RasterCount + 1)]
