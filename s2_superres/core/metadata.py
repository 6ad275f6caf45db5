"""The product metadata file of a Sentinel-2 SAFE product (``MTD_MSIL1C.xml``, ``MTD_MSIL2A.xml``, or the
pre-2017 ``*_MTD_SAFL1C_*.xml`` / ``*_MTD_SAFL2A_*.xml``), read as XML.

What matters for radiometry: the processing level, the processing baseline, ``QUANTIFICATION_VALUE``
(L1C) / ``BOA_QUANTIFICATION_VALUE`` (L2A) and the per-band ``RADIO_ADD_OFFSET`` (L1C) /
``BOA_ADD_OFFSET`` (L2A), all in DN. Where the granules (tiles) of the product are listed too.
Files are read through GDAL's virtual file system, so paths inside zips (``/vsizip/``) work.
"""
from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from osgeo import gdal

from .errors import InputError, printable

#: the product's ``band_id`` attribute (0..12) -> band id
BAND_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
#: file names of a product metadata file: compact naming (since Dec 2016) and the older PDGS naming
_MTD_NAME = re.compile(r"^(MTD_MSIL(1C|2A)\.xml|S2[AB]_\w*_MTD_SAF(L1C|L2A)_\w*\.xml)$", re.IGNORECASE)
_MAX_BYTES = 16_000_000


@dataclass(frozen=True)
class Granule:
    """One granule (tile) of a product: its folder relative to the product root and its MGRS tile."""

    folder: str              # e.g. 'GRANULE/L1C_T32UPC_A027547_20220615T102248'
    tile: str | None         # e.g. '32UPC'


@dataclass(frozen=True)
class ProductMetadata:
    """What the product metadata file says about radiometry and layout."""

    path: str
    level: str | None                      # 'L1C' or 'L2A'
    baseline: str | None                   # processing baseline as written, e.g. '04.00'
    quantification: float | None           # DN per unit reflectance (10000)
    offsets: dict[str, float] = field(default_factory=dict)   # band id -> DN offset added before dividing
    granules: tuple[Granule, ...] = ()

    @property
    def root(self) -> str:
        """The product folder (the one holding the metadata file and GRANULE/)."""
        return posixpath.dirname(self.path)


def is_metadata_name(name: str) -> bool:
    """True for the file name of a product metadata file (any naming generation)."""
    return bool(_MTD_NAME.match(posixpath.basename(name)))


def baseline_tuple(baseline: str | None) -> tuple[int, int] | None:
    """'04.00' -> (4, 0); 'N0509' -> (5, 9); None when it cannot be read."""
    if not baseline:
        return None
    m = re.fullmatch(r"N?(\d{2})\.?(\d{2})", baseline.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def number(text: object, field: str, where: str) -> float:
    """``text`` as a number; InputError naming ``field`` and the file ``where`` when it is not one."""
    try:
        return float(str(text))
    except (TypeError, ValueError):
        raise InputError(f"{field} '{printable(text)}' in '{printable(where)}' is not a number. The file is damaged "
                         "or not a Sentinel-2 product; download it again.") from None


def read_text(path: str, limit: int = _MAX_BYTES) -> str:
    """The text of ``path`` (local or any GDAL virtual file system path)."""
    handle = gdal.VSIFOpenL(path, "rb")
    if handle is None:
        raise InputError(f"Cannot open '{path}'. Check that the file exists and can be read.")
    try:
        return gdal.VSIFReadL(1, limit, handle).decode("utf-8", "replace")
    finally:
        gdal.VSIFCloseL(handle)


def read_metadata(path: str) -> ProductMetadata:
    """Parse the product metadata file at ``path``."""
    try:
        root = ET.fromstring(read_text(path))
    except ET.ParseError as exc:
        raise InputError(f"The product metadata '{path}' is not valid XML ({exc}). Download or unzip the "
                         "product again.") from exc
    level = _level(root, path)
    baseline = _first_text(root, "PROCESSING_BASELINE")
    quant = _first_text(root, "BOA_QUANTIFICATION_VALUE" if level == "L2A" else "QUANTIFICATION_VALUE") or \
        _first_text(root, "QUANTIFICATION_VALUE")
    offsets = {}
    for element in _iter_local(root, "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET"):
        band_id = element.get("band_id")
        if band_id is not None and band_id.isdigit() and int(band_id) < len(BAND_IDS) and element.text:
            offsets[BAND_IDS[int(band_id)]] = number(element.text, _local(element.tag), path)
    return ProductMetadata(path=path, level=level, baseline=baseline,
                           quantification=number(quant, "QUANTIFICATION_VALUE", path) if quant else None,
                           offsets=offsets,
                           granules=_granules(root))


def find_metadata(folder: str) -> str | None:
    """The product metadata file directly inside ``folder`` (local or virtual), or None."""
    for name in gdal.ReadDir(folder) or []:
        if is_metadata_name(name):
            return posixpath.join(folder.rstrip("/"), name)
    return None


def metadata_above(band_path: str) -> str | None:
    """The metadata file of the product that contains ``band_path``, a raster inside
    ``<product>/GRANULE/<granule>/IMG_DATA`` (L1C) or ``.../IMG_DATA/R10m|R20m|R60m`` (L2A); None when the file
    does not sit in such a layout."""
    parts = band_path.replace("\\", "/").split("/")
    if "IMG_DATA" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("IMG_DATA")
    if i < 2 or parts[i - 2] != "GRANULE":
        return None
    return find_metadata("/".join(parts[: i - 2]) or "/")


def _level(root: ET.Element, path: str) -> str | None:
    tag = _local(root.tag)
    for level in ("L1C", "L2A"):
        if level.replace("L", "Level-") in tag or f"MSI{level}" in posixpath.basename(path).upper() \
                or f"SAF{level}" in posixpath.basename(path).upper():
            return level
    product_type = _first_text(root, "PRODUCT_TYPE") or ""
    return "L2A" if "2A" in product_type else "L1C" if "1C" in product_type else None


def _granules(root: ET.Element) -> tuple[Granule, ...]:
    """Granules listed in Product_Organisation, each with the folder its IMAGE_FILE entries sit in."""
    out: list[Granule] = []
    for element in root.iter():
        if _local(element.tag) not in ("Granule", "Granules"):
            continue
        files = [e.text.strip() for e in element if _local(e.tag) in ("IMAGE_FILE", "IMAGE_ID") and e.text]
        identifier = element.get("granuleIdentifier", "")
        folder = files[0].split("/IMG_DATA")[0] if files and "/IMG_DATA" in files[0] else f"GRANULE/{identifier}"
        tile = re.search(r"_T(\d{2}[A-Z]{3})(?:_|$)", identifier) or re.search(r"_T(\d{2}[A-Z]{3})_", folder + "_")
        granule = Granule(folder=folder, tile=tile.group(1) if tile else None)
        if granule not in out:
            out.append(granule)
    return tuple(out)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter_local(root: ET.Element, name: str):
    return (e for e in root.iter() if _local(e.tag) == name)


def _first_text(root: ET.Element, name: str) -> str | None:
    for element in _iter_local(root, name):
        if element.text and element.text.strip():
            return element.text.strip()
    return None
