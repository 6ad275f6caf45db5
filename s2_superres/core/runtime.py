"""What this installation can run, for every front end (dock, Processing, CLI): no Qt, no QGIS.

The network presets need onnxruntime, which a stock QGIS does not ship (ui.deps installs it).
"""
from __future__ import annotations

import importlib.util

from .bands import GROUP_10, OUTPUT_BANDS

#: what a run can produce, as offered in the dock and the Processing algorithm
BAND_CHOICES = {"All 12 bands": OUTPUT_BANDS, "Four 10 m bands (B02, B03, B04, B08)": GROUP_10}
#: the onnxruntime execution providers of each device choice (CPU is always the fallback)
DEVICES = {"auto": ["CUDAExecutionProvider", "CPUExecutionProvider"], "cpu": ["CPUExecutionProvider"],
           "gpu": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def providers_for(device: str) -> list[str]:
    """onnxruntime execution providers for device 'auto', 'cpu' or 'gpu'."""
    return list(DEVICES[device])


def is_importable(name: str) -> bool:
    """True when ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def preset_availability() -> dict[str, str | None]:
    """core's preset availability (None = available, else why not), plus: the network presets need onnxruntime."""
    from .methods.registry import CLASSICAL, availability
    out = dict(availability())
    if not is_importable("onnxruntime"):
        for name, why in out.items():
            if name not in CLASSICAL and why is None:
                out[name] = ("onnxruntime is not installed (Plugins ▸ Sentinel-2 super-resolution ▸ "
                             "Install dependencies…)")
    return out


def default_preset() -> str:
    """The best preset that can run here (core's order), bicubic at worst."""
    return next((name for name, why in preset_availability().items() if why is None), "bicubic")
