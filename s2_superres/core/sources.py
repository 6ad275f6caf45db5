"""Find the Sentinel-2 bands of a product, describe their grids and how their DN become reflectance.

One function, :func:`open_product`, serves the CLI, the Processing algorithm, the dock and the Python API.
Accepted inputs, detected automatically:
  (a) a folder, or a list, of single-band GeoTIFF/JP2 files whose names end in the band id (also
      ``/vsizip/`` paths of band files inside a zipped product);
  (b) a multi-band raster whose band descriptions name the bands, including the subdatasets of GDAL's
      SENTINEL2 driver (``SENTINEL2_L2A:/path/MTD_MSIL2A.xml:10m:EPSG_32633``, also 20m and 60m);
  (c) a ``.SAFE`` folder or a zipped product (the IMG_DATA rasters of its granule; of an old multi-granule
      product, the granule whose footprint covers the given extent);
  (d) a STAC item: a local JSON file or an http(s) URL (see core.stac).
An explicit ``band_map`` {band id: (path, 1-based band index)} overrides band detection; the offset is
detected on every path alike (core.radiometry).
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal, osr

from . import stac
from .bands import GROUPS, LATTICE, RESOLUTION, normalise_band_id
from .dates import acquisition_date
from .errors import InputError
from .extent import Extent, to_raster_crs
from .gdal_env import gdal_scope, is_remote, open_raster
from .metadata import is_metadata_name, metadata_above, read_metadata
from .radiometry import QUANTIFICATION, Radiometry, check_plausible, detect, is_float_reflectance, to_reflectance

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")
_DATE_IN_NAME = re.compile(r"(?<!\d)(20\d{6})T\d{6}")
_TILE_IN_NAME = re.compile(r"(?<![A-Z0-9])T(\d{2}[C-X][A-Z]{2})(?![A-Z0-9])")
#: GDAL SENTINEL2 driver subdataset: SENTINEL2_<level>:<metadata file>:<10m|20m|60m|TCI|...>:<EPSG_code>
_SUBDATASET = re.compile(r"^SENTINEL2_(L1C|L2A|L1B)(?:_TILE)?:(.+):(\w+):(EPSG_\d+|\w+)$")
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
    """The bands of one Sentinel-2 product and how to turn their DN into reflectance.

    Reflectance = (DN + offset) / quantification (see :meth:`reflectance`); negative values are kept.
    """

    source: str
    bands: dict[str, BandSource]
    offset: float = 0.0            #: DN added before dividing by ``quantification`` (-1000 from baseline 04.00)
    offset_origin: str = "default (no offset)"   #: where the offset was read (shown to the user)
    level: str | None = None       #: processing level, 'L1C' or 'L2A' (None when unknown)
    notes: list[str] = field(default_factory=list)   #: warnings for the user (e.g. unknown baseline)
    baseline: str | None = None    #: processing baseline as stated, e.g. '04.00' (None when unknown)
    quantification: float = QUANTIFICATION   #: DN per unit reflectance (QUANTIFICATION_VALUE, 10000)
    band_offsets: dict[str, float] = field(default_factory=dict)   #: per-band DN offsets where they differ
    offset_known: bool = False     #: True when the product (metadata, tags, names) or the user stated it
    date: dt.date | None = None    #: acquisition date (core.dates; None when nothing states it)
    metadata: str | None = None    #: the product metadata file (MTD_MSIL*.xml) when one was found
    scl: str | None = None         #: GDAL path of the L2A scene classification (SCL) raster, when the input has one
    granule: str | None = None     #: the granule folder chosen in a multi-granule product (None otherwise)

    @property
    def crs_wkt(self) -> str:
        return next(iter(self.bands.values())).crs_wkt

    def offset_of(self, band: str) -> float:
        """DN offset of ``band``."""
        return self.band_offsets.get(band, self.offset)

    def reflectance(self, band: str, dn: np.ndarray) -> np.ndarray:
        """Reflectance (float32) of ``band``'s DN: (DN + offset) / quantification, negatives kept."""
        return to_reflectance(dn, self.offset_of(band), self.quantification)

    def set_offset(self, offset: float, origin: str = "set by the user") -> None:
        """Override the DN offset of every band."""
        self.offset, self.offset_origin, self.band_offsets, self.offset_known = float(offset), origin, {}, True

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


