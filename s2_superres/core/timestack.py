"""Several acquisitions of one MGRS tile: check them, order them, register them, read them per tile.

:func:`build_stack` takes the products (one per date) and the target date, and returns a
:class:`TimeStack`: the products in time order, the reference product (the target date when it was
observed, else the nearest date), and each date's offset from the reference (core.registration),
measured once per run on a central window. ``TimeStack.read(box)`` gives a tile's ``DateStack``
(core.tile): every date's 10 m bands on the reference's 10 m grid, registered, with where each date
sees the ground (core.clouds) and its distance in days from the target.

A target strictly between two observed dates is *synthesised*: the output is not an observation,
and its file name (``_synthesised_YYYY-MM-DD``) and tags (``SR_TARGET_KIND``) say so.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from osgeo import osr

from .bands import GROUP_10
from .clouds import clear_mask, data_mask, dates_clear, read_scl, scl_clear
from .errors import InputError
from .extent import Extent, snap_inward
from .reader import TileReader
from .registration import Offset, measure, register
from .sources import Product, tile_in_name
from .tile import DateStack

if TYPE_CHECKING:
    from .methods.base import Method

OBSERVED, SYNTHESISED = "observed", "synthesised"
REGISTRATION_WINDOW = 512   # side (10 m pixels) of the central window the offsets are measured on
CLEAR_AFTER_SHIFT = 0.99    # a shifted clear mask keeps pixels whose interpolated value reaches this


@dataclass
class TimeStack:
    """The dates of a run, in time order, and how they sit on the reference's grid.

    ``offsets[i]`` is where date i's content lies relative to the reference, in 10 m pixels (rows,
    columns; core.registration); the reference's is zero. ``notes`` tell the user what was not measured.
    """

    products: list[Product]
    dates: list[dt.date]
    target: dt.date
    kind: str                    # OBSERVED or SYNTHESISED
    reference_index: int
    offsets: list[Offset]
    fill_clouds: bool = False
    notes: list[str] = field(default_factory=list)
    _readers: dict[int, TileReader] = field(default_factory=dict, repr=False)

    @property
    def reference(self) -> Product:
        """The product the run reads its own bands from (the target date, or the date nearest to it)."""
        return self.products[self.reference_index]

    def days(self) -> np.ndarray:
        """(D,) float32 days of each date from the target (negative = before)."""
        return np.array([(d - self.target).days for d in self.dates], np.float32)

    def read(self, box: Extent) -> DateStack:
        """Every date's 10 m bands over ``box`` (metres, on the reference's 60 m lattice), registered onto the
        reference grid, with their clear masks and days from the target."""
        planes, valid, scl = zip(*(self._read_date(i, box) for i in range(len(self.products))))
        b10 = np.stack(planes).astype(np.float32)
        return DateStack(b10, dates_clear(b10, np.stack(valid), list(scl)), self.days())

    def tags(self) -> dict[str, str]:
        """SR_* tags describing the dates of the run."""
        if self.kind == OBSERVED:
            kind = OBSERVED
        else:
            before, after = self.neighbours()
            kind = f"{SYNTHESISED} (interpolated between {before} and {after}, not an observation)"
        registration = "; ".join(
            f"{d.isoformat()}: {'reference' if i == self.reference_index else o.describe()}"
            + ("" if i == self.reference_index or o.trusted else " (not applied)")
            for i, (d, o) in enumerate(zip(self.dates, self.offsets)))
        return {"SR_DATES": ", ".join(d.isoformat() for d in self.dates),
                "SR_TARGET_DATE": self.target.isoformat(), "SR_TARGET_KIND": kind,
                "SR_REFERENCE_DATE": self.dates[self.reference_index].isoformat(),
                "SR_REGISTRATION": registration, "SR_FILL_CLOUDS": "yes" if self.fill_clouds else "no"}

    def neighbours(self) -> tuple[dt.date, dt.date]:
        """The last observed date on or before the target and the first on or after it."""
        return max(d for d in self.dates if d <= self.target), min(d for d in self.dates if d >= self.target)

    def output_path(self, path: Path) -> Path:
        """``path``, with ``_synthesised_YYYY-MM-DD`` before the suffix for a synthesised target."""
        path = Path(path)
        tag = f"_synthesised_{self.target.isoformat()}"
        if self.kind != SYNTHESISED or path.stem.endswith(tag):
            return path
        return path.with_name(f"{path.stem}{tag}{path.suffix}")

    def close(self) -> None:
        """Close the GDAL datasets the stack keeps open."""
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def reader(self, i: int) -> TileReader:
        """The 10 m reader of date ``i`` (opened once, kept)."""
        if i not in self._readers:
            self._readers[i] = TileReader(self.products[i], data_area(self.products[i]), (10,))
        return self._readers[i]

    def _read_date(self, i: int, box: Extent) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Date ``i`` over ``box`` on the reference grid: its registered 10 m bands (4, h, w), where it has data
        (h, w), and its SCL clear mask (h, w; None without SCL)."""
        product, offset = self.products[i], self.offsets[i]
        b10, valid = read_bands(self.reader(i), box)
        scl = scl_clear(read_scl(product.scl, box)) & valid if product.scl else None
        if i == self.reference_index or not offset.trusted or not (offset.dy or offset.dx):
            return b10, valid, scl
        return (register(b10, offset), register_mask(valid, offset),
                None if scl is None else register_mask(scl, offset))


