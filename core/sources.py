"""Find the Sentinel-2 bands of a product and describe their grids.

Accepted inputs, detected automatically:
  (a) a folder, or a list, of single-band GeoTIFF/JP2 files whose names end in the band id;
  (b) a multi-band GeoTIFF whose band descriptions name the bands;
  (c) a ``.SAFE`` folder or a zipped product (the IMG_DATA rasters are used, the offset is read from
      the product metadata).
An explicit ``band_map`` {band id: (path, 1-based band index)} overrides detection.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from osgeo import gdal, osr

from .bands import LATTICE, RESOLUTION, normalise_band_id
from .errors import InputError

gdal.UseExceptions()

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")
BASELINE_WITH_OFFSET = (4, 0)  # processing baseline 04.00 introduced the -1000 DN offset
_BASELINE_IN_NAME = re.compile(r"_N(\d{2})(\d{2})_")
_DATE_IN_NAME = re.compile(r"(?<!\d)(20\d{6})T\d{6}")
_TILE_IN_NAME = re.compile(r"(?<![A-Z0-9])T(\d{2}[C-X][A-Z]{2})(?![A-Z0-9])")
INTEGER_TYPES = ("UInt16", "Int16", "UInt32", "Int32")
FLOAT_TYPES = ("Float32", "Float64")


@dataclass(frozen=True)
class BandSource:
    """Where one band lives and the grid it is stored on (metres, in the product CRS)."""

    band: str
    path: str
    index: int
    geotransform: tuple[float, ...]
    width: int
    height: int
    crs_wkt: str
    data_type: str

    @property
    def pixel_size(self) -> float:
        return self.geotransform[1]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in metres."""
        x0, dx, _, y0, _, dy = self.geotransform
        return x0, y0 + dy * self.height, x0 + dx * self.width, y0


@dataclass
class Product:
    """The bands of one Sentinel-2 product and how to turn their DN into reflectance."""

    source: str
    bands: dict[str, BandSource]
    offset: float = 0.0            # DN added before dividing by 10000 (-1000 from baseline 04.00)
    offset_origin: str = "default (no offset)"
    level: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def crs_wkt(self) -> str:
        return next(iter(self.bands.values())).crs_wkt

    def missing(self, wanted: tuple[str, ...]) -> list[str]:
        return [b for b in wanted if b not in self.bands]

    def lattice_origin(self) -> tuple[float, float]:
        """A corner of the 60 m lattice all grids share: the coarsest band's origin."""
        ref = max(self.bands.values(), key=lambda s: s.pixel_size)
        return ref.geotransform[0] % LATTICE, ref.geotransform[3] % LATTICE

    def data_bounds(self, bands: tuple[str, ...]) -> tuple[float, float, float, float]:
        """Intersection of the given bands' footprints (metres)."""
        boxes = [self.bands[b].bounds for b in bands]
        return (max(b[0] for b in boxes), max(b[1] for b in boxes),
                min(b[2] for b in boxes), min(b[3] for b in boxes))


def open_product(inputs: str | os.PathLike | list, band_map: dict[str, tuple[str, int]] | None = None,
                 offset: float | None = None) -> Product:
    """Detect the bands of ``inputs`` and check their grids; ``offset`` (DN) overrides the product's."""
    paths = [str(p) for p in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    for p in paths:
        if not (os.path.exists(p) or p.startswith("/vsi")):
            raise InputError(f"Input '{p}' does not exist. Give a folder of band files, a multi-band "
                             "GeoTIFF or a .SAFE folder/zip.")
    if band_map:
        located = {b.upper(): (str(p), int(i)) for b, (p, i) in band_map.items()}
        product = Product(source=";".join(paths), bands={})
    else:
        located, product = _detect(paths)
    product.bands = {b: _describe(b, p, i) for b, (p, i) in sorted(located.items())}
    if not product.bands:
        raise InputError(f"No Sentinel-2 bands found in {', '.join(paths)}. File names must end in the band "
                         "id (e.g. '_B04.tif'), or band descriptions must name the bands; otherwise give "
                         "an explicit band mapping.")
    if offset is not None:
        product.offset, product.offset_origin = float(offset), "set by the user"
    check_same_product(product)
    check_data_types(product)
    check_grids(product)
    return product


def check_same_product(product: Product) -> None:
    """Refuse bands whose file names name different acquisition dates or MGRS tiles."""
    for what, pattern in (("dates", _DATE_IN_NAME), ("tiles", _TILE_IN_NAME)):
        found: dict[str, str] = {}
        for s in product.bands.values():
            m = pattern.search(os.path.basename(s.path))
            if m:
                found.setdefault(m.group(1), s.band)
        if len(found) > 1:
            listing = ", ".join(f"{v} from {k}" for k, v in found.items())
            raise InputError(f"The bands come from different {what} ({listing}). Super-resolution needs all bands "
                             "of one acquisition: select the band files of a single product.")


def check_data_types(product: Product) -> None:
    """Refuse rendered 8-bit images and types that cannot hold Sentinel-2 DN."""
    for s in product.bands.values():
        if s.data_type == "Byte":
            raise InputError(f"Band {s.band} ('{s.path}') is 8-bit: it looks like a rendered quicklook, not "
                             "Sentinel-2 data (16-bit DN). Use the product's band files (JP2 or GeoTIFF).")
        if s.data_type not in INTEGER_TYPES + FLOAT_TYPES:
            raise InputError(f"Band {s.band} ('{s.path}') has data type {s.data_type}; expected 16-bit DN "
                             "(UInt16) or float. Use the product's band files.")


def _detect(paths: list[str]) -> tuple[dict[str, tuple[str, int]], Product]:
    if len(paths) == 1:
        p = paths[0]
        if _is_safe(p):
            return _from_safe(p)
        if os.path.isdir(p):
            files = sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(RASTER_SUFFIXES))
            return _from_files(files, p)
        if _band_count(p) > 1:
            return _from_descriptions(p)
    return _from_files(paths, ";".join(paths))