@dataclass
class _Found:
    """What band detection found: where each band is, what to call the source, and radiometry hints."""

    located: dict[str, tuple[str, int]]
    source: str
    metadata: str | None = None              # product metadata file, when the input is the product itself
    radiometry: Radiometry | None = None     # stated by the input itself (STAC item)
    item: dict | None = None                 # the STAC item, when the input is one
    scl: str | None = None                   # the scene classification raster, when the input has one
    granule: str | None = None               # granule folder chosen in a multi-granule product
    notes: list[str] = field(default_factory=list)


class GranuleChoiceError(InputError):
    """A multi-granule product whose granule cannot be chosen from the extent; ``footprints`` lists them."""

    def __init__(self, message: str, footprints: list["Footprint"]):
        super().__init__(message)
        self.footprints = footprints

    def __reduce__(self):
        """Picklable with its footprints (batch workers send errors back to the scheduler)."""
        return type(self), (str(self), self.footprints)


@dataclass(frozen=True)
class Area:
    """The extent the user asked for: metres in ``crs`` (anything OSR reads; None = the product's own CRS)."""

    extent: Extent
    crs: str | None = None

    def in_crs(self, wkt: str) -> Extent:
        """The extent in the CRS ``wkt`` (bounding box of the densified outline)."""
        return to_raster_crs(self.extent, self.crs, wkt)


@dataclass(frozen=True)
class Footprint:
    """Where one granule of a multi-granule product lies: (xmin, ymin, xmax, ymax) metres in its own CRS."""

    folder: str
    bounds: tuple[float, float, float, float]
    crs_wkt: str

    @property
    def name(self) -> str:
        return self.folder.rstrip("/").rsplit("/", 1)[-1]

    def overlap(self, area: Area) -> Extent | None:
        """The part of ``area`` inside this granule (None when they do not overlap)."""
        return Extent(*self.bounds).intersect(area.in_crs(self.crs_wkt))

    def covers(self, area: Area) -> bool:
        """True when ``area`` lies wholly inside this granule."""
        box, (x0, y0, x1, y1) = area.in_crs(self.crs_wkt), self.bounds
        return x0 <= box.xmin and y0 <= box.ymin and box.xmax <= x1 and box.ymax <= y1

    def describe(self) -> str:
        srs = osr.SpatialReference(wkt=self.crs_wkt)
        srs.AutoIdentifyEPSG()
        code = srs.GetAuthorityCode(None)
        x0, y0, x1, y1 = self.bounds
        return f"{self.name} covers {x0:.0f},{y0:.0f},{x1:.0f},{y1:.0f} ({'EPSG:' + code if code else srs.GetName()})"


