"""How Sentinel-2 DN become reflectance, and where a product says so.

Reflectance = (DN + offset) / quantification, in one function (:func:`to_reflectance`) used by every
reader. ``offset`` is -1000 DN from processing baseline 04.00 on (January 2022), 0 before;
``quantification`` is 10000 DN per unit reflectance. Negative reflectance is kept as it is, never
clipped: ESA introduced the offset so that negative values (noise over dark water, shadows) survive.

Detection, in this order, stops at the first source that tells:
  1. the product metadata file (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``, found above the band files);
  2. tags of the band files (``BOA_ADD_OFFSET``/``RADIO_ADD_OFFSET``, ``PROCESSING_BASELINE``,
     ``QUANTIFICATION_VALUE``, as GDAL's SENTINEL2 driver and ESA-derived exports write them);
  3. names (``_N0400_`` and ``MSIL2A`` in the file or folder names).
Data that already are reflectance (float values around 0..1) or tagged as harmonised are never shifted.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np
from osgeo import gdal

from .gdal_env import open_raster, read_array
from .errors import InputError, printable
from .metadata import ProductMetadata, baseline_tuple, read_metadata

#: DN per unit reflectance of every Sentinel-2 L1C/L2A product (QUANTIFICATION_VALUE)
QUANTIFICATION = 10000.0
#: the offset of products processed with baseline 04.00 and later, DN
OFFSET_FROM_0400 = -1000.0
BASELINE_WITH_OFFSET = (4, 0)
FIRST_DAY_OF_0400 = (2022, 1, 25)   # products processed from this day on carry the offset
_BASELINE_IN_NAME = re.compile(r"_N(\d{2})(\d{2})_")
_LEVEL_IN_NAME = re.compile(r"MSI(L1C|L2A)")
#: tags that say the offset is already in the values (harmonised exports); value 'true'/'yes'/'1'
APPLIED_TAGS = ("OFFSET_APPLIED", "BOA_ADD_OFFSET_APPLIED", "RADIO_ADD_OFFSET_APPLIED", "HARMONIZED",
                "HARMONISED", "EARTHSEARCH:BOA_OFFSET_APPLIED")
#: plausible ranges of what a product states: DN per unit reflectance, DN offsets, processing baseline
QUANTIFICATION_RANGE = (1.0, 100000.0)
OFFSET_RANGE = (-5000.0, 5000.0)
BASELINE_RANGE = ((0, 0), (9, 99))
#: a float band whose 99th percentile stays below this holds reflectance, not DN
FLOAT_REFLECTANCE_MAX = 3.0


def to_reflectance(dn: np.ndarray, offset: float, quantification: float = QUANTIFICATION) -> np.ndarray:
    """Reflectance (float32, unitless) from DN: (DN + offset) / quantification; negatives are kept."""
    return (np.asarray(dn, np.float32) + np.float32(offset)) / np.float32(quantification)


@dataclass
class Radiometry:
    """How a product's DN turn into reflectance, and how that was found out."""

    offset: float = 0.0                      # DN added to every band before dividing
    quantification: float = QUANTIFICATION   # DN per unit reflectance
    band_offsets: dict[str, float] = field(default_factory=dict)   # per-band DN offsets where they differ
    origin: str = "default (no offset)"
    level: str | None = None                 # 'L1C' / 'L2A'
    baseline: str | None = None              # processing baseline, e.g. '04.00'
    known: bool = False                      # True when a product source told the offset or the baseline
    notes: list[str] = field(default_factory=list)
    stated_in: str = ""                      # the file or item that stated the values (for messages)
    quantification_field: str = "quantification"   # their names there
    offset_field: str = "offset"


