"""Evaluation of a method on a real scene: at reduced scale under several degradations, and at full scale.

Reduced scale (Wald protocol): every band is degraded by ``factor`` with the sensor model
(core.degrade) under each degradation of ``degrade.EVAL_K`` -- the blur fitted to real data, a
sharper and a blurrier one that the models are not trained with -- written as a product on the
native 10/20/60 m grids (scale invariance), super-resolved by the real tiled pipeline, and compared
with the original bands: the 2.5 m output of a x4 degraded scene lies on the original 10 m grid, and
is block-averaged to 20 m and 60 m for those bands. The references, bicubic and the classical HPF
pansharpening (preset "hpf"), run the same way.

Full scale (``full_scale``): the real, undegraded scene is super-resolved and each 2.5 m band is
described against its own input by core.fullscale (lattice energy, high-frequency energy, edge
overshoot, consistency), beside bicubic run the same way and beside what a real image shows
(``real_image_reference``: the real 10 m bands against their own x4 degradation).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from osgeo import gdal

from .bands import GROUPS, OUTPUT_BANDS, OUTPUT_RESOLUTION
from . import fullscale
from .degrade import EVAL_K, k_for_grid, wald_degrade
from .methods.registry import create_method
from .gdal_env import gdal_scope
from .metrics import report
from .pipeline import superresolve
from .resample import block_average
from .scene import Scene, write_product
from .sources import open_product
from .tile import RunOptions


def degrade_scene(scene: Scene, factor: int, k: float | None = None) -> Scene:
    """The scene as a sensor with ``factor`` times coarser pixels would see it: blur k for every group, or
    (None) the blur fitted for each group's grid."""
    scene = scene.crop_to_multiple(factor)
    return Scene({r: wald_degrade(a, factor, k_for_grid(r) if k is None else k) for r, a in scene.groups.items()},
                 scene.crs_wkt, scene.origin)


@gdal_scope()
def run_on_scene(scene: Scene, method_name: str, options: RunOptions, tile: int = 288) -> dict[str, np.ndarray]:
    """Run the full pipeline on an in-memory scene; returns each output band (reflectance, 2.5 m grid)."""
    method = create_method(method_name, OUTPUT_BANDS, providers=options.providers)
    with tempfile.TemporaryDirectory() as tmp:
        product = open_product(tmp, band_map=write_product(scene, Path(tmp)))
        result = superresolve(product, method, Path(tmp) / "out.tif", options=options, tile=tile,
                              confirmed=True)   # the scene the user asked to evaluate, whatever its size
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


def full_scale(scene: Scene, method_name: str, options: RunOptions | None = None) -> dict:
    """core.fullscale statistics of every output band of ``method_name`` run on the undegraded scene."""
    output = run_on_scene(scene, method_name, options or RunOptions())
    bands = {}
    for res, names in GROUPS.items():
        factor = round(res / OUTPUT_RESOLUTION)
        for i, b in enumerate(names):
            bands[b] = fullscale.band_report(output[b], scene.groups[res][i], factor, res)
    means = {f"{res}m": {key: float(np.mean([bands[b][key] for b in names])) for key in next(iter(bands.values()))}
             for res, names in GROUPS.items()}
    return {"bands": bands, "mean": means}


#: references run beside every evaluated method: plain bicubic and the classical HPF pansharpening
REFERENCES = ("bicubic", "hpf")


def evaluate(scene: Scene, method_name: str, factor: int = 4, options: RunOptions | None = None,
             degradations: tuple[str, ...] = tuple(EVAL_K), check_full_scale: bool = False,
             references: tuple[str, ...] = REFERENCES) -> dict:
    """Metrics of ``method_name`` and of the ``references`` on ``scene`` degraded by ``factor`` under each
    of ``degradations`` (names of degrade.EVAL_K); with ``check_full_scale`` also their ``full_scale``
    statistics (16x the pixels at factor 4)."""
    if (OUTPUT_RESOLUTION * factor) % 10 and 10 % (OUTPUT_RESOLUTION * factor):
        raise ValueError("factor must make the output grid divide the 10 m grid (2 or 4)")
    options = options or RunOptions()
    scene = scene.crop_to_multiple(factor)
    names = list(dict.fromkeys([method_name, *references]))
    out: dict = {"factor": factor, "method": method_name, "degradations": {}}
    for degradation in degradations:
        k = None if degradation == "fitted" else EVAL_K[degradation]
        low = degrade_scene(scene, factor, k)
        out["degradations"][degradation] = {
            "k": "fitted per grid" if k is None else k,
            "results": {name: compare(scene, run_on_scene(low, name, options), factor) for name in names}}
    if check_full_scale:
        out["full_scale"] = {name: full_scale(scene, name, options) for name in names}
        out["full_scale_real_image"] = real_image_reference(scene, factor)
    return out


def real_image_reference(scene: Scene, factor: int = 4) -> dict[str, float]:
    """core.fullscale.real_image_reference of the scene's 10 m bands at ``factor`` (means over the bands): what a
    true image ``factor`` times finer than its input shows on the full-scale statistics."""
    reports = [fullscale.real_image_reference(band, factor, 10) for band in scene.crop_to_multiple(factor).groups[10]]
    return {key: float(np.mean([r[key] for r in reports])) for key in reports[0]}


def format_table(evaluation: dict) -> str:
    """Plain text: for each degradation, per band RMSE (DN) and SRE (dB) of the method, bicubic and HPF, the
    method's RMSE as a fraction of bicubic's, PSNR and SSIM, and per group SAM (degrees) and ERGAS; then the
    full-scale statistics per group."""
    method = evaluation["method"]
    lines: list[str] = []
    for degradation, block in evaluation["degradations"].items():
        res = block["results"]
        names = list(dict.fromkeys([method, *REFERENCES]))
        if not all(n in res for n in names):
            raise ValueError(f"format_table needs the results of {', '.join(names)}")
        lines += [f"Wald protocol, all bands degraded x{evaluation['factor']}, degradation '{degradation}' "
                  f"(k = {block['k']}): '{method}' vs {' and '.join(REFERENCES)}",
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
    if "full_scale" in evaluation:
        lines.append("Full scale (real input): lattice ratio, high-pass std (DN), slope ratio, overshoot (DN), "
                     "consistency (DN), per group")
        for n, fs in evaluation["full_scale"].items():
            for group, m in fs["mean"].items():
                lines.append(f"  {n:10} {group:4} lattice {m['lattice_ratio']:7.2f}"
                             f"  highpass {m['highpass_std'] * 1e4:7.1f}"
                             f"  slope {m['slope_ratio']:6.3f}  overshoot {m['overshoot'] * 1e4:6.2f}"
                             f"  consistency {m['consistency'] * 1e4:6.1f}")
        r = evaluation["full_scale_real_image"]
        lines.append(f"  {'real image':10} 10m  {'':15}"
                     f"  highpass {r['highpass_std'] * 1e4:7.1f}  slope {r['slope_ratio']:6.3f}"
                     f"  overshoot {r['overshoot'] * 1e4:6.2f}"
                     f"  (the real 10 m bands against their own x{evaluation['factor']} degradation)")
    return "\n".join(lines)
