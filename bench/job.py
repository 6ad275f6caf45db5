"""One whole super-resolution run in this process, with its resident memory sampled over time.

Prints one JSON line: seconds, peak RSS (MiB) and the RSS series [(seconds, MiB), ...].
Usage: python -m bench.job METHOD XMIN,YMIN,XMAX,YMAX OUT.tif [--tile N] [--steps N] [--store DIR]
(``--store``: the core.estimate.Throughput folder the run's time is estimated from and recorded in)
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("method")
    p.add_argument("extent")
    p.add_argument("output", type=Path)
    p.add_argument("--tile", type=int, default=288)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--bands", choices=("all", "10m"), default="all")
    p.add_argument("--store", type=Path)
    args = p.parse_args()

    from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
    from s2_superres.core.cli import sample_dir
    from s2_superres.core.estimate import Throughput
    from s2_superres.core.extent import parse_extent
    from s2_superres.core.tile import RunOptions
    from s2_superres.core.methods.registry import create_method
    from s2_superres.core.pipeline import superresolve
    from s2_superres.core.sources import open_product

    sample = sample_dir()
    bands = OUTPUT_BANDS if args.bands == "all" else GROUP_10
    product = open_product(sample)
    method = create_method(args.method, bands)
    series, done = [], threading.Event()
    start = time.perf_counter()

    def sample_rss():
        while not done.is_set():
            series.append((round(time.perf_counter() - start, 2), round(rss_mib(), 1)))
            done.wait(0.25)
    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    result = superresolve(product, method, args.output, extent=parse_extent(args.extent)[0], bands=bands,
                          options=RunOptions(steps=args.steps), tile=args.tile, overwrite=True,
                          confirmed=True,   # a benchmark of a chosen size
                          throughput=Throughput(args.store) if args.store else None)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    rows, cols = round(result.extent.height / 2.5), round(result.extent.width / 2.5)
    print(json.dumps({"method": args.method, "seconds": round(seconds, 2), "megapixels": round(rows * cols / 1e6, 3),
                      "peak_rss_mib": max(m for _, m in series), "tiles": result.tiles, "rss": series}))


if __name__ == "__main__":
    main()