def _is_safe(p: str) -> bool:
    low = p.rstrip("/").lower()
    return low.endswith((".safe", ".zip")) or (os.path.isdir(p) and any(
        f.startswith("MTD_MSIL") for f in os.listdir(p)))


def _band_count(path: str) -> int:
    try:
        return gdal.Open(path).RasterCount
    except RuntimeError as exc:
        raise InputError(f"GDAL cannot read '{path}': {exc}. Check that it is a raster file.") from exc


def _from_files(files: list[str], source: str) -> tuple[dict[str, tuple[str, int]], Product]:
    located: dict[str, tuple[str, int]] = {}
    for f in files:
        band = normalise_band_id(os.path.basename(f))
        if band is None:
            continue
        if band in located:
            raise InputError(f"Band {band} is given twice ('{located[band][0]}' and '{f}'). Keep one file per "
                             "band (remove duplicates or pass an explicit band mapping).")
        located[band] = (f, 1)
    return located, Product(source=source, bands={}, **_offset_from_names(files))


def _from_descriptions(path: str) -> tuple[dict[str, tuple[str, int]], Product]:
    ds = gdal.Open(path)
    located: dict[str, tuple[str, int]] = {}
    for i in range(1, ds.RasterCount + 1):
        band = normalise_band_id(ds.GetRasterBand(i).GetDescription() or "")
        if band is None:
            continue
        if band in located:
            raise InputError(f"Band {band} appears twice in '{path}' (bands {located[band][1]} and {i}). "
                             "Fix the band descriptions or pass an explicit band mapping.")
        located[band] = (path, i)
    if not located:
        raise InputError(f"'{path}' has {ds.RasterCount} bands but their descriptions do not name Sentinel-2 "
                         "bands (B01..B12, B8A). Set the band descriptions or pass an explicit band mapping.")
    meta = ds.GetMetadata()
    product = Product(source=path, bands={}, **_offset_from_names([path]))
    for key in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET"):
        if key in meta:
            product.offset, product.offset_origin = float(meta[key]), f"{key} tag of the file"
    return located, product


def _offset_from_names(files: list[str]) -> dict:
    """Level and DN offset told by product names (``MSIL2A``, ``_N0400_``) of the files or their folders."""
    found: dict = {}
    for f in files:
        name = os.path.basename(os.path.dirname(f)) + "_" + os.path.basename(f)
        level = re.search(r"MSI(L1C|L2A)", name)
        if level:
            found.setdefault("level", level.group(1))
        m = _BASELINE_IN_NAME.search(name)
        if m and (int(m.group(1)), int(m.group(2))) >= BASELINE_WITH_OFFSET:
            found.setdefault("offset", -1000.0)
            found.setdefault("offset_origin", f"processing baseline N{m.group(1)}{m.group(2)} in the name")
    return found


def _from_safe(path: str) -> tuple[dict[str, tuple[str, int]], Product]:
    root = f"/vsizip/{path}" if path.lower().endswith(".zip") else path
    files = _walk(root)
    mtd = [f for f in files if re.search(r"MTD_MSIL(1C|2A)\.xml$", f)]
    if not mtd:
        raise InputError(f"'{path}' looks like a SAFE product but has no MTD_MSIL1C.xml / MTD_MSIL2A.xml. "
                         "Unzip it again or point to the folder of band files instead.")
    images = [f for f in files if "IMG_DATA" in f and f.lower().endswith(".jp2")]
    located: dict[str, tuple[str, int]] = {}
    for f in images:
        name = os.path.basename(f)
        band = normalise_band_id(re.sub(r"_\d+m$", "", os.path.splitext(name)[0]))
        res = re.search(r"_(\d+)m\.jp2$", name)
        if band is None or (res and int(res.group(1)) != RESOLUTION[band]):
            continue  # L2A: keep each band at its native resolution only
        located.setdefault(band, (f, 1))
    product = Product(source=path, bands={}, level="L2A" if "MSIL2A" in mtd[0] else "L1C")
    _read_safe_offset(mtd[0], product)
    return located, product


