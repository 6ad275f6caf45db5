"""Export the trained fusion networks (EMA weights) to ONNX and write their model cards.

Usage (from the repository root)::

    .venv/bin/python -m training.export_fusion [--names fusion20 fusion60]

Writes models/<name>.onnx (opset 17, legacy exporter, dynamic N/H/W) and models/<name>.json,
checks ONNX-vs-PyTorch parity on random reflectance, and keeps any ``metrics`` block already
in the card (training/eval_fusion.py fills it in).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.onnx_model import sha256_of
from training.fusion_data import HELD_OUT, TRAIN_KS
from training.sr10_data import TRAIN_K
from training.train_fusion import CHAIN_K
from training.fusion_model import CONFIGS, load_checkpoint

MODELS = ROOT / "s2_superres" / "models"
CKPT = ROOT / "training" / "checkpoints"
BANDS = {
    "fusion20": (["B02", "B03", "B04", "B08"], ["B05", "B06", "B07", "B8A", "B11", "B12"]),
    "fusion60": (["B02", "B03", "B04", "B08"], ["B01", "B09"]),
}
FACTORS = {"fusion20": [2, 4], "fusion60": [4, 6]}
SCALING = "reflectance = (DN + offset) / 10000 (offset = -1000 for processing baseline >= 04.00, else 0)"


def export(name: str, out_dir: Path = MODELS, ckpt: Path | None = None) -> Path:
    """Export ``ckpt`` (default ``training/checkpoints/<name>.pt``) to ``<out_dir>/<name>.onnx``; return its path."""
    net = load_checkpoint(str(ckpt or CKPT / f"{name}.pt"), name)
    cfg = CONFIGS[name]
    path = out_dir / f"{name}.onnx"
    dummy = torch.rand(1, cfg["in_ch"], 64, 64) * 0.3
    torch.onnx.export(net, dummy, str(path), input_names=["x"], output_names=["y"], opset_version=17,
                      dynamo=False, do_constant_folding=True,
                      dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N", 2: "H", 3: "W"}})
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = (np.random.default_rng(0).random((2, cfg["in_ch"], 96, 128)) * 0.4).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    diff = float(np.abs(sess.run(["y"], {"x": x})[0] - ref).max())
    print(f"{name}: exported {path.stat().st_size / 1e6:.2f} MB, parity max abs diff {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"{name}: ONNX/PyTorch parity failed ({diff})")
    return path


def _shift_text(ck: dict, patches: str = "patches") -> str:
    """The card's words for the random guide shift of a checkpoint (train_fusion.py --shift-px)."""
    if not ck.get("shift_px"):
        return "none"
    s = ck["shift_px"]
    return f"guide moved by uniform(-{s:g}, {s:g}) target px per axis in half of the {patches}"


def _training_record(ck: dict, previous: dict) -> dict:
    """Steps, wall time, optimiser and command of a checkpoint, including a run it was fine-tuned from
    (``previous``: the training block of the card of the weights it started from)."""
    init, spec = ck.get("init") or {}, ck["spec"]
    if ck.get("blind"):
        return _blind_record(ck, init, spec, previous)
    steps = int(ck["step"]) + int(init.get("steps", 0))
    optimizer = f"Adam lr {ck['lr']} cosine to 2 % over the wall-clock budget, EMA 0.999 (exported)"
    command = ".venv/bin/python -m training.train_fusion --budget-min 95"
    if init and ck.get("tag") == "_v2":
        return _v2_record(ck, init, spec)
    if init:
        optimizer = (f"{init['steps']} steps Adam lr 3e-4 cosine (first run), then {ck['step']} fine-tuning steps "
                     f"from its EMA weights: {optimizer}")
        command = (f"{command}; then training/train_fusion.py --nets {ck['name']} --tag {ck.get('tag', '_ft')} "
                   "--init-from "
                   f"training/checkpoints/{init['from']} --budget-min {ck['budget_min']:g} --lr {ck['lr']:g}"
                   + (f" --shift-px {ck['shift_px']:g}" if ck.get("shift_px") else ""))
    return {"batch": spec["batch"], "steps": steps, "patches_seen": steps * spec["batch"], "loss": "L1 (reflectance)",
            "optimizer": optimizer, "seed": ck["seed"],
            "wall_time_min": round(ck["elapsed"] / 60 + float(init.get("wall_min", 0)), 1),
            "guide_shift_augmentation": _shift_text(ck, "fine-tuning patches"),
            "hardware": "1 CPU thread (shared 2-core machine)", "command": command}


