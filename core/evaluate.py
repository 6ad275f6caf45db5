"""Wald-protocol evaluation of a method on a real scene.

Every band is degraded by ``factor`` (MTF-matched Gaussian + block averaging), written as a
product on the native 10/20/60 m grids (scale invariance), super-resolved by the real tiled
pipeline, and the result is compared with the original bands: the 2.5 m output of a x4
degraded scene lies on the original 10 m grid, and is block-averaged to 20 m and 60 m for
those bands. The references, bicubic and the classical HPF pansharpening (preset "hpf"), run the
same way.

``consistency`` checks the full-scale output instead: each 2.5 m band, Wald-degraded to its own
native grid (x4, x8, x24), against the input band (mean absolute difference, reflectance).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from osgeo import gdal

from .bands import GROUPS, OUTPUT_BANDS, OUTPUT_RESOLUTION
from .degrade import wald_degrade
from .methods.registry import create_method
from .metrics import report
from .pipeline import superresolve
from .resample import block_average
from .scene import Scene, write_product
from .sources import open_product
from .tile import RunOptions


def degrade_scene(scene: Scene, factor: int) -> Scene:
    """The scene as a sensor with ``factor`` times coarser pixels would see it."""
    scene = scene.crop_to_multiple(factor)
    return Scene({r: wald_degrade(a, factor) for r, a in scene.groups.items()}, scene.crs_wkt, scene.origin)


def run_on_scene(scene: Scene, method_name: str, options: RunOptions, tile: int = 288) -> dict[str, np.ndarray]:
    """Run the full pipeline on an in-memory scene; returns each output band (reflectance, 2.5 m grid)."""
    method = create_method(method_name, OUTPUT_BANDS, providers=options.providers)
    with tempfile.TemporaryDirectory() as tmp:
        product = open_product(tmp, band_map=write_product(scene, Path(tmp)))
        result = superresolve(product, method, Path(tmp) / "out.tif", options=options, tile=tile)
        ds = gdal.Open(str(result.output))
        return {b: ds.GetRasterBand(i + 1).ReadAsArray() for i, b in enumerate(OUTPUT_BANDS)}


def compare(scene: Scene, output: dict[str, np.ndarray], factor: int) -> dict:
    """Metrics per group: the output brought to each band's native grid against the original."""
    out = {}
    for res, names in GROUPS.items():
        block = round(res / (OUTPUT_RESOLUTION * factor))
        est = np.stack([block_average(output[b], block) if block > 1 else output[b] for b in names])
        ref = scene.groups[res][:, : est.shape[1], : est.shape[2]]
        out[f"{res}m"] = report(ref, est[:, : ref.shape[1], : ref.shape[2]], list(names), 1 / factor)
    return out


def consistency(scene: Scene, method_name: str, options: RunOptions | None = None) -> dict:
    """Spectral consistency of the full-scale output: mean |wald_degrade(output band) - input band| per band
    and group, in reflectance, without a border of 2 native pixels."""
    output = run_on_scene(scene, method_name, options or RunOptions())
    bands, groups = {}, {}
    for res, names in GROUPS.items():
        for i, b in enumerate(names):
            est = wald_degrade(output[b], round(res / OUTPUT_RESOLUTION))
            ref = scene.groups[res][i][: est.shape[0], : est.shape[1]]
            bands[b] = round(float(np.abs(est[: ref.shape[0], : ref.shape[1]] - ref)[2:-2, 2:-2].mean()), 6)
        groups[f"{res}m"] = round(float(np.mean([bands[b] for b in names])), 6)
    return {"bands": bands, "mean": groups}


#: references run beside every evaluated method: plain bicubic and the classical HPF pansharpening
REFERENCES = ("bicubic", "hpf")


def evaluate(scene: Scene, method_name: str, factor: int = 4, options: RunOptions | None = None,
             check_consistency: bool = False, references: tuple[str, ...] = REFERENCES) -> dict:
    """Metrics of ``method_name`` and of the ``references`` on ``scene`` degraded by ``factor``; with
    ``check_consistency`` also their full-scale ``consistency`` (16x the pixels at factor 4)."""
    if (OUTPUT_RESOLUTION * factor) % 10 and 10 % (OUTPUT_RESOLUTION * factor):
        raise ValueError("factor must make the output grid divide the 10 m grid (2 or 4)")
    options = options or RunOptions()
    scene = scene.crop_to_multiple(factor)
    low = degrade_scene(scene, factor)
    names = list(dict.fromkeys([method_name, *references]))
    out = {"factor": factor, "method": method_name,
           "results": {name: compare(scene, run_on_scene(low, name, options), factor) for name in names}}
    if check_consistency:
        out["consistency"] = {name: consistency(scene, name, options) for name in names}
    return out


def format_table(evaluation: dict) -> str:
    """A plain-text table: per band RMSE (DN) and SRE (dB) of the method, bicubic and HPF, the method's
    RMSE as a fraction of bicubic's, PSNR and SSIM; per group SAM (degrees) and ERGAS of all three."""
    method = evaluation["method"]
    res = evaluation["results"]
    names = list(dict.fromkeys([method, *REFERENCES]))
    if not all(n in res for n in names):
        raise ValueError(f"format_table needs the results of {', '.join(names)}")
    lines = [f"Wald protocol, all bands degraded x{evaluation['factor']}: '{method}' vs {' and '.join(REFERENCES)}",
             f"{'band':5} " + " ".join(f"{'RMSE ' + n:>13}" for n in names) + f" {'ratio':>6} "
             + " ".join(f"{'SRE ' + n:>13}" for n in names) + f" {'PSNR':>7} {'SSIM':>6}"]
    for group in ("10m", "20m", "60m"):
        for band in res[method][group]["bands"]:
            v = {n: res[n][group]["bands"][band] for n in names}
            lines.append(f"{band:5} " + " ".join(f"{v[n]['rmse_dn']:13.1f}" for n in names)
                         + f" {v[method]['rmse_dn'] / v['bicubic']['rmse_dn']:6.3f} "
                         + " ".join(f"{v[n]['sre_db']:13.2f}" for n in names)
                         + f" {v[method]['psnr_db']:7.2f} {v[method]['ssim']:6.3f}")
        means = {n: res[n][group]["mean"] for n in names}
        lines.append(f"{group:5} SAM deg " + ", ".join(f"{n} {means[n]['sam_deg'] or 0:.3f}" for n in names)
                     + "; ERGAS " + ", ".join(f"{n} {means[n]['ergas']:.3f}" for n in names))
    if "consistency" in evaluation:
        lines.append("Full-scale consistency, mean |degraded output - input| (reflectance): " + "; ".join(
            f"{n} " + ", ".join(f"{g} {v:.5f}" for g, v in c["mean"].items())
            for n, c in evaluation["consistency"].items()))
    return "\n".join(lines)
