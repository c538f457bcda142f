"""The CUDA path of evolution, run only where CUDA is present (skipped elsewhere).

Its device-specific choices: the evaluator's bigger chunks on a GPU (CHUNK_ELEMENTS_GPU),
every random draw on the device's own generator, losses reduced on the device, and the
headless runner keeping a GPU run in this process (no worker processes). Checked
against the CPU evaluator (the ordinary forward pass is checked against it elsewhere).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.data.tasks import EvolveTask
from engine.evolution import openes, pso
from engine.evolution.ga import evolve
from engine.evolution.population import CHUNK_ELEMENTS_GPU, PopulationEvaluator
from engine.headless.evolve import island_workers
from tests.engine.test_evolution import setup
from tests.test_cli import run_cli
from tests.test_cli_evolve import SESSION

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
CUDA = torch.device("cuda")


def on_cuda(evaluator: PopulationEvaluator) -> PopulationEvaluator:
    """The same chain, data, loss and scales evaluated on the GPU."""
    return PopulationEvaluator(evaluator.chain, evaluator.inputs.to(CUDA),
                               evaluator.targets.to(CUDA), evaluator.loss, evaluator.scales,
                               CUDA)


@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_gpu_losses_equal_the_cpu_evaluators(norm: str | None) -> None:
    _, here = setup(norm=norm, samples=4096)
    there = on_cuda(here)
    # GPU chunks are bigger; one more genome than a chunk holds exercises the chunking
    assert there.chunk == CHUNK_ELEMENTS_GPU // (4096 * 6) > here.chunk
    count = there.chunk + 3
    codes = torch.randint(0, 16, (count, here.layout.size), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(3))
    expected = here.losses(codes)
    got = there.losses(codes.to(CUDA)).cpu()
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    weights = torch.randn(50, here.layout.size, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(there.losses_from_weights(weights.to(CUDA)).cpu(),
                               here.losses_from_weights(weights), rtol=1e-9, atol=1e-12)


def test_the_ga_on_a_gpu_is_deterministic_and_its_bests_are_real() -> None:
    _, here = setup()
    there = on_cuda(here)
    task = EvolveTask(population=64, generations=6, device="cuda")
    runs = [[(s.best, s.evaluations) for s in evolve(there, task, seed=5)] for _ in range(2)]
    assert runs[0] == runs[1]
    last = list(evolve(there, task, seed=5))[-1]
    genome = torch.as_tensor(last.best_genome).reshape(1, -1)
    assert float(here.losses(genome)[0]) == pytest.approx(last.best, rel=1e-9)


@pytest.mark.parametrize("algorithm", [openes, pso])
def test_float_strategies_on_a_gpu_are_deterministic(algorithm: object) -> None:
    _, here = setup()
    there = on_cuda(here)
    task = EvolveTask(population=32, generations=5, device="cuda")
    run = algorithm.evolve  # type: ignore[attr-defined]
    first = [r.best for r in run(there, task, 6)]
    assert first == [r.best for r in run(there, task, 6)]
    assert first[-1] < first[0]


def test_a_gpu_run_stays_in_this_process_and_says_where_it_ran(tmp_path: Path) -> None:
    assert island_workers(EvolveTask(population=5000, islands=4), CUDA) == 0
    session = {**SESSION, "task": {**SESSION["task"], "device": "cuda", "generations": 4}}
    result = run_cli(tmp_path, session, "--no-plots")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "result.json").read_text())
    assert data["device"].startswith("cuda")
    assert data["device_note"] is None
