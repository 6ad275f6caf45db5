"""Processing algorithm 's2superres:superresolve': the same core pipeline as the dock."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessing, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingLayerPostProcessorInterface, QgsProcessingOutputRasterLayer,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum, QgsProcessingParameterExtent,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination)

from ..core.errors import Cancelled, UserError
from ..core.extent import Extent
from ..core.methods.base import RunOptions
from ..core.methods.registry import PRESETS
from ..ui.deps import default_preset, preset_availability
from ..ui.layers import BAND_CHOICES, layer_path
from ..ui.outputs import product_label

BAND_SETS = tuple(BAND_CHOICES.items())


class SuperResolveAlgorithm(QgsProcessingAlgorithm):
    """Super-resolve the bands of one Sentinel-2 product over an extent to a 2.5 m GeoTIFF."""

    INPUT, EXTENT, PRESET, STEPS, SEED, BANDS, UNCERTAINTY, TILE, OUTPUT, STD = (
        "INPUT", "EXTENT", "PRESET", "STEPS", "SEED", "BANDS", "UNCERTAINTY", "TILE", "OUTPUT", "UNCERTAINTY_OUTPUT")

    def createInstance(self) -> "SuperResolveAlgorithm":
        return SuperResolveAlgorithm()

    def name(self) -> str:
        return "superresolve"

    def displayName(self) -> str:
        return "Super-resolve Sentinel-2 extent"

    def shortHelpString(self) -> str:
        return ("Super-resolves a Sentinel-2 product to 2.5 m pixels.\n\n"
                "Input: one multi-band raster whose band descriptions name the bands (B02, B8A, ...), or the "
                "single-band rasters of one product whose file names end in the band id (…_B04.jp2).\n"
                "Extent: the area to process (any CRS; it is snapped outward to the 60 m grid). Empty = the "
                "whole product.\nPreset: 'fast', 'diffusion' (uses Steps, Seed and Uncertainty), 'bicubic' "
                "or 'hpf' (references without a model, always available: bicubic, and bicubic with HPF "
                "pansharpening of the 20 m and 60 m bands; the others need onnxruntime).\nOutput: float32 GeoTIFF of "
                "reflectance, one band per Sentinel-2 band, band descriptions = band ids, nodata NaN.")

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, "Sentinel-2 band layer(s) of one product", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterExtent(self.EXTENT, "Extent (empty = whole product)",
                                                       optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.PRESET, "Preset", options=list(PRESETS),
                                                     defaultValue=PRESETS.index(default_preset())))
        self.addParameter(QgsProcessingParameterNumber(self.STEPS, "Sampling steps (diffusion)",
                                                       QgsProcessingParameterNumber.Integer, 8, False, 1, 100))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed (diffusion)",
                                                       QgsProcessingParameterNumber.Integer, 0, False, 0))
        self.addParameter(QgsProcessingParameterEnum(self.BANDS, "Output bands",
                                                     options=[label for label, _ in BAND_SETS], defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.UNCERTAINTY, "Estimate uncertainty (diffusion: 4 samples, std written beside the output as *_std.tif)",
            defaultValue=False))
        self.addParameter(QgsProcessingParameterNumber(self.TILE, "Tile size (10 m pixels)",
                                                       QgsProcessingParameterNumber.Integer, 288, False, 48, 768))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Super-resolved (2.5 m)"))
        self.addOutput(QgsProcessingOutputRasterLayer(self.STD, "Uncertainty (std of the samples)"))

    def processAlgorithm(self, parameters, context, feedback):
        from ..core.methods.registry import create_method
        from ..core.pipeline import superresolve
        from ..core.sources import open_product
        paths = self._layer_paths(parameters, context)
        preset = PRESETS[self.parameterAsEnum(parameters, self.PRESET, context)]
        bands = BAND_SETS[self.parameterAsEnum(parameters, self.BANDS, context)][1]
        options = RunOptions(steps=self.parameterAsInt(parameters, self.STEPS, context),
                             seed=self.parameterAsInt(parameters, self.SEED, context),
                             samples=4 if self.parameterAsBoolean(parameters, self.UNCERTAINTY, context) else 1)
        output = Path(self.parameterAsOutputLayer(parameters, self.OUTPUT, context))
        why = preset_availability().get(preset)
        if why:
            raise QgsProcessingException(f"Preset '{preset}' is not available: {why}. Use 'bicubic'.")
        try:
            product = open_product(paths if len(paths) > 1 else paths[0])
            extent = self._extent(parameters, context, product.crs_wkt)
            method = create_method(preset, bands, providers=options.providers)
            feedback.pushInfo(f"{len(product.bands)} band(s) of {product_label(paths)} in {Path(paths[0]).parent}; "
                              f"preset {preset}.")
            result = superresolve(product, method, output, extent=extent, bands=bands, options=options,
                                  tile=self.parameterAsInt(parameters, self.TILE, context), overwrite=True,
                                  progress=lambda f: feedback.setProgress(100.0 * f),
                                  is_cancelled=feedback.isCanceled)
        except Cancelled:
            raise QgsProcessingException("Cancelled by the user; nothing was written.") from None
        except UserError as exc:
            raise QgsProcessingException(str(exc)) from None
        for note in result.notes:
            feedback.pushWarning(note)
        feedback.pushInfo(f"Wrote {result.output} ({result.tiles} tile(s), {result.seconds:.1f} s).")
        if context.willLoadLayerOnCompletion(str(result.output)):
            details = context.layerToLoadOnCompletionDetails(str(result.output))
            sources = [lyr.id() for lyr in self.parameterAsLayerList(parameters, self.INPUT, context)]
            details.setPostProcessor(TrueColour.create(sources, preset, product.offset))
        return {self.OUTPUT: str(result.output), self.STD: str(result.uncertainty) if result.uncertainty else None}

    def _layer_paths(self, parameters, context) -> list[str]:
        layers = self.parameterAsLayerList(parameters, self.INPUT, context)
        paths = [p for p in (layer_path(lyr) for lyr in layers) if p]
        if not paths:
            raise QgsProcessingException("No file-based raster layer given: pass the band files of one "
                                         "Sentinel-2 product, or one multi-band raster with band descriptions.")
        return paths

    def _extent(self, parameters, context, crs_wkt: str) -> Extent | None:
        if parameters.get(self.EXTENT) in (None, ""):
            return None
        rect = self.parameterAsExtent(parameters, self.EXTENT, context, QgsCoordinateReferenceSystem.fromWkt(crs_wkt))
        if rect.isNull() or rect.isEmpty():
            return None
        return Extent(rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())


class TrueColour(QgsProcessingLayerPostProcessorInterface):
    """Names and renders the loaded result like the dock: true colour with the source layers' stretch."""

    instance = None   # Processing does not keep a reference: keep the live one here

    @classmethod
    def create(cls, source_ids: list[str] | None = None, preset: str = "", offset: float = 0.0) -> "TrueColour":
        cls.instance = TrueColour()
        cls.instance.source_ids, cls.instance.preset, cls.instance.offset = list(source_ids or []), preset, offset
        return cls.instance

    def postProcessLayer(self, layer, context, feedback) -> None:  # QGIS API
        """Named and styled as the dock does it (ui.result_layer.style_like_dock)."""
        from ..ui.result_layer import style_like_dock
        if layer is not None:
            style_like_dock(layer, self.source_ids, self.preset, self.offset)
