"""QGIS user interface of the plugin: dock, background task, comparison view, dependency installer.

Everything here only translates between QGIS objects and the QGIS-free ``core`` package.
"""
