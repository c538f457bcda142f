"""The pool that evaluates a population's pieces side by side on single-threaded workers."""

from __future__ import annotations

import threading

import pytest
import torch

from engine.evolution import chunk_pool, population
from engine.evolution.chunk_pool import ChunkPool, pieces, shared_pool
from tests.engine.test_evolution import setup


@pytest.mark.parametrize(("count", "chunk"), [
    (0, 8), (1, 8), (7, 8), (8, 8), (9, 8), (100, 7), (1000, 128), (129, 128)])
def test_pieces_cover_the_population_once_in_few_even_chunks(count: int, chunk: int) -> None:
    spans = pieces(count, chunk)
    covered = [index for start, stop in spans for index in range(start, stop)]
    assert covered == list(range(count))
    sizes = [stop - start for start, stop in spans]
    assert all(0 < size <= chunk for size in sizes)
    assert len(spans) == -(-count // chunk)
    assert not sizes or max(sizes) - min(sizes) <= len(sizes)  # as even as they can be


def test_workers_run_one_torch_thread_and_leave_the_count_of_others_alone() -> None:
    before = torch.get_num_threads()
    pool = ChunkPool(2)
    seen: dict[int, int] = {}

    def job(worker: int) -> None:
        seen[worker] = torch.get_num_threads()

    pool.run([job] * 6)
    assert set(seen.values()) == {1}
    assert torch.get_num_threads() == before
    # a thread starting now takes the process's count, not the workers' one
    later: list[int] = []
    thread = threading.Thread(target=lambda: later.append(
        (torch.ones(1 << 16).add_(1), torch.get_num_threads())[1]))
    thread.start()
    thread.join()
    assert later == [before]


def test_a_jobs_error_reaches_the_caller_and_the_pool_goes_on() -> None:
    pool = ChunkPool(2)
    done: list[int] = []

    def fails(worker: int) -> None:
        raise ValueError("a bad piece")

    with pytest.raises(ValueError, match="a bad piece"):
        pool.run([lambda worker: done.append(1), fails, lambda worker: done.append(2)])
    assert sorted(done) == [1, 2]  # the other jobs still ran
    pool.run([lambda worker: done.append(3)])
    assert done[-1] == 3


def test_no_pool_where_the_caller_has_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunk_pool, "_POOL", None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert shared_pool() is None
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("count", [5, 41, 300])
def test_pooled_losses_equal_the_calling_threads(count: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The same pieces give the same losses on the pool's workers and on the calling
    thread (as in a one-thread island worker process), codes and float weights alike."""
    _, evaluator = setup(samples=64)
    evaluator.chunk = 40
    codes = torch.randint(0, 16, (count, evaluator.layout.size), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(count))
    weights = torch.randn(count, evaluator.layout.size, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(count))
    pool = ChunkPool(2)
    ran: list[int] = []
    real_run = pool.run
    monkeypatch.setattr(pool, "run", lambda jobs: (ran.append(len(jobs)), real_run(jobs)))
    monkeypatch.setattr(population, "shared_pool", lambda: pool)
    pooled = evaluator.losses(codes), evaluator.losses_from_weights(weights)
    pieces_each = -(-count // evaluator.chunk)
    assert ran == ([pieces_each] * 2 if pieces_each > 1 else [])  # one piece: no pool
    monkeypatch.setattr(population, "shared_pool", lambda: None)
    inline = evaluator.losses(codes), evaluator.losses_from_weights(weights)
    for got, expected in zip(pooled, inline, strict=True):
        assert torch.equal(got, expected)
    single = torch.stack([evaluator.losses(codes[row:row + 1])[0] for row in range(count)])
    torch.testing.assert_close(pooled[0], single, rtol=1e-13, atol=0)


def test_an_interrupted_call_drops_the_jobs_not_started(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the caller waits: the running job finishes, the queued ones are
    skipped, and the interrupt reaches the caller; the pool then works on."""
    pool = ChunkPool(1)
    started: list[int] = []
    first_running, release = threading.Event(), threading.Event()

    def first(worker: int) -> None:
        started.append(1)
        first_running.set()
        release.wait()

    class InterruptedOnce:
        """The batch's done event, whose first wait is interrupted as Ctrl-C would."""

        def __init__(self) -> None:
            self.event, self.waits = threading.Event(), 0

        def set(self) -> None:
            self.event.set()

        def wait(self) -> None:
            self.waits += 1
            if self.waits == 1:
                first_running.wait()
                raise KeyboardInterrupt
            release.set()  # the caller has given up: let the running job end
            self.event.wait()

    batch = chunk_pool._Batch
    monkeypatch.setattr(chunk_pool, "_Batch", lambda left: batch(left, InterruptedOnce()))
    with pytest.raises(KeyboardInterrupt):
        pool.run([first, lambda worker: started.append(2), lambda worker: started.append(3)])
    assert started == [1]
    monkeypatch.undo()
    pool.run([lambda worker: started.append(4)])
    assert started == [1, 4]
    pool.run([])  # nothing to do: returns at once
