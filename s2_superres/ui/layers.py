"""Translate QGIS raster layers into the band mapping core understands.

A band source is (layer id, 1-based band index); core wants (file path, 1-based band index).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from qgis.core import QgsProject, QgsRasterLayer

from ..core.bands import normalise_band_id
from ..core.runtime import BAND_CHOICES  # noqa: F401 - re-exported for the dock
from ..qgis_layers import band_descriptions, layer_path  # noqa: F401 - re-exported for the dock and task


@dataclass(frozen=True)
class BandRef:
    """One band of one project layer."""

    layer_id: str
    index: int


def layer_band_ids(layer: QgsRasterLayer) -> list[str | None]:
    """The Sentinel-2 band id of each band of ``layer`` (None where it cannot be told).

    Band descriptions win; a single-band layer is also recognised by its file name or layer name.
    """
    path = layer_path(layer)
    if path is None:
        return [None] * layer.bandCount()
    ids = [normalise_band_id(d) if d else None for d in band_descriptions(path)]
    if len(ids) == 1 and ids[0] is None:
        ids[0] = normalise_band_id(os.path.basename(path)) or normalise_band_id(layer.name())
    return ids


def auto_map(layers: list[QgsRasterLayer]) -> dict[str, BandRef]:
    """Map band ids to layer bands; the first layer naming a band wins."""
    mapping: dict[str, BandRef] = {}
    for layer in layers:
        for index, band in enumerate(layer_band_ids(layer), start=1):
            if band and band not in mapping:
                mapping[band] = BandRef(layer.id(), index)
    return mapping


def to_core_band_map(mapping: dict[str, BandRef], project: QgsProject | None = None) -> dict[str, tuple[str, int]]:
    """{band: (file path, index)} for core.sources.open_product; layers without a file are skipped."""
    project = project or QgsProject.instance()
    out: dict[str, tuple[str, int]] = {}
    for band, ref in mapping.items():
        path = layer_path(project.mapLayer(ref.layer_id))
        if path:
            out[band] = (path, ref.index)
    return out


def raster_layers(project: QgsProject | None = None) -> list[QgsRasterLayer]:
    """The project's file-based raster layers: layer-tree order, then layers not (yet) in the tree."""
    project = project or QgsProject.instance()
    ordered = [node.layer() for node in project.layerTreeRoot().findLayers()]
    seen = {lyr.id() for lyr in ordered if lyr is not None}
    ordered += [lyr for lid, lyr in project.mapLayers().items() if lid not in seen]
    return [lyr for lyr in ordered if layer_path(lyr) is not None]
