"""STAC items of Sentinel-2 products (a local JSON file, or an http(s) URL read through GDAL's /vsicurl/).

A remote item is data from the network: at most MAX_ITEM_BYTES, and its asset hrefs are checked by
core.remote (http(s) only, public hosts unless private hosts are allowed).

The band assets are found by band id (``B02``) or by common name (``blue``, ``rededge1``, ``nir08``, ...),
as in the public Sentinel-2 L2A COG archive. The DN offset comes from the item: the raster extension's
``offset``/``scale`` of the band assets (offset DN = offset / scale, quantification = 1 / scale), a
catalogue flag saying the offset is already applied, or the processing baseline property.
"""
from __future__ import annotations

import json
import math
import posixpath
import re

from .bands import RESOLUTION, normalise_band_id
from . import remote
from .errors import InputError, printable
from .gdal_env import REMOTE_OPEN_OPTIONS, thread_options
from .metadata import baseline_tuple, number, read_text
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
#: the largest STAC item read, bytes (a Sentinel-2 item is about 30 kB)
MAX_ITEM_BYTES = 8_000_000


def is_stac_location(location: str) -> bool:
    """True for what may be a STAC item: a ``.json`` file, or an http(s) URL that does not name a raster."""
    low = location.lower().split("?", 1)[0]
    return low.endswith(".json") or (low.startswith(("http://", "https://", "/vsicurl/"))
                                     and not low.endswith(_NOT_ITEMS))


def gdal_path(location: str) -> str:
    """``location`` as GDAL opens it: http(s) URLs go through /vsicurl/."""
    return f"/vsicurl/{location}" if remote.is_url(location) else location


def item_url(location: str) -> str | None:
    """The http(s) URL of an item read over the network (``location`` a URL or a /vsicurl/ path), else None."""
    url = location[len("/vsicurl/"):] if location.startswith("/vsicurl/") else location
    return url if remote.is_url(url) else None


def read_item(location: str) -> dict:
    """The STAC item at ``location`` (path or URL) as a dict; InputError when it is not one, is larger than
    MAX_ITEM_BYTES or nested too deeply, or (a URL) its host is not allowed (core.remote)."""
    url = item_url(location)
    if url is not None:
        remote.check_url(url)
    shown = printable(location)
    try:
        with thread_options(REMOTE_OPEN_OPTIONS):
            text = read_text(gdal_path(location), MAX_ITEM_BYTES + 1)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_ITEM_BYTES:
            raise InputError(f"it is larger than {MAX_ITEM_BYTES // 1_000_000} MB, far more than any item")
        item = json.loads(text)
    except RecursionError:
        raise InputError(f"'{shown}' is not a readable STAC item (its JSON is nested too deeply). Give the item's "
                         "JSON file or URL.") from None
    except (ValueError, InputError) as exc:
        raise InputError(f"'{shown}' is not a readable STAC item ({printable(exc)}). Give the item's JSON file or "
                         "URL (not a collection or a search result).") from exc
    if not _is_item(item):
        raise InputError(f"'{shown}' is JSON but not a STAC item (a 'Feature' with 'assets'). Give one item of "
                         "one Sentinel-2 product, e.g. .../collections/sentinel-2-l2a/items/<id>.")
    return item


def _is_item(item: object) -> bool:
    """True for a dict shaped like a STAC item as far as this module reads it: a 'Feature' whose properties are
    a dict and whose assets are dicts with a string href and lists of dicts for 'eo:bands' / 'raster:bands'."""
    if not isinstance(item, dict) or item.get("type") != "Feature" or not isinstance(item.get("assets"), dict) \
            or not isinstance(item.get("properties", {}), dict):
        return False
    def list_of_dicts(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return all(isinstance(a, dict) and isinstance(a.get("href", ""), str)
               and all(list_of_dicts(a[k]) for k in ("eo:bands", "raster:bands") if a.get(k) is not None)
               for a in item["assets"].values())


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


def radiometry(item: dict, location: str = "") -> Radiometry:
    """The DN offset and quantification stated by the item at ``location`` (named in messages)."""
    props = item.get("properties", {})
    product = str(props.get("s2:product_uri", "") or props.get("s2:product_type", ""))
    level = "L2A" if "2A" in product else "L1C" if "1C" in product else None
    baseline = next((str(props[k]) for k in BASELINE_PROPERTIES if props.get(k) not in (None, "")), None)
    out = Radiometry(level=level, baseline=baseline, stated_in=location, quantification_field="raster:bands scale",
                     offset_field="raster:bands offset / scale")
    applied = next((k for k in APPLIED_PROPERTIES if props.get(k) is True), None)
    if applied:
        out.known, out.origin = True, f"item property {applied}: the offset is already applied"
        return out
    rasters = {b: (a.get("raster:bands") or [{}])[0] for b, a in _assets_by_band(item).items()}
    scaled = {b: r for b, r in rasters.items() if r.get("scale")}
    if scaled:
        scales = {b: number(r["scale"], "raster:bands scale", location) or math.nan for b, r in scaled.items()}
        offsets = {b: round(number(r.get("offset", 0.0), "raster:bands offset", location) / scales[b], 6)
                   for b, r in scaled.items()}
        out.offset = offsets.get("B02", next(iter(offsets.values())))
        if len(set(offsets.values())) > 1:
            out.band_offsets = offsets
        out.quantification = round(1.0 / next(iter(scales.values())), 6)
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
    """A GDAL path for ``href``, relative hrefs taken relative to the item's own location. A remote item may
    name http(s) assets only (core.remote.asset_url); no item may name GDAL paths (``/vsi...``)."""
    url = item_url(location)
    if url is not None:
        return gdal_path(remote.asset_url(href, url))
    if remote.is_vsi(href):
        raise InputError(f"The STAC item '{printable(location)}' names the GDAL path '{printable(href)}': items "
                         "may name files and http(s) URLs only. The item was not used.")
    if href.startswith("file://"):
        return href[len("file://"):]
    if remote.is_url(href):
        return gdal_path(href)
    if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.IGNORECASE) or href.startswith("/"):
        return href
    return posixpath.normpath(posixpath.join(posixpath.dirname(location), href))
