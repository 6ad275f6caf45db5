"""The batch's COG assembly (core.assemble, core.cog) run in-process, task by task: the file GDAL reads back
equals the blocks, validates as a COG with overviews equal to GDAL's AVERAGE overviews, and the disk used
beyond the output stays bounded while it is assembled."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

from s2_superres.core import cog
from s2_superres.core.assemble import (Assembly, blocks_of, build_overview, copy_row, core_path, encode_group, finish,
                                       groups, write_head)
from s2_superres.core.batch import save_block
from s2_superres.core.tiling import BLOCK, block_side, plan_tiles
from s2_superres.core.writer import OutputGrid, dress, encode_stored, gdal_type, validate_cog, write_cog

ROWS10, COLS10 = 324, 474          # 1296 x 1896 output pixels at 2.5 m: edge tiles of every level are partial
SCALE = Fraction(4)


def _grid(scale: Fraction = SCALE) -> OutputGrid:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32618)
    return OutputGrid(440000.0, 4172400.0, int(COLS10 * scale), int(ROWS10 * scale), srs.ExportToWkt(),
                      float(10 / scale), block_side(scale))


def _data(bands: int, scale: Fraction = SCALE) -> np.ndarray:
    """Reflectance-like float32 with noise (so it compresses little), negatives and a nodata hole."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:int(ROWS10 * scale), 0:int(COLS10 * scale)]
    data = np.stack([0.2 + 0.1 * np.sin(x / (30 + b)) * np.cos(y / 40) for b in range(bands)]).astype(np.float32)
    data += rng.normal(0, 0.02, data.shape).astype(np.float32)
    data[:, 100:700, 300:1100] = np.nan
    data[:, 5, 5] = -0.01
    return data


def _allocated(folder: Path) -> int:
    """Bytes the files under ``folder`` occupy on disk (sparse files count what is written)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def _assemble(tmp_path: Path, data: np.ndarray, dtype: str, tile: int, on_step, scale: Fraction = SCALE) -> Path:
    """Every assembly task of core.assemble, in the order Dask may run them; block files are written group
    by group just before their group is encoded (as the workers finish them). ``on_step`` after each step."""
    asm = _assembly(tmp_path, len(data), dtype, scale)
    asm.folder.mkdir()
    for specs in groups(plan_tiles(ROWS10, COLS10, tile, scale), scale):
        for s in specs:
            r0, r1, c0, c1 = (int(v * scale) for v in (s.row, s.row + s.rows, s.col, s.col + s.cols))
            core = data[:, r0:r1, c0:c1]
            save_block(core_path(asm.folder, s), core)
        on_step()
        encode_group(asm, specs)
        on_step()
    for level, size in enumerate(asm.levels[1:], start=1):
        rows, cols = cog.tile_grid(size, asm.block)
        for r in range(rows):
            for c in range(cols):
                build_overview(asm, level, r, c)
                on_step()
    on_step()
    return _write(tmp_path, asm)


def _assembly(tmp_path: Path, bands: int, dtype: str, scale: Fraction = SCALE) -> Assembly:
    return Assembly(str(tmp_path / ".out.work"), _grid(scale), tuple(f"B{i:02d}" for i in range(bands)), dtype, scale)


def _write(tmp_path: Path, asm: Assembly) -> Path:
    """The last tasks: header and IFDs, every row of chunks copied, validated and renamed."""
    places = write_head(asm, {"SR_METHOD": "test"})
    for level, size in enumerate(asm.levels):
        for r in range(cog.tile_grid(size, asm.block)[0]):
            copy_row(asm, level, r, places)
    output = tmp_path / "out.tif"
    finish(asm, str(output))
    assert not asm.folder.exists()
    return output


def _gdal_cog(tmp_path: Path, data: np.ndarray, dtype: str, scale: Fraction) -> Path:
    """The same raster through GDAL's COG driver (core.writer.write_cog)."""
    src = tmp_path / "src.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(src), data.shape[2], data.shape[1], len(data), gdal_type(dtype),
                                              ["TILED=YES"])
    dress(ds, _grid(scale), tuple(f"B{i:02d}" for i in range(len(data))), dtype, {})
    for i, band in enumerate(data):
        ds.GetRasterBand(i + 1).WriteArray(encode_stored(band, dtype))
    ds = None
    write_cog(src, tmp_path / "gdal.tif", dtype, block=block_side(scale))
    return tmp_path / "gdal.tif"


@pytest.mark.parametrize("dtype,tile,scale", [("float32", 256, SCALE), ("uint16", 64, SCALE),
                                              ("float32", 300, Fraction(10, 3))])   # 3 m: blocks of 480 px
