"""Sentinel-2 band identities, native resolutions (metres) and the orders used everywhere."""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import UserError

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
#: output pixels per 60 m cell that a run may ask for: the pixel size is LATTICE / n metres
PIXEL_DIVISIONS = range(6, 31)
#: the valid output pixel sizes in metres, descending: 10, 60/7, 7.5, ..., 2.5 (the default), ..., 2
PIXEL_SIZES: tuple[float, ...] = tuple(LATTICE / n for n in PIXEL_DIVISIONS)
#: a requested size this close (metres) to a valid one means it (so "3.33" is 60/18 m)
PIXEL_TOLERANCE = 0.006


def pixel_label(pixel_size: float) -> str:
    """A short label of a pixel size in metres: '2.5', '3', '3.33', '8.57', '10'."""
    return f"{pixel_size:.2f}".rstrip("0").rstrip(".")


def output_scale(pixel_size: float) -> Fraction:
    """Output pixels per 10 m pixel for an output of ``pixel_size`` metres: n/6 for a pixel of 60/n m
    (2.5 m -> 4, 3 m -> 10/3, 10 m -> 1). Raises UserError for a size that does not divide 60 m."""
    n = round(LATTICE / pixel_size) if pixel_size > 0 else 0
    if n not in PIXEL_DIVISIONS or abs(pixel_size - LATTICE / n) > PIXEL_TOLERANCE:
        choices = ", ".join(pixel_label(p) for p in PIXEL_SIZES)
        raise UserError(f"Output pixel size {pixel_size:g} m does not divide the 60 m grid into 6 to 30 pixels: "
                        f"choose one of {choices} (metres).")
    return Fraction(n, 6)


def exact_pixel_size(pixel_size: float) -> float:
    """The valid size (metres, 60/n exactly) that ``pixel_size`` names, e.g. 3.33 -> 3.3333...; UserError if none."""
    return LATTICE / int(output_scale(pixel_size) * 6)

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