def register_mask(mask: np.ndarray, offset: Offset) -> np.ndarray:
    """A bool mask moved like the bands (core.registration.register), True only where it stays fully True."""
    return register(mask.astype(np.float32), offset) >= CLEAR_AFTER_SHIFT


def data_area(product: Product) -> Extent:
    """Where all four 10 m bands of ``product`` have data, shrunk to its 60 m lattice (metres)."""
    area = snap_inward(Extent(*product.data_bounds(GROUP_10)), product.lattice_origin())
    if area is None:
        raise InputError(f"The 10 m bands of '{product.source}' do not cover one 60 m cell.")
    return area


def read_bands(reader: TileReader, box: Extent) -> tuple[np.ndarray, np.ndarray]:
    """(4, h, w) reflectance over ``box`` (nodata and ground outside the product filled) and (h, w) True where
    all four bands have data inside the product's data area."""
    cols, rows = box.pixels(10)
    inner = box.intersect(reader.data)
    if inner is None:
        fill = reader.fill_values(10)[:, None, None]
        return np.broadcast_to(fill, (4, rows, cols)).astype(np.float32), np.zeros((rows, cols), bool)
    tile, masks = reader.read(box)
    top, left = round((box.ymax - inner.ymax) / 10), round((inner.xmin - box.xmin) / 10)
    h, w = round(inner.height / 10), round(inner.width / 10)
    inside = np.zeros((rows, cols), bool)
    inside[top:top + h, left:left + w] = True
    return tile.b10, data_mask(tile.b10, masks[10]) & inside


def read_date(product: Product, reader: TileReader, box: Extent) -> tuple[np.ndarray, np.ndarray]:
    """(4, h, w) reflectance over ``box`` and the date's own (h, w) clear mask (core.clouds.clear_mask, one date
    alone), False outside its data area."""
    b10, valid = read_bands(reader, box)
    return b10, valid & clear_mask(product, box, b10)


def build_stack(products: list[Product], target: dt.date | None = None, fill_clouds: bool = False) -> TimeStack:
    """Check that ``products`` are acquisitions of one tile on distinct, known dates, order them, choose the
    reference for ``target`` (default: the first product's date) and measure each date's offset from it.

    Raises InputError naming the fix when the inputs are not one tile, a date is unknown or repeated, or the
    target lies outside the observed dates."""
    if not products:
        raise InputError("No product given.")
    check_same_tile(products)
    check_dates(products)
    first_date = products[0].date
    assert first_date is not None  # checked above
    target = target or first_date
    ordered = sorted(products, key=lambda p: p.date or dt.date.min)
    dates = [p.date for p in ordered if p.date is not None]
    kind, ref = choose_reference(dates, target)
    stack = TimeStack(ordered, dates, target, kind, ref, [Offset()] * len(ordered), fill_clouds)
    stack.offsets = measure_offsets(stack)
    return stack


def open_stack(product: Product, others: list[str | list[str]], target: dt.date | None, fill_clouds: bool,
               method: Method, offset: float | None = None, extent: Extent | None = None,
               extent_crs: str | None = None) -> TimeStack:
    """The TimeStack of ``product`` and the products at ``others`` (one path, URI or list of band files per
    date, opened by core.sources.open_product with ``offset``; ``extent`` in ``extent_crs`` picks the granule
    of a multi-granule product), as every path builds it (command line, Processing, dock).

    Refuses (InputError) a ``method`` that does not use dates before any other date is opened. The other
    products' own notes stay on them (``stack.products``)."""
    from .pipeline import check_uses_dates
    from .sources import open_product
    check_uses_dates(method)
    opened = [open_product(o, offset=offset, extent=extent, extent_crs=extent_crs) for o in others]
    return build_stack([product, *opened], target, fill_clouds)


