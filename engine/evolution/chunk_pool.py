"""Chunks of a population evaluated side by side, one single-threaded worker per core.

The evaluator works through a population in chunks of about 2 MB of activations. torch's
intra-op threads split each operation of a chunk (a 16 x 16 batched product, a gather)
between the cores, and at these sizes every operation then pays for waking the other
thread and waiting for it; numpy's tanh runs on one core only. Whole chunks on
single-threaded workers, one per core, keep every core on its own chunk instead: on the
benchmark's task on 2 cores, whole generations took 0.69-0.77x the time at N = 1 000 and 0.66x
at N = 10 000 (paired, interleaved runs). A population of one chunk (N = 100) gains
nothing from halves on two workers (measured 1.01x), so it is evaluated on the calling
thread.

One pool serves the process; it is made on first use with as many workers as the
calling thread's torch threads, and none where that is one (island worker processes and
Ray actors run one thread each: there the processes are the parallelism).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch


@dataclass
class _Batch:
    """One call's jobs: how many are left, the first error, and whether the caller gave
    up (its jobs not yet started are then skipped)."""

    left: int
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, error: BaseException | None) -> None:
        with self.lock:
            if error is not None and self.error is None:
                self.error = error
            self.left -= 1
            if self.left == 0:
                self.done.set()


class ChunkPool:
    """``workers`` daemon threads, each with one torch thread, that run jobs in turn."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[int], None], _Batch]] = \
            queue.SimpleQueue()
        for number in range(workers):
            process_wide: list[int] = []
            ready = threading.Event()
            threading.Thread(target=self._work, args=(number, ready, process_wide),
                             daemon=True, name=f"chunk-pool-{number}").start()
            ready.wait()
            # the worker's torch.set_num_threads(1) also set the count that threads
            # starting later take: give it back at once (a thread starting torch work in
            # between would take one thread)
            torch.set_num_threads(process_wide[0])

    def _work(self, number: int, ready: threading.Event, process_wide: list[int]) -> None:
        # torch sets up a thread's team size on first use, from the process-wide count:
        # make that happen now (reading that count), then make this thread's one
        process_wide.append(torch.get_num_threads())
        torch.set_num_threads(1)
        ready.set()
        while True:
            job, batch = self._jobs.get()
            if batch.cancelled:
                batch.finish(None)
                continue
            try:
                with torch.inference_mode():
                    job(number)
            except BaseException as error:  # handed to the caller, which raises it
                batch.finish(error)
            else:
                batch.finish(None)

    def run(self, jobs: Sequence[Callable[[int], None]]) -> None:
        """Run every job (each is given its worker's number) and return when all are done;
        the first error raised by any is raised here. Interrupted (Ctrl-C), the jobs not
        yet started are dropped and the running ones finished before the interrupt goes
        on, so that no worker is left computing for a caller that has gone."""
        if not jobs:
            return
        batch = _Batch(len(jobs))
        for job in jobs:
            self._jobs.put((job, batch))
        try:
            batch.done.wait()
        except BaseException:
            batch.cancelled = True
            batch.done.wait()
            raise
        if batch.error is not None:
            raise batch.error


_POOL: ChunkPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool() -> ChunkPool | None:
    """The process's pool, or None where the calling thread has one torch thread."""
    global _POOL
    if torch.get_num_threads() < 2:
        return None
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ChunkPool(torch.get_num_threads())
        return _POOL


def pieces(count: int, chunk: int) -> list[tuple[int, int]]:
    """(start, stop) of the pieces a population of ``count`` is evaluated in: as few
    chunks of at most ``chunk`` as will do, of equal sizes. The same whatever the thread
    count, so that a seed's history does not depend on it (a product's rounding can
    depend on its batch size)."""
    if count == 0:
        return []
    parts = -(-count // chunk)
    size = -(-count // parts)
    return [(start, min(start + size, count)) for start in range(0, count, size)]
