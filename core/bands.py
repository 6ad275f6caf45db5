"""Sentinel-2 band identities, native resolutions (metres) and the orders used everywhere."""
from __future__ import annotations

import re

#: native ground sampling distance of each band, metres
RESOLUTION = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
    "B08": 10, "B8A": 20, "B09": 60, "B10": 60, "B11": 20, "B12": 20,
}
#: the groups the methods work on, in their fixed channel order
GROUP_10 = ("B02", "B03", "B04", "B08")
GROUP_20 = ("B05", "B06", "B07", "B8A", "B11", "B12")
GROUP_60 = ("B01", "B09")
GROUPS = {10: GROUP_10, 20: GROUP_20, 60: GROUP_60}
#: band order of the 12-band output file
OUTPUT_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
#: output pixel size in metres and the super-resolution factor over the 10 m grid
OUTPUT_RESOLUTION = 2.5
SCALE = 4
#: every native grid's pixel edges lie on this lattice (metres)
LATTICE = 60

_BAND_RE = re.compile(r"(?<![A-Za-z0-9])B(?:AND)?[ _-]?(0?[1-9]|1[0-2]|8A)(?![0-9A-Za-z])", re.IGNORECASE)


def normalise_band_id(name: str) -> str | None:
    """Return the canonical id ('B02', 'B8A', ...) named at the end of ``name`` or in it, or None.

    Accepts 'B2', 'B02', 'b8a', 'Band 4', 'T33UUU_..._B8A.jp2', 'B04_10m'.
    """
    stem = re.sub(r"\.(tif|tiff|jp2|vrt|img)$", "", name.strip(), flags=re.IGNORECASE)
    matches = list(_BAND_RE.finditer(stem))
    if not matches:
        return None
    token = matches[-1].group(1).upper()
    band = "B8A" if token == "8A" else f"B{int(token):02d}"
    return band if band in RESOLUTION else None
