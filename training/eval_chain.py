"""How to reach 2.5 m: the stage-B choice of core.methods.fusion, measured at reduced scale (x4).

Usage (from the repository root; needs ../shared/data)::

    .venv/bin/python -m training.eval_chain

Every band of a scene is Wald-degraded x4; stage A of the LearnedFusionStage runs on the degraded tile
(real 10 m guide, now at 40 m), the "fast" sr10 provides the 2.5 m guide (10 m real), and the
result is block-averaged to each band's original grid. For each group it prints the RMSE (DN) of:
``B`` = stage A then a second fusion pass with the sr10 guide; ``A+bic`` = stage A then bicubic x4;
``bic`` = bicubic all the way. On the TRAINING scenes (where design choices are made).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.evaluate import degrade_scene
from s2_superres.core.extent import Extent
from s2_superres.core.tile import RunOptions, Tile
from s2_superres.core.methods.fusion import LearnedFusionStage
from s2_superres.core.methods.registry import MODELS_DIR
from s2_superres.core.methods.sr10 import FastSR10
from s2_superres.core.resample import block_average, upsample_bicubic
from s2_superres.core.scene import Scene, load_scene

D = ROOT.parent / "shared" / "data"
T18 = D / "s2_T18SVG_20160112_L1C"
TRAINING = {"australia": (D / "s2sucnn_australia_L1C/australia.npz", None),
            "iceland": (D / "s2sucnn_iceland_L1C/iceland.npz", None),
            "T18SVG north": (T18, Extent(435780, 4165020, 455040, 4179420)),
            "dsen2_T33UUB": (D / "dsen2_T33UUB_20170527_L1C/S2A_MSIL1C_20170527_T33UUB.npz", None)}


def rmse_dn(est_10m_real: np.ndarray, ref: np.ndarray, block: int) -> np.ndarray:
    """Per band RMSE (DN) of a (C, H, W) estimate on the 10 m-real grid, block-averaged onto ``ref``'s grid."""
    e = block_average(est_10m_real, block)
    h, w = min(e.shape[1], ref.shape[1]), min(e.shape[2], ref.shape[2])
    return np.sqrt(((e[:, :h, :w] - ref[:, :h, :w]) ** 2).mean((1, 2))) * 1e4


def training_scenes(multiple: int) -> dict[str, Scene]:
    """The TRAINING scenes, each read once and cropped to a multiple of ``multiple`` 10 m pixels."""
    return {name: load_scene(path, extent).crop_to_multiple(multiple) for name, (path, extent) in TRAINING.items()}


def degraded_tile(scene: Scene, k: float | None = None) -> Tile:
    """``scene`` degraded x4 by blur ``k`` (None: the fitted blur of each grid; core.evaluate.degrade_scene)."""
    low = degrade_scene(scene, 4, k)
    return Tile(low.groups[10], low.groups[20], low.groups[60])


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    fusion, sr10 = LearnedFusionStage(), FastSR10(MODELS_DIR / "sr10.json")
    totals: dict[tuple[str, str], list[np.ndarray]] = {}
    for name, scene in training_scenes(4).items():
        tile = degraded_tile(scene)
        a20, a60 = fusion.stage_a(tile)
        guide = sr10.superresolve_10m(tile.b10, 0, 0, RunOptions())
        second = {"20": fusion.net20.run(np.concatenate([guide, upsample_bicubic(a20, 4)])),
                  "60": fusion.net60.run(np.concatenate([guide, upsample_bicubic(a60, 4)]))}
        for group, a, lr, f, block in (("20", a20, tile.b20, 8, 2), ("60", a60, tile.b60, 24, 6)):
            ref = scene.groups[int(group)]
            row = {"B": rmse_dn(second[group], ref, block), "A+bic": rmse_dn(upsample_bicubic(a, 4), ref, block),
                   "bic": rmse_dn(upsample_bicubic(lr, f), ref, block)}
            for k, v in row.items():
                totals.setdefault((group, k), []).append(v)
            print(f"{name:14s} {group} m  " + "  ".join(f"{k}: {np.round(v, 1)}" for k, v in row.items()), flush=True)
    for (group, k), v in totals.items():
        print(f"mean over scenes, {group} m group, {k}: {np.round(np.mean(v, axis=0), 1)}")


if __name__ == "__main__":
    main()
