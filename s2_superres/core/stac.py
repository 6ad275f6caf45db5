"""STAC items of Sentinel-2 products (a local JSON file, or an http(s) URL read through GDAL's /vsicurl/).

The band assets are found by band id (``B02``) or by common name (``blue``, ``rededge1``, ``nir08``, ...),
as in the public Sentinel-2 L2A COG archive. The DN offset comes from the item: the raster extension's
``offset``/``scale`` of the band assets (offset DN = offset / scale, quantification = 1 / scale), a
catalogue flag saying the offset is already applied, or the processing baseline property.
"""
from __future__ import annotations

import json
import posixpath
import re

from .bands import RESOLUTION, normalise_band_id
from .errors import InputError
from .metadata import baseline_tuple, read_text
from .radiometry import BASELINE_WITH_OFFSET, OFFSET_FROM_0400, QUANTIFICATION, Radiometry

#: STAC / eo extension common names (and the names Earth Search gives its assets) -> band id
COMMON_NAMES = {
    "coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "rededge1": "B05", "rededge2": "B06",
    "rededge3": "B07", "nir": "B08", "nir08": "B8A", "nir09": "B09", "cirrus": "B10", "swir16": "B11",
    "swir22": "B12",
}
#: item properties that say the offset is already in the DN
APPLIED_PROPERTIES = ("earthsearch:boa_offset_applied", "sentinel:boa_offset_applied")
BASELINE_PROPERTIES = ("s2:processing_baseline", "sentinel:processing_baseline", "processing:version")


#: URLs ending in these are rasters or metadata files, not STAC items
_NOT_ITEMS = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".xml", ".zip")


def is_stac_location(location: str) -> bool:
    """True for what may be a STAC item: a ``.json`` file, or an http(s) URL that does not name a raster."""
    low = location.lower().split("?", 1)[0]
    return low.endswith(".json") or (low.startswith(("http://", "https://", "/vsicurl/"))
                                     and not low.endswith(_NOT_ITEMS))


def gdal_path(location: str) -> str:
    """``location`` as GDAL opens it: http(s) URLs go through /vsicurl/."""
    return f"/vsicurl/{location}" if location.lower().startswith(("http://", "https://")) else location


def read_item(location: str) -> dict:
    """The STAC item at ``location`` (path or URL) as a dict; InputError when it is not one."""
    try:
        item = json.loads(read_text(gdal_path(location)))
    except (ValueError, InputError) as exc:
        raise InputError(f"'{location}' is not a readable STAC item ({exc}). Give the item's JSON file or URL "
                         "(not a collection or a search result).") from exc
    if not isinstance(item, dict) or item.get("type") != "Feature" or not isinstance(item.get("assets"), dict):
        raise InputError(f"'{location}' is JSON but not a STAC item (a 'Feature' with 'assets'). Give one item of "
                         "one Sentinel-2 product, e.g. .../collections/sentinel-2-l2a/items/<id>.")
    return item


def band_assets(item: dict, location: str) -> dict[str, tuple[str, int]]:
    """{band id: (GDAL path, 1)} of the item's single-band assets (hrefs relative to ``location``)."""
    return {b: (_resolve(a["href"], location), 1) for b, a in _assets_by_band(item).items()}


def scl_asset(item: dict, location: str) -> str | None:
    """GDAL path of the item's scene classification asset (key ``scl`` / ``SCL``, GDAL-readable), or None."""
    for key, asset in item["assets"].items():
        href = asset.get("href", "")
        if key.lower() == "scl" and href and not href.startswith("s3://"):
            return _resolve(href, location)
    return None


def _assets_by_band(item: dict) -> dict[str, dict]:
    """{band id: asset} of the single-band assets GDAL can read; asset keys win over eo:bands names."""
    by_key: dict[str, dict] = {}
    by_name: dict[str, dict] = {}
    for key, asset in item["assets"].items():
        href = asset.get("href", "")
        if not href or href.startswith("s3://") or len(asset.get("eo:bands", [None])) > 1:
            continue
        band = _band_of(key)
        if band is not None:
            by_key.setdefault(band, asset)
            continue
        names = [b.get("name", "") for b in asset.get("eo:bands", [])]
        band = _band_of(names[0]) if names else None
        if band is not None:
            by_name.setdefault(band, asset)
    return {b: a for b, a in {**by_name, **by_key}.items() if b in RESOLUTION}


def radiometry(item: dict) -> Radiometry:
    """The DN offset and quantification stated by the item."""
    props = item.get("properties", {})
    product = str(props.get("s2:product_uri", "") or props.get("s2:product_type", ""))
    level = "L2A" if "2A" in product else "L1C" if "1C" in product else None
    baseline = next((str(props[k]) for k in BASELINE_PROPERTIES if props.get(k) not in (None, "")), None)
    out = Radiometry(level=level, baseline=baseline)
    applied = next((k for k in APPLIED_PROPERTIES if props.get(k) is True), None)
    if applied:
        out.known, out.origin = True, f"item property {applied}: the offset is already applied"
        return out
    rasters = {b: (a.get("raster:bands") or [{}])[0] for b, a in _assets_by_band(item).items()}
    scaled = {b: r for b, r in rasters.items() if r.get("scale")}
    if scaled:
        offsets = {b: round(float(r.get("offset", 0.0)) / float(r["scale"]), 6) for b, r in scaled.items()}
        out.offset = offsets.get("B02", next(iter(offsets.values())))
        if len(set(offsets.values())) > 1:
            out.band_offsets = offsets
        out.quantification = round(1.0 / float(next(iter(scaled.values()))["scale"]), 6)
        out.known, out.origin = True, "raster:bands offset/scale of the item's assets"
        return out
    version = baseline_tuple(baseline)
    if version is not None:
        out.known = True
        out.offset = OFFSET_FROM_0400 if version >= BASELINE_WITH_OFFSET else 0.0
        out.origin = f"item property processing baseline {baseline}"
        return out
    out.origin, out.quantification = "the item states no offset and no processing baseline: 0 assumed", QUANTIFICATION
    out.notes.append("The STAC item states neither raster:bands scale/offset nor a processing baseline, so no offset "
                     "is applied. Items of products processed since January 2022 need -1000 DN: set the offset "
                     "if that is the case.")
    return out


def _band_of(name: str) -> str | None:
    low = name.strip().lower()
    if low in COMMON_NAMES:
        return COMMON_NAMES[low]
    return normalise_band_id(name) if re.fullmatch(r"b(and)?[ _-]?(0?[1-9]|1[0-2]|8a)", low) else None


def _resolve(href: str, location: str) -> str:
    """A GDAL path for ``href``, relative hrefs taken relative to the item's own location."""
    if href.startswith("file://"):
        return href[len("file://"):]
    if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.IGNORECASE) or href.startswith("/"):
        return gdal_path(href)
    base = location[len("/vsicurl/"):] if location.startswith("/vsicurl/") else location
    return gdal_path(posixpath.normpath(posixpath.join(posixpath.dirname(base), href)) if "://" not in base
                     else posixpath.dirname(base) + "/" + href)
