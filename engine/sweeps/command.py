"""``main.py sweep SWEEP.json --out DIR [--workers N] [--ray auto|ADDRESS]``: expand, run,
summarise.

``DIR/runs/<id>/`` holds each cell's ``session.json`` (runnable alone with ``main.py
run``) and its usual outputs; ``DIR/sweep.csv``, ``DIR/sweep.json`` and the plots
summarise the cells that finished. The cells run in local worker processes, or with
``--ray`` as Ray tasks (:mod:`engine.sweeps.ray_runner`), where ``--workers`` caps how
many are in flight. Exit status: 0 when every cell succeeded, 1 when some failed, 2 for a
bad sweep file, ``--out``, ``--workers`` or ``--ray`` (one line on stderr naming the
field; nothing written), 128 + the signal's number (130, 143) when interrupted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engine.headless.interrupts import Interrupts
from engine.headless.results import PlotRenderer
from engine.sweeps.axes import SweepError
from engine.sweeps.cells import expand, shared_runs_notice
from engine.sweeps.ray_runner import ray_connection, run_cells_on_ray
from engine.sweeps.run import default_workers, run_cells
from engine.sweeps.spec import load_sweep
from engine.sweeps.summary import (
    holds_other_sweep,
    other_sweep_notice,
    summary_rows,
    write_plots,
    write_summary,
)


@dataclass(frozen=True)
class SweepOptions:
    out: str
    workers: int | None = None  # None: os.cpu_count()
    make_renderer: Callable[[], PlotRenderer] | None = None  # None: no plots
    quiet: bool = False
    ray: str | None = None  # "auto" or a cluster's address; None: local processes


def sweep_command(sweep_path: Path, options: SweepOptions, stderr: TextIO = sys.stderr) -> int:
    """Run the sweep file ``sweep_path`` into ``options.out``; returns the exit status."""
    with ExitStack() as ray_session:
        try:
            out = check_out(options.out)
            if options.workers is not None and options.workers < 1:
                raise SweepError("--workers", f"must be at least 1, got {options.workers}")
            sweep = load_sweep(sweep_path)
            cells = expand(sweep)
            if options.ray is not None:
                ray_session.enter_context(ray_connection(options.ray))
            make_out(out)  # only once the sweep file (and Ray) are known good
        except SweepError as error:
            print(f"error: {sweep_path}: {error}", file=stderr)
            return 2
        axes = list(sweep.spec.axes)
        if not options.quiet and holds_other_sweep(out, sweep.raw):
            print(other_sweep_notice(out), file=stderr)
        if not options.quiet and (shared := shared_runs_notice(cells)):
            print(f"note: {shared}", file=stderr)
        with Interrupts() as interrupts:
            progress = _progress(stderr) if not options.quiet and stderr.isatty() else None
            if options.ray is not None:
                result = run_cells_on_ray(cells, out / "runs", sweep.base_dir,
                                          options.workers, interrupts, progress)
            else:
                result = run_cells(cells, out / "runs", sweep.base_dir,
                                   options.workers or default_workers(), interrupts, progress)
            rows = summary_rows(cells, result.outcomes)
            try:
                with interrupts.shielded():
                    write_summary(out, axes, rows, sweep.raw)
                if options.make_renderer is not None and not result.interrupted:
                    with interrupts.deferred():  # the renderer imports Qt
                        write_plots(out, axes, rows, options.make_renderer())
            except OSError as error:  # a full disk, a folder made read-only meanwhile
                print(f"error: {sweep_path}: --out: cannot write the summary to {out}: "
                      f"{error.strerror or error}; the finished cells are kept in "
                      f"{out / 'runs'}: run the sweep again to write it", file=stderr)
                return 2
    failed = sum(row["status"] != "ok" for row in rows)
    if not options.quiet:
        if result.skipped:
            print(f"{result.skipped} of {len(cells)} cells already done, skipped", file=stderr)
        print(f"{len(rows) - failed} of {len(cells)} cells ok, {failed} failed; summary in "
              f"{out / 'sweep.csv'}", file=stderr)
    if result.interrupted:
        print(f"interrupted by {interrupts.name()}: {len(rows)} of {len(cells)} cells "
              f"finished and kept in {out}", file=stderr)
        return interrupts.exit_status()
    return 1 if failed else 0


def check_out(out: str) -> Path:
    """``--out``: new, empty, or a sweep's folder (a rerun resumes it). Makes nothing.

    Raises
    ------
    SweepError
        With the path ``--out``.
    """
    if not out.strip():
        raise SweepError("--out", "the path is empty")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise SweepError("--out", f"{out} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "runs").is_dir() \
            and not (folder / "sweep.json").is_file():
        raise SweepError("--out", f"{out} is a folder that a sweep did not write (no runs/ "
                         "or sweep.json): choose a new or empty folder")
    return folder


def make_out(folder: Path) -> None:
    """Make ``folder/runs``; raises SweepError (``--out``) when that fails."""
    try:
        (folder / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError("--out", f"cannot write to {folder}: {error.strerror or error}") \
            from None


def _progress(stderr: TextIO) -> Callable[[int, int], None]:
    start = time.monotonic()

    def show(done: int, total: int) -> None:
        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done) if done else 0.0
        end = "\n" if done == total else ""
        print(f"\r{done}/{total} cells, ETA {eta:.0f} s ", end=end, file=stderr, flush=True)
    return show
