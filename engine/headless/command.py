"""``main.py run``: one session, headless, from the checks to the written folder.

The order is what keeps its promises: ``--out`` is checked (and its staging folder made)
before anything is read or computed; the session is validated and its memory estimated
before any work; interrupts stop the run between steps and the result so far is written;
the folder is swapped in whole at the end. Every refusal is one line on stderr naming
what is wrong, with exit status 2, and leaves ``--out`` as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engine.core.processes import WORKERS_LOST
from engine.data.session import Session, SessionError, load_session
from engine.headless.budget import check_memory
from engine.headless.interrupts import Interrupts
from engine.headless.output_folder import OutputFolder
from engine.headless.ray_cluster import RayUnavailable, ray_connection
from engine.headless.results import ROWS_SHOWN, PlotRenderer, RunOutput, write_outputs
from engine.headless.runner import run_session


@dataclass(frozen=True)
class RunOptions:
    out: str
    make_renderer: Callable[[], PlotRenderer] | None  # None: no plots
    quiet: bool = False
    max_memory: int | None = None  # bytes; None: what the machine has available
    all_rows: bool = False
    ray: str | None = None  # run an island evolution's islands on Ray (auto or an address)


def run_command(session_path: Path, options: RunOptions, stderr: TextIO = sys.stderr) -> int:
    """Run ``session_path`` into ``options.out``; returns the exit status."""
    with Interrupts() as interrupts:
        return _run(session_path, options, stderr, interrupts)


def _run(session_path: Path, options: RunOptions, stderr: TextIO,
         interrupts: Interrupts) -> int:
    folder: OutputFolder | None = None
    try:
        folder = OutputFolder.prepare(options.out)
        session = load_session(session_path)
        rows = None if options.all_rows else ROWS_SHOWN
        check_memory(session, session_path.parent, options.max_memory, rows)
        progress = _progress(stderr) if not options.quiet and stderr.isatty() else None
        with ExitStack() as on_ray:
            if options.ray is not None:
                check_runs_on_ray(session)
                on_ray.enter_context(ray_connection(options.ray))
            try:
                output = run_session(session, session_path.parent, progress,
                                     interrupts.requested, rows, ray=options.ray is not None)
            except WORKERS_LOST as error:  # only the run's own workers: not a write's pipe
                raise WorkersLost(error) from None
        with interrupts.deferred():  # the renderer imports Qt
            renderer = options.make_renderer() if options.make_renderer else None
        written = write_outputs(output, folder.staging, renderer)
        with interrupts.shielded():  # a swap half done would lose the old folder
            folder.commit()
    except SessionError as error:
        if folder is not None:
            folder.discard()
        print(f"error: {session_path}: {error}", file=stderr)
        return 2
    except RayUnavailable as error:
        if folder is not None:
            folder.discard()
        print(f"error: {session_path}: --ray: {error}", file=stderr)
        return 2
    except WorkersLost as lost:
        if folder is not None:
            folder.discard()
        if interrupts.requested():  # the group's signal reached them as they started
            print(f"error: {session_path}: interrupted by {interrupts.name()} before the "
                  "first generation; nothing was written", file=stderr)
            return interrupts.exit_status()
        print(f"error: {session_path}: a worker process stopped (killed from outside, or "
              f"out of memory): {type(lost.error).__name__}: {lost.error}; nothing was "
              "written", file=stderr)
        return 1
    except OSError as error:  # writing the staged files (a full disk, a removed folder)
        if folder is not None:
            folder.discard()
        print(f"error: {session_path}: --out: cannot write to {options.out}: "
              f"{error.strerror or error}", file=stderr)
        return 2
    except MemoryError:
        if folder is not None:
            folder.discard()
        print(f"error: {session_path}: ran out of memory (the estimate was too low); "
              "nothing was written", file=stderr)
        return 2
    except KeyboardInterrupt:
        if folder is not None:
            folder.discard()
        print(f"error: {session_path}: aborted by a second interrupt; nothing was written",
              file=stderr)
        return 130
    if interrupts.requested():
        print(_interrupted_line(interrupts, output, options.out, len(written)), file=stderr)
        return interrupts.exit_status()
    if not options.quiet:
        print(f"wrote {len(written)} files to {options.out}", file=stderr)
    return 0


class WorkersLost(Exception):
    """The run's worker processes were lost (:data:`engine.core.processes.WORKERS_LOST`)
    before it computed anything to keep."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def check_runs_on_ray(session: Session) -> None:
    """Refuse ``--ray`` for a session with nothing to run on Ray: only an island
    evolution's islands run there (a sweep's cells go to Ray with ``main.py sweep``)."""
    task = session.task
    if task.kind != "evolve" or task.islands < 2:
        what = f"a {task.kind} task" if task.kind != "evolve" else "one population"
        raise RayUnavailable(f"runs an island evolution's islands on Ray actors "
                             f"(task.islands > 1); this session is {what}")


def _interrupted_line(interrupts: Interrupts, output: RunOutput, out: str,
                      files: int) -> str:
    result = output.result
    if not result.get("interrupted"):
        return (f"{interrupts.name()} received while writing: the complete result was "
                f"written ({files} files in {out})")
    done = result.get("steps_done", result.get("generations_done"))
    unit = "steps" if "steps_done" in result else "generations"
    return (f"interrupted by {interrupts.name()} after {done} {unit}: the result so far "
            f"(\"interrupted\": true) is in {out}")


def _progress(stderr: TextIO) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            end = "\n" if done == total else ""
            print(f"\r{done}/{total}", end=end, file=stderr, flush=True)
    return show