@gdal_scope()
def open_product(inputs: str | os.PathLike | list, band_map: dict[str, tuple[str, int]] | None = None,
                 offset: float | None = None, extent: Extent | None = None, extent_crs: str | None = None) -> Product:
    """Detect the bands of ``inputs`` and check their grids; ``offset`` (DN) overrides the product's.

    ``inputs`` is a path, URI (``/vsizip/...``, ``SENTINEL2_L2A:...``, http(s) STAC item) or a list of them;
    ``band_map`` maps band ids to (path, 1-based index) and replaces band detection, not offset detection.
    ``extent`` (metres in ``extent_crs``, anything OSR reads; None = the product's CRS) chooses the granule of
    an old multi-granule product; other inputs ignore it.
    """
    paths = [os.fspath(p) for p in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    for p in paths:
        _check_exists(p)
    if band_map:
        located = {b.upper(): (str(p), int(i)) for b, (p, i) in band_map.items()}
        items = [p for p in paths if _is_stac_item(p)]
        item = stac.read_item(items[0]) if items else None
        found = _Found(located, ";".join(paths), radiometry=stac.radiometry(item, items[0]) if item else None,
                       item=item)
    else:
        found = _detect(paths, Area(extent, extent_crs) if extent is not None else None)
    bands = {b: _describe(b, p, i) for b, (p, i) in sorted(found.located.items())}
    if not bands:
        raise InputError(f"No Sentinel-2 bands found in {', '.join(paths)}. File names must end in the band "
                         "id (e.g. '_B04.tif'), or band descriptions must name the bands; otherwise give "
                         "an explicit band mapping.")
    product = Product(source=found.source, bands=bands, granule=found.granule, notes=list(found.notes))
    product.metadata = found.metadata or _metadata_of([s.path for s in bands.values()])
    product.scl = found.scl
    _apply(product, found.radiometry or _radiometry(product, product.metadata), warn=offset is None)
    product.date = acquisition_date(product, found.item)
    if offset is not None:
        product.set_offset(offset)
    check_same_product(product)
    check_data_types(product)
    check_grids(product)
    check_subdatasets(product)
    return product


def _check_exists(p: str) -> None:
    if os.path.exists(p) or p.startswith("/vsi") or _SUBDATASET.match(p) or stac.is_stac_location(p):
        return
    raise InputError(f"Input '{p}' does not exist. Give a folder of band files, a multi-band GeoTIFF, a .SAFE "
                     "folder/zip, a SENTINEL2 subdataset or a STAC item.")


def _radiometry(product: Product, metadata: str | None) -> Radiometry:
    """Radiometry of the product's band files: ``metadata`` or the metadata file above the band files, then
    tags, then names; float data holding reflectance are never shifted."""
    first = next(iter(product.bands.values()))
    if all(is_float_reflectance(s.path, s.index) for s in product.bands.values()):
        return Radiometry(quantification=1.0, known=True,
                          origin="the values are float reflectance: offset and scaling already applied")
    return detect([s.path for s in product.bands.values()], metadata, _tags(first.path, first.index))


def _apply(product: Product, found: Radiometry, warn: bool) -> None:
    """Copy the detected radiometry into ``product`` once checked (radiometry.check_plausible); ``warn``: also its
    notes (not when the user set the offset, whose value then is not checked either)."""
    check_plausible(found, offset_given=not warn)
    product.offset, product.offset_origin, product.quantification = found.offset, found.origin, found.quantification
    product.band_offsets, product.offset_known = dict(found.band_offsets), found.known
    product.level, product.baseline = found.level or product.level, found.baseline
    if warn:
        product.notes.extend(found.notes)


def _tags(path: str, index: int) -> dict[str, str]:
    ds = open_raster(path)
    tags = dict(ds.GetMetadata() or {})
    tags.update(ds.GetRasterBand(index).GetMetadata() or {})
    return tags


def _metadata_of(paths: list[str]) -> str | None:
    """The product metadata file of the first band file (or SENTINEL2 subdataset) that lies in a product; remote
    files are not looked above (that would list folders on the server)."""
    for p in (p for p in paths if not is_remote(p)):
        m = _SUBDATASET.match(p)
        if m:
            return m.group(2)
        found = metadata_above(p)
        if found:
            return found
    return None


def tile_in_name(path: str) -> str | None:
    """The MGRS tile (e.g. '33UUU') named in the file or folder name of ``path`` (``_T33UUU_``), or None."""
    m = _TILE_IN_NAME.search(os.path.basename(path.rstrip("/")))
    return m.group(1) if m else None


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
                             "Sentinel-2 data (16-bit DN). Use the product's band files (JP2 or GeoTIFF), not the "
                             "TCI / true colour image.")
        if s.data_type not in INTEGER_TYPES + FLOAT_TYPES:
            raise InputError(f"Band {s.band} ('{s.path}') has data type {s.data_type}; expected 16-bit DN "
                             "(UInt16) or float. Use the product's band files.")


def check_subdatasets(product: Product) -> None:
    """SENTINEL2 subdatasets: the 10 m one guides every band, so it must be given; a missing 20 m or
    60 m one is named in the notes."""
    given = {m.group(3): m for m in (_SUBDATASET.match(s.path) for s in product.bands.values()) if m}
    if not given:
        return
    any_match = next(iter(given.values()))
    def uri(res: str) -> str:
        return f"SENTINEL2_{any_match.group(1)}:{any_match.group(2)}:{res}:{any_match.group(4)}"
    if "10m" not in given and product.missing(GROUPS[10]):
        raise InputError(f"Only the {' and '.join(sorted(given))} subdataset(s) of {any_match.group(2)} were given. "
                         "The 10 m bands guide all others: add the 10m subdataset layer too (in QGIS, drag the "
                         f"product in again and tick '10m'), i.e. '{uri('10m')}'.")
    for res, group in (("20m", GROUPS[20]), ("60m", GROUPS[60])):
        if res not in given and product.missing(group):
            product.notes.append(f"The {res} subdataset was not given, so bands {', '.join(product.missing(group))} "
                                 f"are missing; add '{uri(res)}' for a 12-band output.")


