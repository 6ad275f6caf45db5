"""Small helpers for building compact widgets that fit a narrow dock."""
from __future__ import annotations

from qgis.PyQt.QtWidgets import QComboBox, QLabel, QSizePolicy, QWidget


def compact_combo(tooltip: str, min_chars: int = 8) -> QComboBox:
    """A combo box that never widens its parent to fit its longest item (the popup still shows it whole)."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min_chars)
    combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
    combo.setToolTip(tooltip)
    return combo


def wrapping_label(text: str = "", style: str = "") -> QLabel:
    """A label that wraps instead of widening the dock."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    if style:
        label.setStyleSheet(style)
    return label


def with_tooltip(widget: QWidget, tooltip: str) -> QWidget:
    widget.setToolTip(tooltip)
    return widget
