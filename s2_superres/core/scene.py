"""A whole scene in memory: the three band groups as reflectance arrays on their native grids.

Used by evaluation (Wald protocol) and training data preparation; the tiled pipeline never
loads a whole scene. Sources: a product (anything :func:`sources.open_product` accepts) or an
``.npz`` with arrays ``b10``, ``b20``, ``b60`` and ``b10_names``... in DN (the training format).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

from .bands import GROUPS
from .errors import ExtentError
from .extent import Extent, snap_inward
from .gdal_env import gdal_scope
from .reader import TileReader
from .sources import open_product

DEFAULT_CRS = 32633  # for arrays without georeferencing (npz): any metric CRS will do


@dataclass
class Scene:
    """Reflectance per native resolution (10, 20, 60) in GROUPS order, plus the grid's upper-left corner."""

    groups: dict[int, np.ndarray]
    crs_wkt: str
    origin: tuple[float, float] = (0.0, 0.0)

    def crop_to_multiple(self, factor: int) -> "Scene":
        """Crop so the 60 m grid has a multiple of ``factor`` pixels (all groups cut the same ground)."""
        h60, w60 = self.groups[60].shape[1:]
        h, w = h60 // factor * factor, w60 // factor * factor
        return Scene({r: a[:, : h * 60 // r, : w * 60 // r] for r, a in self.groups.items()}, self.crs_wkt, self.origin)


@gdal_scope()
def load_scene(source: str | Path, extent: Extent | None = None) -> Scene:
    """Load a product (or an ``.npz``) as a Scene; ``extent`` (metres, raster CRS) limits a product."""
    if str(source).endswith(".npz"):
        return _from_npz(Path(source))
    product = open_product(str(source), extent=extent)     # the extent also picks a multi-granule product's granule
    needed = tuple(b for g in GROUPS.values() for b in g)
    area = snap_inward(Extent(*product.data_bounds(needed)), product.lattice_origin())
    if area is not None and extent is not None:
        inner = snap_inward(extent, product.lattice_origin())
        area = area.intersect(inner) if inner is not None else None
    if area is None:
        raise ExtentError(f"No whole 60 m cell of '{source}' (within the extent, if given) has data in every band.")
    reader = TileReader(product, area)
    tile, _ = reader.read(area)
    return Scene({10: tile.b10, 20: tile.b20, 60: tile.b60}, product.crs_wkt, (area.xmin, area.ymax))


def _from_npz(path: Path) -> Scene:
    data = np.load(path)
    groups = {}
    for res, names in GROUPS.items():
        stored = [str(n) for n in data[f"b{res}_names"]]
        groups[res] = np.stack([data[f"b{res}"][stored.index(b)] for b in names]).astype(np.float32) / 10000.0
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(DEFAULT_CRS)
    return Scene(groups, srs.ExportToWkt(), (500000.0, 6000000.0))


@gdal_scope()
def write_product(scene: Scene, folder: Path) -> dict[str, tuple[str, int]]:
    """Write a Scene as single-band float32 GeoTIFFs (DN = 10000 x reflectance) on native grids;
    returns the band map for :func:`sources.open_product`."""
    band_map = {}
    x0, y0 = scene.origin
    for res, names in GROUPS.items():
        for i, band in enumerate(names):
            path = folder / f"{band}.tif"
            arr = scene.groups[res][i]
            ds = gdal.GetDriverByName("GTiff").Create(str(path), arr.shape[1], arr.shape[0], 1, gdal.GDT_Float32)
            ds.SetGeoTransform((x0, res, 0, y0, 0, -res))
            ds.SetProjection(scene.crs_wkt)
            ds.GetRasterBand(1).WriteArray(arr * 10000.0)
            ds = None
            band_map[band] = (str(path), 1)
    return band_map
