"""Worker processes that leave Ctrl-C to the process that started them.

A terminal's Ctrl-C (and ``timeout``, and a service manager's stop) signals a whole
process group, so the worker processes of an island run or a sweep get the signal too.

- SIGINT: each worker's first act (its pool's initializer) is to ignore it, as the
  forkserver (torch does not survive ``fork``) does itself. The parent alone acts on it:
  it stops after its current round and writes what was computed, and the workers end
  when it closes their pools. (Workers that raised ``KeyboardInterrupt`` mid-task used to
  cost an island run everything it had computed: the parent read it as a second
  interrupt.)
- SIGTERM ends a worker at once, as it is meant to: workers that outlived a parent
  killed outright would run on as orphans (and a pool terminates its workers with
  SIGTERM). (Not through ``SystemExit``: a pool's worker catches that from its task, sends
  it back as the task's error and lives on.) The parent, asking for the next round,
  meets one of :data:`WORKERS_LOST`; having been signalled too, it keeps what the rounds
  before computed. A sweep removes the staging folders of cells ended this way.

A worker still starting (before its initializer ran) dies of SIGINT as well: the same
rule covers it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import signal
from concurrent.futures.process import BrokenProcessPool

# what asking a dead forkserver or a killed worker for work raises
WORKERS_LOST = (BrokenProcessPool, BrokenPipeError, ConnectionError, EOFError)


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The context every worker pool starts its processes with."""
    return multiprocessing.get_context("forkserver")


def leave_interrupts_to_the_parent() -> None:
    """A worker's first act: Ctrl-C (SIGINT) is ignored from here on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