def _v2_record(ck: dict, init: dict, spec: dict) -> dict:
    """Training record of a 2.x net: fine-tuned from the 1.x weights on the fitted-sensor-model pairs."""
    return {"batch": spec["batch"], "steps": int(ck["step"]), "loss": "L1 (reflectance)",
            "optimizer": f"Adam lr {ck['lr']} cosine to 2 % over the wall-clock budget, EMA 0.999 (exported)",
            "init": f"EMA weights of {init['from']} ({init['steps']} steps of earlier runs on the old MTF-0.3 "
                    "degradation)", "seed": ck["seed"], "wall_time_min": round(ck["elapsed"] / 60, 1),
            "guide_shift_augmentation": _shift_text(ck),
            "hardware": "1 CPU thread (shared 2-core machine, other jobs running)",
            "command": f".venv/bin/python -m training.train_fusion --finetune --tag _v2 --budget-min "
                       f"{ck['budget_min']:g} --lr {ck['lr']:g} --shift-px {ck.get('shift_px', 0):g}"}


def _blind_record(ck: dict, init: dict, spec: dict, previous: dict) -> dict:
    """Training record of a net fine-tuned with patches degraded on the fly (train_fusion.py --blind)."""
    return {"batch": spec["batch"], "steps": int(ck["step"]), "loss": "L1 (reflectance)",
            "optimizer": f"Adam lr {ck['lr']} cosine to 2 % over the wall-clock budget, EMA 0.999 (exported)",
            "init": _init_text(init),
            "seed": ck["seed"], "wall_time_min": round(ck["elapsed"] / 60, 1),
            "guide_shift_augmentation": _shift_text(ck),
            "hardware": "1 CPU thread (shared 2-core machine)",
            "command": f".venv/bin/python -m training.train_fusion --blind --nets {ck['name']} --tag "
                       f"{ck['tag']} --init-from training/checkpoints/{init['from']} --budget-min "
                       f"{ck['budget_min']:g} --lr {ck['lr']:g} --shift-px {ck.get('shift_px', 0):g}"
                       + (f" --chain {ck['chain']:g}" if ck.get("chain") else ""),
            "previous_version": previous}


def _init_text(init: dict) -> str:
    """The weights a blind run started from: the previous version's, or those of a blind run stopped before its
    budget (never a version), fine-tuned from the previous version's (its checkpoint says how)."""
    path = CKPT / init["from"]
    run = torch.load(path, map_location="cpu", weights_only=False) if path.exists() else {}
    if not (run.get("blind") and run["elapsed"] < 60 * run["budget_min"] - 60):
        return f"EMA weights of {init['from']} ({init['steps']} steps, the previous version)"
    return (f"EMA weights of {init['from']}: {run['step']} steps ({run['elapsed'] / 60:.0f} of {run['budget_min']:g} "
            f"min, then stopped) of train_fusion.py --blind --lr {run['lr']:g} --shift-px {run.get('shift_px', 0):g}"
            + (f" --chain {run['chain']:g}" if run.get("chain") else "")
            + f" from the EMA weights of {run['init']['from']}, the previous version")


def _previous_training(old_card: dict, checkpoint: str) -> dict:
    """The training record of the weights a checkpoint was fine-tuned from: the old card's, unless the old card
    already describes this checkpoint (a re-export), whose own previous record is kept."""
    training = old_card.get("training", {})
    if old_card.get("checkpoint") == checkpoint:
        return training.get("previous_version", {})
    return {k: v for k, v in training.items() if k != "scenes_target_shapes"}


def _protocol(name: str, blind: bool, chain: float = 0.0) -> str:
    grid = 2 if name == "fusion20" else 6
    if blind:
        sr = (f"; {chain:.0%} of the x4 patches are instead what fusion stage B gets in the pipeline, one scale "
              f"down: every band degraded x8 (k in {list(CHAIN_K)}, plus noise), stage A's result on that "
              "upsampled x4 as the band input and the fast sr10 result of the degraded 10 m bands as the guide, "
              "made with the models/ of the run's start (train_fusion.chain_inputs)") if chain else ""
        return ("Wald, blind around the sensor model fitted to real data (training/sensor_model.json), each patch "
                "degraded on the fly: target = real native-resolution bands; lr = upsample_bicubic(blur + f x f "
                f"block mean of the target, f), f in {FACTORS[name]}, blur k drawn in {list(TRAIN_K)} isotropic or "
                "per axis, additive noise and DN quantisation (training/sr10_data.blind_degrade); guide = "
                f"core.degrade.wald_degrade(10 m, {grid}, k drawn in {list(TRAIN_K)}) plus noise and quantisation "
                "(training/train_fusion.BlindPairSampler)" + sr)
    return ("Wald, around the sensor model fitted to real data (training/sensor_model.json): target = real "
            f"native-resolution bands; guide = core.degrade.wald_degrade(10 m, {grid}, k = fit of that grid); lr = "
            f"upsample_bicubic(wald_degrade(target, f, k), f), f in {FACTORS[name]}, k in {list(TRAIN_KS)} (one "
            "cached pair per scene, factor and k)")


