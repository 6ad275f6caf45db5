"""Which methods exist, which can run here, and how to build one.

Presets: "fast" (single-pass SR + fusion nets, the default), "diffusion" (diffusion SR of the
10 m bands + fusion nets), "spacetime" (the stliif model: any pixel size, several dates; core.methods.spacetime),
and two references without a model, always available: "bicubic" and "hpf" (bicubic 10 m bands,
HPF-pansharpened 20 m and 60 m bands: the classical baseline). A preset
whose model files are missing or broken is listed with the reason instead of failing later.
"""
from __future__ import annotations

from pathlib import Path

from ..bands import OUTPUT_BANDS, OUTPUT_RESOLUTION, exact_pixel_size, pixel_label
from ..errors import UserError
from ..onnx_model import MODELS_DIR
from .base import Method
from .bicubic import HPF, Bicubic
from .composite import COMPOSITE_PIXEL_SIZES

PRESETS = ("fast", "diffusion", "spacetime", "bicubic", "hpf")   # the order in which a default is chosen
CLASSICAL = {"bicubic": Bicubic, "hpf": HPF}  # no model files
DATES_PRESETS = ("spacetime",)   # the presets that use several dates of a tile (``Method.uses_dates``)
MODEL_CARDS = {"fast": ("sr10", "fusion20", "fusion60"), "diffusion": ("sr10", "fusion20", "fusion60"),
               "spacetime": ("stliif_encoder", "stliif_decoder", "fusion20", "fusion60")}


def availability(models_dir: Path = MODELS_DIR) -> dict[str, str | None]:
    """Map each preset to None when it can run, or to the reason it cannot."""
    out: dict[str, str | None] = {}
    for name in PRESETS:
        missing = [c for c in MODEL_CARDS.get(name, ()) if not (models_dir / f"{c}.json").is_file()]
        out[name] = f"model card(s) {', '.join(missing)} not found in {models_dir}" if missing else None
    return out


def uses_dates(name: str) -> bool:
    """Whether preset ``name`` uses several dates of a tile, known without loading its models."""
    return name in DATES_PRESETS


def default_method(models_dir: Path = MODELS_DIR) -> str:
    """The best preset that can run here."""
    return next(n for n, why in availability(models_dir).items() if why is None)


def preset_margin(name: str, bands: tuple[str, ...] = OUTPUT_BANDS) -> int:
    """Context (10 m pixels) preset ``name`` reads around each tile, known without loading its models."""
    if name in CLASSICAL:
        return CLASSICAL[name](bands).margin
    if name == "spacetime":
        from .spacetime import SpaceTime
        return SpaceTime.margin
    from .composite import composite_margin
    return composite_margin(name, bands)


#: output pixel sizes (metres) each preset makes, None = any of core.bands.PIXEL_SIZES: the ``pixel_sizes`` of the
#: methods create_method builds (tests/test_pixel_size.py checks they agree), known without loading a model
PRESET_PIXEL_SIZES: dict[str, tuple[float, ...] | None] = {
    "fast": COMPOSITE_PIXEL_SIZES, "diffusion": COMPOSITE_PIXEL_SIZES, "bicubic": Bicubic.pixel_sizes,
    "hpf": HPF.pixel_sizes, "spacetime": None}


def preset_pixel_sizes(name: str) -> tuple[float, ...] | None:
    """Output pixel sizes (metres) preset ``name`` can make, None = any of core.bands.PIXEL_SIZES; known without
    loading its models (the dock greys the others). A preset not listed makes 2.5 m only."""
    return PRESET_PIXEL_SIZES.get(name, (OUTPUT_RESOLUTION,))


def makes_pixel_size(sizes: tuple[float, ...] | None, pixel_size: float) -> bool:
    """True when a method with ``pixel_sizes`` = ``sizes`` makes ``pixel_size`` metres (sizes match to 1e-6 m)."""
    return sizes is None or any(abs(p - pixel_size) < 1e-6 for p in sizes)


def presets_for_pixel_size(pixel_size: float) -> tuple[str, ...]:
    """The presets that can make ``pixel_size`` metres."""
    return tuple(n for n in PRESETS if makes_pixel_size(preset_pixel_sizes(n), pixel_size))


def check_pixel_size(name: str, pixel_size: float, sizes: tuple[float, ...] | None = None) -> None:
    """Refuse (UserError, before any work) ``pixel_size`` metres for preset ``name`` when it is not a valid size or
    not one the preset makes (``sizes``: its pixel_sizes; default: :func:`preset_pixel_sizes`); the message names
    the presets that make it."""
    size = exact_pixel_size(pixel_size)
    sizes = preset_pixel_sizes(name) if sizes is None and name in PRESETS else sizes
    if makes_pixel_size(sizes, size):
        return
    made = ", ".join(f"{pixel_label(p)} m" for p in sizes or ())
    others = presets_for_pixel_size(size)
    raise UserError(f"Method '{name}' makes only {made} pixels, not {pixel_label(size)} m. Presets that make "
                    f"{pixel_label(size)} m pixels: {', '.join(others) or 'none'}. Choose one of them "
                    f"(--method {others[0] if others else 'bicubic'}), or keep '{name}' at {made} (--pixel-size).")


def create_method(name: str, bands: tuple[str, ...] = OUTPUT_BANDS, models_dir: Path = MODELS_DIR,
                  providers: list[str] | None = None) -> Method:
    """Build preset ``name`` for the given output bands; raises UserError naming the fix."""
    reason = availability(models_dir).get(name, f"unknown method '{name}' (choose from {', '.join(PRESETS)})")
    if reason:
        raise UserError(f"Method '{name}' is not available: {reason}. Use --method bicubic, or restore the "
                        "models/ folder of the plugin.")
    if name in CLASSICAL:
        return CLASSICAL[name](bands)
    if name == "spacetime":
        from .spacetime import SpaceTime
        return SpaceTime(bands, models_dir, providers)
    from .composite import build_composite  # onnxruntime is imported only when a model is used
    return build_composite(name, bands, models_dir, providers)
