"""How many back-projection passes fusion stage A should make (core.methods.fusion), at reduced scale (x4).

Usage (from the repository root; needs ../shared/data)::

    .venv/bin/python -m training.eval_stage_a_projection

On the TRAINING scenes of training/eval_chain.py (where design choices are made), every band is degraded x4
under each degradation of core.degrade.EVAL_K and the whole LearnedFusionStage runs on the degraded tile (the
"fast" sr10 result as the guide of stage B) with 0, 1, 2 and 4 passes of stage A's back-projection. Prints the
20 m and 60 m groups' RMSE as a fraction of bicubic's, block-averaged onto the original grids.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.bands import GROUP_20, GROUP_60
from s2_superres.core.degrade import EVAL_K
from s2_superres.core.methods.fusion import FUSED_BANDS, LearnedFusionStage
from s2_superres.core.methods.registry import MODELS_DIR
from s2_superres.core.methods.sr10 import FastSR10
from s2_superres.core.resample import upsample_bicubic
from s2_superres.core.tile import RunOptions
from training.eval_chain import degraded_tile, rmse_dn, training_scenes

PASSES = (0, 1, 2, 4)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    fusion, sr10 = LearnedFusionStage(), FastSR10(MODELS_DIR / "sr10.json")
    groups = {"20 m": ([FUSED_BANDS.index(b) for b in GROUP_20], 20, 2, 8),
              "60 m": ([FUSED_BANDS.index(b) for b in GROUP_60], 60, 6, 24)}
    scenes = training_scenes(24)
    for degradation, k in EVAL_K.items():
        totals: dict[tuple[str, object], list[float]] = {}
        for scene in scenes.values():
            tile = degraded_tile(scene, None if degradation == "fitted" else k)
            guide = sr10.superresolve_10m(tile.b10, 0, 0, RunOptions())
            for passes in PASSES:
                fusion.projection_passes = passes
                fused = fusion.fuse(tile, guide)
                for group, (index, res, block, _f) in groups.items():
                    totals.setdefault((group, passes), []).append(
                        float(rmse_dn(fused[index], scene.groups[res], block).mean()))
            for group, (_index, res, block, f) in groups.items():
                lr = tile.b20 if res == 20 else tile.b60
                totals.setdefault((group, "bicubic"), []).append(
                    float(rmse_dn(upsample_bicubic(lr, f), scene.groups[res], block).mean()))
        for group in groups:
            bicubic = np.mean(totals[(group, "bicubic")])
            print(f"{degradation:9s} {group} group RMSE / bicubic, by passes: "
                  + ", ".join(f"{p}: {np.mean(totals[(group, p)]) / bicubic:.4f}" for p in PASSES), flush=True)


if __name__ == "__main__":
    main()