def check_plausible(found: Radiometry, offset_given: bool = False) -> None:
    """Refuse a quantification, DN offset or processing baseline outside its plausible range (a damaged or
    forged product would give all-NaN or negative reflectance), naming the field and the file. The offsets are
    not checked when the user gives the offset (``offset_given``): that replaces them."""
    where = f"'{printable(found.stated_in)}'" if found.stated_in else "the product"
    def refuse(name: str, value: object, bounds: tuple, fix: str) -> None:
        raise InputError(f"{name} = {printable(value)} in {where} is outside the plausible range {bounds[0]:g} to "
                         f"{bounds[1]:g}: the product metadata are damaged or forged, so nothing was read. {fix}")
    q = found.quantification
    if not (math.isfinite(q) and QUANTIFICATION_RANGE[0] <= q <= QUANTIFICATION_RANGE[1]):
        refuse(found.quantification_field, q, QUANTIFICATION_RANGE, "Download the product again.")
    if not offset_given:
        for value in [found.offset, *found.band_offsets.values()]:
            if not (math.isfinite(value) and OFFSET_RANGE[0] <= value <= OFFSET_RANGE[1]):
                refuse(found.offset_field, value, OFFSET_RANGE, "Download the product again, or set the offset "
                       "yourself (--offset on the command line, the offset override in the dock or Processing).")
    version = baseline_tuple(found.baseline)
    if version is not None and not BASELINE_RANGE[0] <= version <= BASELINE_RANGE[1]:
        raise InputError(f"Processing baseline {printable(found.baseline)} in {where} is not a Sentinel-2 "
                         "baseline (00.00 to 09.99): the product metadata are damaged or forged. Download the "
                         "product again.")


def from_metadata(meta: ProductMetadata) -> Radiometry:
    """Radiometry stated by a product metadata file."""
    name = os.path.basename(meta.path)
    l2a = meta.level == "L2A"
    out = Radiometry(level=meta.level, baseline=meta.baseline, quantification=meta.quantification or QUANTIFICATION,
                     known=True, stated_in=meta.path,
                     quantification_field="BOA_QUANTIFICATION_VALUE" if l2a else "QUANTIFICATION_VALUE",
                     offset_field="BOA_ADD_OFFSET" if l2a else "RADIO_ADD_OFFSET")
    if meta.offsets:
        values = set(meta.offsets.values())
        out.offset = meta.offsets.get("B02", next(iter(values)))
        if len(values) > 1:
            out.band_offsets = dict(meta.offsets)
        key = "BOA_ADD_OFFSET" if meta.level == "L2A" else "RADIO_ADD_OFFSET"
        out.origin = f"{key} in {name}"
        return out
    version = baseline_tuple(meta.baseline)
    if version is None:
        out.known = False
        out.origin = f"{name} states no processing baseline and no offset: 0 assumed"
        out.notes.append(f"{meta.path} states neither a processing baseline nor RADIO_ADD_OFFSET/BOA_ADD_OFFSET, so "
                         "no offset is applied. If the product was processed after January 2022, set -1000.")
    elif version >= BASELINE_WITH_OFFSET:
        out.offset, out.origin = OFFSET_FROM_0400, f"processing baseline {meta.baseline} in {name}"
    else:
        out.origin = f"processing baseline {meta.baseline} in {name} (no offset before 04.00)"
    return out


def from_tags(tags: dict[str, str]) -> Radiometry | None:
    """Radiometry stated by GDAL metadata tags of a band file or dataset, or None."""
    upper = {k.upper(): v for k, v in tags.items()}
    for key in APPLIED_TAGS:
        if str(upper.get(key, "")).strip().lower() in ("true", "yes", "1"):
            return Radiometry(origin=f"tag {key}: the offset is already applied", known=True)
    quant = _number(upper.get("BOA_QUANTIFICATION_VALUE") or upper.get("QUANTIFICATION_VALUE"))
    product_type = upper.get("PRODUCT_TYPE", "")
    level = "L2A" if "2A" in product_type else "L1C" if "1C" in product_type else None
    base = Radiometry(quantification=quant or QUANTIFICATION, level=level,
                      baseline=upper.get("PROCESSING_BASELINE"), known=True)
    for key in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET"):
        value = _number(upper.get(key))
        if value is not None:
            base.offset, base.origin = value, f"tag {key}"
            return base
    version = baseline_tuple(base.baseline)
    if version is not None:
        if version >= BASELINE_WITH_OFFSET:
            base.offset = OFFSET_FROM_0400
        base.origin = f"tag PROCESSING_BASELINE {base.baseline}"
        return base
    return None


