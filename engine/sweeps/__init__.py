"""Parameter sweeps: one base session, axes of values, one headless run per cell.

:mod:`engine.sweeps.spec` reads the sweep file, :mod:`engine.sweeps.axes` applies one
cell's values to the base session, :mod:`engine.sweeps.cells` expands the grid (or a
random sample of it), :mod:`engine.sweeps.run` runs the cells in worker processes and
:mod:`engine.sweeps.summary` writes ``sweep.csv``, ``sweep.json`` and the plots.
"""
