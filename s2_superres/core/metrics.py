"""Image quality metrics, per band and averaged.

Inputs are (C, H, W) arrays in the same unit; pass ``scale=10000`` to get RMSE in DN when the
arrays are reflectance. Definitions follow Lanaras et al. 2018 (DSen2) for SRE and the
pansharpening literature for SAM (degrees), ERGAS and UIQ (Wang & Bovik 2002, global form).
"""
from __future__ import annotations

import numpy as np

from .resample import gaussian_blur


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"shape mismatch {ref.shape} vs {est.shape}")
    return (ref[None], est[None]) if ref.ndim == 2 else (ref, est)


def rmse(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Root mean square error per band."""
    r, e = _pair(ref, est)
    return np.sqrt(np.mean((r - e) ** 2, axis=(1, 2)))


def psnr(ref: np.ndarray, est: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per band in dB, peak = ``data_range`` (1.0 reflectance)."""
    return 20 * np.log10(data_range / np.maximum(rmse(ref, est), 1e-12))


def sre(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Signal-to-reconstruction error per band in dB: 10 log10(mean(ref)^2 / MSE) (DSen2, eq. 6)."""
    r, _ = _pair(ref, est)
    return 10 * np.log10(np.mean(r, axis=(1, 2)) ** 2 / np.maximum(rmse(ref, est) ** 2, 1e-24))


def sam(ref: np.ndarray, est: np.ndarray) -> float:
    """Mean spectral angle in degrees between the per-pixel spectra (bands on axis 0)."""
    r, e = _pair(ref, est)
    dot = np.sum(r * e, axis=0)
    norm = np.linalg.norm(r, axis=0) * np.linalg.norm(e, axis=0)
    valid = norm > 0
    cos = np.clip(dot[valid] / norm[valid], -1.0, 1.0)
    return float(np.degrees(np.mean(np.arccos(cos))))


def ergas(ref: np.ndarray, est: np.ndarray, ratio: float) -> float:
    """ERGAS = 100 / ratio * sqrt(mean_b (RMSE_b / mean_b)^2); ``ratio`` = high / low resolution pixel size
    (e.g. 1/2 for 20 m -> 10 m). Lower is better."""
    r, _ = _pair(ref, est)
    rel = rmse(ref, est) / np.maximum(np.abs(np.mean(r, axis=(1, 2))), 1e-12)
    return float(100 * ratio * np.sqrt(np.mean(rel ** 2)))


def uiq(ref: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Universal image quality index per band (global, Wang & Bovik 2002), 1 = identical."""
    r, e = _pair(ref, est)
    mr, me = r.mean(axis=(1, 2)), e.mean(axis=(1, 2))
    vr, ve = r.var(axis=(1, 2)), e.var(axis=(1, 2))
    cov = ((r - mr[:, None, None]) * (e - me[:, None, None])).mean(axis=(1, 2))
    return 4 * cov * mr * me / np.maximum((vr + ve) * (mr ** 2 + me ** 2), 1e-24)


def ssim(ref: np.ndarray, est: np.ndarray, data_range: float = 1.0, sigma: float = 1.5) -> np.ndarray:
    """Structural similarity per band (Wang et al. 2004, Gaussian window sigma 1.5, K1 0.01, K2 0.03)."""
    r, e = _pair(ref, est)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    out = []
    for a, b in zip(r, e):
        mu_a, mu_b = gaussian_blur(a, sigma).astype(np.float64), gaussian_blur(b, sigma).astype(np.float64)
        saa = gaussian_blur(a * a, sigma) - mu_a ** 2
        sbb = gaussian_blur(b * b, sigma) - mu_b ** 2
        sab = gaussian_blur(a * b, sigma) - mu_a * mu_b
        num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
        den = (mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2)
        out.append(float(np.mean(num / den)))
    return np.array(out)


#: the octaves ``detail_agreement`` compares, by their finer end in pixels of the compared grid (1-2, 2-4, 4-8 px)
DETAIL_OCTAVES = (1, 2, 4)


def detail_agreement(ref: np.ndarray, est: np.ndarray, octave_px: float) -> np.ndarray:
    """Correlation per band between the detail of ``est`` and of ``ref`` in the octave from ``octave_px`` to
    2 ``octave_px`` pixels: each image blurred by a Gaussian of sigma ``octave_px`` / 2 minus itself blurred by
    sigma ``octave_px``. 1 = the same detail at that scale (up to a gain), 0 = unrelated detail."""
    r, e = _pair(ref, est)
    out = []
    for a, b in zip(r, e):
        da = (gaussian_blur(a, octave_px / 2) - gaussian_blur(a, octave_px)).astype(np.float64)
        db = (gaussian_blur(b, octave_px / 2) - gaussian_blur(b, octave_px)).astype(np.float64)
        da, db = da - da.mean(), db - db.mean()
        out.append(float(np.sum(da * db) / max(np.sqrt(np.sum(da * da) * np.sum(db * db)), 1e-24)))
    return np.array(out)


def report(ref: np.ndarray, est: np.ndarray, names: list[str], ratio: float) -> dict:
    """All metrics for reflectance arrays: per band (RMSE in DN, PSNR, SSIM, SRE, UIQ, detail agreement at
    each of DETAIL_OCTAVES as ``detail_<n>px``) and overall."""
    per = {"rmse_dn": rmse(ref, est) * 10000, "psnr_db": psnr(ref, est), "ssim": ssim(ref, est),
           "sre_db": sre(ref, est), "uiq": uiq(ref, est),
           **{f"detail_{a}px": detail_agreement(ref, est, a) for a in DETAIL_OCTAVES}}
    bands = {n: {k: round(float(v[i]), 4) for k, v in per.items()} for i, n in enumerate(names)}
    overall: dict[str, float | None] = {k: round(float(np.mean(v)), 4) for k, v in per.items()}
    overall["sam_deg"] = round(sam(ref, est), 4) if len(names) > 1 else None
    overall["ergas"] = round(ergas(ref, est, ratio), 4)
    return {"bands": bands, "mean": overall}
