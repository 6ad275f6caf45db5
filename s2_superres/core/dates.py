"""The acquisition date of a product (UTC calendar day of the sensing start).

Read, in this order, from the first source that states it:
  1. the product metadata file (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``): ``PRODUCT_START_TIME``, else
     ``SENSING_TIME``, else ``DATATAKE_SENSING_START``;
  2. a STAC item's ``datetime`` (or ``start_datetime``) property;
  3. GDAL metadata tags of the first band (as GDAL's SENTINEL2 driver and exports write them);
  4. names of the band files and their folder: ``_20240602T101559_`` (product naming: the first
     timestamp is the sensing time, a later one the generation time), ``_20240602_`` / ``20240602.tif``,
     ``2023-12-17``.
A source that states something unreadable is skipped, not trusted.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .errors import InputError
from .metadata import read_text

if TYPE_CHECKING:
    from .sources import Product

#: metadata elements holding the sensing start, in order of preference
METADATA_ELEMENTS = ("PRODUCT_START_TIME", "SENSING_TIME", "DATATAKE_SENSING_START")
#: GDAL tags holding the sensing start (SENTINEL2 driver, ESA-derived exports), in order of preference
DATE_TAGS = ("PRODUCT_START_TIME", "SENSING_TIME", "DATATAKE_1_DATATAKE_SENSING_START", "DATATAKE_SENSING_START",
             "ACQUISITION_DATE", "SENSING_DATE", "DATE_ACQUIRED", "DATETIME_ACQUIRED")
_STAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})T\d{6}(?!\d)")          # 20240602T101559
_COMPACT = re.compile(r"(?<![\dA-Za-z])(\d{4})(\d{2})(\d{2})(?![\dA-Za-z])")   # _20240602_, 20240602.tif
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")                 # 2023-12-17 (also in ISO times)


def parse_date(text: str | None) -> dt.date | None:
    """The first plausible date written in ``text`` (ISO ``2023-12-17`` first, then ``20231217T...``, then
    ``20231217``), or None."""
    return _find((_ISO, _STAMP, _COMPACT), text or "")


def _find(patterns: tuple[re.Pattern, ...], text: str) -> dt.date | None:
    """The first valid date (years 2013..2100: Sentinel-2's) matched by the first pattern that matches one."""
    for pattern in patterns:
        for y, m, d in pattern.findall(text):
            try:
                day = dt.date(int(y), int(m), int(d))
            except ValueError:
                continue
            if 2013 <= day.year <= 2100:
                return day
    return None


def date_from_metadata(path: str) -> dt.date | None:
    """Sensing date stated by a product metadata file (None when it states none)."""
    try:
        root = ET.fromstring(read_text(path))
    except (ET.ParseError, InputError):
        return None
    for name in METADATA_ELEMENTS:
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == name:
                found = parse_date(element.text)
                if found:
                    return found
    return None


def date_from_item(item: dict | None) -> dt.date | None:
    """Date of a STAC item (``datetime``, or ``start_datetime`` for items with a range)."""
    props = (item or {}).get("properties", {})
    return parse_date(str(props.get("datetime") or props.get("start_datetime") or ""))


def date_from_tags(tags: dict[str, str]) -> dt.date | None:
    """Date stated by GDAL metadata tags (keys compared without case)."""
    upper = {k.upper(): v for k, v in tags.items()}
    for key in DATE_TAGS:
        found = parse_date(upper.get(key))
        if found:
            return found
    return None


def date_from_names(paths: list[str]) -> dt.date | None:
    """Date written in the file names, then in their folders' names (product naming first: its first
    timestamp is the sensing time)."""
    names = [os.path.basename(p.rstrip("/")) for p in paths] + \
        [os.path.basename(os.path.dirname(p.rstrip("/"))) for p in paths]
    for name in names:
        found = _find((_STAMP, _COMPACT, _ISO), name)
        if found:
            return found
    return None


def acquisition_date(product: Product, item: dict | None = None, tags: dict[str, str] | None = None) -> dt.date | None:
    """Acquisition date of ``product`` from its metadata file, STAC item (``item``, read from
    ``product.source`` when not given), band tags (``tags``, read when not given), then names; None when
    nothing states it."""
    from . import stac
    if product.metadata:
        found = date_from_metadata(product.metadata)
        if found:
            return found
    if item is None and stac.is_stac_location(product.source):
        try:
            item = stac.read_item(product.source)
        except InputError:
            item = None
    found = date_from_item(item)
    if found:
        return found
    if tags is None:
        tags = _band_tags(product)
    return date_from_tags(tags) or date_from_names([s.path for s in product.bands.values()] + [product.source])


def source_date(inputs: str | list[str], offset: float | None = None) -> dt.date | None:
    """Acquisition date of the product at ``inputs`` (what core.sources.open_product opens: a path, URI or list
    of band files), or None when it is not a Sentinel-2 product or nothing states its date."""
    from .sources import open_product
    try:
        return open_product(inputs, offset=offset).date
    except (InputError, RuntimeError, OSError):
        return None


def _band_tags(product: Product) -> dict[str, str]:
    from .gdal_env import open_raster
    first = next(iter(product.bands.values()))
    try:
        ds = open_raster(first.path)
    except InputError:
        return {}
    tags = dict(ds.GetMetadata() or {})
    tags.update(ds.GetRasterBand(first.index).GetMetadata() or {})
    return tags