def _detect(paths: list[str], area: Area | None = None) -> _Found:
    if len(paths) == 1:
        p = paths[0]
        if _is_stac_item(p):
            return _from_stac(p)
        if _is_safe(p):
            return _from_safe(p, area)
        if os.path.isdir(p):
            img_data = p if os.path.basename(os.path.normpath(p)) == "IMG_DATA" else os.path.join(p, "IMG_DATA")
            if os.path.isdir(img_data):   # a granule of a SAFE product, or its IMG_DATA folder
                return _Found(_native_bands([f for f in _walk(img_data) if f.lower().endswith(".jp2")]), p)
            files = sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(RASTER_SUFFIXES))
            return _Found(_from_files(files), p, scl=scl_file(files))
    located: dict[str, tuple[str, int]] = {}
    for p in paths:
        for band, where in (_from_descriptions(p) if _band_count(p) > 1 else _from_files([p])).items():
            if band in located:
                raise InputError(f"Band {band} is given twice ('{located[band][0]}' and '{where[0]}'). Keep one "
                                 "source per band (remove duplicates or pass an explicit band mapping).")
            located[band] = where
    return _Found(located, ";".join(paths), scl=scl_file(paths))


def _is_stac_item(p: str) -> bool:
    return stac.is_stac_location(p) and not _SUBDATASET.match(p)


def _is_safe(p: str) -> bool:
    low = p.rstrip("/").lower()
    return low.endswith((".safe", ".zip")) or (os.path.isdir(p) and any(is_metadata_name(f) for f in os.listdir(p)))


def _band_count(path: str) -> int:
    return open_raster(path).RasterCount


def _from_files(files: list[str]) -> dict[str, tuple[str, int]]:
    located: dict[str, tuple[str, int]] = {}
    for f in files:
        band = normalise_band_id(os.path.basename(f))
        if band is None:
            continue
        if band in located:
            raise InputError(f"Band {band} is given twice ('{located[band][0]}' and '{f}'). Keep one file per "
                             "band (remove duplicates or pass an explicit band mapping).")
        located[band] = (f, 1)
    return located


def _from_descriptions(path: str) -> dict[str, tuple[str, int]]:
    ds = open_raster(path)
    located: dict[str, tuple[str, int]] = {}
    for i in range(1, ds.RasterCount + 1):
        rb = ds.GetRasterBand(i)
        band = normalise_band_id(rb.GetMetadataItem("BANDNAME") or rb.GetDescription() or "")
        if band is None:
            continue
        if band in located:
            raise InputError(f"Band {band} appears twice in '{path}' (bands {located[band][1]} and {i}). "
                             "Fix the band descriptions or pass an explicit band mapping.")
        located[band] = (path, i)
    if not located:
        raise InputError(f"'{path}' has {ds.RasterCount} bands but their descriptions do not name Sentinel-2 "
                         "bands (B01..B12, B8A). Set the band descriptions or pass an explicit band mapping.")
    return located


def _from_stac(location: str) -> _Found:
    item = stac.read_item(location)
    located = stac.band_assets(item, location)
    if not located:
        raise InputError(f"The STAC item '{location}' has no Sentinel-2 band assets (keys such as 'B02' or 'blue', "
                         "'rededge1', 'nir08'). Give an item of a Sentinel-2 L1C/L2A product.")
    return _Found(located, location, radiometry=stac.radiometry(item, location), item=item,
                  scl=stac.scl_asset(item, location))


