"""Training samples for the space-time model "stliif": real Sentinel-2, any scale, one or several dates.

A sample is D acquisitions of one crop on an LR grid, each degraded from its real image by a blind
draw around the fitted sensor model (core.resize.sensor_degrade: Gaussian k * s, k in TRAIN_K,
isotropic or not, plus noise and DN quantisation), their clear masks and times, and the target: the
real image of the target date at ``s`` times the LR resolution, s drawn from SCALES (1.5 to 5).

Three kinds of sample:
* single: one date, the target itself (spatial super-resolution at any scale); all the single-date
  training scenes of training/sr10_data.py (whole acquisitions held out as there).
* simulated: the target plus 1-3 copies of the same crop that stand for other dates: a smooth
  radiometric change growing with |dt|, a residual misregistration of up to 0.3 LR pixels, their own
  degradation and noise, sometimes a patch of land change, sometimes clouds (masked). With
  probability CLOUDED_TARGET the target carries a masked cloud too, so the model learns to fill it
  from the other dates (used only when the user asks for cloud filling).
* tanzania: real dates of the rsgislib T37MEM stack (20 m, clouds masked by the provider), only the
  acquisitions of TANZANIA_TRAIN_YEARS (the 2019-2020 ones are held out for evaluation); the target
  is either among the inputs (observed) or left out between two inputs (synthesised).
"""
from __future__ import annotations

import datetime as dt
import glob
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from training.sr10_data import DATA, TRAIN_K, sensor_noise, train_scenes, water_fraction
from s2_superres.core.resize import apply_separable, sensor_degrade, sensor_matrix

#: training scales (output pixels per LR pixel); LR patches of LR_PATCH pixels make whole HR patches
SCALES = (Fraction(3, 2), Fraction(2), Fraction(5, 2), Fraction(3), Fraction(10, 3), Fraction(4), Fraction(9, 2),
          Fraction(5))
LR_PATCH = 24
CLOUDED_TARGET = 0.25
TANZANIA = os.path.join(DATA, "rsgislib_tanzania_T37MEM_ts21")
TANZANIA_TRAIN_YEARS = (2016, 2017, 2018)
TANZANIA_BANDS = (0, 1, 2, 6)   # B02, B03, B04, B08 among the stack's 10 bands


@dataclass
class Sample:
    lr: np.ndarray       # (D, 4, h, w) reflectance
    clear: np.ndarray    # (D, h, w) bool
    days: np.ndarray     # (D,) float32, days from the target date
    hr: np.ndarray       # (4, H, W) target reflectance
    valid: np.ndarray    # (H, W) bool: where the target is known
    scale: Fraction


def load_tanzania(years: tuple[int, ...]) -> tuple[list[dt.date], np.ndarray, np.ndarray]:
    """Dates, (T, 4, 169, 140) reflectance at 20 m and (T, 169, 140) clear masks of the stack's dates in ``years``."""
    from osgeo import gdal

    dates, imgs, clear = [], [], []
    for path in sorted(glob.glob(os.path.join(TANZANIA, "SEN2_*_sref_20m.tif"))):
        day = dt.datetime.strptime(os.path.basename(path)[5:13], "%Y%m%d").date()
        if day.year not in years:
            continue
        arr = gdal.Open(path).ReadAsArray()[list(TANZANIA_BANDS)].astype(np.float32)
        dates.append(day)
        clear.append(np.all(arr > 1, axis=0))
        imgs.append(arr / 1000.0)
    return dates, np.stack(imgs), np.stack(clear)


def blind_sensor(hr: np.ndarray, s: Fraction, rng: np.random.Generator) -> np.ndarray:
    """LR image of ``hr`` at ``s`` times coarser: the sensor model with k drawn around the fit, noise,
    sometimes DN quantisation."""
    if rng.random() < 0.5:
        ky = kx = float(rng.uniform(*TRAIN_K))
        lr = sensor_degrade(hr, s, ky)
    else:
        ky, kx = (float(v) for v in rng.uniform(*TRAIN_K, size=2))
        lr = apply_separable(hr, sensor_matrix(hr.shape[-2], s, ky), sensor_matrix(hr.shape[-1], s, kx))
    return sensor_noise(lr, rng)


def _blob(shape: tuple[int, int], rng: np.random.Generator, size: float) -> np.ndarray:
    """A random smooth blob mask covering about ``size`` of the image."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    cy, cx = rng.random(2)
    ry, rx = np.sqrt(size) * rng.uniform(0.3, 0.8, 2)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1


def _shift(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Sub-pixel shift by Fourier phase (periodic; used on crops with margin only)."""
    h, w = img.shape[-2:]
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    phase = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    return np.real(np.fft.ifft2(np.fft.fft2(img) * phase)).astype(np.float32)


