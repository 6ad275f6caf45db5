"""core.resize: resampling at any rational scale, checked against the integer-factor kernels."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from s2_superres.core.degrade import wald_degrade
from s2_superres.core.resample import upsample_bicubic
from s2_superres.core.resize import out_size, resize_cubic, sensor_degrade


def _noise(shape):
    return np.random.default_rng(0).random(shape).astype(np.float32)


def test_cubic_at_integer_scale_is_the_pipelines_bicubic():
    x = _noise((3, 36, 42))
    assert np.abs(resize_cubic(x, 4) - upsample_bicubic(x, 4)).max() < 1e-5


@pytest.mark.parametrize("scale", [Fraction(6, 6), Fraction(20, 6), Fraction(12, 6), Fraction(30, 6), Fraction(7, 6)])
def test_sizes_and_constants_survive_any_scale(scale):
    ones = np.ones((2, 36, 30), np.float32)
    up = resize_cubic(ones, scale)
    assert up.shape == (2, out_size(36, scale), out_size(30, scale))
    assert np.abs(up - 1).max() < 1e-5
    down = sensor_degrade(up, scale, 0.35)
    assert down.shape == (2, 36, 30)
    assert np.abs(down - 1).max() < 1e-5


def test_sensor_model_at_integer_factor_matches_core_degrade_on_smooth_images():
    yy, xx = np.mgrid[0:96, 0:96] / 96.0
    img = np.sin(6 * xx + 3 * yy).astype(np.float32)[None]
    assert np.abs(sensor_degrade(img, 4, 0.35) - wald_degrade(img, 4, 0.35)).max() < 2e-3


def test_sensor_model_conserves_the_mean_and_shifts_nothing():
    img = np.zeros((1, 60, 60), np.float32)
    img[0, 30:40, 20:30] = 1.0
    for factor in (Fraction(3, 2), Fraction(10, 3), Fraction(4)):
        d = sensor_degrade(img, factor, 0.35)
        assert abs(d.mean() - img.mean()) < 1e-3
        ys, xs = np.mgrid[0:d.shape[1], 0:d.shape[2]]
        cy = ((ys + 0.5) * float(factor) * d[0]).sum() / d[0].sum()
        cx = ((xs + 0.5) * float(factor) * d[0]).sum() / d[0].sum()
        assert abs(cy - 35) < 0.05 and abs(cx - 25) < 0.05
