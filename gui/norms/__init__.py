"""Pages of the Norms lab (gui/panels/norms_lab_panel.py)."""
