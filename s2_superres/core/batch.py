"""Many products (or whole tiles) on a Dask distributed cluster: the same blocks as the single-process run.

The unit of work is one tile of :func:`core.pipeline.plan_run` (a block-aligned core plus its read window
on the absolute lattice). A worker computes it with :func:`core.pipeline.process_tile`, exactly as the
single-process run does, and stores the core (float32 reflectance, NaN = nodata) as one small DEFLATE
GeoTIFF in a hidden work folder beside the output (``.<name>.work/``). A finished block file, or the COG
tiles made from it, is the record that the block is done: a re-run, or a task retried after its worker
died, skips it. The COG is assembled by more tasks on the workers (core.assemble, core.cog): each group of
finished blocks is encoded into the COG's 512 x 512 tiles as soon as it is complete (its block files are
then removed), overview tiles are averaged from the tiles below them, and the tiles are copied into the
COG's final layout. The client only submits tasks and waits. Nothing is ever written at the final path
before the COG is complete and validated; then the work folder is removed. The finished blocks are reused only for the
same job: the same options and the same input content (each input file's size, mtime and sha256); changed
inputs are computed again. One batch writes into an output folder at a time (``.s2_superres_batch.lock``).

Each worker process keeps one method (so one onnxruntime session per model) and one reader per product in
module-level caches, built on its first task. GPU tasks ask for the worker resource ``GPU``; start GPU
workers with ``dask worker ADDRESS --resources GPU=1``.

Inputs are anything :func:`core.sources.open_product` opens (a folder of band files, a multi-band GeoTIFF,
a ``.SAFE`` folder or zip), or folders holding such products; a STAC item becomes one more input kind once
``open_product`` reads it.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import resource
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from osgeo import gdal

from . import assemble
from .bands import OUTPUT_BANDS
from .claim import PathLock, remove_abandoned
from .coregister import GuideShifts
from .gdal_env import gdal_scope
from .errors import ExtentError, InputError, UserError
from .extent import parse_extent, to_raster_crs
from .tile import RunOptions
from .methods.registry import MODEL_CARDS, availability, create_method, preset_margin
from .onnx_model import MODELS_DIR, read_card
from .pipeline import output_name as pipeline_output_name
from .pipeline import (VERSION, Plan, groups_needed, input_files, output_grid, output_tags, plan_run,
                       process_tile, run_guide_shift)
from .reader import TileReader
from .sources import Product, open_product
from .tiling import TileSpec
from .writer import check_output_path

GPU = "GPU"   # the worker resource GPU tasks ask for
BATCH_LOCK = ".s2_superres_batch.lock"   # in the output folder while a batch writes there
BLOCK_OPTIONS = ["COMPRESS=DEFLATE", "ZLEVEL=1", "PREDICTOR=3"]   # block files: small, written once, read once


@dataclass(frozen=True)
class BlockJob:
    """What a worker needs to compute any block of one product (small: sent with every task)."""

    product: Product
    plan: Plan                   # without its tile list
    method: str
    bands: tuple[str, ...]
    options: RunOptions
    shift: GuideShifts | None
    work_dir: str

    def block_path(self, spec: TileSpec) -> Path:
        return assemble.core_path(self.work_dir, spec)


@dataclass
class ProductRun:
    """One product of a batch: where it goes and what happened to it (the run log's entries)."""

    input: str
    output: str
    status: str = "pending"      # pending | done | exists | skipped | failed
    message: str = ""
    blocks: int = 0
    blocks_resumed: int = 0      # found finished in the work folder
    blocks_computed: int = 0
    seconds: float = 0.0
    assemble_seconds: float = 0.0
    block_records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BatchResult:
    """A finished batch: one entry per product, and where the run log was written."""

    products: list[ProductRun]
    log: Path
    seconds: float
    scheduler: str
    workers: int

    @property
    def ok(self) -> bool:
        return all(p.status in ("done", "exists", "skipped") for p in self.products)


# ---------------------------------------------------------------- worker side

_METHODS: dict[tuple, Any] = {}
_METHOD_BUILDS = {"count": 0}   # how many methods this process has built (the log shows it per block)
_READERS: dict[tuple, TileReader] = {}   # least recently used first
MAX_READERS = 4
_CACHE_LOCK = threading.Lock()


def worker_method(name: str, bands: tuple[str, ...], providers: tuple[str, ...]):
    """This process's instance of method ``name``: built (models loaded) once per worker process."""
    key = (name, bands, providers)
    with _CACHE_LOCK:
        if key not in _METHODS:
            _METHODS[key] = create_method(name, bands, providers=list(providers))
            _METHOD_BUILDS["count"] += 1
        return _METHODS[key]


def _worker_reader(job: BlockJob) -> TileReader:
    """One reader per product and thread (GDAL datasets are not shared between threads); the least recently
    used is closed beyond MAX_READERS, so a long batch does not keep every product open."""
    key = (job.product.source, job.plan.data, job.bands, threading.get_ident())
    with _CACHE_LOCK:
        reader = _READERS.pop(key, None) or TileReader(job.product, job.plan.data, groups_needed(job.bands))
        _READERS[key] = reader
        while len(_READERS) > MAX_READERS:
            _READERS.pop(next(iter(_READERS))).close()
        return reader


@gdal_scope()
def method_facts(name: str, bands: tuple[str, ...], providers: tuple[str, ...], options: RunOptions) -> dict[str, Any]:
    """What the client needs to know of a method without loading its models itself (runs on a worker)."""
    method = worker_method(name, bands, providers)
    return {"describe": method.describe(options), "coregisters": method.coregisters}


@gdal_scope()
def compute_block(job: BlockJob, spec: TileSpec) -> dict[str, Any]:
    """Compute one block and store it in the work folder (atomically), unless it is there or was already
    encoded into the COG's tiles (a re-run, or Dask recomputing a lost result); returns its record for the log."""
    start = time.perf_counter()
    target = job.block_path(spec)
    if not (target.exists() or assemble.tile_encoded(job.work_dir, spec, job.plan.scale)):
        method = worker_method(job.method, job.bands, tuple(job.options.providers))
        _, _, data = process_tile(_worker_reader(job), method, job.options, job.plan, spec, job.bands, job.shift)
        save_block(target, data)
    return {"row": spec.row, "col": spec.col, "seconds": round(time.perf_counter() - start, 3),
            "worker_pid": os.getpid(), "worker_peak_rss_mib": round(peak_rss_mib(), 1),
            "worker_method_builds": _METHOD_BUILDS["count"]}


def save_block(path: Path, data: np.ndarray) -> None:
    """Write (bands, h, w) float32 to ``path`` under a temporary name, then rename (never half a file)."""
    temp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.tif")
    ds = gdal.GetDriverByName("GTiff").Create(str(temp), data.shape[2], data.shape[1], data.shape[0],
                                              gdal.GDT_Float32, BLOCK_OPTIONS)
    for i in range(data.shape[0]):
        ds.GetRasterBand(i + 1).WriteArray(data[i])
    ds = None
    os.replace(temp, path)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- client side

def find_products(inputs: list[str | os.PathLike], extent: str | None = None) -> list[str]:
    """The products among ``inputs``: each input is a product, or a folder whose entries are products;
    ``extent`` (as for :func:`run_batch`) chooses the granule of an old multi-granule product."""
    found: list[str] = []
    for item in inputs:
        item = str(item)
        try:
            _open(item, extent)
            found.append(item)
            continue
        except InputError as exc:
            error = exc
        children = sorted(os.path.join(item, c) for c in os.listdir(item)) if os.path.isdir(item) else []
        inner = []
        for child in children:
            if os.path.isdir(child) or child.lower().endswith((".zip", ".tif", ".tiff")):
                try:
                    _open(child, extent)
                    inner.append(child)
                except InputError:
                    pass
        if not inner:
            raise InputError(f"'{item}' is neither a product nor a folder of products ({error})") from None
        found.extend(inner)
    return found


def output_name(source: str, method: str) -> str:
    """'<product name>_<method>_2.5m.tif' for a product path."""
    base = Path(source.rstrip("/")).name
    for suffix in (".zip", ".SAFE", ".tif", ".tiff"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return pipeline_output_name(base, method)


def local_cluster(workers: int = 2, threads_per_worker: int = 1, gpu: bool = False):
    """A LocalCluster of worker *processes* that can import this package (also when it was loaded from a
    file location, as QGIS and the tests do)."""
    from distributed import LocalCluster
    return LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                        dashboard_address=None, preload=[_preload_source()],
                        resources={GPU: 1} if gpu else None)


def _preload_source() -> str:
    """Worker preload (the text of a script): register this package under the name the client uses."""
    name = __name__.split(".")[0]
    init = sys.modules[name].__file__
    return (f"import importlib.util, os, sys\nname, init = {name!r}, {init!r}\n"
            "if name not in sys.modules:\n"
            "    spec = importlib.util.spec_from_file_location(name, init, "
            "submodule_search_locations=[os.path.dirname(init)])\n"
            "    module = importlib.util.module_from_spec(spec)\n"
            "    sys.modules[name] = module\n"
            "    spec.loader.exec_module(module)\n")


@gdal_scope()
def run_batch(inputs: list[str | os.PathLike], output_dir: Path, *, method: str = "fast",
              extent: str | None = None, bands: tuple[str, ...] = OUTPUT_BANDS, options: RunOptions | None = None,
              tile: int = 288, overlap: int = 12, dtype: str = "float32", overwrite: bool = False,
              scheduler: str | None = None, workers: int = 2, gpu: bool = False, client=None,
              log_path: Path | None = None, progress_bar: bool | None = None) -> BatchResult:
    """Super-resolve every product of ``inputs`` into ``output_dir`` on a Dask cluster.

    ``extent`` is 'XMIN,YMIN,XMAX,YMAX[,EPSG:CODE]' for every product (None = each whole product);
    ``client`` an existing distributed Client, else ``scheduler`` an address, else a LocalCluster of
    ``workers`` processes. A product whose output exists is left alone unless ``overwrite``; one that
    the extent misses is skipped. The JSON run log goes to ``log_path`` (default ``output_dir/batch_log.json``).
    OutputError when another batch is writing into ``output_dir``."""
    start = time.perf_counter()
    options = options or RunOptions()
    if options.samples > 1:
        raise UserError("Batch runs draw one sample: drop --samples (use 'superresolve' for an uncertainty layer).")
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise InputError(f"Output folder '{output_dir}' does not exist. Create it first.")
    _check_available(method)
    with PathLock(output_dir, "batch", lock=output_dir / BATCH_LOCK):
        remove_abandoned(output_dir)
        runs = _prepare(find_products(inputs, extent), output_dir, method, extent, overwrite)
        log_path = Path(log_path) if log_path else output_dir / "batch_log.json"
        address, n_workers = "none (nothing to do)", 0
        if any(run.status == "pending" for run in runs):
            address, n_workers = _run_on_cluster(client, scheduler, workers, gpu, runs, method, extent, bands,
                                                 options, tile, overlap, dtype, overwrite,
                                                 sys.stderr.isatty() if progress_bar is None else progress_bar)
        result = BatchResult(runs, log_path, time.perf_counter() - start, address, n_workers)
        write_log(result, method, options)
    return result


def _run_on_cluster(client, scheduler: str | None, workers: int, gpu: bool, runs: list[ProductRun],
                    *args) -> tuple[str, int]:
    """Run the pending products on ``client``, or on a cluster made for the run (``args`` as for
    :func:`_run_products`); returns (scheduler address, number of workers)."""
    own = None
    if client is None:
        from distributed import Client
        own = client = Client(scheduler) if scheduler else Client(local_cluster(workers, gpu=gpu))
    try:
        info = client.scheduler_info()
        address, n_workers = info.get("address", str(scheduler)), len(info.get("workers", {}))
        _run_products(client, runs, *args, gpu=gpu)
    finally:
        if own is not None:
            cluster = own.cluster
            own.close()
            if cluster is not None:
                cluster.close()
    return address, n_workers


def _check_available(method: str) -> None:
    reason = availability().get(method, f"unknown method '{method}'")
    if reason:
        raise UserError(f"Method '{method}' is not available: {reason}.")


def _prepare(products: list[str], output_dir: Path, method: str, extent: str | None,
             overwrite: bool) -> list[ProductRun]:
    runs: list[ProductRun] = []
    names: set[str] = set()
    for source in products:
        name = output_name(source, method)
        if name in names:
            name = f"{Path(name).stem}_{len(names)}.tif"
        names.add(name)
        out = output_dir / name
        run = ProductRun(source, str(out))
        if out.exists() and not overwrite:
            run.status, run.message = "exists", "the output exists (use --overwrite to redo it)"
        else:
            check_output_path(out, overwrite)
        runs.append(run)
    if extent:
        parse_extent(extent)   # a bad extent fails before any work
    return runs


def _run_products(client, runs: list[ProductRun], method: str, extent: str | None, bands: tuple[str, ...],
                  options: RunOptions, tile: int, overlap: int, dtype: str, overwrite: bool, progress_bar: bool,
                  *, gpu: bool) -> None:
    resources = {GPU: 1} if gpu else None
    providers = tuple(options.providers)
    facts = client.submit(method_facts, method, bands, providers, options, resources=resources, pure=False).result()
    pending = []
    for run in runs:
        if run.status != "pending":
            continue
        try:
            job, tiles = _plan_product(run, method, extent, bands, options, tile, overlap, dtype,
                                       facts["coregisters"])
        except ExtentError as exc:
            run.status, run.message = "skipped", str(exc)
            continue
        asm = _assembly(job, dtype)
        todo = [s for specs in assemble.groups(tiles, job.plan.scale) if not assemble.group_encoded(asm, specs)
                for s in specs if not job.block_path(s).exists()]
        run.blocks, run.blocks_resumed = len(tiles), len(tiles) - len(todo)
        stem = f"{Path(run.output).stem}-{uuid.uuid4().hex[:6]}"
        futures = {s: client.submit(compute_block, job, s, key=f"block-{stem}-{s.row}-{s.col}", resources=resources,
                                    retries=2, pure=False) for s in todo}
        tags = output_tags(job.product, facts["describe"], options, dataclasses.replace(job.plan, tiles=tiles), dtype,
                           job.shift)
        done = assemble.submit(client, asm, tiles, futures, tags, run.output, stem, resources)
        pending.append((run, list(futures.values()), done, time.perf_counter()))
    if progress_bar and pending:
        from distributed import progress
        progress([f for _, blocks, done, _ in pending for f in blocks + [done]])
    for run, blocks, done, started in pending:
        try:
            run.block_records = client.gather(blocks)
            run.blocks_computed = len(blocks)
            t0 = time.perf_counter()
            done.result()
            run.assemble_seconds = round(time.perf_counter() - t0, 3)   # the part not overlapped with blocks
            run.status = "done"
        except Exception as exc:  # a product fails alone; its finished blocks and tiles stay for a re-run
            run.status, run.message = "failed", f"{type(exc).__name__}: {exc}"
        run.seconds = round(time.perf_counter() - started, 3)


def _assembly(job: BlockJob, dtype: str) -> assemble.Assembly:
    """The COG assembly of a product's blocks (core.assemble)."""
    return assemble.Assembly(job.work_dir, output_grid(job.plan, job.product.crs_wkt), job.bands, dtype, job.plan.scale)


def _open(source: str, extent: str | None) -> Product:
    """``source`` opened as a product; ``extent`` picks the granule of a multi-granule product."""
    if not extent:
        return open_product(source)
    box, crs = parse_extent(extent)
    return open_product(source, extent=box, extent_crs=crs)


def _plan_product(run: ProductRun, method: str, extent: str | None, bands: tuple[str, ...], options: RunOptions,
                  tile: int, overlap: int, dtype: str, coregisters: bool) -> tuple[BlockJob, list[TileSpec]]:
    product = _open(run.input, extent)
    box = None
    if extent:
        e, crs = parse_extent(extent)
        box = to_raster_crs(e, crs, product.crs_wkt)
    plan = plan_run(product, box, bands, preset_margin(method, bands), tile, overlap, options.pixel_size)
    reader = TileReader(product, plan.data, groups_needed(bands))
    try:
        shift = run_guide_shift(reader, plan, coregisters)
    finally:
        reader.close()
    work = Path(run.output).with_name(f".{Path(run.output).stem}.work")
    _open_work_dir(work, _fingerprint(product, plan, method, bands, options, shift) | {"dtype": dtype})
    job = BlockJob(product, dataclasses.replace(plan, tiles=[]), method, bands, options, shift, str(work))
    return job, plan.tiles


def _fingerprint(product: Product, plan: Plan, method: str, bands: tuple[str, ...], options: RunOptions,
                 shift: GuideShifts | None) -> dict[str, Any]:
    """Everything a block's pixels depend on, the input files' content included: blocks of another fingerprint
    are not reused."""
    models = {c: read_card(MODELS_DIR / f"{c}.json")["sha256"] for c in MODEL_CARDS.get(method, ())}
    return {"software": VERSION, "source": product.source, "inputs": [file_identity(f) for f in input_files(product)],
            "offset": product.offset, "method": method,
            "models": models, "bands": list(bands), "steps": options.steps, "seed": options.seed,
            "consistency": options.consistency, "extent": dataclasses.astuple(plan.extent),
            "tile": plan.tiles[0].rows, "margin": plan.margin, "shift": None if shift is None else shift.describe(),
            "pixel_size": plan.pixel_size}


def file_identity(path: Path) -> list:
    """[path, size (bytes), modification time (ns), sha256 of the content]: what tells a changed input file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            digest.update(chunk)
    st = os.stat(path)
    return [str(path), st.st_size, st.st_mtime_ns, digest.hexdigest()]


def _open_work_dir(work: Path, fingerprint: dict[str, Any]) -> None:
    """Create the work folder, or keep the blocks of an interrupted run of the same job."""
    stamp = work / "job.json"
    text = json.dumps(fingerprint, sort_keys=True)
    if work.is_dir() and (not stamp.is_file() or stamp.read_text() != text):
        shutil.rmtree(work)
    work.mkdir(exist_ok=True)
    if not stamp.is_file():
        stamp.write_text(text)


def write_log(result: BatchResult, method: str, options: RunOptions) -> None:
    """The JSON run log: the run, then one entry per product with its block records."""
    log = {"software": f"s2-superres {VERSION}",
           "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "scheduler": result.scheduler, "workers": result.workers, "method": method,
           "steps": options.steps, "seed": options.seed, "seconds": round(result.seconds, 3),
           "products": [dataclasses.asdict(p) for p in result.products]}
    temp = result.log.with_name(f".{result.log.name}.tmp")
    temp.write_text(json.dumps(log, indent=1))
    os.replace(temp, result.log)
