"""The time estimate against whole runs: 1, 6 and 50 tiles of the bundled scene with each preset.

A fresh core.estimate.Throughput store is calibrated by one run (4 tiles of 128 px), then each case is
estimated from the store as it stands (as the dock and the command line would), run ``--repeats`` times in
fresh processes (bench.job, which records each run in the store, as every real run does) and compared with
the fastest of them (the least disturbed by other work on the machine).
Usage: python -m bench.estimate [--methods bicubic,fast] [--repeats N]; writes bench/estimate.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .run import ROOT

X0, Y1 = 436020, 4173000    # top-left corner of every extent, on the 60 m lattice (origin 0, 0)
#: name: (tile side asked for, tile rows, tile columns); tile 288 is laid out as 256 (two 2.5 m blocks)
CASES = {"calibration": (128, 2, 2), "1 tile": (288, 1, 1), "6 tiles": (288, 2, 3), "50 tiles": (64, 5, 10)}
SIDE = {128: 128, 288: 256, 64: 64}


def extent(tile: int, rows: int, cols: int) -> str:
    """Exactly rows x cols tiles: the largest whole number of 60 m cells within them (the last tile narrower)."""
    height, width = (n * SIDE[tile] // 6 * 60 for n in (rows, cols))
    return f"{X0},{Y1 - height},{X0 + width},{Y1}"


def estimated(method: str, ext: str, tile: int, store: Path | None) -> tuple[float, int]:
    """The estimate of a run (seconds) from ``store`` (the defaults when None), and its tile count."""
    from s2_superres.core.bands import OUTPUT_BANDS
    from s2_superres.core.cli import sample_dir
    from s2_superres.core.estimate import Throughput, estimate
    from s2_superres.core.extent import parse_extent
    from s2_superres.core.methods.registry import preset_margin
    from s2_superres.core.pipeline import plan_run
    from s2_superres.core.sources import open_product
    plan = plan_run(open_product(sample_dir()), parse_extent(ext)[0], OUTPUT_BANDS,
                    preset_margin(method, OUTPUT_BANDS), tile)
    cost = estimate(method, plan.output_shape, len(OUTPUT_BANDS), plan.tiles[0].rows, plan.margin,
                    window_pixels=plan.window_pixels, throughput=Throughput(store) if store else None)
    return cost.seconds, len(plan.tiles)


def measured(method: str, ext: str, tile: int, store: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "bench.job", method, ext, f"{tmp}/out.tif", "--tile", str(tile),
               "--store", str(store)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="bicubic,fast")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rows = []
    print(f"{'method':8} {'case':12} {'tiles':>5} {'default s':>9} {'estimate s':>10} {'measured s':>10} {'ratio':>6}")
    for method in args.methods.split(","):
        with tempfile.TemporaryDirectory() as store:
            for case, (tile, r, c) in CASES.items():
                ext = extent(tile, r, c)
                default, tiles = estimated(method, ext, tile, None)
                est, _ = estimated(method, ext, tile, Path(store))
                runs = [measured(method, ext, tile, Path(store)) for _ in range(1 if case == "calibration" else
                                                                                 args.repeats)]
                seconds = min(runs)
                row = {"method": method, "case": case, "tiles": tiles, "default_estimate_s": round(default, 1),
                       "estimate_s": round(est, 1), "measured_s": round(seconds, 1), "runs_s": runs,
                       "ratio": round(est / seconds, 2)}
                rows.append(row)
                print(f"{method:8} {case:12} {tiles:5d} {default:9.1f} {est:10.1f} {seconds:10.1f} "
                      f"{est / seconds:6.2f}", flush=True)
    load = os.getloadavg()[0]     # other work on the machine: the measured times are only as good as this
    path = ROOT / "bench" / "estimate.json"
    path.write_text(json.dumps({"machine": f"{os.cpu_count()} CPU cores, no GPU, load {load:.1f} at the end",
                                "runs": rows}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
