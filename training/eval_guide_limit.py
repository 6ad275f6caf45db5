"""How much of the 20 m group's error comes from the super-resolved guide of fusion stage B (diagnostic, x4).

Usage (from the repository root; needs ../shared/data)::

    .venv/bin/python -m training.eval_guide_limit [--models DIR]

On the TRAINING scenes of training/eval_chain.py (where design choices are made), every band is degraded x4
under each degradation of core.degrade.EVAL_K and the whole LearnedFusionStage runs on the degraded tile
twice: with the "fast" sr10 result as the 2.5 m guide of stage B (what the pipeline does) and with the real
10 m bands there (a perfect guide, which no run has). Prints the 20 m group's RMSE as a fraction of
bicubic's, block-averaged onto the original 20 m grid.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.bands import GROUP_20
from s2_superres.core.degrade import EVAL_K
from s2_superres.core.methods.fusion import FUSED_BANDS, LearnedFusionStage
from s2_superres.core.methods.registry import MODELS_DIR
from s2_superres.core.methods.sr10 import FastSR10
from s2_superres.core.resample import upsample_bicubic
from s2_superres.core.tile import RunOptions
from training.eval_chain import degraded_tile, rmse_dn, training_scenes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=MODELS_DIR, help="folder of the model files to measure")
    args = ap.parse_args()
    fusion, sr10 = LearnedFusionStage(args.models), FastSR10(args.models / "sr10.json")
    b20 = [FUSED_BANDS.index(b) for b in GROUP_20]
    scenes = training_scenes(24)
    for degradation, k in EVAL_K.items():
        totals: dict[str, list[float]] = {"sr10 guide": [], "real 10 m guide": [], "bicubic": []}
        for scene in scenes.values():
            tile = degraded_tile(scene, None if degradation == "fitted" else k)
            guides = {"sr10 guide": sr10.superresolve_10m(tile.b10, 0, 0, RunOptions()),
                      "real 10 m guide": scene.groups[10].astype(np.float32)}
            for name, guide in guides.items():
                totals[name].append(float(rmse_dn(fusion.fuse(tile, guide)[b20], scene.groups[20], 2).mean()))
            totals["bicubic"].append(float(rmse_dn(upsample_bicubic(tile.b20, 8), scene.groups[20], 2).mean()))
        bicubic = np.mean(totals["bicubic"])
        print(f"{degradation:9s} 20 m group RMSE / bicubic: "
              + ", ".join(f"{name} {np.mean(v) / bicubic:.3f}" for name, v in totals.items() if name != "bicubic"),
              flush=True)


if __name__ == "__main__":
    main()
