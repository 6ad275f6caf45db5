"""The user guide inside QGIS, offline: ``help/user_guide.md`` (shipped in the plugin) in a text browser."""
from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtGui import QTextCursor
from qgis.PyQt.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

#: the user guide and its pictures, inside the plugin folder (so the zip carries them)
GUIDE = Path(__file__).resolve().parents[1] / "help" / "user_guide.md"


class HelpDialog(QDialog):
    """A non-modal window showing the user guide, scrolled to one of its sections."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Sentinel-2 super-resolution: user guide")
        self.resize(760, 640)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setSearchPaths([str(GUIDE.parent)])
        self.browser.setMarkdown(GUIDE.read_text(encoding="utf-8"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    def show_section(self, heading: str) -> bool:
        """Scroll so that the heading titled ``heading`` is at the top; False when there is none."""
        block = self.browser.document().begin()
        while block.isValid():
            if block.blockFormat().headingLevel() > 0 and block.text().strip() == heading:
                end = QTextCursor(self.browser.document())
                end.movePosition(QTextCursor.MoveOperation.End)
                self.browser.setTextCursor(end)              # from the end, scrolling up puts the heading on top
                self.browser.ensureCursorVisible()
                self.browser.setTextCursor(QTextCursor(block))
                self.browser.ensureCursorVisible()
                return True
            block = block.next()
        return False

    def top_heading(self) -> str:
        """The text of the block at the top of the visible area (what the user sees first)."""
        return self.browser.cursorForPosition(self.browser.viewport().rect().topLeft()).block().text()
