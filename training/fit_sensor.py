"""Fit the Sentinel-2 sensor model between band groups from real cross-band pairs.

    .venv/bin/python -m training.fit_sensor            # writes training/sensor_model.json

Model: a coarse band seen by the sensor equals a Gaussian blur (sigma in fine pixels, per axis) of a
spectrally close fine band, block-averaged by the grid ratio f, then a gain and an offset (the
spectral difference), after a sub-pixel shift (grid registration). Pairs:

* ``20m``: B08 (10 m, 842 nm) -> B8A (20 m, 865 nm), f = 2.
* ``60m``: B02 (10 m, 490 nm) -> B01 (60 m, 443 nm), f = 6; B8A (20 m) -> B09 (60 m, 945 nm), f = 3.

The fine band is already blurred by its own sensor response, so sigma measures the *extra* blur of
the coarse grid relative to the fine one: exactly what a Wald-protocol degradation of the fine band
must add (core.degrade). It is reported as k = sigma / f. Fitted per scene on its central window
(at most 720 x 720 fine pixels); the least-squares fit of gain/offset is done on every candidate, and
the score is the RMSE of the high-pass residual (Gaussian(3 px) removed at the coarse grid), which is
insensitive to the spectral difference at low frequencies. Scenes whose coarse-grid high-pass
correlation stays below 0.8 (clouds, water, lossy) are reported but not used.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.ndimage import fourier_shift

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.resample import block_average, gaussian_blur
from training.fusion_data import Scene, load_bigearthnet, load_split

OUT = ROOT / "training" / "sensor_model.json"
SIGMAS = np.round(np.arange(0.0, 1.01, 0.05), 3)  # k = sigma / f candidates
SHIFTS = np.arange(-0.5, 0.51, 0.125)               # coarse-pixel shift candidates
MIN_CORR = 0.8


def _shift(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Sub-pixel shift (fine pixels) of a 2-D image by the Fourier shift theorem."""
    if dy == 0 and dx == 0:
        return img
    return np.real(np.fft.ifft2(fourier_shift(np.fft.fft2(img), (dy, dx)))).astype(np.float32)


def _highpass(x: np.ndarray) -> np.ndarray:
    return x - gaussian_blur(x, 3.0)


def _score(fine: np.ndarray, coarse: np.ndarray, f: int, ky: float, kx: float, dy: float, dx: float
           ) -> tuple[float, float]:
    """(high-pass residual RMSE, high-pass correlation) of coarse vs the modelled coarse band."""
    model = block_average(gaussian_blur(_shift(fine, dy * f, dx * f), (ky * f, kx * f)), f)
    b = 6
    m, c = _highpass(model)[b:-b, b:-b].ravel(), _highpass(coarse)[b:-b, b:-b].ravel()
    gain = float(m @ c / max(m @ m, 1e-12))
    return float(np.sqrt(np.mean((c - gain * m) ** 2))), float(np.corrcoef(m, c)[0, 1])


def fit_pair(fine: np.ndarray, coarse: np.ndarray, f: int) -> dict:
    """Best isotropic k, then per-axis (ky, kx) and shift, for one fine/coarse band pair."""
    hc = min(coarse.shape[0], fine.shape[0] // f, 720 // f)
    wc = min(coarse.shape[1], fine.shape[1] // f, 720 // f)
    r0, c0 = (coarse.shape[0] - hc) // 2, (coarse.shape[1] - wc) // 2
    coarse = coarse[r0:r0 + hc, c0:c0 + wc].astype(np.float32)
    fine = fine[r0 * f:(r0 + hc) * f, c0 * f:(c0 + wc) * f].astype(np.float32)
    k0 = 0.35
    shift = min(((dy, dx) for dy in SHIFTS for dx in SHIFTS),
                key=lambda s: _score(fine, coarse, f, k0, k0, *s)[0])
    iso = {float(k): _score(fine, coarse, f, k, k, *shift)[0] for k in SIGMAS}
    k_iso = min(iso, key=iso.get)
    shift = min(((dy, dx) for dy in shift[0] + SHIFTS / 4 for dx in shift[1] + SHIFTS / 4),
                key=lambda s: _score(fine, coarse, f, k_iso, k_iso, *s)[0])
    axes = {(float(ky), float(kx)): _score(fine, coarse, f, ky, kx, *shift)[0]
            for ky in SIGMAS for kx in SIGMAS if abs(ky - k_iso) <= 0.2 and abs(kx - k_iso) <= 0.2}
    ky, kx = min(axes, key=axes.get)
    rmse, corr = _score(fine, coarse, f, k_iso, k_iso, *shift)
    return {"k": k_iso, "ky": ky, "kx": kx, "shift_coarse_px": [round(float(s), 4) for s in shift],
            "hp_rmse": round(rmse * 1e4, 2), "hp_corr": round(corr, 4),
            "curve": {f"{k:.2f}": round(v * 1e4, 2) for k, v in iso.items()}}


def scene_fits(scene: Scene) -> dict:
    b10, b20, b60 = scene.b10, scene.b20, scene.b60
    return {"B08->B8A": fit_pair(b10[3], b20[3], 2),
            "B02->B01": fit_pair(b10[0], b60[0], 6),
            "B8A->B09": fit_pair(b20[3], b60[1], 3)}


def summarise(fits: dict[str, dict], pair: str) -> dict:
    used = {n: v[pair] for n, v in fits.items() if v[pair]["hp_corr"] >= MIN_CORR}
    ks = np.array([v["k"] for v in used.values()]) if used else np.array([np.nan])
    aniso = np.array([v["ky"] - v["kx"] for v in used.values()]) if used else np.array([np.nan])
    return {"k_median": round(float(np.median(ks)), 3), "k_min": round(float(np.min(ks)), 3),
            "k_max": round(float(np.max(ks)), 3), "k_std": round(float(np.std(ks)), 3),
            "anisotropy_ky_minus_kx_median": round(float(np.median(aniso)), 3),
            "scenes_used": sorted(used)}


def main() -> None:
    train, test = load_split()
    names = {s.name for s in train + test}
    scenes = train + test + [s for s in load_bigearthnet() if s.name not in names]
    fits = {}
    for s in scenes:
        if s.lossy:
            continue
        fits[s.name] = scene_fits(s)
        print(s.name, {p: (v["k"], v["ky"], v["kx"], v["shift_coarse_px"], v["hp_corr"])
                       for p, v in fits[s.name].items()}, flush=True)
    out = {
        "description": "Extra Gaussian blur (sigma = k * f fine pixels, before f x f block averaging) between "
                       "spectrally close Sentinel-2 bands, fitted on real scenes by training/fit_sensor.py",
        "command": ".venv/bin/python -m training.fit_sensor",
        "pairs": {p: summarise(fits, p) for p in ("B08->B8A", "B02->B01", "B8A->B09")},
        "scenes": fits,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["pairs"], indent=1))


if __name__ == "__main__":
    main()