def check_same_tile(products: list[Product]) -> None:
    """Refuse products in different CRSs, named after different MGRS tiles, or whose 10 m bands do not overlap."""
    first = products[0]
    ref_srs = osr.SpatialReference(wkt=first.crs_wkt)
    ref_area = data_area(first)
    ref_tile = _tile_of(first)
    for p in products[1:]:
        srs = osr.SpatialReference(wkt=p.crs_wkt)
        if not srs.IsSame(ref_srs):
            raise InputError(f"The inputs are not the same tile: '{first.source}' is in {ref_srs.GetName()}, "
                             f"'{p.source}' in {srs.GetName()}. Give acquisitions of one Sentinel-2 tile (one MGRS "
                             "tile, one UTM zone), not reprojected.")
        tile = _tile_of(p)
        if ref_tile and tile and tile != ref_tile:
            raise InputError(f"The inputs are not the same tile: '{first.source}' is tile {ref_tile}, '{p.source}' "
                             f"is tile {tile}. Give acquisitions of one MGRS tile.")
        area = data_area(p)
        if area.intersect(ref_area) is None:
            raise InputError(f"The inputs are not the same tile: '{p.source}' ({_fmt(area)}) does not overlap "
                             f"'{first.source}' ({_fmt(ref_area)}, metres). Give acquisitions of the same ground.")


def check_dates(products: list[Product]) -> None:
    """Refuse products whose acquisition date is unknown, or two products of one date."""
    seen: dict[dt.date, Product] = {}
    for p in products:
        if p.date is None:
            raise InputError(f"The acquisition date of '{p.source}' is unknown: no product metadata, STAC item, date "
                             "tag or date in the name states it. Give the product as delivered (SAFE folder, zip, "
                             "STAC item) or put the date in the file name (e.g. '..._20240602.tif').")
        if p.date in seen:
            raise InputError(f"'{seen[p.date].source}' and '{p.source}' are both dated {p.date.isoformat()}: give each "
                             "acquisition once (one product per date).")
        seen[p.date] = p


def choose_reference(dates: list[dt.date], target: dt.date) -> tuple[str, int]:
    """(kind, index of the reference date) for ``target`` among the sorted ``dates``; nearest date for a
    synthesised target (the earlier one on a tie)."""
    if target in dates:
        return OBSERVED, dates.index(target)
    if not dates[0] < target < dates[-1]:
        raise InputError(f"The target date {target.isoformat()} lies outside the observed dates "
                         f"({dates[0].isoformat()} to {dates[-1].isoformat()}). A date between two acquisitions can "
                         "be synthesised, none before the first or after the last: choose a target date in that "
                         "range, or add an acquisition beyond it.")
    return SYNTHESISED, min(range(len(dates)), key=lambda i: (abs((dates[i] - target).days), dates[i]))


def measure_offsets(stack: TimeStack) -> list[Offset]:
    """Each date's offset from the reference on the central window of the reference's data area (mean of the
    10 m bands, where both dates are clear); untrusted measurements are kept, not applied, and noted."""
    box = central_window(data_area(stack.reference))
    ref_b10, ref_clear = read_date(stack.reference, stack.reader(stack.reference_index), box)
    ref_img = ref_b10.mean(axis=0)
    offsets = []
    for i, product in enumerate(stack.products):
        if i == stack.reference_index:
            offsets.append(Offset(0.0, 0.0, 1.0))
            continue
        b10, clear = read_date(product, stack.reader(i), box)
        offset = measure(ref_img, b10.mean(axis=0), ref_clear & clear)
        if not offset.trusted:
            stack.notes.append(f"The offset of {stack.dates[i].isoformat()} from {stack.dates[stack.reference_index]} "
                               "could not be measured (too few clear pixels in common, or too little detail); that "
                               "date is used as it is.")
        offsets.append(offset)
    return offsets


def central_window(area: Extent, side: int = REGISTRATION_WINDOW) -> Extent:
    """The central ``side`` x ``side`` 10 m-pixel window of ``area`` (all of it when smaller), kept on its
    60 m lattice."""
    cells = side // 6
    cols60, rows60 = area.pixels(60)
    c0, r0 = max(0, (cols60 - cells) // 2), max(0, (rows60 - cells) // 2)
    return Extent(area.xmin + c0 * 60, area.ymax - (r0 + min(cells, rows60)) * 60,
                  area.xmin + (c0 + min(cells, cols60)) * 60, area.ymax - r0 * 60)


def _tile_of(product: Product) -> str | None:
    return tile_in_name(product.source.split(";")[0])


def _fmt(e: Extent) -> str:
    return f"{e.xmin:.0f}, {e.ymin:.0f}, {e.xmax:.0f}, {e.ymax:.0f}"
