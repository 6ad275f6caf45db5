"""QGIS plugin entry point: Sentinel-2 super-resolution to 2.5 m."""


def classFactory(iface):
    from .plugin import SuperResolutionPlugin
    return SuperResolutionPlugin(iface)
