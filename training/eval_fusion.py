"""Held-out evaluation of the fusion networks against bicubic and HPF pansharpening (Wald protocol).

Usage (from the repository root)::

    .venv/bin/python -m training.eval_fusion [--write-cards]

Held-out acquisitions: s2sucnn_usa, s2sscnn_coastalA, dsen2_mock_crop (grids re-aligned by whole
pixels as its README says; a residual offset of a quarter 20 m pixel remains) and the bigearthnet_extra
patches of three acquisitions (training/fusion_data.load_split), whole crops, water included.
The 20 m group is co-registered as the pipeline does it (core.coregister): the guide-to-band offset
is measured on the method's own inputs (degraded B08 guide vs degraded B8A) and the guide moved by
it; targets are never resampled. ``--no-coregister`` skips that step.
For each group, factor f and degradation (core.degrade.EVAL_K: the fitted sensor model, a sharper and
a blurrier one outside the training range): target = the real bands at their native grid, lr_up =
upsample_bicubic(wald_degrade(target, f, k), f), guide = wald_degrade(10 m bands, native/10, fit).
Methods: bicubic (lr_up), HPF (lr_up + G - upsample_bicubic(wald_degrade(G, f), f), G a mean
of guide bands chosen per band on the TRAINING scenes), fusion (the ONNX model via
core.onnx_model). Metrics are pooled over all held-out pixels after dropping a border of
``2 f`` target pixels: RMSE per band in DN (reflectance x 10000), SAM (mean, degrees) and ERGAS
(100 / f * sqrt(mean_k (RMSE_k / mean_k)^2)).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.coregister import measure_shift, shift_image
from s2_superres.core.degrade import DEFAULT_K, EVAL_K, k_for_grid, wald_degrade
from s2_superres.core.methods.hpf import GUIDES, hpf_detail
from s2_superres.core.onnx_model import load_model
from training.fusion_data import ORDER20, ORDER60, load_split, pair20, pair60

COMMAND = ".venv/bin/python -m training.eval_fusion --write-cards --speed"


def hpf(x: np.ndarray, f: int, choice: list[str]) -> np.ndarray:
    """HPF pansharpening as preset "hpf" (core.methods.hpf): lr_up + detail of G, G = mean of the guide
    bands named by ``choice[k]``."""
    return np.stack([x[4 + k] + hpf_detail(x[list(GUIDES[c])].mean(axis=0), f) for k, c in enumerate(choice)])


def sam_deg(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel spectral angle in degrees between (C, ...) arrays."""
    dot = (pred * target).sum(0)
    norm = np.sqrt((pred ** 2).sum(0) * (target ** 2).sum(0)) + 1e-12
    return np.degrees(np.arccos(np.clip(dot / norm, -1, 1)))


def metrics(preds: list[np.ndarray], targets: list[np.ndarray], f: int, names: tuple[str, ...]) -> dict:
    """Pooled RMSE per band (DN), mean RMSE, SAM (degrees) and ERGAS over (C, h, w) pairs."""
    b = 2 * f
    p = np.concatenate([x[:, b:-b, b:-b].reshape(x.shape[0], -1) for x in preds], axis=1).astype(np.float64)
    t = np.concatenate([x[:, b:-b, b:-b].reshape(x.shape[0], -1) for x in targets], axis=1).astype(np.float64)
    rmse = np.sqrt(((p - t) ** 2).mean(1))
    ergas = 100.0 / f * np.sqrt(np.mean((rmse / t.mean(1)) ** 2))
    return {"rmse_dn": {n: round(float(r * 1e4), 1) for n, r in zip(names, rmse)},
            "mean_rmse_dn": round(float(rmse.mean() * 1e4), 1),
            "sam_deg": round(float(sam_deg(p, t).mean()), 3), "ergas": round(float(ergas), 3)}


def choose_hpf_guides(scenes: list, pair_fn, f: int, n_out: int) -> list[str]:
    """Per band, the guide mean (vis, nir, all) with the lowest HPF RMSE on the given (training) scenes."""
    err = {g: np.zeros(n_out) for g in GUIDES}
    for s in scenes:
        x, _, y = pair_fn(s, f)
        if min(y.shape[-2:]) < 8 * f:
            continue
        for g in GUIDES:
            err[g] += ((hpf(x, f, [g] * n_out) - y) ** 2).reshape(n_out, -1).sum(1)
    return [min(GUIDES, key=lambda g: err[g][k]) for k in range(n_out)]


def coregistered(x: np.ndarray, y: np.ndarray, f: int) -> tuple[np.ndarray, str]:
    """The 20 m-group input ``x`` with its guide moved as the pipeline would (core.coregister): the offset
    is measured between the guide's B08 and B8A degraded by ``f`` (the method's inputs only)."""
    shift = measure_shift(x[3], wald_degrade(y[ORDER20.index("B8A")], f, k_for_grid(20 * f)), f)
    moved = np.concatenate([shift_image(x[:4], shift.dy, shift.dx), x[4:]]) if shift else x
    return moved, shift.describe("20 m px")


