"""Menus from actions: an action that calls a function, and a menu bar laid out from actions.

The window owns every action (and what they call); this module only makes and places them, so it
knows neither the window nor the session.
"""
from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

MenuItem = QAction | QMenu | None  # None: a separator


def make_action(parent: QObject, text: str, slot: Callable[[], object],
                shortcut: QKeySequence.StandardKey | str | None = None) -> QAction:
    """A QAction labelled ``text`` that calls ``slot()`` when triggered (Qt's checked flag dropped)."""
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def build_menu_bar(bar: QMenuBar, menus: Sequence[tuple[str, Sequence[MenuItem]]]) -> dict[str, QMenu]:
    """Add one menu per (title, items) to ``bar``, items in order; returns the menus by title."""
    built = {}
    for title, items in menus:
        menu = bar.addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
            elif isinstance(item, QMenu):
                menu.addMenu(item)
            else:
                menu.addAction(item)
        built[title] = menu
    return built