def from_names(paths: list[str]) -> Radiometry | None:
    """Radiometry told by product names (``_N0400_``, ``MSIL2A``) of the files or their folders, or None."""
    level, found = None, None
    for p in paths:
        name = os.path.basename(os.path.dirname(p)) + "_" + os.path.basename(p)
        level = level or (_LEVEL_IN_NAME.search(name) or [None, None])[1]
        m = _BASELINE_IN_NAME.search(name)
        if m and found is None:
            found = m
    if found is None:
        return Radiometry(level=level) if level else None
    baseline = f"{found.group(1)}.{found.group(2)}"
    out = Radiometry(level=level, baseline=baseline, known=True,
                     origin=f"processing baseline N{found.group(1)}{found.group(2)} in the name")
    if (int(found.group(1)), int(found.group(2))) >= BASELINE_WITH_OFFSET:
        out.offset = OFFSET_FROM_0400
    return out


def detect(paths: list[str], metadata_path: str | None, tags: dict[str, str]) -> Radiometry:
    """Radiometry of the band files ``paths``: product metadata, then ``tags``, then names."""
    if metadata_path:
        return from_metadata(read_metadata(metadata_path))
    found = from_tags(tags)
    if found is not None:
        found.stated_in, found.quantification_field, found.offset_field = (
            paths[0] if paths else "", "tag QUANTIFICATION_VALUE", "tag BOA_ADD_OFFSET/RADIO_ADD_OFFSET")
    named = from_names(paths)
    if found is None:
        found = named if named is not None and named.known else None
    if found is None:
        found = Radiometry(level=named.level if named else None, origin="processing baseline unknown: offset 0 assumed")
        dated = _date_after_0400(paths)
        found.notes.append(
            "The processing baseline of this product is unknown (no MTD_MSIL1C.xml/MTD_MSIL2A.xml above the band "
            "files, no tags, no _Nxxxx_ in the names), so no offset is applied. Products processed since "
            "January 2022 (baseline 04.00+) need an offset of -1000 DN: set it (--offset -1000 on the command "
            "line, the offset override in the dock or in Processing) if that is the case."
            + (f" The name says {dated}, after baseline 04.00 came into use (2022-01-25): unless the DN were "
               "harmonised, the offset is very likely -1000." if dated else ""))
    elif named is not None and found.level is None:
        found.level = named.level
    return found


def _date_after_0400(paths: list[str]) -> str | None:
    """An acquisition date (YYYY-MM-DD) on or after 2022-01-25 written in a file name, or None."""
    for p in paths:
        for y, m, d in re.findall(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d{3})", os.path.basename(p)):
            if (int(y), int(m), int(d)) >= FIRST_DAY_OF_0400 and 1 <= int(m) <= 12 and 1 <= int(d) <= 31:
                return f"{y}-{m}-{d}"
    return None


def is_float_reflectance(path: str, index: int) -> bool:
    """True when band ``index`` of ``path`` is floating point and its values are reflectance (about 0..1),
    judged on a 64 x 64 decimated read (no statistics are written beside the file)."""
    ds = open_raster(path)
    rb = ds.GetRasterBand(index)
    if gdal.GetDataTypeName(rb.DataType) not in ("Float32", "Float64"):
        return False
    sample = read_array(path, rb, buf_xsize=min(64, ds.RasterXSize), buf_ysize=min(64, ds.RasterYSize))
    nodata = rb.GetNoDataValue()
    values = sample[np.isfinite(sample) & (sample != 0) & ((sample != nodata) if nodata is not None else True)]
    return values.size > 0 and float(np.percentile(np.abs(values), 99)) < FLOAT_REFLECTANCE_MAX


def _number(text) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
