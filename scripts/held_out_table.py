"""README tables: the whole pipeline on whole held-out acquisitions, reduced and full scale.

Held out from all training (whole acquisitions): s2sucnn_usa, s2sscnn_coastalA, dsen2_mock_crop.
Reduced scale: every band is degraded x4 under each degradation of core.degrade.EVAL_K (the fitted
sensor model and the sharper and blurrier ones the models are not trained with), the full tiled
pipeline runs, and the result is compared with the original 10/20/60 m bands; bicubic and hpf run
beside each method (core.evaluate), with the detail agreement per octave (core.metrics.detail_agreement).
Full scale: every method runs on the real input and
core.fullscale describes each band against its input. Needs ../shared/data.

Usage: .venv/bin/python -m scripts.held_out_table [--methods fast,diffusion] [--json docs/results/held_out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from osgeo import osr

ROOT = Path(__file__).resolve().parents[1]

from s2_superres.core.evaluate import REFERENCES, evaluate
from s2_superres.core.metrics import DETAIL_OCTAVES
from s2_superres.core.scene import DEFAULT_CRS, Scene
from s2_superres.core.tile import RunOptions
from training.fusion_data import DATA, load_mock_crop, load_npz

SCENES = {
    "usa": lambda: load_npz(DATA / "s2sucnn_usa_L1C" / "usa.npz", "s2sucnn_usa"),
    "coastalA": lambda: load_npz(DATA / "s2sscnn_coastalA_L1C" / "coastalA.npz", "s2sscnn_coastalA"),
    "mock_crop": load_mock_crop,
}
GROUPS = ("10m", "20m", "60m")


def as_scene(loader) -> Scene:
    """A training-data scene (reflectance on co-registered native grids) as a core Scene in a metric CRS."""
    s = loader()
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(DEFAULT_CRS)
    return Scene({10: s.b10, 20: s.b20, 60: s.b60}, srs.ExportToWkt(), (500000.0, 6000000.0))


def run(methods: list[str]) -> dict:
    """{scene: evaluation} with every method, the references once per scene."""
    out: dict[str, dict] = {}
    for name, loader in SCENES.items():
        scene = as_scene(loader)
        for k, method in enumerate(methods):
            ev = evaluate(scene, method, 4, RunOptions(steps=8, seed=0), check_full_scale=True,
                          references=REFERENCES if k == 0 else ())
            merged = out.setdefault(name, {"degradations": {}, "full_scale": {}})
            merged["full_scale_real_image"] = ev["full_scale_real_image"]
            for d, block in ev["degradations"].items():
                slot = merged["degradations"].setdefault(d, {"k": block["k"], "results": {}})
                slot["results"].update(block["results"])
            merged["full_scale"].update(ev["full_scale"])
            print(f"done {name} {method}", file=sys.stderr, flush=True)
    return out


def _mean(per_scene: dict, degradation: str, method: str, group: str, key: str) -> float:
    return float(np.mean([s["degradations"][degradation]["results"][method][group]["mean"][key]
                          for s in per_scene.values()]))


def reduced_markdown(per_scene: dict, methods: list[str]) -> str:
    """Per degradation and group: PSNR gain over bicubic (dB), RMSE as a fraction of bicubic's, SAM (degrees)."""
    cols = list(dict.fromkeys([m for m in REFERENCES if m != "bicubic"] + methods))
    lines = ["| degradation | group | bicubic PSNR | " + " | ".join(f"{m} ΔPSNR / RMSE×" for m in cols)
             + " | bicubic SAM | " + " | ".join(f"{m} SAM" for m in cols) + " |",
             "| --- " * (4 + 2 * len(cols)) + "|"]
    for d in next(iter(per_scene.values()))["degradations"]:
        for g in GROUPS:
            bic = _mean(per_scene, d, "bicubic", g, "psnr_db")
            rmse_b = _mean(per_scene, d, "bicubic", g, "rmse_dn")
            row = [d, g, f"{bic:.2f}"]
            row += [f"{_mean(per_scene, d, m, g, 'psnr_db') - bic:+.2f} / "
                    f"{_mean(per_scene, d, m, g, 'rmse_dn') / rmse_b:.2f}" for m in cols]
            row += [f"{_mean(per_scene, d, 'bicubic', g, 'sam_deg'):.2f}"]
            row += [f"{_mean(per_scene, d, m, g, 'sam_deg'):.2f}" for m in cols]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def detail_markdown(per_scene: dict, methods: list[str]) -> str:
    """Per degradation and group: detail agreement with the reference at each octave of DETAIL_OCTAVES."""
    cols = list(dict.fromkeys([*REFERENCES, *methods]))
    octaves = [f"{a}–{2 * a} px" for a in DETAIL_OCTAVES]
    lines = ["| degradation | group | " + " | ".join(f"{m} {o}" for m in cols for o in octaves) + " |",
             "| --- " * (2 + len(cols) * len(octaves)) + "|"]
    for d in next(iter(per_scene.values()))["degradations"]:
        for g in GROUPS:
            row = [d, g] + [f"{_mean(per_scene, d, m, g, f'detail_{a}px'):.3f}" for m in cols for a in DETAIL_OCTAVES]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def worse_than_bicubic(per_scene: dict, methods: list[str]) -> str:
    """Scenes, degradations and bands where a method's RMSE exceeds bicubic's."""
    lines = []
    for m in methods:
        worse = []
        for scene, ev in per_scene.items():
            for d, block in ev["degradations"].items():
                res = block["results"]
                for g in GROUPS:
                    for band, v in res[m][g]["bands"].items():
                        ratio = v["rmse_dn"] / res["bicubic"][g]["bands"][band]["rmse_dn"]
                        if ratio > 1:
                            worse.append(f"{scene}/{d} {band} ({ratio:.2f}×)")
        lines.append(f"- `{m}` worse than bicubic on: {', '.join(worse) or 'no band'}.")
    return "\n".join(lines)


def full_scale_markdown(per_scene: dict, methods: list[str]) -> str:
    """Full scale, means over scenes: each statistic of each method next to bicubic's and, for the 10 m group,
    next to what a real image 4x finer than its input shows (core.evaluate.real_image_reference)."""
    names = list(dict.fromkeys(["bicubic", *methods]))
    keys = (("lattice_ratio", "lattice", 1, ".2f"), ("highpass_std", "high-pass std (DN)", 1e4, ".1f"),
            ("slope_ratio", "slope ratio", 1, ".3f"), ("overshoot", "overshoot (DN)", 1e4, ".2f"),
            ("consistency", "consistency (DN)", 1e4, ".1f"))
    lines = ["| group | statistic | " + " | ".join(names) + " | real image ×4 |", "| --- " * (3 + len(names)) + "|"]
    for g in GROUPS:
        for key, label, scale, fmt in keys:
            vals = [np.mean([s["full_scale"][n]["mean"][g][key] for s in per_scene.values()]) * scale for n in names]
            real = [s["full_scale_real_image"].get(key) for s in per_scene.values()]
            ref = format(np.mean(real) * scale, fmt) if g == "10m" and None not in real else ""
            lines.append(f"| {g} | {label} | " + " | ".join(format(v, fmt) for v in vals) + f" | {ref} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--methods", default="fast,diffusion")
    p.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "held_out.json")
    args = p.parse_args()
    methods = args.methods.split(",")
    per_scene = run(methods)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(per_scene, indent=1))
    print(reduced_markdown(per_scene, methods), detail_markdown(per_scene, methods),
          worse_than_bicubic(per_scene, methods),
          full_scale_markdown(per_scene, methods), sep="\n\n")


if __name__ == "__main__":
    main()
