"""The original product as reflectance, for viewing: a VRT of its bands on one 10 m grid.

Built with gdal.BuildVRT (one band per source band, nearest neighbour so 20/60 m pixels stay visible as
such, DN 0 as nodata); each band gets GDAL's scale 1/10000 and offset offset/10000, so readers that
honour band scale/offset (QGIS does) see reflectance = (DN + offset) / 10000, like the result.
"""
from __future__ import annotations

from pathlib import Path

from osgeo import gdal

from ..core.bands import OUTPUT_BANDS
from ..core.gdal_env import gdal_scope
from ..core.sources import Product
from .render import QUANTIFICATION, TRUE_COLOUR

VIEW_PIXEL = 10.0   # metres


@gdal_scope()
def reflectance_vrt(product: Product, path: Path, bands: tuple[str, ...] = OUTPUT_BANDS) -> Path:
    """Write a VRT of ``bands`` (those the product has, in that order) on a common 10 m grid, scaled to
    reflectance; its extent is where all of them have data."""
    present = [b for b in bands if b in product.bands]
    sources = [product.bands[b] for b in present]
    options = gdal.BuildVRTOptions(separate=True, xRes=VIEW_PIXEL, yRes=VIEW_PIXEL, resampleAlg="nearest",
                                   outputBounds=product.data_bounds(tuple(present)), srcNodata=0, VRTNodata=0)
    if any(s.index != 1 for s in sources):       # BuildVRT takes band 1 of each file
        return _per_band_vrt(product, path, present)
    vrt = gdal.BuildVRT(str(path), [s.path for s in sources], options=options)
    _describe(vrt, present, product.offset)
    vrt = None
    return Path(path)


def _per_band_vrt(product: Product, path: Path, present: list[str]) -> Path:
    """Bands that are not band 1 of their file: one single-band VRT per band (BuildVRT's bandList), then a
    separate-bands VRT of those."""
    parts = []
    for band in present:
        src = product.bands[band]
        part = path.with_name(f"{path.stem}_{band}.vrt")
        gdal.BuildVRT(str(part), [src.path], bandList=[src.index])
        parts.append(str(part))
    vrt = gdal.BuildVRT(str(path), parts, separate=True, xRes=VIEW_PIXEL, yRes=VIEW_PIXEL, resampleAlg="nearest",
                        outputBounds=product.data_bounds(tuple(present)), srcNodata=0, VRTNodata=0)
    _describe(vrt, present, product.offset)
    vrt = None
    return Path(path)


def _describe(vrt: gdal.Dataset, bands: list[str], offset: float) -> None:
    for k, band in enumerate(bands, start=1):
        b = vrt.GetRasterBand(k)
        b.SetDescription(band)
        b.SetScale(1 / QUANTIFICATION)
        b.SetOffset(offset / QUANTIFICATION)


def true_colour_vrt(product: Product, path: Path) -> Path:
    """The original's B04, B03, B02 in reflectance (for the map, beside the result)."""
    return reflectance_vrt(product, path, TRUE_COLOUR)