def _walk(root: str) -> list[str]:
    out = []
    for entry in gdal.ReadDirRecursive(root) or []:
        out.append(f"{root.rstrip('/')}/{entry}")
    return out


def _read_safe_offset(mtd_path: str, product: Product) -> None:
    f = gdal.VSIFOpenL(mtd_path, "rb")
    try:
        text = gdal.VSIFReadL(1, 4_000_000, f).decode("utf-8", "replace")
    finally:
        gdal.VSIFCloseL(f)
    offsets = re.findall(r"<(?:BOA|RADIO)_ADD_OFFSET[^>]*>\s*(-?\d+(?:\.\d+)?)\s*<", text)
    baseline = re.search(r"<PROCESSING_BASELINE>\s*(\d+)\.(\d+)\s*<", text)
    if offsets:
        product.offset, product.offset_origin = float(offsets[0]), "BOA/RADIO_ADD_OFFSET in the product metadata"
    elif baseline and (int(baseline.group(1)), int(baseline.group(2))) >= BASELINE_WITH_OFFSET:
        product.offset, product.offset_origin = -1000.0, f"processing baseline {baseline.group(1)}.{baseline.group(2)}"


def _describe(band: str, path: str, index: int) -> BandSource:
    try:
        ds = gdal.Open(path)
    except RuntimeError as exc:
        raise InputError(f"GDAL cannot read band {band} from '{path}': {exc}.") from exc
    if not 1 <= index <= ds.RasterCount:
        raise InputError(f"Band {band}: '{path}' has no band {index} (it has {ds.RasterCount}).")
    rb = ds.GetRasterBand(index)
    return BandSource(band=band, path=path, index=index, geotransform=tuple(ds.GetGeoTransform()),
                      width=ds.RasterXSize, height=ds.RasterYSize, crs_wkt=ds.GetProjection(),
                      data_type=gdal.GetDataTypeName(rb.DataType))


def check_grids(product: Product) -> None:
    """Raise InputError unless all bands share a projected CRS and a common 60 m lattice."""
    first = next(iter(product.bands.values()))
    ref = osr.SpatialReference(wkt=first.crs_wkt) if first.crs_wkt else None
    for s in product.bands.values():
        if not s.crs_wkt:
            raise InputError(f"Band {s.band} ('{s.path}') has no coordinate reference system. Use the "
                             "georeferenced product files (GeoTIFF/JP2 with their UTM CRS).")
        srs = osr.SpatialReference(wkt=s.crs_wkt)
        if not srs.IsSame(ref):
            raise InputError(f"Bands {first.band} and {s.band} are in different CRSs. All bands must come from "
                             "one product in its UTM zone; do not mix tiles or reproject single bands.")
        if srs.IsGeographic():
            raise InputError(f"Band {s.band} is in a geographic CRS (degrees). Super-resolution needs the "
                             "product's metric UTM grid: use the original files, or reproject to the product's "
                             "UTM zone with 10/20/60 m pixels.")
        x0, dx, rx, y0, ry, dy = s.geotransform
        if rx or ry:
            raise InputError(f"Band {s.band} has a rotated geotransform. Use the product's north-up grid.")
        if abs(abs(dy) - dx) > 1e-6 * dx or dy > 0:
            raise InputError(f"Band {s.band} has non-square or south-up pixels ({dx} x {dy}).")
        native = RESOLUTION[s.band]
        if dx > native + 1e-6 or native % round(dx) or abs(dx - round(dx)) > 1e-6:
            raise InputError(f"Band {s.band} has {dx:g} m pixels; it must be stored at its native {native} m "
                             "or a finer grid that divides it (10 or 20 m).")
    _check_lattice(product)


def _check_lattice(product: Product) -> None:
    ox, oy = product.lattice_origin()
    for s in product.bands.values():
        x0, dx, _, y0, _, _ = s.geotransform
        for name, v, o in (("x", x0, ox), ("y", y0, oy)):
            rem = (v - o) % dx
            if min(rem, dx - rem) > 1e-3:
                raise InputError(f"Band {s.band}'s grid is shifted by {rem:g} m in {name} from the 60 m "
                                 "lattice of the other bands, so the bands do not line up. Use bands of one "
                                 "product without resampling them.")