def _from_safe(path: str, area: Area | None = None) -> _Found:
    """The IMG_DATA bands of a SAFE folder or zip; of a multi-granule product, those of the granule that
    ``area`` lies in (see :func:`pick_granule`)."""
    root = f"/vsizip/{path}" if path.lower().endswith(".zip") and not path.startswith("/vsi") else path
    files = _walk(root)
    mtd = sorted((f for f in files if is_metadata_name(f)), key=len)
    if not mtd:
        raise InputError(f"'{path}' looks like a SAFE product but has no MTD_MSIL1C.xml / MTD_MSIL2A.xml. "
                         "Unzip it again or point to the folder of band files instead.")
    meta = read_metadata(mtd[0])
    images = [f for f in files if "/IMG_DATA/" in f and f.lower().endswith(".jp2")]
    by_granule: dict[str, list[str]] = {}
    for f in images:
        by_granule.setdefault(f.split("/IMG_DATA/")[0], []).append(f)
    found = _Found({}, path, mtd[0])
    if len(by_granule) > 1 or len(meta.granules) > 1:
        footprints = [_footprint(g, _native_bands(imgs)) for g, imgs in sorted(by_granule.items())]
        chosen, how = pick_granule(path, footprints, area, len(meta.granules))
        images, found.granule = by_granule[chosen.folder], chosen.folder
        found.notes.append(f"This product holds {len(footprints)} granules (old multi-tile format); granule "
                           f"{chosen.name} was processed: {how}.")
    found.located = _native_bands(images)
    if meta.level is None and "SAF" in os.path.basename(mtd[0]).upper():
        raise InputError(f"'{mtd[0]}' is a pre-2017 product metadata file whose level cannot be read. Give the "
                         "IMG_DATA band files of the granule and set the offset (0 before 2022).")
    found.scl = scl_file(images)
    return found


def _footprint(folder: str, located: dict[str, tuple[str, int]]) -> Footprint:
    """A granule's footprint: the grid of its finest band (all bands of a granule cover the same tile)."""
    band = min(located, key=lambda b: (RESOLUTION[b], b))
    source = _describe(band, *located[band])
    return Footprint(folder, source.bounds, source.crs_wkt)


def pick_granule(path: str, footprints: list[Footprint], area: Area | None,
                 listed: int = 0) -> tuple[Footprint, str]:
    """The granule to process and why: the first that wholly covers ``area``, else the only one it overlaps
    (the run then keeps the overlap). Raises InputError listing every granule's footprint (metres, in its
    CRS) when there is no area, or it overlaps several granules without lying in one, or none.
    ``listed``: how many granules the product metadata lists (some may be missing on disk)."""
    if area is not None:
        covering = [fp for fp in footprints if fp.covers(area)]
        if covering:
            return covering[0], "it covers the whole extent"
        touching = [fp for fp in footprints if fp.overlap(area) is not None]
        if len(touching) == 1:
            return touching[0], "the extent overlaps only this granule"
        why = (f"The extent overlaps {len(touching)} granules but lies inside none of them" if touching
               else "The extent lies outside every granule")
    else:
        why = "No extent was given"
    count = max(len(footprints), listed)
    listing = "; ".join(fp.describe() for fp in footprints)
    example = footprints[0].folder if footprints else f"{path}/GRANULE/<granule>"
    raise GranuleChoiceError(
        f"'{path}' holds {count} granules (old multi-tile format): {listing}. They are different tiles and one is "
        f"processed at a time. {why}: choose an extent inside one granule (in the product CRS; --extent on the "
        "command line, the Extent section of the dock or Processing), or give that granule's folder or its IMG_DATA "
        f"folder, e.g. '{example}/IMG_DATA'.", footprints)


def scl_file(files: list[str]) -> str | None:
    """The scene classification raster among ``files`` (``…_SCL.tif``, ``…_SCL_20m.jp2``; the 20 m one
    when there are several), or None."""
    found = sorted((f for f in files if re.search(r"(?<![A-Za-z0-9])SCL(_\d+m)?$", _stem(f), re.IGNORECASE)),
                   key=lambda f: (not _stem(f).upper().endswith("_20M"), f))
    return found[0] if found else None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _native_bands(images: list[str]) -> dict[str, tuple[str, int]]:
    """{band: (JP2 path, 1)} of the IMG_DATA rasters of one granule; L2A bands at their native resolution only
    (``R20m/…_B02_20m.jp2`` is a resampled copy of the 10 m band)."""
    located: dict[str, tuple[str, int]] = {}
    for f in sorted(images):
        name = os.path.basename(f)
        band = normalise_band_id(re.sub(r"_\d+m$", "", os.path.splitext(name)[0]))
        res = re.search(r"_(\d+)m\.jp2$", name)
        if band is None or (res and int(res.group(1)) != RESOLUTION[band]):
            continue
        located.setdefault(band, (f, 1))
    return located


def _walk(root: str) -> list[str]:
    return [f"{root.rstrip('/')}/{entry}" for entry in gdal.ReadDirRecursive(root) or []]


def _describe(band: str, path: str, index: int) -> BandSource:
    try:
        ds = open_raster(path)
    except InputError as exc:
        raise InputError(f"Band {band}: {exc}") from exc
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
