"""Evaluate the space-time model on held-out data only; writes docs/results/spacetime.json.

    .venv/bin/python -m training.eval_stliif [--parts scales,dates,fullscale] [--write-cards]

* scales: single-date super-resolution of the held-out acquisitions of training/sr10_data.py at
  x2, x10/3, x4, x5 and x6 (x6 was never trained), each degraded by the fitted sensor model and by
  a sharper (k = 0.25) and a blurrier (k = 0.50) one outside the training range, against bicubic
  (and, at x4, the "fast" preset's network). PSNR gains in dB over bicubic; medians over the land
  and coast crops, the open-sea patches apart.
* dates: leave-one-date-out on the multi-date stacks, all degraded x4 (tanzania's 20 m stack x2):
  the target date alone, the target with the other dates as context, and the target left out and
  synthesised from the dates around it, against linear interpolation in time of the neighbours'
  bicubic images and against the nearest date's bicubic image. tanzania: its 2019-2020 dates (never
  trained); slovenia: its 3 clear dates (dates unknown: time offsets set to 0, synthesis not
  possible); corrientes: its 2 dates. arosics holds one band and cannot feed the 4-band model.
* fullscale: the model at x4 on real, undegraded 10 m input (usa, coastalA, mock crop) beside
  bicubic and fast: core.fullscale statistics (lattice ratio, high-pass std, slope ratio, overshoot).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from training.sr10_data import DATA, HELD_OUT, ROOT, extra_patches, load_extra, load_scene, water_fraction
from training.stliif_data import load_tanzania
from s2_superres.core.degrade import EVAL_K
from s2_superres.core.fullscale import highpass_std, lattice_ratio, overshoot, slope_ratio
from s2_superres.core.methods.spacetime import SpaceTimeModel, single_date
from s2_superres.core.resize import resize_cubic, sensor_degrade
from s2_superres.core.tile import DateStack

OUT = os.path.join(ROOT, "docs", "results", "spacetime.json")
SCALES = {"x2": Fraction(2), "x10/3": Fraction(10, 3), "x4": Fraction(4), "x5": Fraction(5), "x6": Fraction(6)}
BORDER = 4  # LR pixels left out at every edge


def psnr(x: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> float:
    err = (x - ref) ** 2
    mse = float(err.mean()) if valid is None else float(err[:, valid].mean())
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def crop_to(img: np.ndarray, multiple: int) -> np.ndarray:
    h, w = (s // multiple * multiple for s in img.shape[-2:])
    return np.ascontiguousarray(img[..., :h, :w])


def inner(x: np.ndarray, scale: Fraction) -> np.ndarray:
    b = int(BORDER * scale)
    return x[..., b:-b, b:-b]


def held_out_crops() -> list[tuple[str, np.ndarray, bool]]:
    """(name, 4-band 10 m reflectance, is open sea) of every held-out acquisition."""
    out = [(n, load_scene(n), False) for n in HELD_OUT]
    for d in extra_patches(held_out=True):
        img = load_extra(d)
        out.append(("extra:" + os.path.basename(d)[11:30], img, water_fraction(img) > 0.8))
    return out


def scales_part(model: SpaceTimeModel) -> dict:
    from s2_superres.core.methods.sr10 import FastSR10
    from s2_superres.core.onnx_model import MODELS_DIR
    from s2_superres.core.tile import RunOptions

    fast = FastSR10(MODELS_DIR / "sr10.json")
    rows = []
    for name, img, sea in held_out_crops():
        for label, s in SCALES.items():
            hr = crop_to(img, 6 * s.numerator)
            for deg, k in EVAL_K.items():
                lr = sensor_degrade(hr, s, k)
                bic = resize_cubic(lr, s)
                st = model.superresolve(single_date(lr), s).image
                row = {"scene": name, "sea": sea, "scale": label, "degradation": deg,
                       "bicubic_psnr": psnr(inner(bic, s), inner(hr, s)),
                       "spacetime_gain": psnr(inner(st, s), inner(hr, s)) - psnr(inner(bic, s), inner(hr, s))}
                if label == "x4":
                    f = fast.superresolve_10m(lr, 0, 0, RunOptions())
                    row["fast_gain"] = psnr(inner(f, s), inner(hr, s)) - row["bicubic_psnr"]
                rows.append(row)
                print(row, flush=True)
    return {"rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for sea in (False, True):
        for label in SCALES:
            for deg in EVAL_K:
                sel = [r for r in rows if r["sea"] == sea and r["scale"] == label and r["degradation"] == deg]
                if not sel:
                    continue
                key = f"{'sea' if sea else 'land'} {label} {deg}"
                gains = [r["spacetime_gain"] for r in sel]
                out[key] = {"n": len(sel), "spacetime_median_gain": float(np.median(gains))}
                if "fast_gain" in sel[0]:
                    out[key]["fast_median_gain"] = float(np.median([r["fast_gain"] for r in sel]))
    return out


def slovenia_stack():
    arr = np.load(os.path.join(DATA, "eolearn_slovenia_ts5", "REFERENCE_SCENES.npy"))  # (5, 101, 100, 13)
    b = [1, 2, 3, 7]                                            # B02, B03, B04, B08 among B01..B12 incl. B8A, B10
    imgs = np.transpose(arr[..., b], (0, 3, 1, 2)).astype(np.float32)
    return [None] * 5, imgs[2:], np.ones((3,) + imgs.shape[2:], bool)   # the 3 clear dates


def corrientes_stack():
    from osgeo import gdal

    dates, imgs = [], []
    for name in ("20231217", "20240101"):
        arr = gdal.Open(os.path.join(DATA, "turb_corrientes_2dates", f"{name}.tif")).ReadAsArray()[[1, 2, 3, 7]]
        dates.append(dt.datetime.strptime(name, "%Y%m%d").date())
        imgs.append((arr.astype(np.float32) - 1000.0) / 10000.0)
    return dates, np.stack(imgs), np.ones((2,) + imgs[0].shape[1:], bool)


def filled(img: np.ndarray, clear: np.ndarray) -> np.ndarray:
    mean = img[:, clear].mean(axis=1) if clear.any() else np.zeros(img.shape[0], np.float32)
    return np.where(clear[None], img, mean[:, None, None]).astype(np.float32)


def dates_part(model: SpaceTimeModel) -> dict:
    results = {}
    stacks = (("tanzania", lambda: load_tanzania((2019, 2020)), Fraction(2)),   # the held-out dates
              ("slovenia", slovenia_stack, Fraction(4)), ("corrientes", corrientes_stack, Fraction(4)))
    for stack_name, loader, s in stacks:
        dates, imgs, clear = loader()
        imgs, clear = crop_to(imgs, 6 * s.numerator), crop_to(clear, 6 * s.numerator)
        rows = []
        for k_name, k in EVAL_K.items():
            lrs = np.stack([sensor_degrade(filled(i, c), s, k) for i, c in zip(imgs, clear)])
            lr_clear = np.stack([sensor_degrade(c[None].astype(np.float32), s, 0.35)[0] > 0.99 for c in clear])
            for t in range(len(imgs)):
                if clear[t].mean() < 0.9:
                    continue
                rows.append(leave_one_out(model, stack_name, k_name, dates, imgs, clear, lrs, lr_clear, t, s))
                print(rows[-1], flush=True)
        results[stack_name] = rows
    return results


def leave_one_out(model, stack_name, k_name, dates, imgs, clear, lrs, lr_clear, t, s) -> dict:
    truth, valid = inner(imgs[t], s), inner(clear[t], s)
    others = [i for i in range(len(imgs)) if i != t and lr_clear[i].mean() > 0.3]
    known = dates[0] is not None
    days = np.array([(dates[i] - dates[t]).days if known else 0 for i in range(len(imgs))], np.float32)
    score = {"stack": stack_name, "degradation": k_name, "target": str(dates[t]) if known else f"scene{t + 2}"}
    bic = resize_cubic(lrs[t], s)
    score["bicubic"] = psnr(inner(bic, s), truth, valid)
    single = model.superresolve(single_date(lrs[t]), s).image
    score["single_date"] = psnr(inner(single, s), truth, valid)
    order = [t] + others
    multi = model.superresolve(DateStack(lrs[order], lr_clear[order], days[order]), s).image
    score["with_other_dates"] = psnr(inner(multi, s), truth, valid)
    before = [i for i in others if days[i] < 0]
    after = [i for i in others if days[i] > 0]
    if known and before and after:
        a, b = before[-1], after[0]
        wa = days[b] / (days[b] - days[a])
        linear = wa * resize_cubic(lrs[a], s) + (1 - wa) * resize_cubic(lrs[b], s)
        nearest = resize_cubic(lrs[a if -days[a] <= days[b] else b], s)
        synth = model.superresolve(DateStack(lrs[others], lr_clear[others], days[others]), s).image
        score.update(synthesised=psnr(inner(synth, s), truth, valid),
                     linear_in_time=psnr(inner(linear, s), truth, valid),
                     nearest_date=psnr(inner(nearest, s), truth, valid), gap_days=float(days[b] - days[a]))
    return score


def fullscale_part(model: SpaceTimeModel) -> dict:
    from s2_superres.core.methods.sr10 import FastSR10
    from s2_superres.core.onnx_model import MODELS_DIR
    from s2_superres.core.tile import RunOptions

    fast = FastSR10(MODELS_DIR / "sr10.json")
    s = Fraction(4)
    out = {}
    for name in HELD_OUT:
        img = crop_to(load_scene(name), 24)[:, :240, :240]
        results = {"bicubic": resize_cubic(img, s), "fast": fast.superresolve_10m(img, 0, 0, RunOptions()),
                   "spacetime": model.superresolve(single_date(img), s).image}
        out[name] = {m: {"lattice_ratio": float(np.mean([lattice_ratio(x[b]) for b in range(4)])),
                         "highpass_std_dn": 1e4 * float(np.mean([highpass_std(x[b]) for b in range(4)])),
                         "slope_ratio": float(np.mean([slope_ratio(x[b], img[b], 4) for b in range(4)])),
                         "overshoot_dn": 1e4 * float(np.mean([overshoot(x[b], img[b], 4) for b in range(4)]))}
                     for m, x in results.items()}
        print(name, out[name], flush=True)
    return out


def write_cards(results: dict) -> None:
    """Put the summary of ``results`` into both stliif model cards (kept on re-export while the files are unchanged)."""
    from s2_superres.core.onnx_model import MODELS_DIR

    dates = {name: [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()} for row in rows
                    if row["degradation"] == "fitted"] for name, rows in results.get("dates", {}).items()}
    metrics = {"command": results["command"], "results": "docs/results/spacetime.json",
               "psnr": "dB over the four 10 m bands pooled; gains over bicubic at the same scale",
               "single_date_median_gain": results.get("scales", {}).get("summary", {}),
               "leave_one_date_out_fitted": dates, "full_scale": results.get("fullscale", {})}
    for name in ("stliif_encoder", "stliif_decoder"):
        path = MODELS_DIR / f"{name}.json"
        card = json.loads(path.read_text())
        card["metrics"] = metrics
        path.write_text(json.dumps(card, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="scales,dates,fullscale")
    args = ap.parse_args()
    model = SpaceTimeModel()
    results = json.load(open(OUT)) if os.path.exists(OUT) else {}
    for part in args.parts.split(","):
        results[part] = {"scales": scales_part, "dates": dates_part, "fullscale": fullscale_part}[part](model)
        results["command"] = ".venv/bin/python -m training.eval_stliif"
        results["models"] = {n.name: n.card.get("version") for n in (model.encoder, model.decoder)}
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        with open(OUT, "w") as f:
            json.dump(results, f, indent=1)
    write_cards(results)


if __name__ == "__main__":
    main()
