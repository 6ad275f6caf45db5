"""Real multi-date stacks of ../shared/data, turned into inputs that open_product reads like products.

Nothing here is committed data: the helpers write into the test's tmp_path. Tests that use these stacks
skip when ../shared/data is not beside the repository.

* turb_corrientes_2dates: two float GeoTIFFs (B01..B12 named in the band descriptions, QA60 ignored), L2A
  DN with the +1000 offset still in the values: opened as they are, with ``offset=-1000``.
* eolearn_slovenia_ts5: 13-band uint16 DN GeoTIFFs whose pixels are 9.995 x 9.997 m (the provider's
  bounding box over 100 x 101 px), which open_product rightly refuses; :func:`slovenia_product` writes
  a copy with exactly 10 m pixels (same origin: the ground drifts by at most 0.5 m across the scene)
  and a date in its name. The dates of the scenes were not recorded: the ones given here are labels
  in the series' order, not the real acquisition days.
* arosics_T33UUU_2dates_1band: one visible band per date (no band id): read as arrays.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORRIENTES = SHARED / "turb_corrientes_2dates"
CORRIENTES_DATES = (dt.date(2023, 12, 17), dt.date(2024, 1, 1))
SLOVENIA = SHARED / "eolearn_slovenia_ts5"
SLOVENIA_CLOUDY, SLOVENIA_CLEAR = (0, 1), (2, 3, 4)
#: labels for the five Slovenia scenes (in order; the real days were not recorded)
SLOVENIA_DATES = tuple(dt.date(2017, 5, 1) + dt.timedelta(days=10 * i) for i in range(5))
AROSICS = SHARED / "arosics_T33UUU_2dates_1band"
AROSICS_REF = AROSICS / "ref_S2A_20160608T153121_T33UUU_sub.jp2"
AROSICS_TGT = AROSICS / "tgt_S2A_20160529T153631_T33UUU_sub.jp2"


def need(path: Path) -> None:
    """Skip the calling test when ``path`` (under ../shared/data) is not here."""
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/data is not beside the repository)")


def corrientes(date: dt.date) -> Path:
    need(CORRIENTES)
    return CORRIENTES / f"{date:%Y%m%d}.tif"


def slovenia_product(scene: int, folder: Path) -> Path:
    """Scene ``scene`` of the Slovenia series as a 13-band GeoTIFF with exact 10 m pixels, named with its label
    date (``S2_L1C_<YYYYMMDD>_slovenia.tif``)."""
    need(SLOVENIA)
    src = gdal.Open(str(SLOVENIA / f"scene{scene}_L1C_13band_DN.tif"))
    out = folder / f"S2_L1C_{SLOVENIA_DATES[scene]:%Y%m%d}_slovenia.tif"
    ds = gdal.GetDriverByName("GTiff").CreateCopy(str(out), src)
    x0, _, _, y0, _, _ = src.GetGeoTransform()
    ds.SetGeoTransform((x0, 10.0, 0.0, y0, 0.0, -10.0))
    ds = src = None
    return out


def shifted_copy(src: Path, out: Path, dx_m: float, dy_m: float) -> Path:
    """``src`` with its content moved by (-``dx_m``, +``dy_m``) / pixel size in (columns, rows), on its own grid:
    the source is placed (``dx_m``, ``dy_m``) metres west and south of where it is and warped (GDAL, cubic)
    back onto its grid. Band descriptions are kept."""
    ds = gdal.Open(str(src))
    x0, px, _, y0, _, py = ds.GetGeoTransform()
    w, h = ds.RasterXSize, ds.RasterYSize
    moved = gdal.Translate("/vsimem/moved.vrt", ds, format="VRT")
    moved.SetGeoTransform((x0 - dx_m, px, 0.0, y0 - dy_m, 0.0, py))
    warped = gdal.Warp(str(out), moved, outputBounds=(x0, y0 + py * h, x0 + px * w, y0), xRes=px, yRes=abs(py),
                       resampleAlg="cubic")
    for i in range(1, ds.RasterCount + 1):
        warped.GetRasterBand(i).SetDescription(ds.GetRasterBand(i).GetDescription())
    warped = moved = ds = None
    gdal.Unlink("/vsimem/moved.vrt")
    return out


def read_window(path: Path, x: float, y: float, size: int) -> np.ndarray:
    """A ``size`` x ``size`` float array of band 1 of ``path`` centred on (x, y) metres."""
    ds = gdal.Open(str(path))
    x0, px, _, y0, _, py = ds.GetGeoTransform()
    col, row = round((x - x0) / px) - size // 2, round((y - y0) / py) - size // 2
    out = ds.GetRasterBand(1).ReadAsArray(col, row, size, size).astype(np.float64)
    ds = None
    return out