def test_assembled_cog_equals_the_blocks_and_gdal_overviews(tmp_path, dtype, tile, scale):
    data = _data(3, scale)
    out = _assemble(tmp_path, data, dtype, tile, lambda: None, scale)
    assert validate_cog(out, block_side(scale)) == []
    ds, ref = gdal.Open(str(out)), gdal.Open(str(_gdal_cog(tmp_path, data, dtype, scale)))
    assert ds.GetRasterBand(1).GetBlockSize() == ref.GetRasterBand(1).GetBlockSize() == [block_side(scale)] * 2
    stored = np.stack([encode_stored(b, dtype) for b in data])
    np.testing.assert_array_equal(ds.ReadAsArray(), stored)
    assert ds.GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE") == "COG"
    assert ds.GetMetadataItem("SR_METHOD") == "test" and ds.GetRasterBand(2).GetDescription() == "B01"
    assert ds.GetGeoTransform() == ref.GetGeoTransform() and ds.GetProjection() == ref.GetProjection()
    assert ds.GetRasterBand(1).GetScale() == ref.GetRasterBand(1).GetScale()
    count = ds.GetRasterBand(1).GetOverviewCount()
    assert count == ref.GetRasterBand(1).GetOverviewCount() == 2
    for b in (1, 3):
        for i in range(count):
            mine = ds.GetRasterBand(b).GetOverview(i).ReadAsArray()
            np.testing.assert_allclose(mine, ref.GetRasterBand(b).GetOverview(i).ReadAsArray(), rtol=1e-6)


def test_bigtiff_layout_validates(tmp_path):
    """The BigTIFF layout (used above 4 GiB) is forced on a small raster: same pixels, still a valid COG."""
    data = _data(2)
    asm = Assembly(str(tmp_path / "w"), _grid(), ("B01", "B02"), "float32")
    asm.folder.mkdir()
    level = data
    for k, size in enumerate(asm.levels):
        if k:
            even = ((0, 0), (0, level.shape[1] % 2), (0, level.shape[2] % 2))
            level = cog.average_2x2(np.pad(level, even, constant_values=np.nan), "float32")
        rows, cols = cog.tile_grid(size)
        for r in range(rows):
            for c in range(cols):
                tile = level[:, r * BLOCK:(r + 1) * BLOCK, c * BLOCK:(c + 1) * BLOCK]
                cog.write_chunk(cog.chunk_path(asm.folder, k, r, c), cog.encode_tile(tile, "float32"))
    template = cog.template_tags(asm.grid.cols, asm.grid.rows, 2, gdal.GDT_Float32,
                                 lambda ds: dress(ds, asm.grid, asm.bands, "float32", {}))
    layout = cog.plan_layout(asm.folder, asm.levels, template, bigtiff=True)
    cog.write_head(asm.target, layout)
    cog.copy_chunks(asm.target, asm.folder, layout.places)
    assert asm.target.read_bytes()[:4] == b"II+\x00"
    assert validate_cog(asm.target) == []
    np.testing.assert_array_equal(gdal.Open(str(asm.target)).ReadAsArray(), data)


def test_assembly_disk_beyond_the_output_is_bounded(tmp_path, monkeypatch):
    """Disk in use (allocated bytes of the work folder and the output) is sampled after every task and at
    every chunk copied into the COG. Beyond the final file it never exceeds one group's block files, one
    sync interval and one chunk; keeping the block files or the chunks until the end would double it."""
    sync = 2**20
    monkeypatch.setattr(cog, "SYNC_BYTES", sync)
    peak = {"bytes": 0}

    def sample():
        peak["bytes"] = max(peak["bytes"], _allocated(tmp_path))

    pwrite = os.pwrite

    def pwrite_and_sample(fd, data, offset):
        sample()
        return pwrite(fd, data, offset)

    monkeypatch.setattr(cog.os, "pwrite", pwrite_and_sample)
    data = _data(2)
    out = _assemble(tmp_path, data, "float32", 128, sample)
    final = out.stat().st_size
    one_block = BLOCK * BLOCK * 2 * 4 + 65536          # a 512 x 512 block file or chunk, incompressible
    assert final > 6 * one_block + 3 * sync            # the bound below is far from the output's size
    assert peak["bytes"] <= final + 2 * one_block + sync + 65536, (peak, final)
    assert len(groups(plan_tiles(ROWS10, COLS10, 128))) == 12
    assert len(blocks_of(plan_tiles(ROWS10, COLS10, 256)[0])) == 4


def test_assembly_interrupted_while_copying_resumes(tmp_path, monkeypatch):
    """The process dies during the copy, after some chunks were copied, synced and removed: a re-run of the
    last tasks reads the layout, copies the chunks that are left and gives the same, valid COG."""
    monkeypatch.setattr(cog, "SYNC_BYTES", 1)
    pwrite, calls = os.pwrite, {"n": 0}

    def dies_at_the_tenth(fd, data, offset):
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError("simulated crash")
        return pwrite(fd, data, offset)

    monkeypatch.setattr(cog.os, "pwrite", dies_at_the_tenth)
    data = _data(2)
    with pytest.raises(OSError, match="simulated"):
        _assemble(tmp_path, data, "float32", 256, lambda: None)
    asm = _assembly(tmp_path, 2, "float32")
    left = len(list(asm.folder.glob("*.chunk")))
    assert asm.layout_path.exists()
    assert left == sum(t * u for t, u in (cog.tile_grid(s) for s in asm.levels)) - 9
    monkeypatch.setattr(cog.os, "pwrite", pwrite)
    out = _write(tmp_path, asm)
    assert validate_cog(out) == []
    np.testing.assert_array_equal(gdal.Open(str(out)).ReadAsArray(), data)
