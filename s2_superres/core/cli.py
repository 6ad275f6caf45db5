"""Command line: ``python -m s2_superres info | superresolve | batch | evaluate | demo``.

Bad input ends with exit code 2 and a one-paragraph message on stderr naming the problem and
the fix (add ``--debug`` for the traceback). Names and hrefs are printed with control characters escaped
(errors.printable): they may come from a document on the network. SIGINT, SIGTERM and SIGHUP stop a run
as Ctrl-C does: every temporary file is removed, one line says so, and the exit code is 128 + the signal's
number.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from osgeo import gdal

from .bands import GROUP_10, OUTPUT_BANDS, OUTPUT_RESOLUTION, PIXEL_SIZES, RESOLUTION, exact_pixel_size, pixel_label
from .errors import Cancelled, Interrupted, UserError, printable
from .extent import parse_extent, to_raster_crs
from .gdal_env import gdal_scope
from .pipeline import output_name, product_stem
from .remote import private_hosts
from .methods.registry import availability, check_pixel_size, create_method, default_method
from .runtime import providers_for
from .sources import open_product
from .tile import RunOptions
from .writer import STOP_SIGNALS

DEMO_EXTENT = "441000,4166000,444000,4169000"  # 3 x 3 km of the bundled sample (EPSG:32618): fields, marsh, coast


class ProgressBar:
    """A one-line progress bar on stderr (silent when stderr is not a terminal, except at the end)."""

    def __init__(self, label: str):
        self.label, self.start, self.tty = label, time.perf_counter(), sys.stderr.isatty()

    def __call__(self, fraction: float) -> None:
        if self.tty:
            filled = int(30 * fraction)
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} "
                             f"{time.perf_counter() - self.start:6.1f} s")
            sys.stderr.flush()

    def done(self) -> None:
        seconds = time.perf_counter() - self.start
        sys.stderr.write(("\n" if self.tty else "") + f"{self.label}: done in {seconds:.1f} s\n")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m s2_superres",
                                description="Super-resolve Sentinel-2 to 2.5 m (or another "
                                "pixel size from 10 m down to 2 m).")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    def inputs(sp):
        sp.add_argument("input", nargs="+", help="folder of band files, band files, multi-band raster, .SAFE folder or "
                        "zip, SENTINEL2 subdatasets (SENTINEL2_L2A:...:10m:EPSG_...), or a STAC item (file or URL)")
        sp.add_argument("--offset", type=float, help="DN offset to add before /10000 (default: from the product)")
        _allow_private_option(sp)

    info = sub.add_parser("info", help="list detected bands, grids, CRS, level, offset, date and methods")
    inputs(info)
    _with_option(info)
    sr = sub.add_parser("superresolve", help="write a 2.5 m GeoTIFF (or --pixel-size P)")
    inputs(sr)
    sr.add_argument("-o", "--output", type=Path,
                    help="the GeoTIFF to write (default: <product>_<method>_<P>m.tif in the current folder)")
    _with_option(sr)
    sr.add_argument("--date", help="target date YYYY-MM-DD (default: the date of INPUT); between two given dates "
                    "the output is synthesised, and its name and tags say so")
    sr.add_argument("--fill-clouds", action="store_true",
                    help="let the other dates fill the target's cloudy pixels (default: only sharpen)")
    _run_options(sr)
    sr.add_argument("--pixel-size", type=float, default=OUTPUT_RESOLUTION, metavar="P",
                    help="output pixel size in metres, 60 m / n for n = 6..30: "
                         f"{', '.join(pixel_label(p) for p in PIXEL_SIZES)} (default 2.5; spacetime and bicubic "
                         "make every size, fast, diffusion and hpf only 2.5)")
    bt = sub.add_parser("batch", help="super-resolve many products on a Dask cluster (LocalCluster by default)")
    bt.add_argument("input", nargs="+", help="products (as for superresolve), or folders of products")
    bt.add_argument("-o", "--output-dir", required=True, type=Path, help="one <product>_<method>_2.5m.tif each")
    bt.add_argument("--extent", help="XMIN,YMIN,XMAX,YMAX[,EPSG:CODE] for every product (default: each whole product)")
    _method_options(bt)
    bt.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                    help="gpu: tasks need the worker resource GPU (dask worker --resources GPU=1)")
    bt.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a LocalCluster)")
    bt.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster")
    bt.add_argument("--overwrite", action="store_true", help="redo products whose output exists")
    bt.add_argument("--log", type=Path, help="JSON run log (default: OUTPUT_DIR/batch_log.json)")
    ev = sub.add_parser("evaluate", help="Wald-protocol metrics of a method against bicubic and HPF")
    ev.add_argument("input", help="product (as for superresolve) or an .npz scene")
    _allow_private_option(ev)
    ev.add_argument("--method", default=None)
    ev.add_argument("--factor", type=int, default=4)
    ev.add_argument("--extent", help="XMIN,YMIN,XMAX,YMAX[,EPSG:CODE]")
    ev.add_argument("--steps", type=int, default=8)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--degradations", default="fitted,sharper,blurrier",
                    help="comma-separated degradations of the reduced-scale test (core.degrade.EVAL_K)")
    ev.add_argument("--full-scale", action="store_true",
                    help="also run on the real input and report lattice energy, high-frequency energy, edge "
                         "overshoot and consistency beside bicubic")
    ev.add_argument("--json", type=Path, help="also write the metrics here")
    demo = sub.add_parser("demo", help="super-resolve part of the bundled sample and write a comparison picture")
    demo.add_argument("--output-dir", type=Path, default=Path("out"))
    demo.add_argument("--method", default=None)
    demo.add_argument("--extent", default=DEMO_EXTENT)
    demo.add_argument("--sample", type=Path, default=None, help="folder of the sample (default: the bundled one)")
    return p


def _allow_private_option(sp) -> None:
    sp.add_argument("--allow-private-hosts", action="store_true",
                    help="let STAC items and their assets be read from loopback, private and link-local addresses "
                         "(a local catalogue); refused by default")


def _with_option(sp) -> None:
    sp.add_argument("--with", dest="others", nargs="+", action="extend", default=[], metavar="OTHER",
                    help="other acquisitions of the same tile, one path each (folder, SAFE, zip, multi-band raster, "
                         "STAC item); --offset applies to them too")


def _method_options(sp) -> None:
    """Options that ``superresolve`` and ``batch`` share: the method, its bands and sampling, the tiling, the type."""
    sp.add_argument("--method", default=None,
                    help="fast, diffusion, spacetime, bicubic or hpf (default: best available)")
    sp.add_argument("--bands", choices=("all", "10m"), default="all")
    sp.add_argument("--steps", type=int, default=8, help="diffusion sampling steps")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--tile", type=int, default=288,
                    help="tile (the unit of work) in 10 m pixels (rounded to a multiple of 128, or a power of two "
                         "below 128)")
    sp.add_argument("--overlap", type=int, default=12,
                    help="extra context around each tile in 10 m pixels (tiles are not blended)")
    sp.add_argument("--dtype", choices=("float32", "uint16"), default="float32")


def _run_options(sp) -> None:
    sp.add_argument("--extent", help="XMIN,YMIN,XMAX,YMAX[,EPSG:CODE] (default: the whole raster)")
    _method_options(sp)
    sp.add_argument("--samples", type=int, default=1, help="diffusion samples (>1 also writes a std layer)")
    sp.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    sp.add_argument("--overwrite", action="store_true")
    sp.add_argument("--max-minutes", type=float, default=None,
                    help="refuse runs estimated to take longer (and start any run within it)")
    sp.add_argument("-y", "--yes", action="store_true",
                    help="start a run estimated over 10 minutes, or with an extent far larger than the product, "
                         "without asking")
    sp.add_argument("--preview", type=Path, help="also write a side-by-side PNG here")


def _extent_arg(args) -> tuple:
    """(extent, its CRS) of --extent, or (None, None) without it."""
    return parse_extent(args.extent) if getattr(args, "extent", None) else (None, None)


def _open(args):
    """The product named on the command line; its notes (e.g. an unknown baseline, the granule chosen in a
    multi-granule product) go to stderr. ``--extent`` also chooses the granule of a multi-granule product."""
    box, crs = _extent_arg(args)
    product = open_product(args.input if len(args.input) > 1 else args.input[0], offset=args.offset,
                           extent=box, extent_crs=crs)
    for note in product.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    return product


def _open_others(args) -> list:
    """The products given with --with (one per date; --extent picks the granule of a multi-granule product),
    their notes on stderr."""
    box, crs = _extent_arg(args)
    others = []
    for path in args.others:
        other = open_product(path, offset=args.offset, extent=box, extent_crs=crs)
        for note in other.notes:
            print(f"note ({printable(path)}): {printable(note)}", file=sys.stderr)
        others.append(other)
    return others


def _target(args) -> dt.date | None:
    """The --date option as a date (None when not given)."""
    if not getattr(args, "date", None):
        return None
    try:
        return dt.date.fromisoformat(args.date.strip())
    except ValueError:
        raise UserError(f"--date '{args.date}' is not a date: write it as YYYY-MM-DD, e.g. 2024-06-02.") from None


def _stack(args, product, method):
    """The TimeStack of INPUT and the --with dates, or None for a single-date run (checked options)."""
    target = _target(args)
    if not args.others:
        if args.fill_clouds:
            raise UserError("--fill-clouds needs other dates of the tile: add them with --with OTHER ...")
        if target is not None and target != product.date:
            raise UserError(f"--date {target} is not the date of INPUT ({product.date or 'unknown'}); to synthesise "
                            "another date, give the acquisitions around it with --with OTHER ...")
        return None
    from .timestack import open_stack
    box, crs = _extent_arg(args)
    stack = open_stack(product, list(args.others), target, args.fill_clouds, method, args.offset, box, crs)
    for other in (p for p in stack.products if p is not product):
        for note in other.notes:
            print(f"note ({printable(other.source)}): {printable(note)}", file=sys.stderr)
    for note in stack.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    print(f"dates: {', '.join(d.isoformat() for d in stack.dates)}; target {stack.target} ({stack.kind}), bands "
          f"read from {stack.dates[stack.reference_index]}", file=sys.stderr)
    return stack


def cmd_info(args) -> int:
    product = _open(args)
    per_band = (" per band: " + ", ".join(f"{b} {v:g}" for b, v in sorted(product.band_offsets.items()))
                if product.band_offsets else "")
    print(f"source: {printable(product.source)}\nlevel: {product.level or 'unknown'}\n"
          f"processing baseline: {product.baseline or 'unknown'}\n"
          f"offset: {product.offset:g} DN ({printable(product.offset_origin)}){per_band}\n"
          f"quantification: {product.quantification:g} DN per unit reflectance\n"
          f"lattice origin: {product.lattice_origin()}\n"
          f"date: {product.date or 'unknown'}")
    from osgeo import osr
    srs = osr.SpatialReference(wkt=product.crs_wkt)
    print(f"crs: {srs.GetAuthorityName(None) or ''}:{srs.GetAuthorityCode(None) or ''} {printable(srs.GetName())}")
    print(f"{'band':5} {'native':>6} {'pixel':>6} {'size':>11}  file")
    for b, s in product.bands.items():
        print(f"{b:5} {RESOLUTION[b]:5d}m {s.pixel_size:5g}m {s.width:5d}x{s.height:<5d}  "
              f"{printable(s.path)}#{s.index}")
    missing = product.missing(OUTPUT_BANDS)
    print(f"missing for a 12-band output: {', '.join(missing) if missing else 'none'}")
    if args.others:
        print("dates:")
        for p in [product, *_open_others(args)]:
            print(f"  {p.date.isoformat() if p.date else 'unknown   '}  {printable(p.source)}")
    print("methods:")
    for name, why in availability().items():
        print(f"  {name:10} {'available' if why is None else 'unavailable: ' + why}")
    return 0


def throughput_store():
    """This machine's measured throughput (core.estimate.Throughput) in the user's cache folder."""
    from .estimate import Throughput
    return Throughput(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s2-superres")


def cmd_superresolve(args) -> dict:
    product = _open(args)
    extent = None
    if args.extent:
        box, crs = parse_extent(args.extent)
        extent = to_raster_crs(box, crs, product.crs_wkt)
    bands = OUTPUT_BANDS if args.bands == "all" else GROUP_10
    name = args.method or default_method()
    pixel_size = exact_pixel_size(args.pixel_size)
    check_pixel_size(name, pixel_size)   # before any model is loaded
    output = args.output or Path(output_name(product_stem(args.input[0]), name, pixel_size))
    options = RunOptions(steps=args.steps, seed=args.seed, samples=args.samples,
                         providers=providers_for(args.device), pixel_size=pixel_size,
                         fill_clouds=getattr(args, "fill_clouds", False))
    method = create_method(name, bands, providers=options.providers)
    stack = _stack(args, product, method)
    bar = ProgressBar(f"super-resolving ({name})")
    from .pipeline import superresolve
    result = superresolve(product, method, output, extent=extent, bands=bands, options=options,
                          tile=args.tile, overlap=args.overlap, dtype=args.dtype, overwrite=args.overwrite,
                          progress=bar, max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                          stack=stack, confirmed=args.yes, throughput=throughput_store())
    bar.done()
    for note in result.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    rows, cols = round(result.extent.height / pixel_size), round(result.extent.width / pixel_size)
    print(f"wrote {result.output}: {len(result.bands)} bands, {cols} x {rows} px at {pixel_label(pixel_size)} m, "
          f"{result.seconds:.1f} s")
    if result.uncertainty:
        print(f"wrote {result.uncertainty}: per-pixel std of {args.samples} samples (reflectance)")
    if getattr(args, "preview", None):
        from .preview import comparison_png
        print(f"wrote {comparison_png(stack.reference if stack else product, result.output, args.preview)}")
    return {"product": product, "result": result}


def cmd_batch(args) -> int:
    from .batch import run_batch
    bands = OUTPUT_BANDS if args.bands == "all" else GROUP_10
    options = RunOptions(steps=args.steps, seed=args.seed, providers=providers_for(args.device))
    result = run_batch(args.input, args.output_dir, method=args.method or default_method(), extent=args.extent,
                       bands=bands, options=options, tile=args.tile, overlap=args.overlap, dtype=args.dtype,
                       overwrite=args.overwrite, scheduler=args.scheduler, workers=args.workers,
                       gpu=args.device == "gpu", log_path=args.log)
    for run in result.products:
        detail = (f"{run.blocks_computed} blocks computed, {run.blocks_resumed} resumed, {run.seconds:.1f} s"
                  if run.status == "done" else run.message)
        print(f"{run.status:7} {run.output}: {detail}")
    print(f"wrote {result.log} ({len(result.products)} products, {result.workers} workers, {result.seconds:.1f} s)")
    return 0 if result.ok else 1


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate, format_table
    from .scene import load_scene
    extent = None
    if args.extent:
        box, crs = parse_extent(args.extent)
        extent = box if not crs else to_raster_crs(box, crs, open_product(args.input, extent=box,
                                                                           extent_crs=crs).crs_wkt)
    name = args.method or default_method()
    create_method(name)  # fail early with a clear message
    scene = load_scene(args.input, extent)
    degradations = tuple(d.strip() for d in args.degradations.split(",") if d.strip())
    from .degrade import EVAL_K
    unknown = [d for d in degradations if d not in EVAL_K]
    if unknown:
        raise UserError(f"Unknown degradation(s) {', '.join(unknown)}; choose from {', '.join(EVAL_K)}.")
    result = evaluate(scene, name, args.factor, RunOptions(steps=args.steps, seed=args.seed), degradations,
                      args.full_scale)
    result["input"] = str(args.input)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


#: the bundled sample (sample/README.md) in a source checkout; the plugin zip does not carry it
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample" / "T18SVG_20160112_L1C"


def sample_dir(folder: Path | None = None) -> Path:
    """Folder of the bundled sample: a CC0 Sentinel-2 L1C crop of tile T18SVG (sample/README.md)."""
    folder = folder or SAMPLE_DIR
    if not (folder / "s2_B02.tif").is_file():
        raise UserError(f"The sample is not at {folder}: it ships with the source repository (folder sample/), "
                        "not with the plugin zip. Run the demo from a checkout, or pass --sample FOLDER.")
    return folder


def cmd_demo(args) -> int:
    sample = sample_dir(args.sample)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    name = args.method or default_method()
    cmd_superresolve(_parser().parse_args([
        "superresolve", str(sample), "-o", str(args.output_dir / output_name("sample", name)), "--method", name,
        f"--extent={args.extent}", "--overwrite", "--preview", str(args.output_dir / f"sample_{name}_comparison.png")]))
    return 0


def _bind_extent(argv: list[str]) -> list[str]:
    """'--extent -75.7,37.6,...' would read as an option to argparse: bind the value as '--extent=...'."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--extent" and i + 1 < len(argv):
            out.append(f"--extent={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _gdal_messages(debug: bool):
    """A GDAL error handler for the command line: GDAL's own warnings (which may quote hrefs) only with --debug,
    escaped; failures reach the code as exceptions and are reported once, as the error paragraph."""
    def handler(level: int, number: int, message: str) -> None:
        if debug and level != gdal.CE_None:
            print(f"GDAL: {printable(message)}", file=sys.stderr)
    return handler


def _stop(signum: int, _frame) -> None:
    """Signal handler: the first stop signal raises Interrupted (the run cleans up as after Ctrl-C); later ones
    are ignored, so the clean-up itself is not interrupted."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_bind_extent(sys.argv[1:] if argv is None else argv))
    handler = {"info": cmd_info, "superresolve": cmd_superresolve, "batch": cmd_batch, "evaluate": cmd_evaluate,
               "demo": cmd_demo}
    gdal.PushErrorHandler(_gdal_messages(args.debug))
    main_thread = threading.current_thread() is threading.main_thread()   # handlers can only be set there
    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS} if main_thread else {}
    try:
        with gdal_scope(), private_hosts(getattr(args, "allow_private_hosts", False)):
            status = handler[args.command](args)
        return status if isinstance(status, int) else 0
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled: no output was written", file=sys.stderr)
        return 130
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"interrupted ({signal.Signals(signum).name}): no output was written", file=sys.stderr)
        return 128 + signum
    finally:
        gdal.PopErrorHandler()
        for s, h in previous.items():
            signal.signal(s, h)
