"""README tables: the Wald-protocol evaluation (python -m core evaluate --consistency) on the held-out scenes.

Held out from all training: s2sucnn_usa, s2sscnn_coastalA and the southern quarter of T18SVG
(rows >= 75 % of the aligned stack). Every band is degraded x4, the full tiled pipeline runs, and
the result is compared with the original 10/20/60 m bands; bicubic and hpf run beside each method.
Then every method runs at full scale and its output, degraded to each band's grid, is compared with
the input (spectral consistency). Needs ../shared/data.
Usage: .venv/bin/python scripts/held_out_table.py [--methods fast,diffusion] [--json docs/results/held_out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.bands import GROUP_10, GROUP_20, GROUP_60
from core.evaluate import REFERENCES, evaluate
from core.extent import Extent
from core.tile import RunOptions
from core.scene import load_scene

DATA = ROOT.parent / "shared" / "data"
SCENES = {
    "usa": (DATA / "s2sucnn_usa_L1C" / "usa.npz", None),
    "coastalA": (DATA / "s2sscnn_coastalA_L1C" / "coastalA.npz", None),
    "T18SVG south": (DATA / "s2_T18SVG_20160112_L1C", Extent(435780, 4160040, 455040, 4164840)),
}
BANDS = GROUP_10 + GROUP_20 + GROUP_60


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="fast,diffusion")
    p.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "held_out.json")
    args = p.parse_args()
    methods = args.methods.split(",")
    results: dict[str, dict] = {}
    consistency: dict[str, dict] = {}
    for scene, (path, extent) in SCENES.items():
        data = load_scene(path, extent)
        for k, method in enumerate(methods):
            ev = evaluate(data, method, 4, RunOptions(steps=8, seed=0), check_consistency=True,
                          references=REFERENCES if k == 0 else ())
            results.setdefault(scene, {}).update(ev["results"])
            consistency.setdefault(scene, {}).update(ev["consistency"])
            print(f"done {scene} {method}", file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"wald_x4": results, "consistency": consistency}, indent=1))
    print(markdown(results, methods))
    print()
    print(consistency_markdown(consistency, list(dict.fromkeys([*REFERENCES, *methods]))))


def _mean(results: dict, method: str, group: str, band: str | None, key: str) -> float:
    """``key`` of ``method`` for a band (or the group mean) averaged over the held-out scenes."""
    return float(np.mean([s[method][group]["bands"][band][key] if band else s[method][group]["mean"][key]
                          for s in results.values()]))


def markdown(results: dict, methods: list[str]) -> str:
    """Per band RMSE (DN, and as a fraction of bicubic's) and SRE (dB) of bicubic, HPF and each method;
    then per group SAM, ERGAS, SSIM, PSNR. Means over the scenes."""
    groups = next(iter(results.values()))["bicubic"]
    others = list(dict.fromkeys([m for m in REFERENCES if m != "bicubic"] + methods))
    cols = ["bicubic"] + others
    lines = ["| band | bicubic RMSE | " + " | ".join(f"{m} RMSE (× bicubic)" for m in others)
             + " | " + " | ".join(f"{m} SRE" for m in cols) + " |",
             "| --- " * (2 + len(others) + len(cols)) + "|"]
    for band in BANDS:
        group = next(g for g in groups if band in groups[g]["bands"])
        ref = _mean(results, "bicubic", group, band, "rmse_dn")
        row = [band, f"{ref:.1f}"]
        rmse = {m: _mean(results, m, group, band, "rmse_dn") for m in others}
        row += [f"{rmse[m]:.1f} ({rmse[m] / ref:.2f})" for m in others]
        row += [f"{_mean(results, m, group, band, 'sre_db'):.2f}" for m in cols]
        lines.append("| " + " | ".join(row) + " |")
    for m in others:
        ratios = [(scene, band, per[m][g]["bands"][band]["rmse_dn"] / per["bicubic"][g]["bands"][band]["rmse_dn"])
                  for scene, per in results.items() for g in per[m] for band in per[m][g]["bands"]]
        worse = [f"{scene} {band} ({ratio:.2f}×)" for scene, band, ratio in ratios if ratio > 1]
        lines.append(f"\nPer scene, `{m}` is worse than bicubic on: {', '.join(worse) or 'no band'}.")
    lines += ["", "| group | metric | " + " | ".join(cols) + " |", "| --- " * (2 + len(cols)) + "|"]
    for group in ("10m", "20m", "60m"):
        for key in ("sam_deg", "ergas", "ssim", "psnr_db"):
            lines.append("| " + " | ".join([group, key] + [f"{_mean(results, m, group, None, key):.3f}"
                                                             for m in cols]) + " |")
    return "\n".join(lines)


def consistency_markdown(consistency: dict, methods: list[str]) -> str:
    """Per group and scene, mean |Wald-degraded full-scale output - input| in reflectance x 10^4 (DN)."""
    lines = ["| group | scene | " + " | ".join(methods) + " |", "| --- " * (2 + len(methods)) + "|"]
    for group in ("10m", "20m", "60m"):
        for scene, per in consistency.items():
            values = " | ".join(f"{per[m]['mean'][group] * 1e4:.1f}" for m in methods)
            lines.append(f"| {group} | {scene} | {values} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
