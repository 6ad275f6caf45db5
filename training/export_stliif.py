"""Export the space-time model "stliif" to ONNX (two graphs) and write their model cards.

    .venv/bin/python -m training.export_stliif --version 1.0.0

models/stliif_encoder.onnx: lr (D, 4, h, w) reflectance [B02, B03, B04, B08], clear (D, 1, h, w)
-> codes (D, 48, h, w). models/stliif_decoder.onnx: the codes and the separable query arrays of
core.spacetime.query_axis -> each date's residual over its bicubic image (D, 4, H, W, unit
RESIDUAL_SCALE reflectance) and the dates' weights (D, H, W). The export is checked against torch
on a real crop (max abs difference printed). Metrics already in an existing card are kept when the
files are unchanged; training/eval_stliif.py writes them.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
from training.stliif_model import BLOCKS, DAY_SCALE, HIDDEN, RESIDUAL_SCALE, WIDTH, build, n_params, query_tensors

from s2_superres.core.onnx_model import MODELS_DIR, sha256_of

CKPT = os.path.join(HERE, "checkpoints", "stliif.pt")
BANDS = ["B02", "B03", "B04", "B08"]
HISTORY = ("1.0.0: 25 min from scratch (1,019 steps, lr 4e-4, up to 4 dates per sample; under CPU contention), then "
           "--init-from that checkpoint: 55 min (6,010 steps, lr 1e-3 cosine, 60 % single-date / 20 % simulated / 20 % "
           "tanzania samples, up to 3 dates), batch 4, CPU")
SCALING = "reflectance = (DN + offset) / 10000, the product's offset applied (core.radiometry)"


class DecoderGraph(torch.nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q):
        return self.decoder.per_date(codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q)


def export(net, out_dir: str) -> dict[str, str]:
    d, h, w, scale = 2, 30, 36, 10 / 3
    lr, clear = torch.rand(d, 4, h, w) * 0.3, torch.ones(d, 1, h, w)
    enc_path, dec_path = os.path.join(out_dir, "stliif_encoder.onnx"), os.path.join(out_dir, "stliif_decoder.onnx")
    torch.onnx.export(net.encoder, (lr, clear), enc_path, input_names=["lr", "clear"], output_names=["codes"],
                      dynamic_axes={"lr": {0: "D", 2: "h", 3: "w"}, "clear": {0: "D", 2: "h", 3: "w"},
                                    "codes": {0: "D", 2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    with torch.no_grad():
        codes = net.encoder(lr, clear)
    iy, ry, wy, ix, rx, wx = query_tensors(h, w, scale)
    cell, dt = torch.tensor([1 / scale], dtype=torch.float32), torch.tensor([0.0, -20.0])
    clear_q = torch.ones(d, iy.shape[1], ix.shape[1])
    names = ["codes", "iy", "ry", "wy", "ix", "rx", "wx", "cell", "dt", "clear_q"]
    axes = {"codes": {0: "D", 2: "h", 3: "w"}, "iy": {1: "H"}, "ry": {1: "H"}, "wy": {1: "H"}, "ix": {1: "W"},
            "rx": {1: "W"}, "wx": {1: "W"}, "dt": {0: "D"}, "clear_q": {0: "D", 1: "H", 2: "W"},
            "residual": {0: "D", 2: "H", 3: "W"}, "weights": {0: "D", 1: "H", 2: "W"}}
    torch.onnx.export(DecoderGraph(net.decoder), (codes, iy, ry, wy, ix, rx, wx, cell, dt, clear_q), dec_path,
                      input_names=names, output_names=["residual", "weights"], dynamic_axes=axes, opset_version=17,
                      dynamo=False)
    return {"encoder": enc_path, "decoder": dec_path}


def parity(net, paths: dict[str, str]) -> float:
    """Max |torch - onnxruntime| of the residuals on a real held-out crop, 3 dates, scale 4."""
    import onnxruntime as ort
    from training.sr10_data import load_scene

    img = load_scene("s2sucnn_usa")[:, :48, :60]
    lr = np.stack([img, img * 1.05, img * 0.97]).astype(np.float32)
    clear = np.ones((3, 1, 48, 60), np.float32)
    enc = ort.InferenceSession(paths["encoder"], providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(paths["decoder"], providers=["CPUExecutionProvider"])
    codes = enc.run(None, {"lr": lr, "clear": clear})[0]
    q = [t.numpy() for t in query_tensors(48, 60, 4)]
    feeds = dict(zip(["iy", "ry", "wy", "ix", "rx", "wx"], q))
    feeds.update(codes=codes, cell=np.array([0.25], np.float32), dt=np.array([0, 15, -30], np.float32),
                 clear_q=np.ones((3, 192, 240), np.float32))
    res, _ = dec.run(None, feeds)
    with torch.no_grad():
        ref, _ = net.decoder.per_date(net.encoder(torch.from_numpy(lr), torch.from_numpy(clear)),
                                      *[torch.from_numpy(a) for a in q], torch.tensor([0.25]),
                                      torch.tensor([0.0, 15.0, -30.0]), torch.ones(3, 192, 240))
    return float(np.abs(res - ref.numpy()).max())


def card(name: str, path: str, version: str, ckpt: dict, error: float, old: dict) -> dict:
    sha = sha256_of(path)
    io = {
        "stliif_encoder": (
            [{"name": "lr", "shape": ["D", 4, "h", "w"], "dtype": "float32", "bands": BANDS, "scaling": SCALING},
             {"name": "clear", "shape": ["D", 1, "h", "w"], "dtype": "float32",
              "description": "1 where the date sees the ground, 0 under cloud, shadow or nodata"}],
            [{"name": "codes", "shape": ["D", HIDDEN, "h", "w"], "dtype": "float32"}]),
        "stliif_decoder": (
            [{"name": "codes", "shape": ["D", HIDDEN, "h", "w"]},
             {"name": "iy", "shape": [2, "H"], "dtype": "int64"}, {"name": "ry", "shape": [2, "H"]},
             {"name": "wy", "shape": [2, "H"]}, {"name": "ix", "shape": [2, "W"], "dtype": "int64"},
             {"name": "rx", "shape": [2, "W"]}, {"name": "wx", "shape": [2, "W"]},
             {"name": "cell", "shape": [1], "description": "output pixel size in 10 m pixels (1 / scale)"},
             {"name": "dt", "shape": ["D"], "description": "days of each date from the target date"},
             {"name": "clear_q", "shape": ["D", "H", "W"]}],
            [{"name": "residual", "shape": ["D", 4, "H", "W"], "bands": BANDS,
              "scaling": f"reflectance / {RESIDUAL_SCALE}, added to each date's bicubic image"},
             {"name": "weights", "shape": ["D", "H", "W"], "description": "softmax over the dates"}]),
    }[name]
    out = {
        "name": name, "version": version, "file": os.path.basename(path), "sha256": sha, "opset": 17,
        "inputs": io[0], "outputs": io[1],
        "architecture": {
            "summary": (f"after Temporal LIIF: encoder {WIDTH} channels, {BLOCKS} residual blocks, clear-weighted "
                        f"context over the dates; LIIF decoder (MLP {HIDDEN}-{HIDDEN}-{HIDDEN}, local ensemble of 4 "
                        "codes, relative position, cell, time offset) per date, softmax weights over the dates; "
                        "composition, anti-imaging box filter and back-projection in core.spacetime"),
            "parameters_total": n_params(build()), "day_scale": DAY_SCALE},
        "training": {
            "command": ".venv/bin/python -m training.train_stliif --minutes M [--resume]",
            "steps": ckpt["step"], "minutes": round(ckpt["elapsed"] / 60, 1), "history": HISTORY,
            "data": "training/stliif_data.py: single dates of the sr10 training scenes, simulated dates, real "
                    "rsgislib tanzania dates of 2016-2018", "scales": "1.5 to 5 (output pixels per input pixel)",
            "degradation": "core.resize.sensor_degrade, k in [0.28, 0.45] (isotropic or per axis), noise, DN "
                           "quantisation"},
        "held_out": ["s2sucnn_usa", "s2sscnn_coastalA", "dsen2_mock_crop", "bigearthnet_extra: 3 acquisitions",
                     "tanzania 2019-2020 dates", "eolearn_slovenia_ts5", "turb_corrientes_2dates",
                     "arosics_T33UUU_2dates_1band"],
        "export_max_abs_difference": error,
        "checkpoint": "training/checkpoints/stliif.pt",
        "license": "model weights trained on Copernicus Sentinel data (see README of the training data)",
    }
    if old.get("sha256") == sha and "metrics" in old:
        out["metrics"] = old["metrics"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--ckpt", default=CKPT)
    ap.add_argument("--out", default=str(MODELS_DIR))
    args = ap.parse_args()
    ckpt = torch.load(args.ckpt, weights_only=False)
    net = build()
    net.load_state_dict(ckpt["model"])
    net.eval()
    paths = export(net, args.out)
    error = parity(net, paths)
    print(f"torch vs onnxruntime: max |diff| {error:.2e}")
    for name in ("stliif_encoder", "stliif_decoder"):
        card_path = os.path.join(args.out, f"{name}.json")
        old = json.load(open(card_path)) if os.path.exists(card_path) else {}
        with open(card_path, "w") as f:
            json.dump(card(name, paths[name.split("_")[1]], args.version, ckpt, error, old), f, indent=1)
        print(f"wrote {card_path} ({os.path.getsize(paths[name.split('_')[1]]) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
