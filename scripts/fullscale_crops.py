"""README picture: 1:1 crops (one 2.5 m pixel = one picture pixel) of real, undegraded held-out input.

For each held-out acquisition, a window of real input is super-resolved by the whole pipeline with
each preset; the picture shows, left to right, the input on its own grid (nearest, so its pixels are
visible), bicubic and each preset, as a colour composite of three bands of one resolution group (by
default true colour B04, B03, B02; ``--bands B12,B8A,B05`` shows the fused 20 m bands) with one
stretch per row (2-98 % of the bicubic crop). Needs ../shared/data.

Usage: .venv/bin/python -m scripts.fullscale_crops [--methods fast,diffusion] [--bands B04,B03,B02]
       [--out docs/img/fullscale_1to1.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.bands import GROUPS
from s2_superres.core.evaluate import run_on_scene
from s2_superres.core.preview import write_png
from s2_superres.core.tile import RunOptions
from s2_superres.core.scene import Scene
from scripts.held_out_table import SCENES, as_scene

#: (row, col) of the top-left 10 m pixel of each 60 x 60 px (600 m) window, on the 60 m lattice
WINDOWS = {"usa": (120, 180), "coastalA": (150, 60), "mock_crop": (198, 204)}
SIZE = 60
GAP = 6


def crop(scene: Scene, row: int, col: int, size: int) -> Scene:
    """The window of ``size`` 10 m pixels at (row, col) (multiples of 6) with 36 px of real context around it."""
    m = 36
    r0, c0 = max(0, row - m), max(0, col - m)
    r1, c1 = row + size + m, col + size + m
    groups = {res: a[:, r0 * 10 // res:r1 * 10 // res, c0 * 10 // res:c1 * 10 // res]
              for res, a in scene.groups.items()}
    return Scene(groups, scene.crs_wkt, (scene.origin[0] + c0 * 10, scene.origin[1] - r0 * 10)), (row - r0, col - c0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="fast,diffusion")
    p.add_argument("--bands", default="B04,B03,B02", help="three bands of one resolution group: red, green, blue")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "fullscale_1to1.png")
    args = p.parse_args()
    names = ["bicubic", *args.methods.split(",")]
    bands = args.bands.split(",")
    res = next(r for r, group in GROUPS.items() if set(bands) <= set(group))
    f = res // 10  # input pixels per 10 m pixel
    rows = []
    for scene_name, (row, col) in WINDOWS.items():
        window, (r, c) = crop(as_scene(SCENES[scene_name]), row, col, SIZE)
        outs = {n: run_on_scene(window, n, RunOptions(steps=8, seed=0)) for n in names}
        rgb = {n: np.stack([o[b][4 * r:4 * (r + SIZE), 4 * c:4 * (c + SIZE)] for b in bands]) for n, o in outs.items()}
        picked = [GROUPS[res].index(b) for b in bands]
        native = window.groups[res][picked, r // f:(r + SIZE) // f, c // f:(c + SIZE) // f]
        rgb = {f"{res} m input": np.repeat(np.repeat(native, 4 * f, 1), 4 * f, 2), **rgb}
        lo, hi = np.percentile(rgb["bicubic"], (2, 98), axis=(1, 2), keepdims=True)
        panels = [np.clip((v - lo) / (hi - lo), 0, 1) for v in rgb.values()]
        gap = np.ones((3, 4 * SIZE, GAP), np.float32)
        rows.append(np.concatenate([x for pnl in panels for x in (pnl, gap)][:-1], axis=2))
        print(f"{scene_name}: " + " | ".join(rgb), file=sys.stderr)
    hgap = np.ones((3, GAP, rows[0].shape[2]), np.float32)
    picture = np.concatenate([x for r in rows for x in (r, hgap)][:-1], axis=1)
    print(f"wrote {write_png((np.clip(picture, 0, 1) * 255).astype(np.uint8), args.out)}")


if __name__ == "__main__":
    main()