def evaluate(group: str, f: int, model, train: list, test: list, coregister: bool = True,
             k: float = DEFAULT_K) -> dict:
    """Bicubic / HPF / fusion metrics for one group ('20' or '60') at factor f and blur k of the low-resolution
    band (core.degrade), pooled and per scene."""
    pair_fn, names = (pair20, ORDER20) if group == "20" else (pair60, ORDER60)
    n = len(names)
    choice = choose_hpf_guides(train, pair_fn, f, n)
    runs: dict[str, list] = {"bicubic": [], "hpf": [], "fusion": [], "target": []}
    per_scene, shifts = {}, {}
    for s in test:
        x, lr, y = pair_fn(s, f, k)
        if coregister and group == "20":
            x, shifts[s.name] = coregistered(x, y, f)
        outs = {"bicubic": lr, "hpf": hpf(x, f, choice), "fusion": model.run(x[None])[0]}
        for method, v in outs.items():
            runs[method].append(v)
        runs["target"].append(y)
        per_scene[s.name] = {m: metrics([v], [y], f, names)["mean_rmse_dn"] for m, v in outs.items()}
    pooled = {m: metrics(runs[m], runs["target"], f, names) for m in ("bicubic", "hpf", "fusion")}
    ratio = pooled["fusion"]["mean_rmse_dn"] / pooled["bicubic"]["mean_rmse_dn"]
    return {"factor": f, "k": k, "grid_m": int(group), "lr_grid_m": int(group) * f,
            "hpf_guides": dict(zip(names, choice)),
            "pooled": pooled, "fusion_over_bicubic_mean_rmse": round(ratio, 3),
            "guide_shift": shifts or "not co-registered",
            "per_scene_mean_rmse_dn": per_scene}


def table(res: dict) -> str:
    """A plain-text table of one evaluation."""
    names = list(res["pooled"]["bicubic"]["rmse_dn"])
    lines = [f"group {res['grid_m']} m from {res['lr_grid_m']} m (f={res['factor']}, k={res['k']}), "
             f"HPF guides {res['hpf_guides']}",
             f"{'method':8s} " + " ".join(f"{n:>7s}" for n in names) + "    mean     SAM   ERGAS"]
    for k, m in res["pooled"].items():
        lines.append(f"{k:8s} " + " ".join(f"{m['rmse_dn'][n]:7.1f}" for n in names)
                     + f" {m['mean_rmse_dn']:7.1f} {m['sam_deg']:7.3f} {m['ergas']:7.3f}")
    lines.append(f"fusion / bicubic mean RMSE = {res['fusion_over_bicubic_mean_rmse']}; per scene: "
                 + json.dumps(res["per_scene_mean_rmse_dn"]))
    lines.append(f"guide shift: {json.dumps(res['guide_shift'])}")
    return "\n".join(lines)


def speed(model, size: int = 2000) -> float:
    """Seconds for one (1, C, size, size) run of ``model`` (random reflectance), after a small warm-up."""
    import time

    x = np.random.default_rng(0).uniform(0.02, 0.4, (1, model.in_channels, size, size)).astype(np.float32)
    model.run(x[..., :64, :64])
    t = time.perf_counter()
    model.run(x)
    return round(time.perf_counter() - t, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-cards", action="store_true", help="store the results in models/fusion*.json")
    ap.add_argument("--no-coregister", action="store_true",
                    help="use the guide as it is (the pipeline's co-registration of the 20 m group skipped)")
    ap.add_argument("--speed", action="store_true", help="also time one 2000 x 2000 run of each model")
    ap.add_argument("--models", type=Path, default=ROOT / "s2_superres" / "models", help="folder with the cards")
    ap.add_argument("--names", nargs="+", default=["fusion20", "fusion60"])
    args = ap.parse_args()
    train, test = load_split()
    models = args.models
    # the DSen2 settings under every evaluation degradation, the second factor under the fitted one
    plan = {"fusion20": [("20", 2, tuple(EVAL_K)), ("20", 4, ("fitted",))],
            "fusion60": [("60", 6, tuple(EVAL_K)), ("60", 4, ("fitted",))]}
    for name, runs in ((n, plan[n]) for n in args.names):
        model = load_model(models / f"{name}.json", ["CPUExecutionProvider"])
        results: dict = {}
        for group, f, degradations in runs:
            for degradation in degradations:
                k = k_for_grid(int(group)) if degradation == "fitted" else EVAL_K[degradation]
                res = evaluate(group, f, model, train, test, not args.no_coregister, k)
                print(degradation, table(res), "\n", flush=True)
                results.setdefault(f"{int(group) * f}m_to_{group}m", {})[degradation] = res
        timing = {}
        if args.speed:
            import os

            timing = {"seconds_2000x2000": speed(model), "threads": "onnxruntime default (all cores)",
                      "cpu_count": os.cpu_count()}
            print(f"{name}: one 2000 x 2000 run {timing['seconds_2000x2000']} s", flush=True)
        if args.write_cards:
            card_path = models / f"{name}.json"
            card = json.loads(card_path.read_text())
            card["metrics"] = {"command": COMMAND, "held_out_scenes": [s.name for s in test],
                               "units": "RMSE in DN (reflectance x 10000), SAM degrees, ERGAS; pooled over held-out "
                                        "pixels, border of 2f target pixels dropped",
                               "results": results}
            if timing:
                card["speed"] = timing
            card_path.write_text(json.dumps(card, indent=1) + "\n")


if __name__ == "__main__":
    main()