def card(name: str, onnx_path: Path, ckpt: Path | None = None, version: str | None = None) -> dict:
    """Build the model card dictionary (keeps an existing ``metrics`` block)."""
    ck = torch.load(ckpt or CKPT / f"{name}.pt", map_location="cpu", weights_only=False)
    cfg = CONFIGS[name]
    guide, lr = BANDS[name]
    card_path = onnx_path.parent / f"{name}.json"
    old = json.loads(card_path.read_text()) if card_path.exists() else {}
    params = sum(v.numel() for v in ck["ema"].values())
    spec = ck["spec"]
    checkpoint = str(Path(ckpt or CKPT / f"{name}.pt").resolve().relative_to(ROOT))
    return {
        "name": name,
        "version": version or old.get("version", "1.0.0"),
        "file": onnx_path.name,
        "sha256": sha256_of(onnx_path),
        "opset": 17,
        "size_multiple": 2,
        "inputs": [{"name": "x", "shape": ["N", cfg["in_ch"], "H", "W"], "dtype": "float32",
                    "bands": guide + [b + "_up" for b in lr],
                    "description": f"{guide} guide at the target grid, then {lr} bicubic-upsampled "
                                   "(core.resample.upsample_bicubic) from an f-times coarser grid to the target grid",
                    "scaling": SCALING}],
        "outputs": [{"name": "y", "shape": ["N", cfg["out_ch"], "H", "W"], "dtype": "float32", "bands": lr,
                     "description": f"{lr} at the target grid", "scaling": SCALING}],
        "checkpoint": checkpoint,
        "train_factors": FACTORS[name],
        "architecture": {
            "summary": f"DSen2-style: y = x_lr_up + net(x); net = x*5 (DN/2000) -> pixel_unshuffle(2) -> "
                       f"conv3x3({cfg['in_ch'] * 4}->{cfg['width']})+ReLU -> {cfg['blocks']} x "
                       f"[conv3x3-ReLU-conv3x3, x0.1, + skip] -> conv3x3({cfg['width']}->{cfg['out_ch'] * 4}) "
                       "-> pixel_shuffle(2) -> /5. No batch norm.",
            "parameters": int(params),
            "receptive_field_px": 4 * (2 * cfg["blocks"] + 2) + 2,
        },
        "training": {
            "protocol": _protocol(name, bool(ck.get("blind")), float(ck.get("chain", 0.0))),
            "scenes_target_shapes": ck["scenes"],
            "patch": f"{spec['patch']} x {spec['patch']} px on the target grid, block-aligned crops, "
                     "flips/rot90, common gain 0.8-1.25; mostly-water crops (B08 < 0.03 over > 50 %) kept 10 %",
            **_training_record(ck, _previous_training(old, checkpoint)),
        },
        "held_out": list(HELD_OUT),
        "metrics": old.get("metrics", {}),
        "license": "model weights trained on Copernicus Sentinel data (see README of the training data)",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", nargs="+", default=["fusion20", "fusion60"])
    ap.add_argument("--out", type=Path, default=MODELS, help="output folder (default: models/)")
    ap.add_argument("--version", help="version written into the card (default: keep the card's)")
    ap.add_argument("--ckpt", type=Path, help="checkpoint to export (one name only; default checkpoints/<name>.pt)")
    args = ap.parse_args()
    if args.ckpt and len(args.names) != 1:
        ap.error("--ckpt needs exactly one name")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        t = time.time()
        path = export(name, args.out, args.ckpt)
        (args.out / f"{name}.json").write_text(json.dumps(card(name, path, args.ckpt, args.version), indent=1) + "\n")
        print(f"{name}: card written ({time.time() - t:.1f} s)")


if __name__ == "__main__":
    main()
