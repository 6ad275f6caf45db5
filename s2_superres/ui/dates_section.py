"""The dock's Dates section: the project's Sentinel-2 layers grouped by acquisition date, which dates give
context, the target date (an observed one, or one in between: synthesised) and whether other dates fill clouds.

The dates are read by core (core.dates.source_date, through core.sources.open_product); this module only
groups the layers and shows them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Iterable

from qgis.core import QgsRasterLayer
from qgis.gui import QgsCollapsibleGroupBox
from qgis.PyQt.QtCore import QDate, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (QCheckBox, QDateEdit, QFormLayout, QPushButton, QTreeWidget, QTreeWidgetItem,
                                 QWidget)

from .layers import layer_path
from .widgets import check_state, wrapping_label

WARNING_STYLE = "color: #b36b00;"
NO_TARGET = "no dated layer"
NO_DATES = "No Sentinel-2 layer with a known acquisition date (e.g. '…_20240602_B04.tif')"
SYNTHESISED_TEXT = "synthesised — not an observation"
TARGET_TIP = ("The date the result shows: an observed date, or a date in between (synthesised from the dates "
              "around it: not an observation, only the four 10 m bands)")


@dataclass(frozen=True)
class DateGroup:
    """The project layers of one acquisition date and the files core opens for it."""

    date: dt.date
    layer_ids: tuple[str, ...]
    names: tuple[str, ...]
    sources: tuple[str, ...]      # file paths, what core.sources.open_product opens for this date


def group_by_date(layers: Iterable[QgsRasterLayer], date_of: Callable[[str], dt.date | None]) -> list[DateGroup]:
    """``layers`` with a file and a known date (``date_of(path)``), one group per date, in time order."""
    found: dict[dt.date, list[tuple[str, str, str]]] = {}
    for layer in layers:
        path = layer_path(layer)
        day = date_of(path) if path else None
        if day is not None and path:
            found.setdefault(day, []).append((layer.id(), layer.name(), path))
    return [DateGroup(day, tuple(i for i, _, _ in rows), tuple(n for _, n, _ in rows),
                      tuple(dict.fromkeys(p for _, _, p in rows)))
            for day, rows in sorted(found.items())]


def to_qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


class DatesSection(QgsCollapsibleGroupBox):
    """One checkable item per date (the input's date is the reference, always used), the target date limited
    to the observed range, 'Fill clouds from other dates', and why the section is greyed."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Dates", parent)
        self.setObjectName("S2DatesSection")
        self.groups: list[DateGroup] = []
        self.reference: dt.date | None = None
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.date_tree = QTreeWidget()
        self.date_tree.setHeaderHidden(True)
        self.date_tree.setMaximumHeight(130)
        self.date_tree.setToolTip("The Sentinel-2 layers of the project by acquisition date: check the other dates "
                                  "of the same tile to use them as context (spacetime preset)")
        self.target_edit = QDateEdit()
        self.target_edit.setCalendarPopup(True)
        self.target_edit.setDisplayFormat("yyyy-MM-dd")
        self.target_edit.setToolTip(TARGET_TIP)
        self.target_label = wrapping_label()
        self.fill_clouds_check = QCheckBox("Fill clouds from other dates")
        self.fill_clouds_check.setToolTip("Let the other dates fill the target's cloudy pixels (default: they only "
                                          "sharpen)")
        self.preset_note = wrapping_label(style=WARNING_STYLE)
        self.spacetime_button = QPushButton("Use the spacetime preset")
        self.spacetime_button.setToolTip("Several dates need the spacetime preset, the only one that uses them")
        form.addRow(self.date_tree)
        form.addRow("Target date", self.target_edit)
        form.addRow(self.target_label)
        form.addRow(self.fill_clouds_check)
        form.addRow(self.preset_note)
        form.addRow(self.spacetime_button)
        self.date_tree.itemChanged.connect(lambda _item, _col: self._on_dates_checked())
        self.target_edit.dateChanged.connect(lambda _d: self._on_target_changed())
        self.fill_clouds_check.toggled.connect(lambda _c: self.changed.emit())
        self.show_groups([], None)

    # -- contents ------------------------------------------------------------------------------
    def show_groups(self, groups: list[DateGroup], reference: dt.date | None) -> None:
        """List ``groups`` (the input's date ``reference`` checked and fixed); keeps the dates checked before
        and the target when it stays in range. Does nothing when nothing changed."""
        if groups == self.groups and reference == self.reference and self.date_tree.topLevelItemCount():
            return
        kept, target = set(self.context_dates()), self.target()
        self.groups, self.reference = groups, reference
        self.date_tree.blockSignals(True)
        self.date_tree.clear()
        for group in groups:
            self.date_tree.addTopLevelItem(self._item(group, group.date in kept))
        if not groups:
            self.date_tree.addTopLevelItem(QTreeWidgetItem([NO_DATES]))
        self.date_tree.blockSignals(False)
        self._update_target(target or reference)

    def _item(self, group: DateGroup, checked: bool) -> QTreeWidgetItem:
        is_ref = group.date == self.reference
        count = f"{len(group.layer_ids)} layer{'s' if len(group.layer_ids) > 1 else ''}"
        item = QTreeWidgetItem([f"{group.date.isoformat()} · {count}" + (" · input (reference)" if is_ref else "")])
        item.setData(0, Qt.ItemDataRole.UserRole, group.date.isoformat())
        item.setToolTip(0, "\n".join(group.sources))
        flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable
        item.setFlags(flags & ~Qt.ItemFlag.ItemIsEnabled if is_ref else flags)
        item.setCheckState(0, check_state(is_ref or checked))
        for name in group.names:
            item.addChild(QTreeWidgetItem([name]))
        return item

    # -- values --------------------------------------------------------------------------------
    def context_dates(self) -> list[dt.date]:
        """The other dates checked as context (not the reference)."""
        out = []
        for i in range(self.date_tree.topLevelItemCount()):
            item = self.date_tree.topLevelItem(i)
            day = item.data(0, Qt.ItemDataRole.UserRole)
            checked = item.checkState(0) == Qt.CheckState.Checked
            if day and checked and day != (self.reference and self.reference.isoformat()):
                out.append(dt.date.fromisoformat(day))
        return out

    def context_groups(self) -> list[DateGroup]:
        """The groups of the checked other dates."""
        chosen = set(self.context_dates())
        return [g for g in self.groups if g.date in chosen]

    def observed_dates(self) -> list[dt.date]:
        """The dates a run would use: the reference and the checked ones, in time order."""
        return sorted({*self.context_dates(), *([self.reference] if self.reference else [])})

    def target(self) -> dt.date | None:
        """The chosen target date (None without a reference)."""
        if self.reference is None or not self.target_edit.isEnabled():
            return self.reference
        return self.target_edit.date().toPyDate()

    def is_synthesised(self) -> bool:
        """Whether the target is between observed dates rather than one of them."""
        target = self.target()
        return target is not None and target not in self.observed_dates()

    def select_dates(self, dates: Iterable[dt.date]) -> None:
        """Check exactly ``dates`` among the other dates (as a user would)."""
        wanted = {d.isoformat() for d in dates}
        for i in range(self.date_tree.topLevelItemCount()):
            item = self.date_tree.topLevelItem(i)
            if item.flags() & Qt.ItemFlag.ItemIsEnabled and item.data(0, Qt.ItemDataRole.UserRole):
                item.setCheckState(0, check_state(item.data(0, Qt.ItemDataRole.UserRole) in wanted))

    def set_target(self, day: dt.date) -> None:
        self.target_edit.setDate(to_qdate(day))

    # -- state ---------------------------------------------------------------------------------
    def set_uses_dates(self, uses: bool, preset: str, spacetime_why: str | None) -> None:
        """Grey the date controls for a preset that does not use dates, and say why (with a button to switch
        to spacetime when it can run)."""
        for w in (self.date_tree, self.target_edit, self.fill_clouds_check):
            w.setEnabled(uses)
        if uses:
            self._update_target(self.target())
        else:
            self._show_kind()
        text = "" if uses else (f"The '{preset}' preset super-resolves one acquisition: the dates are used only by "
                                "the spacetime preset" + (f" (not available: {spacetime_why})." if spacetime_why
                                                          else "."))
        self.preset_note.setText(text)
        self.preset_note.setVisible(bool(text))
        self.spacetime_button.setVisible(not uses)
        self.spacetime_button.setEnabled(spacetime_why is None)

    def _on_dates_checked(self) -> None:
        self._update_target(self.target())
        self.changed.emit()

    def _on_target_changed(self) -> None:
        self._show_kind()
        self.changed.emit()

    def _update_target(self, target: dt.date | None) -> None:
        """Limit the target to the observed range (a single date: fixed) and show what it is."""
        dates = self.observed_dates()
        self.target_edit.blockSignals(True)
        self.target_edit.setSpecialValueText("" if dates else NO_TARGET)   # Qt shows it at the minimum date
        if dates:
            self.target_edit.setDateRange(to_qdate(dates[0]), to_qdate(dates[-1]))
            self.target_edit.setDate(to_qdate(min(max(target or dates[0], dates[0]), dates[-1])))
        else:
            self.target_edit.setDate(self.target_edit.minimumDate())
        self.target_edit.setEnabled(len(dates) > 1 and self.date_tree.isEnabled())
        self.target_edit.blockSignals(False)
        self.fill_clouds_check.setEnabled(len(dates) > 1 and self.date_tree.isEnabled())
        self._show_kind()

    def _show_kind(self) -> None:
        target = self.target()
        if target is None or not self.date_tree.isEnabled():
            self.target_label.setText("")
        elif self.is_synthesised():
            self.target_label.setText(f"{target.isoformat()}: {SYNTHESISED_TEXT}. The result has only the four "
                                      "10 m bands.")
        else:
            self.target_label.setText(f"{target.isoformat()}: observed.")

    def fill_clouds(self) -> bool:
        """Whether other dates fill the target's cloudy pixels (only with other dates checked)."""
        return self.fill_clouds_check.isChecked() and len(self.observed_dates()) > 1
