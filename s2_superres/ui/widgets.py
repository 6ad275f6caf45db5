"""Small helpers for building compact widgets that fit a narrow dock."""
from __future__ import annotations

from qgis.PyQt.QtCore import QEvent, QObject, Qt
from qgis.PyQt.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QSizePolicy, QWidget


def compact_combo(tooltip: str, min_chars: int = 8) -> QComboBox:
    """A combo box that never widens its parent to fit its longest item (the popup still shows it whole)."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min_chars)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    combo.setToolTip(tooltip)
    return combo


def wrapping_label(text: str = "", style: str = "") -> QLabel:
    """A label that wraps instead of widening the dock."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    if style:
        label.setStyleSheet(style)
    return label


def check_state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def with_tooltip(widget: QWidget, tooltip: str) -> QWidget:
    widget.setToolTip(tooltip)
    return widget


class _WheelGuard(QObject):
    """Passes a wheel event on to the parents (the dock scrolls) unless the control has the focus."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()
            return True
        return False


def guard_wheel(root: QWidget) -> None:
    """The mouse wheel changes no combo box or spin box under ``root`` unless it has the focus (given by a click
    or Tab, never by the wheel): scrolling over them scrolls the dock."""
    guard = _WheelGuard(root)
    for widget in root.findChildren((QComboBox, QAbstractSpinBox)):
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(guard)
