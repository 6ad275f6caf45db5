"""Evaluate models/sr10.onnx on the held-out scenes and write the numbers into models/sr10.json.

    .venv/bin/python -m training.eval_sr10 [--no-speed] [--no-write]

Reduced scale (Wald protocol), under each degradation of core.degrade.EVAL_K: input =
core.degrade.wald_degrade(real 10 m, 4, k) (40 m), the reference is the real 10 m image; each
held-out scene is processed as one tile (out_row = out_col = 0)
through core.methods.sr10 (bicubic, fast, diffusion with 8 DDIM steps, eta 0, seed 0; consistency
projection on unless stated). Metrics on reflectance, 8 px (10 m) border excluded:
  PSNR  10 log10(1 / MSE) per band with data range 1.0 reflectance, averaged over the 4 bands
  SSIM  Gaussian window (sigma 1.5, 11 x 11), K1 = 0.01, K2 = 0.03, data range 1.0, band average
  SAM   mean spectral angle over pixels, degrees
  RMSE  over the 4 bands pooled, in DN (10000 x reflectance): PSNR says little where a band is nearly
        constant (open sea, clipped at 1 DN in L2A), the RMSE says how large the error is
Uncertainty: how well the std of 4 diffusion samples tracks the actual error.
Full scale: real 10 m held-out input -> 2.5 m, core.fullscale statistics (lattice energy, high-pass
energy, spectral slope, overshoot, consistency).
Speed: a 500 x 500 px real 10 m crop (T18SVG) -> 2000 x 2000, wall clock including bicubic,
sampling and the consistency projection, onnxruntime on all cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

from s2_superres.core.tile import RunOptions
from s2_superres.core.methods.sr10 import BicubicSR10, DiffusionSR10, FastSR10

CARD = os.path.join(ROOT, "s2_superres", "models", "sr10.json")
BORDER = 8


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    mse = np.mean((x.astype(np.float64) - ref) ** 2, axis=(1, 2))
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def _gauss_filter(img: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    from scipy.ndimage import correlate1d

    x = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    out = correlate1d(img, k, axis=-2, mode="reflect")
    return correlate1d(out, k, axis=-1, mode="reflect")


def ssim(x: np.ndarray, ref: np.ndarray, data_range: float = 1.0) -> float:
    x = x.astype(np.float64)
    y = ref.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _gauss_filter(x), _gauss_filter(y)
    sxx = _gauss_filter(x * x) - mx * mx
    syy = _gauss_filter(y * y) - my * my
    sxy = _gauss_filter(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    r = 5  # drop the filter's border
    return float(s[:, r:-r, r:-r].mean())


def sam(x: np.ndarray, ref: np.ndarray) -> float:
    x = x.astype(np.float64).reshape(x.shape[0], -1)
    y = ref.astype(np.float64).reshape(ref.shape[0], -1)
    cos = (x * y).sum(0) / np.maximum(np.linalg.norm(x, axis=0) * np.linalg.norm(y, axis=0), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())


def metrics(x: np.ndarray, ref: np.ndarray) -> dict:
    b = BORDER
    x, ref = x[:, b:-b, b:-b], ref[:, b:-b, b:-b]
    rmse_dn = 1e4 * float(np.sqrt(np.mean((x.astype(np.float64) - ref) ** 2)))
    return {"psnr": round(psnr(x, ref), 3), "ssim": round(ssim(x, ref), 5), "sam": round(sam(x, ref), 4),
            "rmse_dn": round(rmse_dn, 2)}


def std_vs_error(std: np.ndarray, error: np.ndarray) -> dict:
    """How well a per-pixel std tracks the per-pixel absolute error: Spearman rank correlation, and the mean
    error (DN) where the std is in its lowest and highest decile."""
    from scipy.stats import spearmanr

    b = BORDER
    s, e = std[:, b:-b, b:-b].ravel(), error[:, b:-b, b:-b].ravel()
    lo, hi = np.percentile(s, (10, 90))
    return {"spearman": round(float(spearmanr(s, e).statistic), 3),
            "error_dn_low_std_decile": round(float(e[s <= lo].mean() * 1e4), 1),
            "error_dn_high_std_decile": round(float(e[s >= hi].mean() * 1e4), 1)}


def tune(card: str, steps: int, seed: int, temperatures=(1.0, 0.8, 0.7, 0.6, 0.5, 0.4)) -> dict:
    """Pick the sampler temperature on crops of two *training* scenes (never on held-out pixels)."""
    from s2_superres.core.degrade import wald_degrade
    from training.sr10_data import load_scene

    crops = {"dsen2_T33UUB": load_scene("dsen2_T33UUB")[:, 96:480, 96:480],
             "s2sucnn_iceland": load_scene("s2sucnn_iceland")[:, 12:396, 12:396]}
    res: dict = {}
    opts = RunOptions(steps=steps, seed=seed)
    for name, hr in crops.items():
        hr = np.ascontiguousarray(hr)
        lr = wald_degrade(hr, 4)
        res[name] = {"bicubic": metrics(BicubicSR10().superresolve_10m(lr, 0, 0, opts), hr),
                     "fast": metrics(FastSR10(card).superresolve_10m(lr, 0, 0, opts), hr)}
        for tau in temperatures:
            diffusion = DiffusionSR10(card, temperature=tau)
            res[name][f"diffusion_T{tau}"] = metrics(diffusion.superresolve_10m(lr, 0, 0, opts), hr)
        print("tune", name, json.dumps(res[name]), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tune", action="store_true", help="only compare sampler temperatures on training crops")
    args = ap.parse_args()
    if args.tune:
        res = tune(args.card, args.steps, args.seed)
        if not args.no_write and os.path.exists(args.card):
            card = json.load(open(args.card))
            card["sampler_tuning"] = {
                "command": "cd /work/main && .venv/bin/python -m training.eval_sr10 --tune",
                "note": "temperature = scale of the initial DDIM noise, compared on crops of training scenes "
                        "(reduced scale, same metrics as below); the card's sampler_defaults.temperature is the "
                        "largest value whose PSNR >= bicubic + 1 dB and SSIM > bicubic on both crops",
                "results": res}
            with open(args.card, "w") as f:
                json.dump(card, f, indent=1)
        return

    from training.sr10_data import heldout_pairs, heldout_scenes, load_scene

    from s2_superres.core import fullscale
    from s2_superres.core.degrade import EVAL_K

    diff = DiffusionSR10(args.card)
    fast = FastSR10(args.card)
    bic = BicubicSR10()
    on = RunOptions(steps=args.steps, seed=args.seed)
    off = RunOptions(steps=args.steps, seed=args.seed, consistency=False)
    variants = {
        "bicubic": lambda lr: bic.superresolve_10m(lr, 0, 0, on),
        "fast": lambda lr: fast.superresolve_10m(lr, 0, 0, on),
        "fast_no_consistency": lambda lr: fast.superresolve_10m(lr, 0, 0, off),
        f"diffusion_{args.steps}steps": lambda lr: diff.superresolve_10m(lr, 0, 0, on),
    }
    per_degradation: dict = {}
    for degradation, k in EVAL_K.items():
        per_scene: dict = {}
        for name, lr, hr in heldout_pairs(k=k):
            per_scene[name] = {vname: metrics(fn(lr), hr) for vname, fn in variants.items()}
        mean = {v: {m: round(float(np.mean([per_scene[s][v][m] for s in per_scene])), 4)
                    for m in ("psnr", "ssim", "sam", "rmse_dn")} for v in variants}
        per_degradation[degradation] = {"k": k, "mean": mean, "per_scene": per_scene}
        print(degradation, "mean", json.dumps(mean), flush=True)

    uncertainty = {}
    for name, lr, hr in heldout_pairs()[:3]:
        first, std = diff.superresolve_10m_with_std(lr, 0, 0, RunOptions(steps=args.steps, seed=args.seed, samples=4))
        uncertainty[name] = std_vs_error(std, np.abs(first - hr))
        print("uncertainty", name, uncertainty[name], flush=True)

    full = {}
    for name, img in heldout_scenes()[:3]:
        H, W = img.shape[1] // 6 * 6, img.shape[2] // 6 * 6
        img = np.ascontiguousarray(img[:, :H, :W])
        outs = {"bicubic": bic.superresolve_10m(img, 0, 0, on), "fast": fast.superresolve_10m(img, 0, 0, on),
                "fast_no_consistency": fast.superresolve_10m(img, 0, 0, off),
                "diffusion": diff.superresolve_10m(img, 0, 0, on)}
        full[name] = {}
        for v, o in outs.items():
            reports = [fullscale.band_report(o[i], img[i], 4, 10) for i in range(4)]
            full[name][v] = {key: round(float(np.mean([r[key] for r in reports])), 6) for key in reports[0]}
        print("full scale", name, json.dumps(full[name]), flush=True)

    speed = None
    if not args.no_speed:
        load_before = os.getloadavg()[0]
        img = load_scene("t18svg")[:, 300:800, 300:800]
        img = np.ascontiguousarray(img)
        fast.superresolve_10m(img[:, :60, :60], 0, 0, on)  # warm-up / session creation
        t0 = time.time()
        fast.superresolve_10m(img, 0, 0, on)
        t_fast = time.time() - t0
        t0 = time.time()
        diff.superresolve_10m(img, 0, 0, on)
        t_diff = time.time() - t0
        speed = {"input_px": "500 x 500 at 10 m -> 2000 x 2000 at 2.5 m", "fast_s": round(t_fast, 1),
                 f"diffusion_{args.steps}steps_s": round(t_diff, 1),
                 "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                            "onnxruntime CPUExecutionProvider (all cores)",
                 "load_average_1min_before": round(load_before, 2),
                 "includes": "bicubic, network, consistency projection (4 iterations)"}
        print("speed", speed, flush=True)

    result = {
        "command": ".venv/bin/python -m training.eval_sr10" + (" --no-speed" if args.no_speed else ""),
        "protocol": "reduced scale 40 m -> 10 m (input = core.degrade.wald_degrade(real 10 m, 4, k) for each k of "
                    "core.degrade.EVAL_K: the fitted sensor model and a sharper and a blurrier one outside the "
                    "training range), whole held-out acquisitions, 8 px border excluded; PSNR data range 1.0 "
                    "reflectance (band mean); RMSE in DN, 4 bands pooled; SSIM Gaussian sigma 1.5, data range 1.0 "
                    "(band mean); SAM degrees; "
                    f"diffusion seed {args.seed}, eta 0, {args.steps} DDIM steps",
        "held_out": per_degradation,
        "uncertainty": {"protocol": "diffusion, 4 samples, fitted degradation: Spearman correlation of the per-pixel "
                                    "std with the per-pixel absolute error of the result, and the mean absolute "
                                    "error (DN) in the pixels of the lowest and highest std decile",
                        "per_scene": uncertainty},
        "full_scale": {"protocol": "real 10 m held-out input, core.fullscale statistics per band, mean of "
                                   "B02/B03/B04/B08 (highpass_std, overshoot, consistency in reflectance)",
                       "per_scene": full},
    }
    if not args.no_write and os.path.exists(args.card):
        card = json.load(open(args.card))
        card["metrics"] = result
        if speed:
            card["speed"] = speed
        with open(args.card, "w") as f:
            json.dump(card, f, indent=1)
        print("updated", args.card)


if __name__ == "__main__":
    main()
