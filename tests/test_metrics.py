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