class Sampler:
    def __init__(self, seed: int = 0, mix=(0.45, 0.3, 0.25)):
        self.rng = np.random.default_rng(seed)
        self.scenes = train_scenes()
        w = np.array([s.weight * np.sqrt(s.img.shape[1] * s.img.shape[2]) for s in self.scenes])
        self.prob = w / w.sum()
        self.tz_dates, self.tz_img, self.tz_clear = load_tanzania(TANZANIA_TRAIN_YEARS)
        self.mix = np.array(mix) / np.sum(mix)

    def sample(self, kind: str, s: Fraction, d: int) -> Sample:
        return {"single": self.single, "simulated": self.simulated, "tanzania": self.tanzania}[kind](s, d)

    def kind(self) -> str:
        return str(self.rng.choice(["single", "simulated", "tanzania"], p=self.mix))

    def _crop(self, side: int) -> np.ndarray:
        for _ in range(50):
            scene = self.scenes[self.rng.choice(len(self.scenes), p=self.prob)]
            _, hh, ww = scene.img.shape
            if hh < side or ww < side:
                continue
            r, c = self.rng.integers(0, hh - side + 1), self.rng.integers(0, ww - side + 1)
            hr = scene.img[:, r:r + side, c:c + side]
            if (hr <= 0).mean() > 0.01 or (water_fraction(hr) > 0.6 and self.rng.random() > 0.1):
                continue
            break
        hr = np.rot90(hr, self.rng.integers(4), axes=(1, 2))
        if self.rng.random() < 0.5:
            hr = hr[:, :, ::-1]
        return np.ascontiguousarray(hr, np.float32)

    def single(self, s: Fraction, d: int = 1) -> Sample:
        side = int(LR_PATCH * s)
        hr = self._crop(side)
        lr = blind_sensor(hr, s, self.rng)
        return Sample(lr[None], np.ones((1,) + lr.shape[1:], bool), np.zeros(1, np.float32), hr,
                      np.ones(hr.shape[1:], bool), s)

    def simulated(self, s: Fraction, d: int) -> Sample:
        side = int(LR_PATCH * s)
        hr = self._crop(side)
        lrs, clears, days = [], [], [0.0]
        target_lr = blind_sensor(hr, s, self.rng)
        target_clear = np.ones(target_lr.shape[1:], bool)
        if self.rng.random() < CLOUDED_TARGET:
            cloud = _blob(target_lr.shape[1:], self.rng, self.rng.uniform(0.05, 0.3))
            target_lr[:, cloud] = self.rng.uniform(0.25, 0.6)
            target_clear &= ~cloud
        lrs.append(target_lr)
        clears.append(target_clear)
        for _ in range(d - 1):
            t = float(self.rng.uniform(-90, 90))
            change = min(abs(t) / 90.0, 1.0)
            other = hr * (1 + self.rng.normal(0, 0.08 * change + 0.01, (4, 1, 1))).astype(np.float32)
            other += self.rng.normal(0, 0.01 * change, (4, 1, 1)).astype(np.float32)
            if self.rng.random() < 0.3 * change + 0.05:
                patch = self._crop(side)
                region = _blob(hr.shape[1:], self.rng, self.rng.uniform(0.05, 0.25))
                other[:, region] = patch[:, region]
            other = _shift(other, *(self.rng.uniform(-0.3, 0.3, 2) * float(s)))
            lr = blind_sensor(other, s, self.rng)
            clear = np.ones(lr.shape[1:], bool)
            if self.rng.random() < 0.4:
                cloud = _blob(lr.shape[1:], self.rng, self.rng.uniform(0.05, 0.5))
                lr[:, cloud] = self.rng.uniform(0.25, 0.6)
                clear &= ~cloud
            lrs.append(lr)
            clears.append(clear)
            days.append(t)
        return Sample(np.stack(lrs), np.stack(clears), np.array(days, np.float32), hr,
                      np.ones(hr.shape[1:], bool), s)

    def tanzania(self, s: Fraction, d: int) -> Sample:
        side = int(LR_PATCH * s)
        n, _, hh, ww = self.tz_img.shape
        for _ in range(100):
            r, c = self.rng.integers(0, hh - side + 1), self.rng.integers(0, ww - side + 1)
            clear = self.tz_clear[:, r:r + side, c:c + side]
            good = np.flatnonzero(clear.mean(axis=(1, 2)) > 0.95)
            if len(good):
                break
        target = int(self.rng.choice(good))
        others = [i for i in range(n) if i != target and clear[i].mean() > 0.3]
        before = [i for i in others if i < target]
        after = [i for i in others if i > target]
        synthesised = self.rng.random() < 0.5 and bool(before) and bool(after)
        if synthesised:  # the nearest date on each side, then more at random
            picked = [before[-1], after[0]]
            rest = [i for i in others if i not in picked]
            picked += list(self.rng.choice(rest, size=min(len(rest), max(0, d - 2)), replace=False))
        else:
            near = sorted(others, key=lambda i: abs((self.tz_dates[i] - self.tz_dates[target]).days))[: d + 1]
            picked = list(self.rng.choice(near, size=min(len(near), d - 1), replace=False))
        order = ([] if synthesised else [target]) + [int(i) for i in picked]
        rot, flip = self.rng.integers(4), self.rng.random() < 0.5

        def aug(a):
            a = np.rot90(a, rot, axes=(-2, -1))
            return np.ascontiguousarray(a[..., ::-1] if flip else a)

        imgs = aug(self.tz_img[:, :, r:r + side, c:c + side])
        masks = aug(clear)
        lrs, clears = [], []
        for i in order:
            filled = np.where(masks[i][None], imgs[i], imgs[i][:, masks[i]].mean(axis=1)[:, None, None])
            lrs.append(blind_sensor(filled.astype(np.float32), s, self.rng))
            lr_clear = sensor_degrade(masks[i][None].astype(np.float32), s, 0.35)[0] > 0.99
            clears.append(lr_clear)
        days = np.array([(self.tz_dates[i] - self.tz_dates[target]).days for i in order], np.float32)
        return Sample(np.stack(lrs), np.stack(clears), days, imgs[target], masks[target], s)
