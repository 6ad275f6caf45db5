"""The area to process: parse it, bring it into the raster CRS, snap it to the 60 m lattice.

All coordinates are metres in the product CRS unless a CRS is named.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from osgeo import osr

from .bands import LATTICE
from .errors import ExtentError
from .gdal_env import gdal_scope


@dataclass(frozen=True)
class Extent:
    """An axis-aligned box (xmin, ymin, xmax, ymax) in metres of the product CRS."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin

    def pixels(self, size: float) -> tuple[int, int]:
        """(columns, rows) of a grid of ``size``-metre pixels covering the extent."""
        return round(self.width / size), round(self.height / size)

    def intersect(self, other: "Extent") -> "Extent | None":
        box = Extent(max(self.xmin, other.xmin), max(self.ymin, other.ymin),
                     min(self.xmax, other.xmax), min(self.ymax, other.ymax))
        return box if box.width > 0 and box.height > 0 else None


def parse_extent(text: str) -> tuple[Extent, str | None]:
    """Parse 'XMIN,YMIN,XMAX,YMAX[,EPSG:CODE]' (also the QGIS form 'XMIN,XMAX,YMIN,YMAX [EPSG:CODE]' is not
    accepted: the order is always xmin, ymin, xmax, ymax). Returns the box and its CRS text or None."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    crs = None
    if len(parts) == 5:
        crs = parts.pop()
    if len(parts) != 4:
        raise ExtentError(f"Extent '{text}' is not XMIN,YMIN,XMAX,YMAX[,EPSG:CODE], e.g. "
                          "'440000,4170000,442000,4172000' or '-75.7,37.6,-75.6,37.7,EPSG:4326'.")
    try:
        xmin, ymin, xmax, ymax = (float(p) for p in parts)
    except ValueError:
        raise ExtentError(f"Extent '{text}' has a value that is not a number.") from None
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ExtentError(f"Extent '{text}' has a value that is not finite.")
    if xmin >= xmax or ymin >= ymax:
        raise ExtentError(f"Extent '{text}' is empty or inverted: give XMIN < XMAX and YMIN < YMAX.")
    return Extent(xmin, ymin, xmax, ymax), crs


@gdal_scope()
def to_raster_crs(extent: Extent, crs: str | None, raster_wkt: str) -> Extent:
    """Transform ``extent`` from ``crs`` (anything OSR understands, e.g. 'EPSG:4326'; None = raster CRS)
    to the raster CRS, taking the bounding box of the densified outline."""
    if not crs:
        return extent
    src = osr.SpatialReference()
    try:
        src.SetFromUserInput(crs)
    except RuntimeError:
        raise ExtentError(f"Unknown CRS '{crs}' for the extent. Use a code like 'EPSG:4326'.") from None
    dst = osr.SpatialReference(wkt=raster_wkt)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    if src.IsSame(dst):
        return extent
    xmin, ymin, xmax, ymax = osr.CoordinateTransformation(src, dst).TransformBounds(
        extent.xmin, extent.ymin, extent.xmax, extent.ymax, 21)
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ExtentError(f"The extent cannot be expressed in the raster's CRS from {crs}.")
    return Extent(xmin, ymin, xmax, ymax)


def snap_outward(extent: Extent, origin: tuple[float, float], step: float = LATTICE) -> Extent:
    """Grow ``extent`` to the lattice of ``step`` metres through ``origin`` so every band grid cuts it exactly."""
    ox, oy = origin
    eps = 1e-6
    return Extent(ox + math.floor((extent.xmin - ox) / step + eps) * step,
                  oy + math.floor((extent.ymin - oy) / step + eps) * step,
                  ox + math.ceil((extent.xmax - ox) / step - eps) * step,
                  oy + math.ceil((extent.ymax - oy) / step - eps) * step)


def snap_inward(extent: Extent, origin: tuple[float, float], step: float = LATTICE) -> Extent | None:
    """Shrink ``extent`` to the lattice (used for the area where every band has data)."""
    ox, oy = origin
    eps = 1e-6
    box = Extent(ox + math.ceil((extent.xmin - ox) / step - eps) * step,
                 oy + math.ceil((extent.ymin - oy) / step - eps) * step,
                 ox + math.floor((extent.xmax - ox) / step + eps) * step,
                 oy + math.floor((extent.ymax - oy) / step + eps) * step)
    return box if box.width > 0 and box.height > 0 else None
