"""The Numbers lab's pages (assembled by gui/panels/numbers_panel.py)."""
