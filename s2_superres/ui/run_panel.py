"""The bottom of the dock, always visible: cost, reason, progress, and the buttons."""
from __future__ import annotations

from qgis.PyQt.QtWidgets import QFrame, QGridLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .widgets import wrapping_label

RUN_TEXT = "Super-resolve extent"


class RunPanel(QFrame):
    """Estimate, warning and reason labels, progress, and Run / Cancel / Compare / Swipe / Lens / Help."""

    LENS_TIP = ("Live lens: super-resolve (fast) a 480 m window around the cursor and show it in a magnifier "
                "beside the original")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.pixels_label = wrapping_label()
        self.estimate_label = wrapping_label()
        self.warning_label = wrapping_label(style="color: #b36b00; font-weight: bold;")
        self.reason_label = wrapping_label(style="color: #c0392b;")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setVisible(False)
        self.progress_bar.setToolTip("Progress of the running super-resolution")
        self.progress_label = wrapping_label()
        self.progress_label.setVisible(False)
        self.run_button = QPushButton(RUN_TEXT)
        self.run_button.setStyleSheet("font-weight: bold;")
        self.run_button.setToolTip("Super-resolve the extent to 2.5 m in the background")
        self.cancel_button = self._button("Cancel", "Stop the running super-resolution; nothing is written")
        self.compare_button = self._button("Compare…", "Side-by-side view of the last result and its source, "
                                           "with pixel spectra")
        self.swipe_button = self._button("Swipe", "Drag on the map to swipe the last result over the original "
                                         "true colour")
        self.swipe_button.setCheckable(True)
        self.lens_button = self._button("Lens", self.LENS_TIP)
        self.lens_button.setCheckable(True)
        self.help_button = self._button("Help", "Open the user guide (offline) at its section about the dock")
        self.help_button.setEnabled(True)
        for b in (self.cancel_button, self.compare_button, self.swipe_button):
            b.setEnabled(False)
        grid = QGridLayout()
        grid.setSpacing(4)
        grid.addWidget(self.run_button, 0, 0, 1, 3)
        for k, b in enumerate((self.cancel_button, self.compare_button, self.swipe_button, self.lens_button,
                               self.help_button)):
            grid.addWidget(b, 1 + k // 3, k % 3)
        for w in (self.pixels_label, self.estimate_label, self.warning_label, self.reason_label, self.progress_bar,
                  self.progress_label):
            layout.addWidget(w)
        layout.addLayout(grid)

    @staticmethod
    def _button(text: str, tooltip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tooltip)
        return button
