"""Chain Lab's export entries in every plot's context menu (PNG, SVG, CSV), and only
those: pyqtgraph's own "Export..." entry is taken out."""

from __future__ import annotations

import pyqtgraph as pg

from gui.export import export_plot, export_through_dialog

EXPORTS = (("Export PNG…", ".png"), ("Export SVG…", ".svg"), ("Export CSV…", ".csv"))


def install_export_menu(widget: pg.PlotWidget) -> None:
    """Add "Export PNG/SVG/CSV…" to the plot's context menu, and remove pyqtgraph's
    "Export..." (its SVG and Matplotlib choices fail with this Qt, on the terminal only).
    The scene appends its ``contextMenu`` actions to every item's menu (the view box's,
    the axes'), so emptying that list removes the entry everywhere in this plot."""
    widget.scene().contextMenu = []
    menu = widget.getPlotItem().getViewBox().menu
    menu.addSeparator()
    for label, suffix in EXPORTS:
        action = menu.addAction(label)
        action.triggered.connect(lambda _=False, s=suffix: ask_and_export(widget, s))


def ask_and_export(widget: pg.PlotWidget, suffix: str) -> None:
    name = getattr(widget, "export_name", "plot")
    export_through_dialog(widget, f"Export {name}", f"{name}{suffix}",
                          f"{suffix[1:].upper()} (*{suffix})",
                          lambda path: export_plot(widget, path), suffix)
